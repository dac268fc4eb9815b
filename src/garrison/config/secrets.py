"""[secrets] (filled in by the secrets capability)."""

from __future__ import annotations

from garrison.config.base import StrictModel


class SecretsConfig(StrictModel):
    """[secrets]"""
