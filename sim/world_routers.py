"""The world's routers as the mempool decoder sees them: kind and the venues each one trades."""

from __future__ import annotations

from chains.mempool import RouterInfo
from sim.world_manifest import Manifest

__all__ = ["router_table"]


def router_table(manifest: Manifest) -> dict[str, RouterInfo]:
    """Map the world's routers to their kinds and the venues they trade."""
    v2_venues = [name for name, v in manifest.venues.items() if v["kind"] == "v2"]
    v3_venue = next(name for name, v in manifest.venues.items() if v["kind"] == "v3")
    table = {}
    for router in manifest.routers:
        kind = router["kind"]
        if kind == "v2_router02":
            v2_venue = router["name"].removesuffix("_router02")
        else:  # SwapRouter02 and UniversalRouter are bound to the first V2 factory
            v2_venue = v2_venues[0]
        table[router["address"]] = RouterInfo(kind=kind, v2_venue=v2_venue, v3_venue=v3_venue)
    return table
