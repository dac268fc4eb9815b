"""[integrity] (filled in by the file-integrity capability)."""

from __future__ import annotations

from garrison.config.base import StrictModel


class IntegrityConfig(StrictModel):
    """[integrity]"""
