"""`garrison respond serve`: a small local HTTP intake for Falco and Wazuh.

POST / (or /falco, /wazuh) with the tool's JSON; 127.0.0.1 by default. With
respond.webhook.hmac_secret set, each request needs X-Garrison-Signature: sha256=<hex of
HMAC-SHA256(secret, body)> (compared in constant time). Alerts below min_severity are
accepted (202) and ignored, and so are repeats of one alert (same dedup key) within
dedup_window_s; others start the playbook in a worker thread (one at a time, in
arrival order) and the answer carries the incident's alert id. GET /healthz answers ok.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from garrison.errors import GarrisonError
from garrison.model import Alert, Severity
from garrison.respond.intake import alert_from_json

if TYPE_CHECKING:
    from garrison.config.schema import Config

SIGNATURE_HEADER = "X-Garrison-Signature"
Respond = Callable[[Alert], object]


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class AlertIntake:
    """The HTTP server plus the worker that runs the playbook for each accepted alert."""

    def __init__(
        self,
        config: Config,
        respond: Respond,
        hmac_secret: bytes | None,
        *,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        cfg = config.respond.webhook
        default_host, _, default_port = cfg.listen.rpartition(":")
        self.min_severity = Severity.parse(cfg.min_severity)
        self.dedup_window_s = cfg.dedup_window_s
        self._seen: dict[str, float] = {}
        self._seen_lock = threading.Lock()
        self.max_body = cfg.max_body_bytes
        self.secret = hmac_secret
        self.respond = respond
        self.accepted: list[Alert] = []
        self.work: queue.Queue[Alert | None] = queue.Queue()
        intake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    self._send(200, {"status": "ok"})
                else:
                    self._send(404, {"error": "POST alerts to /, /falco or /wazuh"})

            def do_POST(self) -> None:
                status, body = intake.handle(self.path, dict(self.headers.items()), self._body())
                self._send(status, body)

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(min(length, intake.max_body + 1)) if length > 0 else b""

            def _send(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: object) -> None:
                pass  # the playbook records what matters; no per-request noise

        self.server = ThreadingHTTPServer(
            (host or default_host, port if port is not None else int(default_port)), Handler
        )
        self.server.daemon_threads = True
        bound_host, bound_port = self.server.server_address[:2]
        self.port = int(bound_port)
        self.address = f"{bound_host!s}:{self.port}"
        self._worker = threading.Thread(target=self._run, name="garrison-intake", daemon=True)

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        if path.split("?")[0] not in ("/", "/falco", "/wazuh", "/alert"):
            return 404, {"error": "unknown path"}
        if len(body) > self.max_body:
            return 413, {"error": "body too large"}
        if self.secret is not None:
            sent = {k.lower(): v for k, v in headers.items()}.get(SIGNATURE_HEADER.lower(), "")
            if not hmac.compare_digest(sent, signature(self.secret, body)):
                return 401, {"error": f"missing or bad {SIGNATURE_HEADER}"}
        try:
            alert = alert_from_json(json.loads(body or b"null"), "request body")
        except ValueError:
            return 400, {"error": "body is not JSON"}
        except GarrisonError as exc:
            return 400, {"error": str(exc)}
        if alert.severity < self.min_severity:
            return 202, {
                "status": "ignored",
                "reason": f"severity {alert.severity.label} below {self.min_severity.label}",
                "alert": alert.id,
            }
        duplicate = self._duplicate(alert)
        if duplicate:
            return 202, {"status": "duplicate", "reason": duplicate, "alert": alert.id}
        self.accepted.append(alert)
        self.work.put(alert)
        return 202, {"status": "responding", "alert": alert.id, "rule": alert.rule_id}

    def _duplicate(self, alert: Alert) -> str:
        """Falco fires once per syscall: one incident per dedup key per window is enough."""
        key = alert.dedup_key or alert.rule_id
        now = time.monotonic()
        with self._seen_lock:
            last = self._seen.get(key)
            if last is not None and now - last < self.dedup_window_s:
                return f"same alert {now - last:.0f}s ago: incident already running"
            self._seen[key] = now
        return ""

    def _run(self) -> None:
        while (alert := self.work.get()) is not None:
            try:
                self.respond(alert)
            except Exception:  # noqa: S112 - one broken run must not stop the intake
                continue

    def serve_forever(self) -> None:
        self._worker.start()
        try:
            self.server.serve_forever()
        finally:
            self.work.put(None)
            self.server.server_close()

    def start(self) -> None:
        """Serve in background threads (tests, embedding)."""
        self._worker.start()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.work.put(None)
