"""Open the configured secret backend, and fetch a strategy's secrets from it.

`open_store(config).get(name) -> bytearray` is the interface other areas use (respond reads a
broker master key through it). The caller zeroes the bytearray with
`garrison.secrets.memory.wipe` when done.
"""

from __future__ import annotations

from pathlib import Path

from garrison.config.schema import Config
from garrison.config.strategies import Strategy
from garrison.errors import SecretError
from garrison.secrets.backends.age_store import PassphraseSource
from garrison.secrets.backends.interface import SecretBackend
from garrison.secrets.memory import wipe_all


def age_store_dir(config: Config) -> Path:
    return Path(config.secrets.age.store_dir or Path(config.paths.state_dir, "secrets", "age"))


def creds_store_dir(config: Config) -> Path:
    default = Path(config.paths.state_dir, "secrets", "creds")
    return Path(config.secrets.systemd_creds.store_dir or default)


def open_store(config: Config, *, prompt: PassphraseSource | None = None) -> SecretBackend:
    """The backend named by [secrets].backend (nothing is contacted until first use)."""
    backend = config.secrets.backend
    if backend == "age":
        from garrison.secrets.backends.age_store import AgeStore

        return AgeStore(config.secrets.age, age_store_dir(config), prompt)
    if backend in ("vault", "openbao"):
        from garrison.secrets.backends.vault import VaultBackend

        return VaultBackend(config.secrets.vault, kind=backend)
    if backend == "doppler":
        from garrison.secrets.backends.doppler import DopplerBackend

        return DopplerBackend(config.secrets.doppler)
    if backend == "systemd-creds":
        from garrison.secrets.backends.systemd_creds import SystemdCredsStore

        return SystemdCredsStore(config.secrets.systemd_creds, creds_store_dir(config))
    raise SecretError(f"[secrets].backend: unknown backend {backend!r}")  # pragma: no cover


def strategy_or_error(config: Config, name: str) -> Strategy:
    strategy = config.strategy(name)
    if strategy is None:
        known = ", ".join(s.name for s in config.strategies) or "none configured"
        raise SecretError(f"strategy {name!r} is not in [[strategies]] ({known})")
    return strategy


def secret_names_for(config: Config, strategy: Strategy) -> list[str]:
    """Every secret the strategy receives: [[strategies]].secrets plus delivery field targets."""
    names = list(strategy.secrets)
    delivery = config.secrets.delivery.get(strategy.name)
    if delivery is not None:
        names += [n for n in delivery.fields.values() if n not in names]
    if not names:
        raise SecretError(
            f"strategy {strategy.name!r} has no secrets (set secrets = [...] in its "
            "[[strategies]] entry)"
        )
    return names


def fetch_secrets(backend: SecretBackend, names: list[str]) -> dict[str, bytearray]:
    """All of the named values, or none: on any failure the ones fetched so far are zeroed."""
    values: dict[str, bytearray] = {}
    try:
        for name in names:
            values[name] = backend.get(name)
    except BaseException:
        wipe_all(values)
        raise
    return values
