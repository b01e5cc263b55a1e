"""Configuration: chain facts (``configs/chains/*.toml``) and run profiles (``configs/*.toml``).

Both load into frozen dataclasses; unknown keys, bad values and secret-looking keys are
refused with a ``ConfigError`` naming the file and the dotted key. The chain side lives in
``chains.config_chain``, the profile side in ``chains.config_profile``; this module is the
one import for both.
"""

from __future__ import annotations

from pathlib import Path

from chains.config_chain import (
    MANIFEST_FORMAT,
    ROUTER_KINDS,
    VENUE_KINDS,
    ChainConfig,
    Eip1559Params,
    FeeTier,
    RouterConfig,
    VenueConfig,
    load_chain_config,
    resolve_with_manifest,
)
from chains.config_profile import (
    LOCAL_CHAIN,
    Endpoints,
    LiveAck,
    PathsConfig,
    Profile,
    RegistryConfig,
    RelaysConfig,
    RiskConfig,
    StrategyConfig,
    WorldPaths,
    load_profile,
)
from chains.toml_reader import ConfigError

__all__ = [
    "LOCAL_CHAIN",
    "MANIFEST_FORMAT",
    "ROUTER_KINDS",
    "VENUE_KINDS",
    "ChainConfig",
    "ConfigError",
    "Eip1559Params",
    "Endpoints",
    "FeeTier",
    "LiveAck",
    "PathsConfig",
    "Profile",
    "RegistryConfig",
    "RelaysConfig",
    "RiskConfig",
    "RouterConfig",
    "StrategyConfig",
    "VenueConfig",
    "WorldPaths",
    "configs_dir",
    "load_chain_config",
    "load_profile",
    "resolve_with_manifest",
]


def configs_dir() -> Path:
    """Return the repository's ``configs/`` directory (beside the nearest pyproject.toml)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file():
            return parent / "configs"
    raise FileNotFoundError(f"no pyproject.toml above {here}")
