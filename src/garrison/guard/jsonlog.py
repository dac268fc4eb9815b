"""Structured JSON log lines on stderr (journald stores stderr of the unit)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

EXTRA_KEYS = ("alert", "event", "source", "detail", "rule", "error")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg and any known extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in EXTRA_KEYS:
            if hasattr(record, key):
                out[key] = getattr(record, key)
        return json.dumps(out, sort_keys=False, default=str)


def setup_json_logging(stream: TextIO | None = None, level: int = logging.INFO) -> logging.Handler:
    """Route the garrison.guard loggers to stream as JSON lines; returns the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("garrison.guard")
    logger.handlers = [handler]
    logger.setLevel(level)
    logger.propagate = False
    return handler
