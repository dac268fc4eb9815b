"""Freeze methods, one module each; :func:`freezer_for` picks the strategy's method."""

from __future__ import annotations

from garrison.respond.freeze.base import Freezer


def freezer_for(method: str) -> type[Freezer]:
    """The Freezer class for a `freeze.method` value (imports only the one needed)."""
    if method == "cgroup":
        from garrison.respond.freeze.cgroup import CgroupFreezer

        return CgroupFreezer
    if method == "signal":
        from garrison.respond.freeze.signals import SignalFreezer

        return SignalFreezer
    if method == "systemd":
        from garrison.respond.freeze.systemd import SystemdFreezer

        return SystemdFreezer
    if method in ("docker", "podman"):
        from garrison.respond.freeze.container import ContainerFreezer

        return ContainerFreezer
    if method == "freqtrade_api":
        from garrison.respond.freeze.freqtrade import FreqtradeFreezer

        return FreqtradeFreezer
    if method == "hummingbot_mqtt":
        from garrison.respond.freeze.hummingbot import HummingbotFreezer

        return HummingbotFreezer
    raise ValueError(f"unknown freeze method {method!r}")


__all__ = ["Freezer", "freezer_for"]
