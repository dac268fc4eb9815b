"""Load garrison.toml: the file (or none), then GARRISON__SECTION__KEY env overrides.

Precedence: --config flag > $GARRISON_CONFIG > /etc/garrison/garrison.toml. An explicitly named
file must exist; the default one may be absent (garrison then runs on documented defaults).
Every error is one line that names the file and the dotted key.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from garrison.config.schema import Config
from garrison.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("/etc/garrison/garrison.toml")
ENV_PATH = "GARRISON_CONFIG"
ENV_PREFIX = "GARRISON__"


def resolve_config_path(flag: str | None, env: Mapping[str, str]) -> tuple[Path | None, bool]:
    """(path to read or None, whether the user named it explicitly)."""
    if flag:
        return Path(flag), True
    if env.get(ENV_PATH):
        return Path(env[ENV_PATH]), True
    return (DEFAULT_CONFIG_PATH, False) if DEFAULT_CONFIG_PATH.exists() else (None, False)


def load_config(flag: str | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read, override and validate the configuration."""
    env = os.environ if env is None else env
    path, explicit = resolve_config_path(flag, env)
    data: dict[str, Any] = {}
    label = str(path) if path else "defaults"
    if path is not None:
        data = _read_toml(path, explicit)
    _apply_env_overrides(data, env)
    return validate_config(data, label)


def validate_config(data: Mapping[str, Any], label: str) -> Config:
    """Validate the data against the schema and the rules that span sections."""
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{label}: {_describe(exc, data)}") from None
    problem = _cross_section_problem(config)
    if problem:
        raise ConfigError(f"{label}: {problem}")
    return config


def _cross_section_problem(config: Config) -> str:
    """Rules no single section can check: unique strategy names, known broker names."""
    names: set[str] = set()
    for index, strategy in enumerate(config.strategies):
        if strategy.name in names:
            return f"strategies[{index}].name: {strategy.name!r} is used twice"
        names.add(strategy.name)
    known = [b.name for b in config.brokers]
    for index, strategy in enumerate(config.strategies):
        for name in strategy.brokers:
            if name not in known:
                choices = ", ".join(known) or "none configured"
                return f"strategies[{index}].brokers: unknown broker {name!r} (known: {choices})"
    return ""


def _read_toml(path: Path, explicit: bool) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        where = "" if explicit else " (default location)"
        raise ConfigError(f"{path}: config file not found{where}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a TOML file") from None
    except PermissionError:
        raise ConfigError(f"{path}: permission denied") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def _apply_env_overrides(data: dict[str, Any], env: Mapping[str, str]) -> None:
    """GARRISON__AUDIT__FAIL_ON=critical sets audit.fail_on (values parsed as TOML if possible)."""
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or name == ENV_PATH:
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split("__") if k]
        if not keys:
            continue
        try:
            value: Any = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        node = data
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"${name}: {'.'.join(keys)} is not a table in the config")
            node = child
        node[keys[-1]] = value


def _describe(exc: ValidationError, data: Mapping[str, Any]) -> str:
    """The first validation error as 'dotted.key: what is wrong', with a did-you-mean."""
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    dotted = _dotted(error["loc"])
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    if error["type"] == "extra_forbidden":
        hint = _suggest(loc, data)
        return f"{dotted}: unknown key{hint}{more}"
    if error["type"] == "missing":
        return f"{dotted}: required key is missing{more}"
    return f"{dotted}: {str(error['msg']).removeprefix('Value error, ')}{more}"


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _suggest(loc: list[str], data: Mapping[str, Any]) -> str:
    """Suggest the nearest valid key for a typo."""
    model: type[BaseModel] | None = Config
    for part in loc[:-1]:
        if model is None or part.isdigit():
            continue
        field = model.model_fields.get(part)
        model = _model_of(field.annotation) if field else None
    if model is None:
        return ""
    close = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None
