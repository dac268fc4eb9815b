"""[guard] (filled in by the guard capability)."""

from __future__ import annotations

from garrison.config.base import StrictModel


class GuardConfig(StrictModel):
    """[guard]"""
