"""`arbloop archive`: record blocks, pool logs and pool snapshots from a node into a cryo folder.

    arbloop archive --rpc URL --from A --to B --out DIR [--profile P] [--checkpoint-every N]

The pools are the profile's registry: the world manifest's pools for a world profile (or the
manifest given with ``--manifest``), else the discovered registry (cached under the profile's
data dir). Re-running the same command resumes: complete chunks are checked and kept.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from chains.config import Profile, load_profile
from chains.registry import Registry, registry_from_manifest
from chains.registry_cache import sync_registry
from chains.registry_discovery import LiquidityFilter
from chains.rpc import HttpRpc, RpcError
from chains.snapshot import SnapshotError
from chains.toml_reader import ConfigError
from sim.archive_files import ArchiveError
from sim.archive_write import ArchiveProgress, record_archive
from sim.world_manifest import read_manifest

__all__ = ["add_archive_parser", "cmd_archive"]


def add_archive_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `arbloop archive` to the top-level subparsers."""
    p = sub.add_parser(
        "archive",
        help="record blocks and pool logs into cryo-named Parquet files, resumable",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--rpc", default=None, help="node HTTP url (default: the profile's first)")
    p.add_argument("--from", dest="start", type=int, required=True, help="first block")
    p.add_argument("--to", dest="end", type=int, required=True, help="last block (inclusive)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--profile", type=Path, default=Path("configs/local.toml"))
    p.add_argument("--manifest", type=Path, default=None, help="world manifest (overrides)")
    p.add_argument(
        "--checkpoint-every", type=int, default=None, help="pool snapshot every N blocks"
    )
    p.add_argument("--chunk-blocks", type=int, default=100, help="blocks per Parquet file")
    p.add_argument("--network", default=None, help="cryo network name (default from chain id)")
    p.set_defaults(func=cmd_archive)


def _registry(profile: Profile, rpc: HttpRpc, manifest: Path | None) -> Registry:
    """Return the pools to record: a world manifest's, or the profile's discovered registry."""
    if manifest is None and profile.world is not None:
        manifest = profile.world.manifest
    if manifest is not None:
        if not manifest.is_file():
            raise ConfigError(profile.path, "world.manifest", f"no manifest at {manifest}")
        return registry_from_manifest(profile.chain, read_manifest(manifest))
    return sync_registry(
        rpc,
        profile.chain,
        profile.paths.data_dir / "registry",
        start_block=profile.registry.start_block,
        liquidity=LiquidityFilter.from_config(profile.registry),
    ).registry


def cmd_archive(args: argparse.Namespace, console: Console) -> int:
    """Run `arbloop archive`; return the exit code (0 done, 1 failed, 2 bad arguments)."""
    profile = load_profile(args.profile)
    url = args.rpc or (profile.endpoints.http[0] if profile.endpoints.http else None)
    if url is None:
        print("arbloop: archive needs --rpc (or [endpoints] http in the profile)", file=sys.stderr)
        return 2
    if args.end < args.start or args.start < 1:
        print(f"arbloop: need 1 <= --from <= --to, got {args.start}..{args.end}", file=sys.stderr)
        return 2
    try:
        with HttpRpc(url) as rpc:
            chain_id = int(rpc.call("eth_chainId"), 16)
            if chain_id != profile.chain.chain_id:
                print(
                    f"arbloop: the node's chain id is {chain_id}, the profile's chain "
                    f"{profile.chain.name} is {profile.chain.chain_id}",
                    file=sys.stderr,
                )
                return 2
            registry = _registry(profile, rpc, args.manifest)
        console.print(
            f"archiving blocks {args.start}..{args.end} of {len(registry)} pools to {args.out}"
        )
        with Progress(
            TextColumn("[bold]archive[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("blocks"),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("archive", total=args.end - args.start + 1, note="")
            logs = 0

            def on_chunk(p: ArchiveProgress) -> None:
                nonlocal logs
                logs += p.logs
                verb = "kept" if p.skipped else "wrote"
                note = f"{verb} {p.first_block}..{p.last_block}, {logs} logs"
                progress.update(task, completed=p.blocks_done, note=note)

            result = record_archive(
                url,
                args.start,
                args.end,
                args.out,
                registry,
                chunk_blocks=args.chunk_blocks,
                checkpoint_every=args.checkpoint_every,
                progress=on_chunk,
                network=args.network,
            )
    except (ArchiveError, RpcError, SnapshotError) as exc:
        console.print(f"[red]archive failed: {exc}[/red]")
        return 1
    console.print(
        f"{result.out_dir}: {result.chunks_written} chunks written, {result.chunks_skipped} kept, "
        f"{result.logs} logs, {len(result.snapshots)} snapshots "
        f"({', '.join(p.name for p in result.snapshots)})"
    )
    return 0
