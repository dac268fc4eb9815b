"""[respond] and a strategy's `freeze` table: how garrison answers an alert.

Example:

    [respond]
    steps = ["freeze", "broker", "evidence", "notify", "rebuild"]

    [[respond.accounts]]
    name = "bybit-main"
    exchange = "bybit"
    credential = "bybit_trading"        # secret NAME in the store, value "API_KEY:API_SECRET"
    master_credential = "bybit_master"  # optional: master key that may lock the sub key

    [respond.notify]
    urls = ["tgram://BOT_TOKEN/CHAT_ID", "slack://T0/B0/XXXX/#ops"]

    [[strategies]]
    name = "ft"
    match = "freqtrade trade"
    freeze = { method = "freqtrade_api", url = "http://127.0.0.1:8080", username = "garrison",
               password_secret = "ft_api_password", forceexit = true }
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from garrison.config.base import StrictModel

FreezeMethod = Literal[
    "cgroup", "signal", "systemd", "docker", "podman", "freqtrade_api", "hummingbot_mqtt"
]
ExchangeId = Literal[
    "bybit", "deribit", "binance", "okx", "kraken", "coinbase", "oanda", "mt5", "ctrader"
]
StepName = Literal["freeze", "broker", "evidence", "notify", "rebuild"]
DEFAULT_STEPS: list[StepName] = ["freeze", "broker", "evidence", "notify", "rebuild"]
LockMode = Literal["read_only", "disable", "none"]
SnapshotMode = Literal["auto", "lvm", "btrfs", "archive", "none"]

_NAME = r"^[A-Za-z0-9_.-]+$"


class FreezeSpec(StrictModel):
    """A strategy's `freeze` table: how to stop it from trading, fast and reversibly."""

    method: FreezeMethod = "cgroup"
    cgroup: str | None = Field(
        None,
        description="existing cgroup dir to freeze (absolute, or relative to the hierarchy); "
        "default: the strategy's processes are moved into <hierarchy>/garrison/<name>",
    )
    hierarchy: Literal["auto", "v1", "v2"] = Field(
        "auto", description="v1 freezer, v2 cgroup.freeze, or auto (v1 freezer when mounted)"
    )
    signal: Literal["STOP", "TERM"] = Field("STOP", description="method signal: STOP or TERM")
    container: str | None = Field(None, description="docker/podman container name or id")
    url: str | None = Field(None, description="freqtrade API base, e.g. http://127.0.0.1:8080")
    username: str | None = Field(None, description="freqtrade API user")
    password_secret: str | None = Field(None, description="secret NAME holding the password")
    forceexit: bool = Field(False, description="freqtrade: also force-exit every open trade")
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(1883, gt=0, lt=65536)
    mqtt_topic_prefix: str = Field("hbot", description="Hummingbot MQTT namespace")
    instance_id: str | None = Field(None, description="Hummingbot instance id (default: name)")
    skip_order_cancellation: bool = Field(False, description="Hummingbot stop: keep orders")
    timeout_s: float = Field(5.0, gt=0, le=300)

    @model_validator(mode="after")
    def _method_settings(self) -> Self:
        needs: dict[str, tuple[str, ...]] = {
            "docker": ("container",),
            "podman": ("container",),
            "freqtrade_api": ("url", "username", "password_secret"),
        }
        for key in needs.get(self.method, ()):
            if getattr(self, key) in (None, ""):
                raise ValueError(f"method {self.method!r} needs {key!r}")
        return self


class ExchangeAccount(StrictModel):
    """One [[respond.accounts]] entry: an exchange key garrison can cancel and lock."""

    name: str = Field(min_length=1, pattern=_NAME)
    exchange: ExchangeId
    credential: str | None = Field(
        None, description="secret NAME whose value is 'API_KEY:API_SECRET' (never the key)"
    )
    master_credential: str | None = Field(
        None, description="secret NAME of a master/admin key allowed to lock `credential`"
    )
    base_url: str | None = Field(None, description="API base override (tests, testnets)")
    lock: LockMode = Field("read_only", description="read_only, disable (Deribit) or none")
    cancel_orders: bool = True
    categories: list[str] = Field(
        default_factory=lambda: ["linear", "spot"], description="Bybit categories to cancel"
    )
    settle_coins: list[str] = Field(
        default_factory=lambda: ["USDT"], description="Bybit linear/inverse settle coins"
    )
    symbols: list[str] = Field(
        default_factory=list, description="ccxt exchanges that cancel per symbol"
    )
    dashboard_url: str | None = Field(None, description="override the manual-step link")
    timeout_s: float = Field(5.0, gt=0, le=120)


class NotifyConfig(StrictModel):
    """[respond.notify]: apprise URLs (they may hold tokens: always shown redacted)."""

    urls: list[str] = Field(default_factory=list)
    max_per_hour: int = Field(20, ge=1, le=10000, description="rate limit, all incidents")
    dedup_window_s: float = Field(600.0, ge=0, le=86400)
    retries: int = Field(4, ge=0, le=20)
    backoff_s: float = Field(1.0, gt=0, le=600, description="first retry delay, doubled each")
    timeout_s: float = Field(10.0, gt=0, le=300, description="per delivery attempt")

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for index, url in enumerate(value):
            if "://" not in url:
                # never echo the URL: it may carry a token
                raise ValueError(f"urls[{index}] is not an apprise URL (scheme://...)")
        return value


class EvidenceConfig(StrictModel):
    """[respond.evidence]: what is kept, hashed and signed when an alert fires."""

    volatile: bool = Field(True, description="processes, sockets, users, ruleset, modules, logs")
    memory: bool = Field(True, description="dump the strategies' process memory")
    memory_limit_mb: int = Field(1024, ge=1, le=1024 * 1024, description="per process")
    snapshot: SnapshotMode = "auto"
    paths: list[str] = Field(
        default_factory=list, description="archived (tar.gz) when no LVM/btrfs snapshot"
    )
    lvm_volume: str | None = Field(None, description="VG/LV to snapshot with lvcreate -s")
    lvm_snapshot_size: str = "1G"
    btrfs_subvolume: str | None = Field(None, description="subvolume to snapshot read-only")
    provider_command: list[str] = Field(
        default_factory=list, description="argv of a provider snapshot (its output is kept)"
    )
    commands: list[list[str]] = Field(
        default_factory=list, description="extra commands whose output is kept as artefacts"
    )
    auth_log: str = "/var/log/auth.log"
    log_lines: int = Field(500, ge=1, le=1_000_000)


class RebuildConfig(StrictModel):
    """[respond.rebuild]: the command that redeploys a clean host (Ansible, Terraform...)."""

    command: list[str] = Field(default_factory=list, description="argv; empty = no rebuild")
    timeout_s: float = Field(1800.0, gt=0, le=86400)
    cwd: str | None = None


class WebhookConfig(StrictModel):
    """[respond.webhook]: `garrison respond serve`, the Falco/Wazuh intake."""

    listen: str = Field("127.0.0.1:8095", description="HOST:PORT")
    hmac_secret: str | None = Field(
        None, description="secret NAME; requests then need X-Garrison-Signature: sha256=<hex>"
    )
    min_severity: Literal["info", "low", "medium", "high", "critical"] = "high"
    dedup_window_s: float = Field(
        300.0,
        ge=0,
        le=86400,
        description="the same alert (dedup key) again within this window starts no new incident",
    )
    max_body_bytes: int = Field(1024 * 1024, ge=1024, le=64 * 1024 * 1024)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{value!r} is not HOST:PORT")
        return value


class StepTimeouts(StrictModel):
    """[respond.timeouts]: seconds each step may take before it is marked failed."""

    freeze: float = Field(10.0, gt=0, le=3600)
    broker: float = Field(20.0, gt=0, le=3600)
    evidence: float = Field(600.0, gt=0, le=86400)
    notify: float = Field(60.0, gt=0, le=3600)
    rebuild: float = Field(1800.0, gt=0, le=86400)


class RespondConfig(StrictModel):
    """[respond]"""

    steps: list[StepName] = Field(
        default_factory=lambda: list(DEFAULT_STEPS),
        description="playbook order; adjacent freeze and broker run concurrently",
    )
    accounts: list[ExchangeAccount] = Field(default_factory=list)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig)
    rebuild: RebuildConfig = Field(default_factory=RebuildConfig)
    webhook: WebhookConfig = Field(default_factory=WebhookConfig)
    timeouts: StepTimeouts = Field(default_factory=StepTimeouts)
    kill_switch: str | None = Field(
        None, description="kill-switch file (default <paths.run_dir>/KILL_SWITCH)"
    )
    cgroup_parent: str = Field(
        "garrison", pattern=_NAME, description="garrison-owned cgroup dir in each hierarchy"
    )

    @field_validator("steps")
    @classmethod
    def _unique_steps(cls, value: list[StepName]) -> list[StepName]:
        seen: set[str] = set()
        for step in value:
            if step in seen:
                raise ValueError(f"step {step!r} is listed twice")
            seen.add(step)
        return value

    @field_validator("accounts")
    @classmethod
    def _unique_accounts(cls, value: list[ExchangeAccount]) -> list[ExchangeAccount]:
        names = [a.name for a in value]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"account name {name!r} is used twice")
        return value
