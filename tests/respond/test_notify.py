"""apprise delivery to local Slack/Telegram/JSON servers; rate limit, dedup, retry, redaction."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tests.respond.fakes.chat import FakeChat, point_apprise_at
from tests.respond.fakes.http_base import free_port

from garrison.config.respond import NotifyConfig
from garrison.model import ActionRecord, ActionStatus
from garrison.respond.notify import Message, Notifier
from garrison.respond.redact import redact_url

SLACK = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7CANARY/#ops"
TELEGRAM = "tgram://123456789:AAECANARYtoken_x/424242"


def _notifier(
    tmp_path: Path, urls: list[str], records: list[ActionRecord], **cfg: object
) -> Notifier:
    config = NotifyConfig(urls=urls, backoff_s=0.01, timeout_s=2, **cfg)  # type: ignore[arg-type]
    return Notifier(config, tmp_path, records.append)


def test_slack_and_telegram_payloads_delivered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records: list[ActionRecord] = []
    with FakeChat() as chat:
        point_apprise_at(monkeypatch, chat.url)
        notifier = _notifier(
            tmp_path, [SLACK, TELEGRAM, f"json://127.0.0.1:{chat.port}/hook"], records
        )
        queued = notifier.submit(Message("inc1", "garrison: CRITICAL", "Frozen: ft\nNEEDS A HUMAN"))
        assert queued.status == ActionStatus.DONE
        assert notifier.flush(20)
    assert {r.status for r in records} == {ActionStatus.DONE}
    assert "Frozen: ft" in str(chat.slack[0]) and "NEEDS A HUMAN" in str(chat.slack[0])
    assert chat.telegram[0]["chat_id"] in ("424242", 424242)
    assert "Frozen: ft" in chat.telegram[0]["text"]
    assert chat.generic[0]["title"] == "garrison: CRITICAL"
    for record in records:
        assert "CANARY" not in record.target and "CANARY" not in record.detail


def test_retry_with_backoff_then_delivered(tmp_path: Path) -> None:
    records: list[ActionRecord] = []
    with FakeChat(fail_first=2) as chat:
        notifier = _notifier(tmp_path, [f"json://127.0.0.1:{chat.port}/hook"], records, retries=3)
        notifier.submit(Message("inc1", "t", "b"))
        assert notifier.flush(20)
    assert records[-1].status == ActionStatus.DONE and "attempt 3" in records[-1].detail


def test_webhook_down_is_failed_and_submit_never_blocks(tmp_path: Path) -> None:
    records: list[ActionRecord] = []
    notifier = _notifier(tmp_path, [f"json://127.0.0.1:{free_port()}/hook"], records, retries=2)
    t0 = time.perf_counter()
    notifier.submit(Message("inc1", "t", "b"))
    queued_in = time.perf_counter() - t0
    assert notifier.flush(30)
    assert records[-1].status == ActionStatus.FAILED and "3 attempt" in records[-1].detail
    # the producer did not wait for the three failing attempts
    assert queued_in < sum(r.duration_s for r in records)


def test_dedup_and_rate_limit(tmp_path: Path) -> None:
    records: list[ActionRecord] = []
    with FakeChat() as chat:
        notifier = _notifier(
            tmp_path, [f"json://127.0.0.1:{chat.port}/hook"], records, max_per_hour=2
        )
        first = notifier.submit(Message("i1", "t", "b", dedup_key="rule-a"))
        dup = notifier.submit(Message("i2", "t", "b", dedup_key="rule-a"))
        second = notifier.submit(Message("i3", "t", "b", dedup_key="rule-b"))
        limited = notifier.submit(Message("i4", "t", "b", dedup_key="rule-c"))
        notifier.flush(20)
    assert first.status == ActionStatus.DONE and second.status == ActionStatus.DONE
    assert dup.status == ActionStatus.SKIPPED and "duplicate" in dup.detail
    assert limited.status == ActionStatus.SKIPPED and "rate limit" in limited.detail
    assert len(chat.generic) == 2


def test_redact_url_hides_tokens() -> None:
    assert redact_url(SLACK) == "slack://***"
    assert redact_url(TELEGRAM) == "tgram://***"
    assert redact_url("json://user:pw@hooks.local:8080/x?token=1") == "json://hooks.local:8080/***"
