"""`arbloop risk status|reset|kill|resume`: the operator's hands on the risk gate.

A tripped breaker stays tripped across restarts until an operator resets it by name; the kill
switch is a file (also created by SIGUSR1 to a running bot) that only an operator removes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from bot.risk import RiskGate, RiskLimits
from chains.config_profile import load_profile

__all__ = ["add_risk_parser"]


def _gate(profile_path: Path) -> RiskGate:
    profile = load_profile(profile_path)
    return RiskGate(
        RiskLimits.from_profile(profile),
        state_path=profile.risk.state_file,
        kill_switch_path=profile.risk.kill_switch_file,
    )


def _status(args: argparse.Namespace, console: Console) -> int:
    gate = _gate(args.profile)
    console.print(
        f"breaker: {'TRIPPED (' + str(gate.breaker_reason) + ')' if gate.breaker_tripped else 'ok'}"
    )
    console.print(
        f"kill switch: {'ON' if gate.kill_switch_active() else 'off'} ({gate.kill_switch_path})"
    )
    console.print(f"consecutive failures: {gate.consecutive_failures}")
    console.print(f"PnL: {gate.pnl_wei} wei; loss last hour {gate.loss_in_window_wei(3600)} wei")
    console.print(f"in flight: {len(gate.in_flight())}")
    for token, reason in sorted(gate.denied_tokens.items()):
        console.print(f"denied token {token}: {reason}")
    return 1 if gate.breaker_tripped or gate.kill_switch_active() else 0


def _reset(args: argparse.Namespace, console: Console) -> int:
    gate = _gate(args.profile)
    if not gate.breaker_tripped:
        console.print("the breaker is not tripped")
        return 0
    reason = gate.breaker_reason
    gate.reset_breaker(args.operator)
    console.print(f"breaker reset by {args.operator} (was: {reason})")
    return 0


def _kill(args: argparse.Namespace, console: Console) -> int:
    gate = _gate(args.profile)
    gate.trigger_kill_switch(args.reason)
    console.print(f"kill switch ON: {gate.kill_switch_path}; no new sends until `risk resume`")
    return 0


def _resume(args: argparse.Namespace, console: Console) -> int:
    gate = _gate(args.profile)
    path = gate.kill_switch_path
    if path.exists():
        path.unlink()
    console.print(f"kill switch off ({path} removed) by {args.operator}")
    return 0


def add_risk_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `arbloop risk ...` to the top-level subparsers."""
    risk = sub.add_parser("risk", help="the risk gate: breaker, kill switch, denied tokens")
    risk_sub = risk.add_subparsers(dest="risk_command", required=True)
    commands = (
        ("status", "print the breaker, kill switch, PnL and denied tokens", _status),
        ("reset", "reset a tripped breaker (operator name required)", _reset),
        ("kill", "stop all new sends now (survives restarts)", _kill),
        ("resume", "remove the kill switch (operator name required)", _resume),
    )
    for name, text, func in commands:
        p = risk_sub.add_parser(name, help=text)
        p.add_argument("--profile", type=Path, default=Path("configs/local.toml"))
        if name in ("reset", "resume"):
            p.add_argument("--operator", required=True, help="who takes this decision (logged)")
        if name == "kill":
            p.add_argument("--reason", default="operator", help="why (logged)")
        p.set_defaults(func=func)
