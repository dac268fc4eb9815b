"""[respond] (filled in by the incident-response capability)."""

from __future__ import annotations

from garrison.config.base import StrictModel


class RespondConfig(StrictModel):
    """[respond]"""
