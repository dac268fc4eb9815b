"""The base for every config model: unknown keys are errors, values are immutable."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Rejects unknown keys (typos must not silently fall back to defaults)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
