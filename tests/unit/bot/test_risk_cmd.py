"""`arbloop risk`: status, kill, resume and an operator reset of a tripped breaker."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.cli import main
from bot.risk import RiskGate, RiskLimits
from chains.config import configs_dir, load_profile
from tests.unit.bot.test_risk import make_candidate
from tests.unit.chains.test_config_profile import BASE


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    root = tmp_path / "configs"
    shutil.copytree(configs_dir() / "chains", root / "chains")
    path = root / "p.toml"
    # loss limits large enough that the failures below trip the failure breaker, not a loss cap
    path.write_text(
        BASE.replace(
            "max_loss_per_hour_wei = 1_000", "max_loss_per_hour_wei = 10_000_000_000_000_000"
        ).replace("max_loss_per_day_wei = 5_000", "max_loss_per_day_wei = 50_000_000_000_000_000")
    )
    return path


def _gate(profile: Path) -> RiskGate:
    loaded = load_profile(profile)
    return RiskGate(
        RiskLimits.from_profile(loaded),
        state_path=loaded.risk.state_file,
        kill_switch_path=loaded.risk.kill_switch_file,
    )


def test_kill_resume_and_status(profile: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["risk", "status", "--profile", str(profile)]) == 0
    assert main(["risk", "kill", "--profile", str(profile), "--reason", "drill"]) == 0
    assert _gate(profile).kill_switch_active()
    assert main(["risk", "status", "--profile", str(profile)]) == 1
    assert "kill switch: ON" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # resume needs an operator name
        main(["risk", "resume", "--profile", str(profile)])
    assert main(["risk", "resume", "--profile", str(profile), "--operator", "alice"]) == 0
    assert not _gate(profile).kill_switch_active()


def test_a_tripped_breaker_needs_an_operator_reset(
    profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gate = _gate(profile)
    for i in range(gate.limits.max_consecutive_failures):
        candidate = make_candidate(target_block=10 + i)
        assert gate.admit(candidate, f"i{i}", input_value_wei=10**17).approved
        gate.settle(f"i{i}", outcome="reverted", loss_wei=1, pnl_wei=-1, at_block=10 + i)
    assert gate.breaker_tripped
    assert main(["risk", "status", "--profile", str(profile)]) == 1
    assert "TRIPPED" in capsys.readouterr().out
    assert _gate(profile).breaker_tripped  # it survives a restart
    assert main(["risk", "reset", "--profile", str(profile), "--operator", "bob"]) == 0
    assert "reset by bob" in capsys.readouterr().out
    assert not _gate(profile).breaker_tripped
