"""[audit], [ssh] and [attestations]: settings of the audit engine and the first checks."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, field_validator

from garrison.config.base import StrictModel
from garrison.model import Severity


class AuditConfig(StrictModel):
    """[audit]"""

    fail_on: str = Field("high", description="exit 1 when a finding at or above this fails")
    kernel_max_age_days: int = Field(
        30, ge=1, le=3650, description="box 1: oldest acceptable build date of the running kernel"
    )
    command_timeout_s: float = Field(
        10.0, gt=0, le=600, description="a command that runs longer is stopped and reported"
    )
    expected_ports: list[int] = Field(
        default_factory=list,
        description="listening TCP/UDP ports that are expected (besides the SSH port)",
    )
    allowed_packages: list[str] = Field(
        default_factory=list, description="packages the minimal-image checks should accept"
    )
    skip: list[str] = Field(default_factory=list, description="check ids to skip")

    @field_validator("fail_on")
    @classmethod
    def _severity(cls, value: str) -> str:
        Severity.parse(value)
        return value.lower()

    @field_validator("expected_ports")
    @classmethod
    def _ports(cls, value: list[int]) -> list[int]:
        for port in value:
            if not 1 <= port <= 65535:
                raise ValueError(f"port {port} out of range 1-65535")
        return value


class SshConfig(StrictModel):
    """[ssh]"""

    min_rsa_bits: int = Field(
        4096, ge=1024, le=16384, description="shorter RSA keys in authorized_keys are flagged"
    )
    max_auth_tries: int = Field(4, ge=1, le=100, description="highest acceptable MaxAuthTries")
    sshd_config: str = Field("/etc/ssh/sshd_config", description="the main sshd config file")


class Attestation(StrictModel):
    """A human statement that a manual control holds, e.g. [attestations.provider_mfa]."""

    date: dt.date = Field(description="when the control was checked (YYYY-MM-DD)")
    by: str = Field(min_length=1, description="who checked it")
    valid_days: int = Field(90, ge=1, le=3650, description="the attestation expires after this")
    note: str = Field("", description="free text, e.g. which console and which MFA method")
