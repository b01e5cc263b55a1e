"""A local anvil node as a child process: config, start, readiness, cleanup, thin RPC helpers.

Errors (all RuntimeError)::

    AnvilError
    ├── AnvilNotFound     the pinned binary is not installed (run `make` or `npm ci`)
    └── AnvilStartError   anvil exited or did not answer during startup (carries the log tail)

A running anvil must never outlive the Python process that started it, so cleanup is layered:

- ``stop()`` / the context manager: SIGTERM (anvil then writes ``--dump-state``), wait, SIGKILL.
- ``weakref.finalize``: a forgotten ``AnvilProcess`` is stopped when it is collected.
- ``atexit``: every node still registered is stopped at interpreter exit, including an exit
  by an unhandled exception.
- ``PR_SET_PDEATHSIG`` (Linux): the kernel SIGKILLs anvil when the thread that started it dies.
  This covers SIGKILL of Python and the default action of SIGTERM, which both end the
  interpreter without running atexit. Nothing here installs signal handlers: the application
  owns signals.

The registry of live children exists only to stop them at exit and to let a test session
check that none survived (``running_pids``); it holds no application objects.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from chains.rpc import HttpRpc, RpcError
from sim.anvil_config import DEFAULT_CHAIN_ID, HOST, AnvilConfig

__all__ = [
    "DEFAULT_CHAIN_ID",
    "AnvilConfig",
    "AnvilError",
    "AnvilNotFound",
    "AnvilProcess",
    "AnvilStartError",
    "anvil_binary",
    "running_pids",
]


_ENV_BINARY = "ARBLOOP_ANVIL"
_PORT_ATTEMPTS = 5
_POLL_INTERVAL_S = 0.01
_READY_RPC_TIMEOUT_S = 0.5
_STOP_TIMEOUT_S = 5.0
_LOG_TAIL_BYTES = 4000
_PORT_IN_USE = "Address already in use"
_PR_SET_PDEATHSIG = 1


class AnvilError(RuntimeError):
    """Base of anvil process failures."""


class AnvilNotFound(AnvilError):
    """The anvil binary is not installed where it is looked for."""


class AnvilStartError(AnvilError):
    """anvil exited, or did not answer, during startup."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(
            f"{message}\n--- anvil log (tail) ---\n{log_tail}" if log_tail else message
        )
        self.log_tail = log_tail


def anvil_binary(*, repo_root: Path | None = None) -> Path:
    """Return the pinned anvil binary ($ARBLOOP_ANVIL, else the npm platform package)."""
    override = os.environ.get(_ENV_BINARY, "")
    if override != "":
        path = Path(override)
        if not path.is_file() or not os.access(path, os.X_OK):
            raise AnvilNotFound(f"${_ENV_BINARY}={override!r} is not an executable file")
        return path
    root = _repo_root() if repo_root is None else repo_root
    path = root / "node_modules" / "@foundry-rs" / f"anvil-{_npm_platform()}" / "bin"
    path = path / ("anvil.exe" if sys.platform == "win32" else "anvil")
    if not path.is_file():
        raise AnvilNotFound(
            f"anvil is not installed at {path}; run `make` (or `npm ci`) in {root} "
            f"to install the pinned @foundry-rs/anvil, or set ${_ENV_BINARY}"
        )
    return path


def running_pids() -> frozenset[int]:
    """Return the pids of anvil processes started by this interpreter that still run."""
    return frozenset(pid for pid, child in list(_LIVE.items()) if child.popen.poll() is None)


class AnvilProcess:
    """One anvil child process on 127.0.0.1; build it with ``AnvilProcess.start``.

    The convenience methods (``call``, ``mine``, ``snapshot``, ...) share one cached client
    of this object, so use them from one thread; ``rpc()`` returns a client of your own.
    """

    def __init__(self, child: _Child, config: AnvilConfig, chain_id: int) -> None:
        self._child = child
        self._config = config
        self._chain_id = chain_id
        self._finalizer = weakref.finalize(self, child.stop, _STOP_TIMEOUT_S)

    @classmethod
    def start(
        cls,
        config: AnvilConfig | None = None,
        *,
        startup_timeout_s: float = 30.0,
        log_path: Path | None = None,
    ) -> AnvilProcess:
        """Start anvil on a free port and return once it answers eth_chainId.

        stdout and stderr go to ``log_path``, else to a temporary file that ``stop`` deletes.
        On Linux the kernel kills anvil when the *thread* calling this exits, so start nodes
        from a thread that lives as long as they do (normally the main thread).
        """
        config = AnvilConfig() if config is None else config
        binary = anvil_binary()
        owns_log = log_path is None
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix="arbloop-anvil-", suffix=".log")
            os.close(fd)
            log_path = Path(name)
        deadline = time.monotonic() + startup_timeout_s
        last_tail = ""
        # the free port is found by binding port 0 and closing it, so another process can
        # take it before anvil binds: then anvil exits with "Address already in use"
        for _ in range(_PORT_ATTEMPTS):
            port = _free_port()
            argv = [os.fspath(binary), *config.to_args(port)]
            child = _Child.spawn(argv, port, log_path, owns_log=owns_log)
            try:
                chain_id = _wait_ready(child, config.expected_chain_id, deadline)
            except _PortInUse as exc:
                last_tail = exc.log_tail
                child.owns_log = False  # the next attempt truncates and reuses the same log
                child.stop(0.0)
                continue
            except BaseException:
                child.stop(_STOP_TIMEOUT_S)
                raise
            return cls(child, config, chain_id)
        if owns_log:
            log_path.unlink(missing_ok=True)
        raise AnvilStartError(f"anvil found no free port in {_PORT_ATTEMPTS} attempts", last_tail)

    @property
    def config(self) -> AnvilConfig:
        """Return the config this node was started with."""
        return self._config

    @property
    def port(self) -> int:
        """Return the TCP port on 127.0.0.1."""
        return self._child.port

    @property
    def pid(self) -> int:
        """Return the process id (still the old one after stop)."""
        return self._child.popen.pid

    @property
    def chain_id(self) -> int:
        """Return the chain id the node reported at startup."""
        return self._chain_id

    @property
    def log_path(self) -> Path:
        """Return the file holding anvil's stdout and stderr."""
        return self._child.log_path

    @property
    def http_url(self) -> str:
        """Return the JSON-RPC HTTP endpoint."""
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        """Return the JSON-RPC websocket endpoint (same port)."""
        return f"ws://{HOST}:{self.port}"

    def is_running(self) -> bool:
        """Tell whether the process is still alive."""
        return self._child.popen.poll() is None

    def rpc(self, *, timeout_s: float = 30.0) -> HttpRpc:
        """Return a new client for this node; the caller closes it."""
        return HttpRpc(self.http_url, timeout_s=timeout_s)

    def stop(self, timeout_s: float = _STOP_TIMEOUT_S) -> None:
        """SIGTERM anvil, wait up to timeout_s seconds, then SIGKILL; idempotent."""
        self._child.stop(timeout_s)
        self._finalizer.detach()

    def __enter__(self) -> AnvilProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return (
            f"AnvilProcess(pid={self.pid}, url={self.http_url}, chain_id={self._chain_id}, {state})"
        )

    def call(self, method: str, *params: Any) -> Any:
        """Call one JSON-RPC method on the cached client and return its result."""
        return self._child.client().call(method, *params)

    def mine(self, blocks: int = 1) -> None:
        """Mine blocks now (anvil_mine), whatever the mining mode."""
        if blocks < 1:
            raise ValueError(f"blocks must be >= 1: {blocks}")
        self.call("anvil_mine", hex(blocks))

    def snapshot(self) -> str:
        """Take an evm_snapshot and return its id (a revert consumes it)."""
        return str(self.call("evm_snapshot"))

    def revert(self, snapshot_id: str) -> bool:
        """Revert to a snapshot (evm_revert); False if the id is unknown or already used."""
        return bool(self.call("evm_revert", snapshot_id))

    def set_automine(self, on: bool) -> None:
        """Turn mining per transaction on or off (on also ends interval mining)."""
        self.call("evm_setAutomine", on)

    def set_balance(self, address: str, wei: int) -> None:
        """Set an account's balance in wei (anvil_setBalance)."""
        self.call("anvil_setBalance", address, hex(wei))

    def set_code(self, address: str, code: bytes) -> None:
        """Set an account's runtime bytecode (anvil_setCode)."""
        self.call("anvil_setCode", address, "0x" + code.hex())

    def dump_state(self) -> bytes:
        """Return the chain state as anvil_dumpState gives it: gzipped JSON bytes."""
        return _hex_to_bytes(self.call("anvil_dumpState"))

    def load_state(self, blob: bytes) -> None:
        """Merge a dumped state (gzipped or plain JSON bytes) into this node (anvil_loadState)."""
        if self.call("anvil_loadState", "0x" + blob.hex()) is not True:
            raise AnvilError(f"anvil_loadState was refused by {self.http_url}")

    def block_number(self) -> int:
        """Return the latest block number."""
        return int(self.call("eth_blockNumber"), 16)


class _Child:
    """The OS side of one node: its Popen, log file, cached client and an idempotent stop."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        port: int,
        log_path: Path,
        log: IO[bytes],
        *,
        owns_log: bool,
    ) -> None:
        self.popen = popen
        self.port = port
        self.log_path = log_path
        self.owns_log = owns_log
        self._log = log
        self._rpc: HttpRpc | None = None
        self._stopped = False
        self.home: str | None = None  # the private HOME anvil writes its state files under
        # re-entrant: a garbage collection inside stop() may run this child's finalizer
        self._lock = threading.RLock()

    @classmethod
    def spawn(cls, argv: list[str], port: int, log_path: Path, *, owns_log: bool) -> _Child:
        log = open(log_path, "wb")  # noqa: SIM115 - closed by stop()
        # anvil keeps states it moves out of memory under $HOME/.foundry/anvil/tmp and does not
        # remove them when stopped: a private HOME, deleted at stop, keeps the disk clean
        home = tempfile.mkdtemp(prefix="arbloop-anvil-home-")
        try:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent(),
                env={**os.environ, "HOME": home},
            )
        except OSError as exc:
            log.close()
            shutil.rmtree(home, ignore_errors=True)
            if owns_log:
                log_path.unlink(missing_ok=True)
            raise AnvilStartError(f"cannot execute {argv[0]}: {exc}") from exc
        child = cls(popen, port, log_path, log, owns_log=owns_log)
        child.home = home
        _LIVE[popen.pid] = child
        return child

    def client(self) -> HttpRpc:
        with self._lock:
            if self._stopped:
                raise AnvilError(f"anvil (pid {self.popen.pid}) is stopped")
            if self._rpc is None:
                self._rpc = HttpRpc(f"http://{HOST}:{self.port}")
            return self._rpc

    def log_tail(self) -> str:
        self._log.flush()
        with open(self.log_path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - _LOG_TAIL_BYTES))
            return f.read().decode("utf-8", errors="replace")

    def stop(self, timeout_s: float) -> None:
        with self._lock:
            if self._stopped:
                return
            try:
                if self.popen.poll() is None:
                    self.popen.terminate()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self.popen.wait(timeout=timeout_s)
            finally:
                # also reached when the wait above is interrupted: never leave anvil running
                if self.popen.poll() is None:
                    self.popen.kill()
                    self.popen.wait()
                self._stopped = True
                _LIVE.pop(self.popen.pid, None)
                if self._rpc is not None:
                    self._rpc.close()
                self._log.close()
                if self.owns_log:
                    self.log_path.unlink(missing_ok=True)
                if self.home is not None:
                    shutil.rmtree(self.home, ignore_errors=True)


class _PortInUse(Exception):
    def __init__(self, log_tail: str) -> None:
        super().__init__("anvil lost its port to another process")
        self.log_tail = log_tail


_LIVE: dict[int, _Child] = {}


@atexit.register
def _stop_all() -> None:
    for child in list(_LIVE.values()):
        child.stop(_STOP_TIMEOUT_S)


def _wait_ready(child: _Child, expected_chain_id: int | None, deadline: float) -> int:
    """Poll eth_chainId until our own process answers; return the reported chain id."""
    with HttpRpc(f"http://{HOST}:{child.port}", timeout_s=_READY_RPC_TIMEOUT_S) as rpc:
        while True:
            code = child.popen.poll()
            if code is not None:
                tail = child.log_tail()
                if _PORT_IN_USE in tail:
                    raise _PortInUse(tail)
                raise AnvilStartError(f"anvil exited with code {code} during startup", tail)
            try:
                answer = rpc.call("eth_chainId")
            except RpcError:
                answer = None
            # the answer may come from whoever won a race for the port: check the listener
            if answer is not None and _owns_listener(child.popen.pid, child.port):
                chain_id = int(answer, 16)
                if expected_chain_id is not None and chain_id != expected_chain_id:
                    raise AnvilStartError(
                        f"anvil reports chain id {chain_id}, configured {expected_chain_id}",
                        child.log_tail(),
                    )
                return chain_id
            if time.monotonic() >= deadline:
                raise AnvilStartError("anvil did not answer eth_chainId in time", child.log_tail())
            time.sleep(_POLL_INTERVAL_S)


def _owns_listener(pid: int, port: int) -> bool:
    """Tell whether pid holds the listening socket on 127.0.0.1:port (True without /proc)."""
    try:
        table = Path("/proc/net/tcp").read_text()
    except OSError:
        return True
    # /proc/net/tcp prints the raw network-order address as a native-endian hex word
    address = int.from_bytes(socket.inet_aton(HOST), sys.byteorder)
    local = f"{address:08X}:{port:04X}"
    inodes = set()
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 9 and fields[1] == local and fields[3] == "0A":  # 0A = LISTEN
            inodes.add(f"socket:[{fields[9]}]")
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                return True
        except OSError:
            continue
    return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> Callable[[], None] | None:
    """Return a preexec_fn that makes the kernel SIGKILL the child when its parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    parent_pid = os.getpid()

    def set_pdeathsig() -> None:
        # runs in the child between fork and exec
        if prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return set_pdeathsig


def _repo_root() -> Path:
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file():
            return parent
    raise AnvilNotFound(f"no pyproject.toml above {__file__}; set ${_ENV_BINARY}")


def _npm_platform() -> str:
    """Return the @foundry-rs/anvil-<platform>-<arch> suffix for this machine."""
    system = {"linux": "linux", "darwin": "darwin", "win32": "win32"}.get(
        "linux" if sys.platform.startswith("linux") else sys.platform
    )
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine)
    if system is None or arch is None:
        raise AnvilNotFound(
            f"no anvil npm package for {sys.platform}/{machine}; set ${_ENV_BINARY}"
        )
    return f"{system}-{arch}"


def _hex_to_bytes(value: str) -> bytes:
    return bytes.fromhex(value[2:] if value.startswith(("0x", "0X")) else value)
