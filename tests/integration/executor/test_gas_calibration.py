"""Gas calibration on the world: the fitted model predicts held-out executions' gasUsed."""

from __future__ import annotations

from typing import Any

import pytest

from sim.gas_calibration import fit_gas_model, prediction_errors_pct, run_calibration

pytestmark = pytest.mark.integration

EXECUTIONS = 120
SEED = 7
# every held-out execution, with or without tick crossings or a tip, within this of its gasUsed
BOUND_PCT = 5.0


def test_model_predicts_held_out_executions(world: Any) -> None:
    measurements = run_calibration(world.rpc, world.manifest, executions=EXECUTIONS, seed=SEED)
    shapes = {(m.flash, m.n_v2, m.n_v3) for m in measurements}
    assert {n for _, n2, n3 in shapes for n in [n2 + n3]} == {2, 3}
    assert any(m.n_v2 == 0 for m in measurements) and any(m.n_v3 == 0 for m in measurements)
    assert any(m.ticks_crossed > 0 for m in measurements)
    # the state-dependent terms are exercised: fresh ticks crossed, V3 hops that keep the tick
    assert any(m.fee_slots_set > 0 for m in measurements)
    assert any(m.still_v3_hops > 0 for m in measurements)
    assert any(m.flash_forwards > 0 for m in measurements)
    # every other execution of each funding mode pays a tip
    assert {(m.flash, m.tip_paid) for m in measurements} == {
        (flash, tipped) for flash in (True, False) for tipped in (True, False)
    }
    # calibrate on four of every eight executions (both funding modes, tipped or not), hold
    # out the others
    train = [m for i, m in enumerate(measurements) if i % 8 < 4]
    held = [m for i, m in enumerate(measurements) if i % 8 >= 4]
    model = fit_gas_model(train)
    errors = prediction_errors_pct(model, held)
    plain = [abs(e) for m, e in zip(held, errors, strict=True) if m.ticks_crossed == 0]
    ticked = [abs(e) for m, e in zip(held, errors, strict=True) if m.ticks_crossed > 0]
    tipped = [abs(e) for m, e in zip(held, errors, strict=True) if m.tip_paid]
    untipped = [abs(e) for m, e in zip(held, errors, strict=True) if not m.tip_paid]
    print(f"model {model}")
    groups = (
        ("without tick crossings", plain),
        ("with tick crossings", ticked),
        ("tipped", tipped),
        ("untipped", untipped),
    )
    for name, group in groups:
        within = sum(e <= 5.0 for e in group)
        print(
            f"held out {name}: {len(group)}, max error {max(group, default=0.0):.2f}%,"
            f" {within}/{len(group)} within 5%"
        )
    assert plain and ticked and tipped and untipped
    assert max(plain) <= BOUND_PCT
    assert max(ticked) <= BOUND_PCT
    assert max(tipped) <= BOUND_PCT
    # the tip is WETH.withdraw and a value call to the coinbase: about 18.8k gas
    assert 15_000 <= model.per_tip_gas <= 23_000
