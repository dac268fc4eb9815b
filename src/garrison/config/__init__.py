"""Configuration: a pydantic schema (unknown keys rejected) and a loader (file -> env -> flags)."""

from garrison.config.loader import DEFAULT_CONFIG_PATH, load_config
from garrison.config.schema import Config

__all__ = ["DEFAULT_CONFIG_PATH", "Config", "load_config"]
