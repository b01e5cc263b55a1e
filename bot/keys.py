"""Signing keys: from an encrypted keystore or an environment variable, never a flag or a file.

Two roles: `executor` (the EOA that calls ArbExecutor and pays gas) and `relay` (the
reputation key that signs X-Flashbots-Signature headers and holds no funds). For a role R:

- `ARBLOOP_<R>_KEYSTORE` names an eth-account v3 JSON keystore; its password comes from
  `ARBLOOP_<R>_KEYSTORE_PASSWORD` or, when that is unset, an interactive prompt;
- otherwise `ARBLOOP_<R>_KEY` holds the 32-byte key as hex.

The variables that carried a key or password are removed from the process environment once
read, so child processes (anvil, ingest workers) never inherit them. Nothing here logs or
formats a key; errors name the variables, never their values.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable, MutableMapping
from pathlib import Path

from eth_account import Account

__all__ = ["ROLES", "KeyLoadError", "env_names", "load_key"]

ROLES = ("executor", "relay")
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class KeyLoadError(RuntimeError):
    """No usable key for a role; the message names what to set, never a secret."""


def env_names(role: str) -> tuple[str, str, str]:
    """Return (keystore path, keystore password, raw hex key) variable names of a role."""
    if role not in ROLES:
        raise ValueError(f"unknown key role {role!r}: one of {', '.join(ROLES)}")
    prefix = f"ARBLOOP_{role.upper()}"
    return f"{prefix}_KEYSTORE", f"{prefix}_KEYSTORE_PASSWORD", f"{prefix}_KEY"


def _check(key: bytes, source: str) -> bytes:
    if len(key) != 32 or not 0 < int.from_bytes(key, "big") < _SECP256K1_N:
        raise KeyLoadError(f"{source} does not hold a valid secp256k1 private key")
    return key


def load_key(
    role: str,
    *,
    environ: MutableMapping[str, str] | None = None,
    prompt: Callable[[str], str] = getpass.getpass,
) -> bytes:
    """Return the role's 32-byte private key; scrub the variables that carried it."""
    env = os.environ if environ is None else environ
    keystore_var, password_var, key_var = env_names(role)
    keystore = env.get(keystore_var)
    if keystore:
        path = Path(keystore)
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise KeyLoadError(f"{keystore_var}: cannot read keystore {path}: {exc}") from None
        password = env.pop(password_var, None)
        if password is None:
            password = prompt(f"password for the {role} keystore {path}: ")
        try:
            key = bytes(Account.decrypt(document, password))
        except (ValueError, KeyError, TypeError):
            raise KeyLoadError(
                f"{keystore_var}: keystore {path} did not decrypt (wrong password or format)"
            ) from None
        finally:
            del password
        env.pop(key_var, None)
        return _check(key, f"keystore {path}")
    raw = env.pop(key_var, None)
    if raw is None:
        raise KeyLoadError(
            f"no {role} key: set {keystore_var} (an eth-account v3 keystore, password in "
            f"{password_var} or typed at the prompt) or {key_var} (hex)"
        )
    try:
        key = bytes.fromhex(raw.strip().removeprefix("0x"))
    except ValueError:
        raise KeyLoadError(f"{key_var} is not hex") from None
    return _check(key, key_var)
