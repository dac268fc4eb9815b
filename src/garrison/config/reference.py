"""The configuration reference (docs/config.md) generated from the pydantic schema itself."""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from garrison.config.schema import Config


def _inner_model(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    """(model, shape) where shape is 'table', 'array' (list of tables) or 'map' (dict of tables)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, "table"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return args[0], "array"
    if (
        origin is dict
        and len(args) == 2
        and isinstance(args[1], type)
        and issubclass(args[1], BaseModel)
    ):
        return args[1], "map"
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            model, shape = _inner_model(arg)
            if model is not None:
                return model, shape
    return None, ""


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if typing.get_origin(annotation) is None else None
    return text or str(annotation).replace("typing.", "")


def _default(field: FieldInfo) -> str:
    if field.default is not PydanticUndefined:
        value = field.default
    elif field.default_factory is not None:
        try:
            value = field.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "(computed)"
    else:
        return "(required)"
    if isinstance(value, BaseModel):
        return "(table)"
    try:
        return json.dumps(value, default=str)
    except TypeError:
        return str(value)


def _section(
    lines: list[str], model: type[BaseModel], header: str
) -> list[tuple[type[BaseModel], str]]:
    nested: list[tuple[type[BaseModel], str]] = []
    rows = []
    for name, field in model.model_fields.items():
        inner, shape = _inner_model(field.annotation)
        if inner is not None:
            key = {
                "table": f"{header}.{name}",
                "array": f"[{header}.{name}]",
                "map": f"{header}.{name}.NAME",
            }
            nested.append((inner, key[shape].lstrip(".")))
            continue
        desc = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{name}` | {_type_name(field.annotation)} | `{_default(field)}` | {desc} |")
    if rows:
        doc = (model.__doc__ or "").strip().splitlines()
        lines += [f"## `[{header}]`", ""]
        if doc and not doc[0].startswith("["):
            lines += [doc[0], ""]
        lines += ["| key | type | default | meaning |", "| --- | --- | --- | --- |", *rows, ""]
    return nested


def render_reference() -> str:
    lines = [
        "# Configuration reference",
        "",
        "Generated from the schema by `garrison config reference`; do not edit by hand.",
        "garrison reads `--config FILE`, else `$GARRISON_CONFIG`, else",
        "`/etc/garrison/garrison.toml`, else runs on these defaults. Unknown keys are errors.",
        "Any key can be overridden from the environment: `GARRISON__AUDIT__FAIL_ON=critical`.",
        "",
    ]
    queue: list[tuple[type[BaseModel], str]] = []
    for name, field in Config.model_fields.items():
        inner, shape = _inner_model(field.annotation)
        if inner is None:
            continue
        header = {"table": name, "array": f"[{name}]", "map": f"{name}.NAME"}[shape]
        queue.append((inner, header))
    while queue:
        model, header = queue.pop(0)
        queue[0:0] = _section(lines, model, header)
    return "\n".join(lines).rstrip() + "\n"
