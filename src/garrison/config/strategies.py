"""[[strategies]]: the trading bots garrison protects, isolates, freezes and feeds secrets to."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from garrison.config.base import StrictModel
from garrison.config.respond import FreezeSpec

StrategyKind = Literal["freqtrade", "hummingbot", "mt5", "custom"]


class Strategy(StrictModel):
    """One [[strategies]] entry."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="unique name")
    kind: StrategyKind = Field("custom", description="freqtrade, hummingbot, mt5 or custom")
    user: str | None = Field(None, description="the account the bot runs as")
    code_dir: str | None = Field(None, description="strategy code (baselined and watched)")
    venv: str | None = Field(None, description="the bot's Python environment")
    match: str | None = Field(None, description="regex on the process command line")
    unit: str | None = Field(None, description="systemd unit that runs the strategy")
    brokers: list[str] = Field(default_factory=list, description="names of [[brokers]] it uses")
    secrets: list[str] = Field(default_factory=list, description="secret names it receives")
    freeze: FreezeSpec = Field(
        default_factory=FreezeSpec, description="how garrison freezes it (respond)"
    )

    @field_validator("match")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value
