"""The `arbloop` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bot import executor_cmd
from bot.app import MODES, RunOptions, run_bot
from bot.app_fork import ForkUrlError
from bot.app_remote import profile_registry
from bot.cli_archive import add_archive_parser
from bot.cli_backtest import add_backtest_parser
from bot.cli_inspect import add_inspect_parser
from bot.demo import run_bot_demo
from bot.keys import KeyLoadError
from bot.live_guard import LiveRefused
from bot.risk_cmd import add_risk_parser
from bot.state_verify import verify_state
from bot.world_job import DemoResult, default_cache, default_spec, run_demo, start_world
from chains.config import load_chain_config, load_profile
from chains.rpc import HttpRpc
from chains.toml_reader import ConfigError
from sim.traffic import TrafficConfig, TrafficStats
from sim.world_cache import WorldCache
from sim.world_manifest import Manifest

__all__ = ["main"]


def _world_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--spec", type=Path, default=None, help="world spec TOML (default: embedded)")
    p.add_argument("--cache", type=Path, default=None, help="world cache directory")
    p.add_argument("--rebuild", action="store_true", help="deploy afresh, ignoring the cache")


def _cache(args: argparse.Namespace, spec: Path) -> WorldCache:
    return WorldCache(directory=args.cache) if args.cache is not None else default_cache(spec)


def _cmd_world_up(args: argparse.Namespace, console: Console) -> int:
    spec = args.spec or default_spec()
    world = start_world(
        spec, _cache(args, spec), block_time_s=args.block_time, rebuild=args.rebuild
    )
    try:
        source = "loaded from cache" if world.loaded_from_cache else "deployed"
        console.print(f"world {source} in {world.setup_s:.2f} s at {world.node.http_url}")
        _print_world(console, world.manifest)
        running = _running_file(args, spec)
        running.write_text(
            json.dumps(
                {"pid": os.getpid(), "anvil_pid": world.node.pid, "http": world.node.http_url}
            )
        )
        console.print(f"anvil pid {world.node.pid}; Ctrl-C or `arbloop world down` stops it.")
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
    finally:
        world.node.stop()
        with contextlib.suppress(OSError):
            _running_file(args, spec).unlink()
    console.print("world stopped")
    return 0


def _running_file(args: argparse.Namespace, spec: Path) -> Path:
    """Where `world up` records its pid (and anvil's) for `world down`."""
    directory = _cache(args, spec).directory
    directory.mkdir(parents=True, exist_ok=True)
    return directory / "world-up.json"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _cmd_world_down(args: argparse.Namespace, console: Console) -> int:
    spec = args.spec or default_spec()
    running = _running_file(args, spec)
    if not running.is_file():
        console.print(f"no world is up ({running} does not exist)")
        return 0
    info = json.loads(running.read_text())
    pid, anvil_pid = int(info["pid"]), int(info["anvil_pid"])
    # signal only processes that are still what the file says: `world up` and its anvil
    if "world" in _cmdline(pid) and "up" in _cmdline(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline and _cmdline(pid):
            time.sleep(0.05)
    if "anvil" in _cmdline(anvil_pid):
        os.kill(anvil_pid, signal.SIGTERM)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and "anvil" in _cmdline(anvil_pid):
            time.sleep(0.05)
        if "anvil" in _cmdline(anvil_pid):
            os.kill(anvil_pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        running.unlink()
    console.print(f"world stopped (pid {pid}, anvil pid {anvil_pid}, {info.get('http')})")
    return 0


def _print_world(console: Console, manifest: Manifest) -> None:
    contracts = Table(title="Deployed contracts")
    contracts.add_column("name")
    contracts.add_column("address")
    for name, address in manifest.contracts.items():
        contracts.add_row(name, address)
    console.print(contracts)
    symbols = {t.address: t.symbol for t in manifest.tokens}
    pools = Table(title=f"Pools ({len(manifest.pools)})")
    for col in ("venue", "fee (pips)", "pair", "address"):
        pools.add_column(col)
    for p in sorted(manifest.pools, key=lambda p: (p.venue, p.fee_pips)):
        pools.add_row(
            p.venue, str(p.fee_pips), f"{symbols[p.token0]}/{symbols[p.token1]}", p.address
        )
    console.print(pools)


def _print_demo(console: Console, result: DemoResult) -> None:
    _print_world(console, result.manifest)
    by_fee = Table(title="Pools by venue and fee tier (after traffic)")
    by_fee.add_column("venue")
    by_fee.add_column("fee (pips)")
    by_fee.add_column("pools", justify="right")
    for (venue, fee), n in sorted(result.pools_by_venue_and_fee().items()):
        by_fee.add_row(venue, str(fee), str(n))
    console.print(by_fee)
    actions = Table(title="Traffic by router and action")
    for col in ("router", "action", "success", "reverted", "rejected"):
        actions.add_column(
            col, justify="right" if col in ("success", "reverted", "rejected") else "left"
        )
    keys = sorted({(r, a) for r, a, _ in result.stats.by_action})
    for router, action in keys:
        counts = [
            result.stats.by_action[(router, action, o)] for o in ("success", "reverted", "rejected")
        ]
        actions.add_row(router, action, *map(str, counts))
    console.print(actions)
    events = Table(title="Pool events emitted")
    events.add_column("event")
    events.add_column("count", justify="right")
    for name, n in sorted(result.stats.events.items()):
        events.add_row(name, str(n))
    console.print(events)
    source = "loaded from its state dump" if result.loaded_from_cache else "deployed cold"
    console.print(
        f"world {source} in {result.setup_s:.2f} s; "
        f"{result.last_block - result.first_block} blocks mined "
        f"(#{result.first_block + 1}..#{result.last_block}) in {result.traffic_s:.2f} s; "
        f"{result.stats.total('success')} transactions landed, "
        f"{result.stats.total('reverted')} reverted, {len(result.stats.new_pools)} new pools"
    )


def _cmd_world_traffic(args: argparse.Namespace, console: Console) -> int:
    spec = args.spec or default_spec()
    traffic = TrafficConfig(seed=args.seed, txs_per_block=args.txs_per_block)

    def on_block(stats: TrafficStats) -> None:
        if stats.blocks % 10 == 0:
            console.print(
                f"block {stats.blocks}/{args.blocks}: {stats.total('success')} landed, "
                f"{stats.total('reverted')} reverted"
            )

    result = run_demo(
        spec, _cache(args, spec), blocks=args.blocks, traffic=traffic, on_block=on_block
    )
    _print_demo(console, result)
    return 0


def _cmd_demo(args: argparse.Namespace, console: Console) -> int:
    spec = args.spec or default_spec()
    outcome = run_bot_demo(
        profile_path=args.profile,
        duration_s=args.duration,
        cache=_cache(args, spec),
        console=console,
        seed=args.seed,
        txs_per_block=args.txs_per_block,
    )
    final = outcome.final
    console.print(
        f"{final.get('blocks', 0)} blocks; {final.get('sent', 0)} bundles sent, "
        f"{final.get('landed', 0)} landed ({final.get('backruns_landed', 0)} backruns of pending "
        f"swaps), {final.get('expired', 0)} left out, {final.get('failed', 0)} reverted"
    )
    console.print(
        f"executor {final.get('executor')}: on-chain WETH profit "
        f"{outcome.onchain_profit_wei} wei; landed bundles' exact profit minus tips "
        f"{outcome.predicted_wei} wei; PnL after gas {final.get('pnl_wei', 0)} wei"
    )
    console.print(f"audit log: {final.get('audit_path')}")
    if not outcome.ok:
        console.print("[red]the on-chain profit does not check out (or no backrun landed)[/red]")
        return 1
    console.print("[green]verified: on-chain profit equals the exact prediction[/green]")
    return 0


def _cmd_run(args: argparse.Namespace, console: Console) -> int:
    profile = load_profile(args.profile)
    spec = args.spec or default_spec()
    if args.mode != "fork" and args.fork_url is not None:
        print("arbloop: --fork-url belongs to --mode fork", file=sys.stderr)
        return 2
    try:
        final = run_bot(
            RunOptions(
                profile=profile,
                mode=args.mode,
                duration_s=args.duration,
                fork_url=args.fork_url,
                fork_block=args.fork_block,
                executor=args.executor,
                metrics_port=args.metrics_port,
                send=not args.simulate_only,
                on_status=lambda s: console.print(
                    f"block {s.get('block')}: {s.get('opportunities')} opportunities, "
                    f"sent {s.get('sent')}, landed {s.get('landed')}, PnL {s.get('pnl_wei')} wei"
                    + (f" [paused: {s['paused']}]" if s.get("paused") else "")
                ),
            ),
            cache=_cache(args, spec),
        )
    except (LiveRefused, KeyLoadError) as exc:
        print(f"arbloop: {exc}", file=sys.stderr)
        return 2
    for key in (
        "mode", "blocks", "sent", "landed", "failed", "expired", "pnl_wei",
        "onchain_profit_wei", "audit_path", "log_path", "metrics_ports",
    ):  # fmt: skip
        console.print(f"{key}: {final.get(key)}")
    return 0


def _cmd_check_config(args: argparse.Namespace, console: Console) -> int:
    path: Path = args.path
    if path.parent.name == "chains":
        chain = load_chain_config(path)
        console.print(
            f"{path}: chain {chain.name} (id {chain.chain_id}), {len(chain.venues)} venues"
        )
        return 0
    profile = load_profile(path)
    console.print(
        f"{path}: profile for chain {profile.chain.name} (id {profile.chain.chain_id}), "
        f"{len(profile.chain.venues)} venues"
    )
    return 0


def _cmd_state_verify(args: argparse.Namespace, console: Console) -> int:
    profile = load_profile(args.profile)
    http = args.http or (profile.endpoints.http[0] if profile.endpoints.http else None)
    ws = args.ws or (profile.endpoints.ws[0] if profile.endpoints.ws else None)
    if http is None or ws is None:
        print("arbloop: state verify needs --http and --ws (or [endpoints])", file=sys.stderr)
        return 2
    with HttpRpc(http) as rpc:
        registry = profile_registry(profile, rpc)
    report = asyncio.run(
        verify_state(
            http_url=http,
            ws_url=ws,
            chain_id=profile.chain.chain_id,
            registry=registry,
            blocks_back=args.blocks,
        )
    )
    for line in report.differences:
        print(line)
    console.print(
        f"state verify: blocks {report.from_block}..{report.to_block}, {report.pools} pools, "
        f"{report.records} records followed, {len(report.differences)} differences "
        f"({report.elapsed_s:.2f} s)"
    )
    return 1 if report.differences else 0


def _warn_gas(args: argparse.Namespace, rpc: HttpRpc, console: Console) -> None:
    """Warn when the EOA that sends executions has less ETH for gas than the floor."""
    eoa = args.bot or getattr(args, "sender", None)
    if eoa is None:
        return
    gas = executor_cmd.gas_balance(rpc, eoa, executor_cmd.eth_to_wei(args.min_gas_balance_eth))
    if gas.low:
        console.print(
            f"[yellow]warning: executor EOA {gas.address} holds {gas.balance_wei / 1e18:.6f} ETH "
            f"for gas, below the floor of {args.min_gas_balance_eth} ETH[/yellow]"
        )


def _cmd_executor(args: argparse.Namespace, console: Console) -> int:
    with HttpRpc(args.rpc) as rpc:
        cmd = args.executor_command
        if cmd == "deploy":
            address = executor_cmd.deploy(rpc, args.sender, args.weth, tuple(args.allow))
            console.print(f"ArbExecutor deployed and verified at {address}")
        elif cmd == "verify":
            ok = executor_cmd.verify(rpc, args.executor)
            console.print(
                f"{args.executor}: code {'matches' if ok else 'DIFFERS from'} contracts/out"
            )
            if not ok:
                return 1
        elif cmd == "fund":
            executor_cmd.fund(rpc, args.sender, args.executor, executor_cmd.eth_to_wei(args.eth))
            console.print(f"moved {args.eth} ETH as WETH into {args.executor}")
        else:
            amount = executor_cmd.eth_to_wei(args.amount)
            to = args.to or args.sender
            tx = executor_cmd.withdraw(rpc, args.sender, args.executor, args.token, to, amount)
            console.print(f"withdrew {args.amount} of {args.token} to {to}: {tx}")
        _warn_gas(args, rpc, console)
    return 0


def _cmd_executor_calibrate(args: argparse.Namespace, console: Console) -> int:
    spec = args.spec or default_spec()
    out = args.out or Path("configs") / "gas" / f"{args.chain}.toml"
    model = executor_cmd.calibrate(
        spec, _cache(args, spec), out, chain=args.chain, executions=args.executions, seed=args.seed
    )
    console.print(f"wrote {out}: {model}")
    return 0


def _executor_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `executor deploy|verify|fund|withdraw|calibrate`."""
    ex = sub.add_parser(
        "executor",
        help="the ArbExecutor contract",
        description="Senders are accounts the node unlocks (anvil dev accounts on the local "
        "world); live keys come from the keystore in a later part, never from flags or config.",
    )
    ex_sub = ex.add_subparsers(dest="executor_command", required=True)
    helps = {
        "deploy": "deploy ArbExecutor and prove its code equals contracts/out",
        "verify": "prove the code at --executor equals contracts/out's deployed bytecode",
        "fund": "wrap ETH and move the WETH into the executor",
        "withdraw": "move tokens or ETH out of the executor (owner only)",
    }
    for name, text in helps.items():
        p = ex_sub.add_parser(name, help=text)
        p.add_argument("--rpc", required=True, help="node HTTP url")
        if name != "verify":
            p.add_argument("--from", dest="sender", required=True, help="an unlocked account")
        if name != "deploy":
            p.add_argument("--executor", required=True, help="ArbExecutor address")
        p.add_argument("--bot", default=None, help="EOA that sends executions (default --from)")
        p.add_argument("--min-gas-balance-eth", default="0.05", help="warn below this (ETH)")
        p.set_defaults(func=_cmd_executor)
    ex_sub.choices["deploy"].add_argument("--weth", required=True, help="WETH address")
    ex_sub.choices["deploy"].add_argument(
        "--allow", action="append", default=[], help="account allowed to execute (repeatable)"
    )
    ex_sub.choices["fund"].add_argument("--eth", required=True, help="amount in ETH")
    withdraw = ex_sub.choices["withdraw"]
    withdraw.add_argument("--token", default=executor_cmd.ETH, help="token (default: ETH)")
    withdraw.add_argument("--to", default=None, help="recipient (default --from)")
    withdraw.add_argument("--amount", required=True, help="amount in whole units (18 decimals)")
    cal = ex_sub.add_parser("calibrate", help="fit the per-hop gas model on the local world")
    _world_args(cal)
    cal.add_argument("--chain", default="local", help="writes configs/gas/<chain>.toml")
    cal.add_argument("--out", type=Path, default=None, help="output TOML path")
    cal.add_argument("--executions", type=int, default=120, help="measured executions")
    cal.add_argument("--seed", type=int, default=7, help="traffic seed")
    cal.set_defaults(func=_cmd_executor_calibrate)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="arbloop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    world = sub.add_parser("world", help="the local world of real Uniswap contracts on anvil")
    world_sub = world.add_subparsers(dest="world_command", required=True)
    up = world_sub.add_parser("up", help="start anvil with the world loaded; Ctrl-C stops it")
    _world_args(up)
    up.add_argument("--block-time", type=float, default=None, help="interval mining, seconds")
    up.set_defaults(func=_cmd_world_up)
    down = world_sub.add_parser("down", help="stop the world a `world up` started")
    _world_args(down)
    down.set_defaults(func=_cmd_world_down)
    traffic = world_sub.add_parser(
        "traffic", help="bring the world up, run traffic (no bot), print a summary"
    )
    _world_args(traffic)
    traffic.add_argument("--blocks", type=int, default=30, help="blocks of traffic (default 30)")
    traffic.add_argument("--txs-per-block", type=int, default=8)
    traffic.add_argument("--seed", type=int, default=1, help="traffic seed")
    traffic.set_defaults(func=_cmd_world_traffic)
    demo = sub.add_parser(
        "demo",
        help="the bot on the embedded world with traffic and the local builder, live; "
        "ends with the executor's verified on-chain profit",
    )
    _world_args(demo)
    demo.add_argument("--profile", type=Path, default=Path("configs/local.toml"))
    demo.add_argument("--duration", type=float, default=120.0, help="seconds (default 120)")
    demo.add_argument("--txs-per-block", type=int, default=8)
    demo.add_argument("--seed", type=int, default=1, help="traffic seed")
    demo.set_defaults(func=_cmd_demo)
    run = sub.add_parser(
        "run",
        help="run the bot: fork (a local anvil), dry-run (simulate only) or live",
        description="fork: trade on a local anvil (the embedded world, or --fork-url any "
        "node) through the local builder; dry-run: the profile's node and relays, everything "
        "up to simulation, nothing sent; live: send to the relays (needs the [live] "
        "acknowledgment, keys from the keystore or environment).",
    )
    run.add_argument("--profile", type=Path, default=Path("configs/local.toml"))
    run.add_argument("--mode", choices=list(MODES), default="fork")
    run.add_argument("--fork-url", default=None, help="fork mode: anvil forks this node")
    run.add_argument("--fork-block", type=int, default=None, help="fork at this block")
    run.add_argument("--executor", default=None, help="dry-run/live: the ArbExecutor address")
    run.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus metrics on 127.0.0.1: engine on PORT, ingest on PORT+1 "
        "(0: free ports)",
    )
    run.add_argument(
        "--simulate-only", action="store_true", help="fork mode: simulate bundles, send none"
    )
    run.add_argument("--duration", type=float, default=None, help="seconds (default: until ^C)")
    _world_args(run)
    run.set_defaults(func=_cmd_run)
    state = sub.add_parser("state", help="the pool table against the chain")
    state_sub = state.add_subparsers(dest="state_command", required=True)
    verify = state_sub.add_parser(
        "verify", help="follow the chain from a snapshot, compare every pool, print differences"
    )
    verify.add_argument("--profile", type=Path, default=Path("configs/local.toml"))
    verify.add_argument("--http", default=None, help="node HTTP url (default: the profile's)")
    verify.add_argument("--ws", default=None, help="node websocket url (default: the profile's)")
    verify.add_argument("--blocks", type=int, default=64, help="blocks to follow (default 64)")
    verify.set_defaults(func=_cmd_state_verify)
    check = sub.add_parser("check-config", help="load a profile or chain config and report")
    check.add_argument("path", type=Path)
    check.set_defaults(func=_cmd_check_config)
    _executor_parser(sub)
    add_risk_parser(sub)
    add_inspect_parser(sub)
    add_archive_parser(sub)
    add_backtest_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        return int(args.func(args, console))
    except ConfigError as exc:
        print(f"arbloop: config error: {exc}", file=sys.stderr)
        return 2
    except ForkUrlError as exc:
        print(f"arbloop: fork: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader (`| head`) went away: not an error of ours
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 0


if __name__ == "__main__":
    sys.exit(main())
