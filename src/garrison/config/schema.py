"""The whole garrison.toml. Each section's model lives in its own module beside this one."""

from __future__ import annotations

from pydantic import Field

from garrison.config.audit import Attestation, AuditConfig, SshConfig
from garrison.config.base import StrictModel
from garrison.config.firewall import Broker, FirewallConfig
from garrison.config.guard import GuardConfig
from garrison.config.integrity import IntegrityConfig
from garrison.config.operations import BackupConfig, RecoveryConfig
from garrison.config.paths import PathsConfig
from garrison.config.respond import RespondConfig
from garrison.config.secrets import SecretsConfig
from garrison.config.strategies import Strategy


class Config(StrictModel):
    """garrison.toml. Every section is optional; the defaults are documented in docs/config.md."""

    paths: PathsConfig = Field(default_factory=PathsConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    ssh: SshConfig = Field(default_factory=SshConfig)
    attestations: dict[str, Attestation] = Field(default_factory=dict)
    strategies: list[Strategy] = Field(default_factory=list)
    firewall: FirewallConfig = Field(default_factory=FirewallConfig)
    brokers: list[Broker] = Field(default_factory=list)
    integrity: IntegrityConfig = Field(default_factory=IntegrityConfig)
    guard: GuardConfig = Field(default_factory=GuardConfig)
    respond: RespondConfig = Field(default_factory=RespondConfig)
    secrets: SecretsConfig = Field(default_factory=SecretsConfig)
    backup: BackupConfig = Field(default_factory=BackupConfig)
    recovery: RecoveryConfig = Field(default_factory=RecoveryConfig)

    def strategy(self, name: str) -> Strategy | None:
        return next((s for s in self.strategies if s.name == name), None)
