"""[firewall] and [[brokers]] (filled in by the firewall capability)."""

from __future__ import annotations

from garrison.config.base import StrictModel


class FirewallConfig(StrictModel):
    """[firewall]"""


class Broker(StrictModel):
    """One [[brokers]] entry."""

    name: str
