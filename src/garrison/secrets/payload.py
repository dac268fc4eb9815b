"""The delivered document: one JSON object built straight into a bytearray (no str copies).

Without [secrets.delivery.<strategy>].fields it is {"<secret name>": "<value>", ...}; with
fields = {"exchange.key" = "binance_key"} it is {"exchange": {"key": "<value>"}}, which
freqtrade merges as an extra `--config` file.
"""

from __future__ import annotations

from collections.abc import Mapping

from garrison.errors import SecretError

_ESCAPES = {0x22: b'\\"', 0x5C: b"\\\\", 0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t"}

Tree = dict[str, "Tree | bytearray"]


def _json_string(out: bytearray, value: bytes | bytearray | str) -> None:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    out += b'"'
    for byte in raw:
        if byte in _ESCAPES:
            out += _ESCAPES[byte]
        elif byte < 0x20:
            out += b"\\u%04x" % byte
        else:
            out.append(byte)
    out += b'"'


def _emit(out: bytearray, node: Tree) -> None:
    out += b"{"
    for index, (key, child) in enumerate(node.items()):
        if index:
            out += b", "
        _json_string(out, key)
        out += b": "
        if isinstance(child, dict):
            _emit(out, child)
        else:
            _json_string(out, child)
    out += b"}"


def build_tree(values: Mapping[str, bytearray], fields: Mapping[str, str]) -> Tree:
    """Nest the values by dotted field path (or by secret name when fields is empty)."""
    for name, value in values.items():
        try:
            bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise SecretError(
                f"secret {name!r} is not UTF-8 text; cannot deliver as JSON"
            ) from None
    pairs = list(fields.items()) if fields else [(name, name) for name in values]
    tree: Tree = {}
    for path, name in pairs:
        node = tree
        parts = path.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise SecretError(f"delivery field {path!r} collides with another field")
            node = child
        node[parts[-1]] = values[name]
    return tree


def build_payload(values: Mapping[str, bytearray], fields: Mapping[str, str]) -> bytearray:
    """The JSON document as a bytearray (the caller wipes it)."""
    out = bytearray()
    _emit(out, build_tree(values, fields))
    out += b"\n"
    return out


def env_assignments(
    values: Mapping[str, bytearray], fields: Mapping[str, str], prefix: str
) -> dict[bytes, bytearray]:
    """Variable -> value for env delivery ('exchange.key' -> FREQTRADE__EXCHANGE__KEY)."""
    pairs = list(fields.items()) if fields else [(name, name) for name in values]
    out: dict[bytes, bytearray] = {}
    for path, name in pairs:
        var = prefix + path.upper().replace(".", "__").replace("-", "_")
        out[var.encode()] = values[name]
    return out
