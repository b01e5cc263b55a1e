"""Strict TOML reading: typed getters, key tracking, and errors that name file and key."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from chains.toml_reader import ConfigError, TomlTable, read_toml, refuse_secret_keys

WETH = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in tmp_path so error messages show files relative to it."""
    monkeypatch.chdir(tmp_path)


def _table(tmp_path: Path, text: str, name: str = "x.toml") -> TomlTable:
    path = tmp_path / name
    path.write_text(text)
    return read_toml(path)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: file not found") as info:
        read_toml(tmp_path / "nope.toml")
    assert info.value.path == tmp_path / "nope.toml"
    assert info.value.key == ""


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"bad\.toml: invalid TOML: .*line 2"):
        _table(tmp_path, "a = 1\nb = = 2\n", "bad.toml")


def test_error_message_format(tmp_path: Path) -> None:
    error = ConfigError(Path("configs/chains/local.toml"), "venues[1].factory", "not an address")
    assert str(error) == "configs/chains/local.toml: venues[1].factory: not an address"
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.key, str(copy)) == (error.path, error.key, str(error))


def test_absolute_path_under_cwd_is_shown_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    error = ConfigError(tmp_path / "configs" / "a.toml", "k", "bad")
    assert str(error) == "configs/a.toml: k: bad"


def test_scalars(tmp_path: Path) -> None:
    t = _table(
        tmp_path,
        's = "hi"\ni = 7\nf = 1.5\nfi = 2\nb = true\nl = ["a", "b"]\n'
        f'a = "{WETH.lower()}"\nh = "0x{"ab" * 32}"\nbig = "100_000_000_000_000_000_000"\n',
    )
    assert t.req_str("s") == "hi"
    assert t.req_int("i", min=0, max=7) == 7
    assert t.req_float("f") == 1.5
    assert t.req_float("fi") == 2.0
    assert t.req_bool("b") is True
    assert t.req_str_list("l") == ("a", "b")
    assert t.req_address("a") == WETH
    assert t.req_hash32("h") == bytes([0xAB] * 32)
    assert t.req_bigint("big") == 10**20
    assert t.opt_str("missing", "d") == "d"
    assert t.opt_int("missing") is None
    assert t.opt_float("missing", 3.0) == 3.0
    assert t.opt_bool("missing", False) is False
    assert t.opt_address("missing") is None
    assert t.opt_hash32("missing") is None
    assert t.opt_str_list("missing") == ()
    assert t.opt_table("missing") is None
    assert t.opt_tables("missing") == []
    t.finish()


@pytest.mark.parametrize(
    ("text", "method", "expected"),
    [
        ('k = "3"', "req_int", r"expected an integer, found a string \('3'\)"),
        ("k = true", "req_int", r"expected an integer, found a boolean \(True\)"),
        ("k = 1.0", "req_int", "expected an integer, found a float"),
        ("k = true", "req_float", "expected a number, found a boolean"),
        ("k = 1", "req_str", "expected a string, found an integer"),
        ("k = 1", "req_bool", "expected a boolean, found an integer"),
        ("k = 1", "req_str_list", "expected an array of strings, found an integer"),
        ('k = ["a", 2]', "req_str_list", r"expected a string, found an integer"),
        ("k = 1", "table", "expected a table, found an integer"),
        ("k = 1", "tables", "expected an array of tables, found an integer"),
        ("k = [1]", "tables", r"expected a table, found an integer"),
        ("k = true", "req_bigint", "expected an integer or a string of decimal digits"),
        ('k = "12a"', "req_bigint", "expected decimal digits"),
        ('k = "-5"', "req_bigint", "expected decimal digits"),
        ("k = nan", "req_float", "must be finite"),
    ],
)
def test_type_mismatch(tmp_path: Path, text: str, method: str, expected: str) -> None:
    t = _table(tmp_path, text + "\n")
    with pytest.raises(ConfigError, match=r"^x\.toml: k(\[\d\])?: " + expected):
        getattr(t, method)("k")


def test_missing_required_key(tmp_path: Path) -> None:
    t = _table(tmp_path, "[sec]\n")
    with pytest.raises(ConfigError, match=r"x\.toml: sec\.k: missing required key"):
        t.table("sec").req_int("k")


def test_int_range(tmp_path: Path) -> None:
    t = _table(tmp_path, "lo = 1\nhi = 9\n")
    with pytest.raises(ConfigError, match=r"lo: must be >= 2; found 1"):
        t.req_int("lo", min=2)
    with pytest.raises(ConfigError, match=r"hi: must be <= 4; found 9"):
        t.req_int("hi", max=4)


def test_bigint_range(tmp_path: Path) -> None:
    t = _table(tmp_path, f'k = "{2**256}"\n')
    with pytest.raises(ConfigError, match="k: must be <="):
        t.req_bigint("k", max=2**256 - 1)


def test_choices(tmp_path: Path) -> None:
    t = _table(tmp_path, 'kind = "v4"\n')
    with pytest.raises(ConfigError, match=r"kind: must be one of v2, v3; found 'v4'"):
        t.req_str("kind", choices={"v2", "v3"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0x12", "not an address"),
        ("0x" + "g" * 40, "not an address"),
        (WETH[:-1], "not an address"),
        ("C02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2xx", "not an address"),
        (WETH[:2] + WETH[2:].swapcase(), "bad EIP-55 checksum"),
        (WETH.replace("C02aaA", "c02aaA"), "bad EIP-55 checksum"),
    ],
)
def test_bad_address(tmp_path: Path, value: str, expected: str) -> None:
    t = _table(tmp_path, f'[a]\nweth = "{value}"\n')
    with pytest.raises(ConfigError, match=r"x\.toml: a\.weth: " + expected):
        t.table("a").req_address("weth")


def test_upper_case_address_is_accepted(tmp_path: Path) -> None:
    t = _table(tmp_path, f'a = "0x{WETH[2:].upper()}"\n')
    assert t.req_address("a") == WETH


@pytest.mark.parametrize("value", ["0x12", "0x" + "zz" * 32, "ab" * 32])
def test_bad_hash32(tmp_path: Path, value: str) -> None:
    t = _table(tmp_path, f'h = "{value}"\n')
    with pytest.raises(ConfigError, match="h: not a 32-byte hash"):
        t.req_hash32("h")


def test_tables_prefix_keys(tmp_path: Path) -> None:
    t = _table(tmp_path, '[[v]]\nname = "a"\n[[v]]\nname = "b"\nfactory = "0x12"\n')
    first, second = t.tables("v")
    assert first.prefix == "v[0]"
    assert first.req_str("name") == "a"
    with pytest.raises(ConfigError, match=r"x\.toml: v\[1\]\.factory: not an address: '0x12'"):
        second.req_address("factory")


def test_finish_names_every_unknown_key(tmp_path: Path) -> None:
    t = _table(tmp_path, "top = 1\n[strategy]\nmax_hops = 3\nmax_hopz = 4\nother = 1\n")
    strategy = t.table("strategy")
    strategy.req_int("max_hops")
    strategy.opt_int("min_profit_wei")
    with pytest.raises(ConfigError) as info:
        t.finish()
    message = str(info.value)
    assert message.startswith("x.toml: top: unknown key (known: strategy)")
    assert "strategy.max_hopz: unknown key (did you mean 'max_hops'? known: max_hops, min_pro" in (
        message
    )
    assert "strategy.other: unknown key" in message
    assert info.value.key == "top"


def test_finish_checks_array_elements(tmp_path: Path) -> None:
    t = _table(tmp_path, '[[venues]]\nname = "a"\nfactry = "x"\n')
    for venue in t.tables("venues"):
        venue.req_str("name")
    with pytest.raises(ConfigError, match=r"venues\[0\]\.factry: unknown key"):
        t.finish()


def test_finish_passes_when_everything_read(tmp_path: Path) -> None:
    t = _table(tmp_path, "a = 1\n[b]\nc = 2\n")
    t.req_int("a")
    t.table("b").req_int("c")
    t.finish()
    assert t.keys() == ("a", "b")


def test_walk_keys(tmp_path: Path) -> None:
    t = _table(tmp_path, "a = 1\n[b]\nc = 2\n[[d]]\ne = 3\n")
    assert list(t.walk_keys()) == ["a", "b", "b.c", "d", "d[0].e"]


@pytest.mark.parametrize("key", ["private_key", "PrivateKey", "mnemonic", "db_password", "secret"])
def test_secret_keys_refused(tmp_path: Path, key: str) -> None:
    t = _table(tmp_path, f'[live]\n{key} = "x"\n')
    with pytest.raises(ConfigError, match=rf"x\.toml: live\.{key}: secrets never live"):
        refuse_secret_keys(t)
