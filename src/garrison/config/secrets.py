"""[secrets]: where secrets live (backend), how they reach a strategy, and how often they rotate.

Example:

    [secrets]
    backend = "age"                       # age | vault | openbao | doppler | systemd-creds
    ttl_s = 30                            # garrison's in-memory copy is wiped after this

    [secrets.age]
    identity_file = "/run/garrison-keys/age.key"   # off the data disk (tmpfs, removable media)

    [secrets.vault]
    address = "https://127.0.0.1:8200"
    auth = "approle"
    role_id = "..."
    secret_id_file = "/run/garrison-keys/secret_id"
    secret_id_wrapped = true

    [secrets.rotation]
    default = "weekly"
    cadence = { binance_key = "daily" }

    [secrets.delivery.bot]                # per strategy (by [[strategies]] name)
    mode = "memfd"
    fields = { "exchange.key" = "binance_key", "exchange.secret" = "binance_secret" }
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from garrison.config.base import StrictModel

BackendName = Literal["age", "vault", "openbao", "doppler", "systemd-creds"]
DeliveryMode = Literal["auto", "memfd_secret", "memfd", "pipe", "env", "keyring"]
RestartMode = Literal["auto", "systemd", "signal", "none"]

SECRET_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
_SECRET_NAME = re.compile(SECRET_NAME_PATTERN)
_CADENCES = {"hourly": 1 / 24, "daily": 1.0, "weekly": 7.0, "monthly": 30.0, "quarterly": 91.0}


def cadence_days(text: str) -> float:
    """'daily' -> 1.0, 'weekly' -> 7.0, '3d' -> 3.0, '12h' -> 0.5; ValueError otherwise."""
    value = text.strip().lower()
    if value in _CADENCES:
        return _CADENCES[value]
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([dh])", value)
    if not match:
        choices = ", ".join(_CADENCES)
        raise ValueError(f"cadence {text!r}: use {choices}, or a number with d/h (e.g. 3d)")
    number = float(match.group(1))
    days = number if match.group(2) == "d" else number / 24
    if days <= 0:
        raise ValueError(f"cadence {text!r} must be positive")
    return days


def check_secret_name(name: str) -> str:
    """Return name if it is a valid secret name, else raise ValueError saying why."""
    if not _SECRET_NAME.match(name):
        raise ValueError(
            f"secret name {name!r}: use letters, digits, '_', '.', '-' (start with a letter "
            "or digit, at most 128 characters)"
        )
    return name


class AgeStoreConfig(StrictModel):
    """[secrets.age]: a local store, one age-encrypted file per secret version."""

    store_dir: str | None = Field(
        None, description="default <paths.state_dir>/secrets/age (encrypted files only)"
    )
    identity_file: str | None = Field(
        None,
        description="age identity (AGE-SECRET-KEY-1...); keep it off the data disk, e.g. /run",
    )
    passphrase_env: str = Field(
        "GARRISON_AGE_PASSPHRASE", description="env var holding the passphrase (no identity)"
    )
    passphrase_fd: int | None = Field(None, ge=0, description="read the passphrase from this fd")
    keep_versions: int = Field(2, ge=1, le=100, description="versions kept per secret")


class VaultConfig(StrictModel):
    """[secrets.vault] (also used for OpenBao): KV v2 through hvac."""

    address: str = "https://127.0.0.1:8200"
    mount: str = "secret"
    path_prefix: str = "garrison"
    auth: Literal["token", "approle"] = "token"
    token_file: str | None = None
    token_env: str = "VAULT_TOKEN"
    token_wrapped: bool = Field(False, description="the token file holds a wrapping token")
    role_id: str | None = None
    role_id_file: str | None = None
    secret_id_file: str | None = None
    secret_id_wrapped: bool = Field(False, description="secret_id_file holds a wrapping token")
    approle_mount: str = "approle"
    verify_tls: bool = True
    ca_file: str | None = None
    timeout_s: float = Field(5.0, gt=0, le=120)
    namespace: str | None = None


class DopplerConfig(StrictModel):
    """[secrets.doppler]: the Doppler REST API (v3)."""

    api_url: str = "https://api.doppler.com"
    project: str = ""
    config: str = ""
    token_file: str | None = None
    token_env: str = "DOPPLER_TOKEN"
    timeout_s: float = Field(5.0, gt=0, le=120)
    verify_tls: bool = True


class SystemdCredsConfig(StrictModel):
    """[secrets.systemd_creds]: files encrypted by `systemd-creds encrypt` (host key/TPM)."""

    store_dir: str | None = Field(None, description="default <paths.state_dir>/secrets/creds")
    with_key: str = Field("auto", description="systemd-creds --with-key (auto, host, tpm2...)")
    credential_secret: str | None = Field(
        None, description="host key file (SYSTEMD_CREDENTIAL_SECRET); default systemd's"
    )
    keep_versions: int = Field(2, ge=1, le=100)


class RotationConfig(StrictModel):
    """[secrets.rotation]: how often each secret must change."""

    default: str = "weekly"
    cadence: dict[str, str] = Field(
        default_factory=dict, description="per secret, e.g. { binance_key = 'daily' }"
    )
    restart: RestartMode = Field(
        "auto", description="after rotation: systemd unit restart, a signal, or nothing"
    )
    restart_signal: str = Field("SIGTERM", description="signal sent when restart = 'signal'")

    @field_validator("default")
    @classmethod
    def _default(cls, value: str) -> str:
        cadence_days(value)
        return value

    @field_validator("cadence")
    @classmethod
    def _cadence(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            check_secret_name(name)
            cadence_days(text)
        return value

    @field_validator("restart_signal")
    @classmethod
    def _signal(cls, value: str) -> str:
        import signal

        name = value.upper() if value.upper().startswith("SIG") else "SIG" + value.upper()
        if not hasattr(signal, name):
            raise ValueError(f"unknown signal {value!r}")
        return name

    def days_for(self, name: str) -> float:
        return cadence_days(self.cadence.get(name, self.default))


class DeliveryConfig(StrictModel):
    """[secrets.delivery.<strategy>]: how one strategy receives its secrets."""

    mode: DeliveryMode = "auto"
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="JSON path -> secret name, e.g. { 'exchange.key' = 'binance_key' }; "
        "default: each secret under its own name",
    )
    env_prefix: str | None = Field(
        None, description="mode env: prefix of variable names (default FREQTRADE__ for freqtrade)"
    )

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: dict[str, str]) -> dict[str, str]:
        for path, name in value.items():
            if not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*", path):
                raise ValueError(f"field path {path!r}: use dotted words like exchange.key")
            check_secret_name(name)
        return value


class SecretsConfig(StrictModel):
    """[secrets]"""

    backend: BackendName = "age"
    ttl_s: float = Field(30.0, gt=0, le=86400, description="lifetime of garrison's own copy")
    keyring_timeout_s: int = Field(60, ge=1, le=86400, description="mode keyring: key expiry")
    age: AgeStoreConfig = Field(default_factory=AgeStoreConfig)
    vault: VaultConfig = Field(default_factory=VaultConfig)
    doppler: DopplerConfig = Field(default_factory=DopplerConfig)
    systemd_creds: SystemdCredsConfig = Field(default_factory=SystemdCredsConfig)
    rotation: RotationConfig = Field(default_factory=RotationConfig)
    delivery: dict[str, DeliveryConfig] = Field(default_factory=dict)
    scan_max_file_bytes: int = Field(2 * 1024 * 1024, ge=1024, le=1024**3)
    scan_ignore: list[str] = Field(
        default_factory=list, description="glob patterns of paths the scanner skips"
    )
