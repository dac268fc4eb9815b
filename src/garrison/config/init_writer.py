"""Render a fully commented garrison.toml for a host and write it without ever overwriting."""

from __future__ import annotations

import os
import tomllib
from datetime import date
from importlib import resources
from pathlib import Path

import jinja2

from garrison.config.loader import validate_config
from garrison.errors import ConfigError
from garrison.host.discovery import Discovery


def render_config(discovery: Discovery, *, today: date | None = None) -> str:
    """The config text for what was discovered; it always validates against the schema."""
    template_text = (
        resources.files("garrison.config").joinpath("templates/garrison.toml.j2").read_text()
    )
    # The template renders TOML, not HTML: there is nothing to escape.
    env = jinja2.Environment(
        autoescape=False,  # noqa: S701
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    ssh = set(discovery.ssh_ports)
    expected = sorted({item.port for item in discovery.listeners if item.port not in ssh})
    text = env.from_string(template_text).render(
        d=discovery, today=(today or date.today()).isoformat(), expected=expected
    )
    validate_config(tomllib.loads(text), "generated config")  # a bug here must not reach disk
    return text


def write_new_config(path: Path, text: str) -> None:
    """Create `path` with `text`; refuse if anything exists there (O_EXCL, no race)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    except FileExistsError:
        raise ConfigError(f"{path}: already exists; not overwritten (see --stdout)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
