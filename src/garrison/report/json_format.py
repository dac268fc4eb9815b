"""JSON report: the Report as plain JSON plus the scorecard (stable keys, for scripts)."""

from __future__ import annotations

import json
from typing import Any

from garrison.model import Report, to_jsonable
from garrison.report.scorecard import scorecard


def report_document(report: Report) -> dict[str, Any]:
    doc: dict[str, Any] = {"schema": "garrison.report/1"}
    doc.update(to_jsonable(report))
    doc["scorecard"] = to_jsonable(scorecard(report))
    return doc


def render_json(report: Report, **_: Any) -> str:
    return json.dumps(report_document(report), indent=2, sort_keys=False) + "\n"
