"""sim.anvil against the real anvil binary: startup, mining modes, state, forks, cleanup."""

from __future__ import annotations

import gzip
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import sim.anvil
from sim.anvil import (
    AnvilConfig,
    AnvilError,
    AnvilNotFound,
    AnvilProcess,
    AnvilStartError,
    anvil_binary,
    running_pids,
)

pytestmark = pytest.mark.integration

REPO_ROOT = Path(sim.anvil.__file__).resolve().parents[1]
ACCOUNT = "0x00000000000000000000000000000000000000aa"
CODE = bytes.fromhex("6001600055")  # PUSH1 1 PUSH1 0 SSTORE


def _balance(node: AnvilProcess, address: str = ACCOUNT, block: str = "latest") -> int:
    return int(node.call("eth_getBalance", address, block), 16)


def _send_value(node: AnvilProcess) -> str:
    sender = node.call("eth_accounts")[0]
    return str(node.call("eth_sendTransaction", {"from": sender, "to": ACCOUNT, "value": "0x1"}))


def _alive(pid: int) -> bool:
    """Tell whether pid runs (a zombie or a vanished /proc entry counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def _gone_within(pid: int, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _tcp_listeners(port: int) -> list[tuple[str, str]]:
    """Return (table, local address hex) of LISTEN sockets on port from /proc/net/tcp{,6}."""
    found = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if int(port_hex, 16) == port and fields[3] == "0A":
                found.append((table, address))
    return found


def test_session_node_answers_default_chain_id(anvil: AnvilProcess) -> None:
    assert anvil.chain_id == 31337
    assert int(anvil.call("eth_chainId"), 16) == 31337
    assert anvil.http_url == f"http://127.0.0.1:{anvil.port}"
    assert anvil.ws_url == f"ws://127.0.0.1:{anvil.port}"
    assert anvil.is_running()
    assert anvil.pid in running_pids()


def test_configured_chain_id() -> None:
    with AnvilProcess.start(AnvilConfig(chain_id=4242)) as node, node.rpc() as rpc:
        assert node.chain_id == 4242
        assert int(rpc.call("eth_chainId"), 16) == 4242
        assert int(rpc.call("net_version")) == 4242


def test_binds_loopback_only(anvil: AnvilProcess) -> None:
    loopback = f"{int.from_bytes(socket.inet_aton('127.0.0.1'), sys.byteorder):08X}"
    assert _tcp_listeners(anvil.port) == [("tcp", loopback)]


def test_starts_fast() -> None:
    started = time.monotonic()
    with AnvilProcess.start():
        assert time.monotonic() - started < 2.0


def test_manual_mining_keeps_tx_pending() -> None:
    with AnvilProcess.start(AnvilConfig(no_mining=True)) as node:
        first = node.block_number()
        tx_hash = _send_value(node)
        time.sleep(0.3)
        assert node.call("eth_getTransactionReceipt", tx_hash) is None
        assert node.block_number() == first
        node.mine()
        receipt = node.call("eth_getTransactionReceipt", tx_hash)
        assert receipt is not None and int(receipt["blockNumber"], 16) == first + 1
        node.mine(3)
        assert node.block_number() == first + 4


def test_interval_mining() -> None:
    with AnvilProcess.start(AnvilConfig(block_time_s=0.2)) as node:
        started = time.monotonic()
        while node.block_number() < 3:
            assert time.monotonic() - started < 5.0, "no interval blocks"
            time.sleep(0.02)
        assert time.monotonic() - started >= 0.35  # blocks come on the clock, not at once
        tx_hash = _send_value(node)  # a transaction waits for the next interval block
        assert node.call("eth_getTransactionReceipt", tx_hash) is None


def test_dump_and_load_state(tmp_path: Path) -> None:
    dump_path = tmp_path / "state.json"
    node = AnvilProcess.start(AnvilConfig(dump_state=dump_path))
    with node:
        node.set_balance(ACCOUNT, 12345)
        node.set_code(ACCOUNT, CODE)
        node.mine(7)
        blob = node.dump_state()
        block_number = node.block_number()
    assert blob[:2] == b"\x1f\x8b"  # anvil_dumpState gives gzipped JSON
    assert dump_path.is_file()  # --dump-state is written on SIGTERM, as plain JSON

    # --load-state reads plain JSON only: the RPC blob is written decompressed
    rpc_dump_path = tmp_path / "rpc-state.json"
    rpc_dump_path.write_bytes(gzip.decompress(blob))
    for state_file in (dump_path, rpc_dump_path):
        with AnvilProcess.start(AnvilConfig(load_state=state_file)) as loaded:
            assert _balance(loaded) == 12345
            assert bytes.fromhex(loaded.call("eth_getCode", ACCOUNT, "latest")[2:]) == CODE
            assert loaded.block_number() == block_number

    with AnvilProcess.start() as fresh:
        fresh.mine(20)  # the loaded state's block number wins even when lower
        fresh.load_state(blob)
        assert _balance(fresh) == 12345
        assert bytes.fromhex(fresh.call("eth_getCode", ACCOUNT, "latest")[2:]) == CODE
        assert fresh.block_number() == block_number


def test_fork_sees_parent_state() -> None:
    with AnvilProcess.start(AnvilConfig(chain_id=4242)) as parent:
        parent.set_balance(ACCOUNT, 111)
        parent.mine(2)
        # a state write changes the latest block's state too, so pin the block before it
        pinned = parent.block_number() - 1
        parent.set_balance(ACCOUNT, 222)
        parent.mine(2)
        assert _balance(parent, block=hex(pinned)) == 111
        with AnvilProcess.start(AnvilConfig(fork_url=parent.http_url)) as fork:
            assert fork.chain_id == 4242  # a fork keeps the forked chain's id
            assert fork.block_number() == parent.block_number()
            assert _balance(fork) == 222
            fork.set_balance(ACCOUNT, 333)
            assert _balance(parent) == 222  # writes stay on the fork
        config = AnvilConfig(fork_url=parent.http_url, fork_block_number=pinned, chain_id=77)
        with AnvilProcess.start(config) as fork:
            assert fork.chain_id == 77
            assert fork.block_number() == pinned
            assert _balance(fork) == 111


@pytest.mark.parametrize("round_", [1, 2])
def test_fixture_isolates_tests(anvil: AnvilProcess, round_: int) -> None:
    # both rounds check the pristine state and then leave a mess for the other one
    assert _balance(anvil) == 0
    assert anvil.call("txpool_status")["pending"] == "0x0"
    assert anvil.call("anvil_getAutomine") is True
    anvil.set_balance(ACCOUNT, 10**18 * round_)
    anvil.mine(3)
    anvil.set_automine(False)
    _send_value(anvil)
    assert anvil.call("txpool_status")["pending"] == "0x1"


def test_snapshot_and_revert(anvil: AnvilProcess) -> None:
    snapshot_id = anvil.snapshot()
    before = anvil.block_number()
    anvil.set_balance(ACCOUNT, 5)
    anvil.mine(2)
    assert anvil.revert(snapshot_id)
    assert anvil.block_number() == before
    assert _balance(anvil) == 0
    assert not anvil.revert(snapshot_id)  # a revert consumes the snapshot


def test_stop_is_idempotent_and_reaps(tmp_path: Path) -> None:
    log_path = tmp_path / "anvil.log"
    with AnvilProcess.start(log_path=log_path) as node:
        pid = node.pid
        assert Path(f"/proc/{pid}/comm").read_text().strip() == "anvil"
    node.stop()
    node.stop(timeout_s=0.0)
    assert not node.is_running()
    assert pid not in running_pids()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert "Listening on 127.0.0.1" in log_path.read_text()  # a given log is kept
    with pytest.raises(AnvilError, match="stopped"):
        node.block_number()


def test_temporary_log_is_removed_on_stop() -> None:
    node = AnvilProcess.start()
    log_path = node.log_path
    assert log_path.is_file()
    node.stop()
    assert not log_path.exists()


def test_forgotten_node_is_stopped_when_collected() -> None:
    node = AnvilProcess.start()
    pid = node.pid
    del node
    assert pid not in running_pids()
    assert _gone_within(pid)


def test_port_taken_before_anvil_binds_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    free_port = sim.anvil._free_port
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        handed_out: list[int] = []

        def taken_then_free() -> int:
            handed_out.append(free_port() if handed_out else taken)
            return handed_out[-1]

        monkeypatch.setattr(sim.anvil, "_free_port", taken_then_free)
        with AnvilProcess.start() as node:
            assert handed_out[0] == taken
            assert node.port == handed_out[-1] != taken
            assert node.chain_id == 31337


def test_bad_argument_fails_with_log() -> None:
    with pytest.raises(AnvilStartError, match="unexpected argument '--no-such-flag'") as info:
        AnvilProcess.start(AnvilConfig(extra_args=("--no-such-flag",)))
    assert "exited with code 2" in str(info.value)
    assert "--no-such-flag" in info.value.log_tail


def test_missing_binary_raises(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ARBLOOP_ANVIL", str(tmp_path / "no-anvil-here"))
    with pytest.raises(AnvilNotFound):
        anvil_binary()
    with pytest.raises(AnvilNotFound):
        AnvilProcess.start()


CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from sim.anvil import AnvilConfig, AnvilProcess

    node = AnvilProcess.start(AnvilConfig(dump_state=Path(sys.argv[1])))
    print(node.pid, flush=True)
    if sys.argv[2] == "raise":
        raise RuntimeError("failure after start")
    if sys.argv[2] == "hang":
        time.sleep(60)
    """
)


def _child_argv(tmp_path: Path, mode: str) -> list[str]:
    return [sys.executable, "-c", CHILD, str(tmp_path / "state.json"), mode]


@pytest.mark.parametrize(("mode", "returncode"), [("exit", 0), ("raise", 1)])
def test_no_orphan_when_python_exits(tmp_path: Path, mode: str, returncode: int) -> None:
    done = subprocess.run(
        _child_argv(tmp_path, mode), cwd=REPO_ROOT, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == returncode, done.stderr
    anvil_pid = int(done.stdout.split()[0])
    assert _gone_within(anvil_pid)
    # anvil writes --dump-state only on a graceful SIGTERM: the atexit path stopped it
    assert (tmp_path / "state.json").is_file()


def test_no_orphan_when_python_is_killed(tmp_path: Path) -> None:
    child = subprocess.Popen(
        _child_argv(tmp_path, "hang"), cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        anvil_pid = int(child.stdout.readline())
        assert _alive(anvil_pid)
        assert Path(f"/proc/{anvil_pid}/comm").read_text().strip() == "anvil"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
    assert _gone_within(anvil_pid)
    # the kernel's SIGKILL (PR_SET_PDEATHSIG) leaves no chance to dump the state
    assert not (tmp_path / "state.json").exists()


def test_anvil_state_files_go_to_a_private_home_removed_at_stop() -> None:
    node = AnvilProcess.start(AnvilConfig())
    home = Path(node._child.home or "")
    try:
        assert home.is_dir() and home.name.startswith("arbloop-anvil-home-")
        environ = (Path("/proc") / str(node.pid) / "environ").read_bytes().split(b"\0")
        assert f"HOME={home}".encode() in environ
    finally:
        node.stop()
    assert not home.exists()
