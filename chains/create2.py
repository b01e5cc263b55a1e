"""CREATE2 addresses of Uniswap-style pools: the proof that a pool belongs to its factory."""

from __future__ import annotations

import eth_abi
from eth_utils import keccak, to_checksum_address

__all__ = ["create2_address", "sort_tokens", "v2_pair_address", "v3_pool_address"]


def create2_address(deployer: str, salt: bytes, init_code_hash: bytes) -> str:
    """Return the checksummed address CREATE2 gives for deployer, salt and init code hash."""
    if len(salt) != 32 or len(init_code_hash) != 32:
        raise ValueError("salt and init code hash must be 32 bytes")
    digest = keccak(b"\xff" + bytes.fromhex(deployer[2:]) + salt + init_code_hash)
    return to_checksum_address(digest[12:])


def sort_tokens(token_a: str, token_b: str) -> tuple[str, str]:
    """Return the two token addresses in the order pools store them (numeric ascending)."""
    a, b = int(token_a, 16), int(token_b, 16)
    if a == b:
        raise ValueError("identical token addresses")
    return (token_a, token_b) if a < b else (token_b, token_a)


def v2_pair_address(factory: str, token_a: str, token_b: str, init_code_hash: bytes) -> str:
    """Return a V2 pair's address: salt = keccak(token0 ++ token1) packed."""
    token0, token1 = sort_tokens(token_a, token_b)
    salt = keccak(bytes.fromhex(token0[2:]) + bytes.fromhex(token1[2:]))
    return create2_address(factory, salt, init_code_hash)


def v3_pool_address(
    factory: str, token_a: str, token_b: str, fee_pips: int, init_code_hash: bytes
) -> str:
    """Return a V3 pool's address: salt = keccak(abi.encode(token0, token1, fee))."""
    token0, token1 = sort_tokens(token_a, token_b)
    salt = keccak(eth_abi.encode(["address", "address", "uint24"], [token0, token1, fee_pips]))
    return create2_address(factory, salt, init_code_hash)
