"""CREATE2 pool addresses against real mainnet pools."""

import pytest

from chains.create2 import create2_address, sort_tokens, v2_pair_address, v3_pool_address

USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
WETH = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
V2_FACTORY = "0x5C69bEe701ef814a2B6a3EDD4B1652CB9cc5aA6f"
V2_INIT = bytes.fromhex("96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f")
V3_FACTORY = "0x1F98431c8aD98523631AE4a59f267346ea31F984"
V3_INIT = bytes.fromhex("e34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54")


def test_v2_usdc_weth_pair_on_mainnet() -> None:
    expected = "0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc"
    assert v2_pair_address(V2_FACTORY, USDC, WETH, V2_INIT) == expected
    assert v2_pair_address(V2_FACTORY, WETH, USDC, V2_INIT) == expected


@pytest.mark.parametrize(
    ("fee_pips", "expected"),
    [
        (500, "0x88e6A0c2dDD26FEEb64F039a2c41296FcB3f5640"),
        (3000, "0x8ad599c3A0ff1De082011EFDDc58f1908eb6e6D8"),
    ],
)
def test_v3_usdc_weth_pools_on_mainnet(fee_pips: int, expected: str) -> None:
    assert v3_pool_address(V3_FACTORY, WETH, USDC, fee_pips, V3_INIT) == expected


def test_sort_and_bad_inputs() -> None:
    assert sort_tokens(WETH, USDC) == (USDC, WETH)
    with pytest.raises(ValueError):
        sort_tokens(WETH, WETH)
    with pytest.raises(ValueError):
        create2_address(V2_FACTORY, b"\x00" * 31, V2_INIT)
