"""Local stand-ins for Slack incoming webhooks, the Telegram Bot API and a generic JSON hook.

apprise's own Slack and Telegram plugins are pointed here by patching their endpoint
attributes (NotifySlack.webhook_url, NotifyTelegram.notify_url), so the payloads are exactly
what apprise sends to hooks.slack.com and api.telegram.org.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs

from tests.respond.fakes.http_base import FakeServer

SLACK_PATH = re.compile(r"^/services/([A-Z0-9]+)/([A-Z0-9]+)/([A-Za-z0-9]+)$")
TELEGRAM_PATH = re.compile(r"^/bot(\d+:[A-Za-z0-9_-]+)/(sendMessage|getMe|getUpdates)$")


class FakeChat(FakeServer):
    def __init__(self, *, fail_first: int = 0) -> None:
        self.slack: list[dict[str, Any]] = []
        self.telegram: list[dict[str, Any]] = []
        self.generic: list[dict[str, Any]] = []
        self.fail_first = fail_first
        super().__init__(self.handle)

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        if self.fail_first > 0:
            self.fail_first -= 1
            return 503, {"error": "try later"}
        if SLACK_PATH.match(path):
            payload = json.loads(body)
            if not isinstance(payload, dict) or not (
                payload.get("text") or payload.get("blocks") or payload.get("attachments")
            ):
                return 400, b"invalid_payload"
            self.slack.append(payload)
            return 200, b"ok"
        match = TELEGRAM_PATH.match(path)
        if match:
            if "json" in headers.get("content-type", ""):
                payload = json.loads(body)
            else:
                payload = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            if match.group(2) == "sendMessage":
                if not payload.get("chat_id") or not payload.get("text"):
                    return 400, {"ok": False, "description": "Bad Request: message text is empty"}
                self.telegram.append(payload)
                return 200, {"ok": True, "result": {"message_id": len(self.telegram)}}
            return 200, {"ok": True, "result": {"id": 1, "is_bot": True}}
        if path.startswith("/hook"):
            self.generic.append(json.loads(body))
            return 200, {"ok": True}
        return 404, {"error": "unknown"}


def point_apprise_at(monkeypatch: Any, url: str) -> None:
    from apprise.plugins.slack import NotifySlack
    from apprise.plugins.telegram import NotifyTelegram

    monkeypatch.setattr(NotifySlack, "webhook_url", f"{url}/services")
    monkeypatch.setattr(NotifyTelegram, "notify_url", f"{url}/bot")
