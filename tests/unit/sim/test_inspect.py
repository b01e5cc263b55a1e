"""The arbitrage inspector on recorded blocks: mev-inspect-py's test blocks and cryo archives.

Data: ../shared/data/mev-inspect-blocks/*.json (flashbots/mev-inspect-py's test blocks) and
../shared/data/mainnet/ (cryo traces of blocks 21,000,000-21,000,010 and logs of blocks
18,426,253-18,426,303), read in place.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sim.inspect import file_kind, inspect_file, inspect_path

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
BLOCKS = DATA / "mev-inspect-blocks"
MAINNET = DATA / "mainnet"
LOGS = MAINNET / "ethereum__logs__18426253_to_18426303.parquet"
TRACES = MAINNET / "ethereum__traces__21000000_to_21000010.parquet"
WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
TOKEN_25F8 = "0x25f8087ead173b73d6e8b84329989a8eea16cf73"


def _block(number: int) -> Path:
    path = BLOCKS / f"{number}.json"
    assert path.is_file(), f"missing shared test data {path}"
    return path


def test_block_12914944_has_mev_inspects_two_weth_arbitrages() -> None:
    inspection = inspect_file(_block(12914944))
    # the same 51 swaps as mev-inspect-py: every swap of this block is a Uniswap V2/V3 pool swap
    assert inspection.swaps_per_block() == {12914944: 51}
    by_tx = {a.transaction_hash: a for a in inspection.arbitrages}
    assert len(inspection.arbitrages) == 2
    first = by_tx["0x448245bf1a507b73516c4eeee01611927dada6610bf26d403012f2e66800d8f0"]
    second = by_tx["0xfcf4558f6432689ea57737fe63124a5ec39fd6ba6aaf198df13a825dd599bffc"]
    assert first.profit == 750005273675102326
    assert second.profit == 53560707941943273628
    for arbitrage in (first, second):
        assert arbitrage.profit_token == WETH
        assert len(arbitrage.hops) == 3
        assert (arbitrage.hops[1].token_in, arbitrage.hops[1].token_out) == (TOKEN_25F8, USDC)
        assert arbitrage.profit == arbitrage.end_amount - arbitrage.start_amount
        assert not arbitrage.reverted
        assert arbitrage.source == "traces"


def test_block_12483198_five_arbitrages_one_reverted() -> None:
    inspection = inspect_file(_block(12483198))
    # mev-inspect-py counts 38: the extra one is the Curve 3pool `exchange` call
    # (0x3df02124 to 0xbebc4478..., tx 0xd5639f59...), a venue this classifier does not read
    assert inspection.swaps_per_block() == {12483198: 37}
    assert len(inspection.arbitrages) == 5
    reverted = [a for a in inspection.arbitrages if a.reverted]
    assert len(reverted) == 1
    # the reverted one sits in a sub-call that reverted inside a transaction that succeeded;
    # its C728 -> DAI hop reverted on its own and the DAI -> WETH swap is a hand-packed V2
    # call without the `bytes` tail, read as the EVM reads it
    assert reverted[0].transaction_hash == (
        "0x23a4dc7044666d3d4cc2d394a8017fc9d6b87018c20390d35266cea1af783e8a"
    )
    assert reverted[0].profit == 9952775606184071594
    assert len(reverted[0].hops) == 3


# (swaps, profits in wei of WETH) per block, as this inspector reads each mev-inspect test block
EXPECTED_BLOCKS = {
    10921991: (34, [75317031585685456, 157125793357081168]),
    11930296: (26, []),
    11931272: (21, [76823540222651237]),
    11935012: (31, []),
    12412732: (38, [79252697025622854, 114759323109787116]),
    12483198: (
        37,
        [
            9952775606184015146,
            9952775606184071594,
            304971173245779342,
            22137247799616742,
            18231262442915460,
        ],
    ),
    12498502: (21, [28487455089243564]),
    12674514: (2, []),
    12775690: (21, []),
    12914944: (51, [53560707941943273628, 750005273675102326]),
    13179291: (22, []),
    13207907: (15, []),
    13234998: (22, []),
    13244807: (4, []),
    13298725: (35, [16828644791834028]),
    13302365: (23, [15226635895954875]),
    13323642: (12, []),
    13326607: (11, [18199228041787892]),
    13370850: (49, [21746159769383237, 13617806648005566, 16688920428787560]),
    13376024: (45, []),
    # a losing cycle is still a cycle (mev-inspect-py keeps negative profits too)
    13404932: (16, [-281378319490910402, 346702828872370621, 10716298780718515, 10423532709333084]),
    13666184: (11, []),
    13666312: (53, [99275370646050064]),
    13666326: (62, []),
    13666363: (43, [33450704826702015]),
    15049646: (
        23,
        [
            8448090722862364,
            8146631400338085,
            11580527537675369,
            12242406306195653,
            14359519375201242,
        ],
    ),
}


def test_all_mev_inspect_blocks_pinned() -> None:
    # 27 files, 26 blocks: 10921990.json holds block 10,921,991 too (same traces)
    files = sorted(BLOCKS.glob("*.json"))
    assert len(files) == 27
    seen: dict[int, list[tuple[int, list[int]]]] = {}
    for path in files:
        inspection = inspect_file(path)
        ((block, swaps),) = inspection.swaps_per_block().items()
        seen.setdefault(block, []).append((swaps, [a.profit for a in inspection.arbitrages]))
        assert all(a.profit_token == WETH for a in inspection.arbitrages)
    assert len(seen[10921991]) == 2
    assert seen[10921991][0] == seen[10921991][1]
    assert {block: found[0] for block, found in seen.items()} == EXPECTED_BLOCKS


def test_mainnet_traces_parquet() -> None:
    inspection = inspect_file(TRACES)
    assert inspection.kind == "traces"
    assert sum(inspection.swaps_per_block().values()) == 416
    assert inspection.swaps_per_block()[21000008] == 88
    assert len(inspection.arbitrages) == 10
    by_tx = {a.transaction_hash: a for a in inspection.arbitrages}
    top = by_tx["0x797d9781c6a2f89a49fd6790fe635bbbaf8c1b5c87d88e66504b738d38c33186"]
    assert (top.block_number, top.transaction_index, len(top.hops)) == (21000008, 2, 3)
    assert top.profit == 104853198123169531
    assert top.profit_token == WETH


def test_mainnet_logs_parquet() -> None:
    inspection = inspect_file(LOGS)
    assert inspection.kind == "logs"
    # 1,287 V2-style + 432 V3 Swap events; 191 not proven (mostly fee-on-transfer tokens whose
    # Transfer to the recipient is smaller than the pool's amountOut)
    assert len(inspection.swaps) == 1528
    assert inspection.skipped_swaps == 191
    assert len(inspection.arbitrages) == 15
    assert all(not a.reverted and a.source == "logs" for a in inspection.arbitrages)
    by_tx = {a.transaction_hash: a for a in inspection.arbitrages}
    arb = by_tx["0x4493f7bcd0d9a74f21743ab159752abef79bde065aaabcf0f17dbb9d8d8c2e9a"]
    # By hand from the raw logs of block 18426263, transaction 7 (bot 0x00c2f301...):
    #   log 38  0x06450dee Transfer 0x2a9d2ba4 (V3 pool) -> 0xc0d776e2 (V2 pair)
    #           0x082ac8ecb369bc0f2a2fffb5 = 2527603802650821278294867893
    #   log 39  WETH Transfer 0xc0d776e2 -> bot 0x0afbacc900000000 = 791416138822057984
    #   log 41  V2 Swap at 0xc0d776e2: amount0In 2527603802650821278294867893, amount1Out
    #           791416138822057984, to bot
    #   log 42  WETH Transfer bot -> 0x2a9d2ba4 0x0ae2664b3c0afbac = 784301758431820716
    #   log 43  V3 Swap at 0x2a9d2ba4: amount0 -2527603802650821278294867893, amount1
    #           +784301758431820716, recipient 0xc0d776e2
    # so WETH -> 0x0645 (V3) -> WETH (V2): 791416138822057984 - 784301758431820716
    assert arb.profit == 7114380390237268
    assert arb.profit_token == WETH
    assert (arb.block_number, arb.transaction_index) == (18426263, 7)
    assert [h.pool for h in arb.hops] == [
        "0x2a9d2ba41aba912316d16742f259412b681898db",
        "0xc0d776e2223c9a2ad13433dab7ec08cb9c5e76ae",
    ]
    assert arb.hops[0].amount_out == arb.hops[1].amount_in == 2527603802650821278294867893


def test_archive_folder_reads_both_files() -> None:
    kinds = sorted(i.kind for i in inspect_path(MAINNET))
    assert kinds == ["logs", "traces"]


# -- bad input --------------------------------------------------------------------------------


def test_unknown_file_kind(tmp_path: Path) -> None:
    path = tmp_path / "blocks.csv"
    path.write_text("a,b\n")
    with pytest.raises(ValueError, match=r"blocks\.csv.*unknown file kind"):
        file_kind(path)


def test_parquet_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "ethereum__logs__1_to_2.parquet"
    pq.write_table(pa.table({"block_number": [1], "topic0": [b"\x00"]}), path)
    with pytest.raises(ValueError, match=r"ethereum__logs__1_to_2\.parquet.*lacks columns"):
        inspect_file(path)
    other = tmp_path / "numbers.parquet"
    pq.write_table(pa.table({"x": [1]}), other)
    with pytest.raises(ValueError, match=r"numbers\.parquet.*unknown file kind"):
        inspect_file(other)


def test_traces_parquet_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "ethereum__traces__1_to_2.parquet"
    pq.write_table(pa.table({"block_number": [1], "trace_address": ["0"]}), path)
    with pytest.raises(ValueError, match=r"traces__1_to_2\.parquet.*action_input"):
        inspect_file(path)


def test_not_parquet(tmp_path: Path) -> None:
    path = tmp_path / "x__traces__1.parquet"
    path.write_bytes(b"not parquet")
    with pytest.raises(ValueError, match=r"x__traces__1\.parquet"):
        inspect_file(path)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{not json", "not a readable block JSON"),
        ("[]", "'traces' list"),
        (json.dumps({"traces": []}), "block_number"),
        (
            json.dumps(
                {"block_number": 1, "traces": [{"type": "call", "transaction_hash": "0x01"}]}
            ),
            "malformed trace #0",
        ),
    ],
)
def test_malformed_block_json(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "bad_block.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"bad_block.json.*{why}"):
        inspect_file(path)


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no .*parquet files"):
        inspect_path(tmp_path)
