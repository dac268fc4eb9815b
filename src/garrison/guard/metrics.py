"""Prometheus metrics of the guard: a local endpoint and/or a textfile for node_exporter."""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, write_to_textfile


class GuardMetrics:
    """All guard metrics live in their own registry (nothing global, tests can build many)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "garrison_guard_events", "Events seen, by source", ["source"], registry=r
        )
        self.alerts = Counter(
            "garrison_guard_alerts", "Alerts raised, by rule", ["rule"], registry=r
        )
        self.deduplicated = Counter(
            "garrison_guard_deduplicated",
            "Events folded into an existing alert",
            ["rule"],
            registry=r,
        )
        self.suppressed = Counter(
            "garrison_guard_suppressed",
            "Matches suppressed by a verified allow-list",
            ["reason"],
            registry=r,
        )
        self.drops = Counter(
            "garrison_guard_drops",
            "Kernel queue overflows (events may be lost)",
            ["source"],
            registry=r,
        )
        self.rescans = Counter(
            "garrison_guard_rescans", "Rescans after overflow/restart", registry=r
        )
        self.queue_lag = Gauge(
            "garrison_guard_queue_lag_seconds",
            "Read-to-decision time of the last event",
            registry=r,
        )
        self.latency = Histogram(
            "garrison_guard_event_seconds",
            "Read-to-decision time of events",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5),
            registry=r,
        )
        self.source_active = Gauge(
            "garrison_guard_source_active",
            "1 when the source runs",
            ["source", "mechanism"],
            registry=r,
        )
        self.source_fallback = Gauge(
            "garrison_guard_source_fallback",
            "1 when the source runs on its fallback",
            ["source", "mechanism"],
            registry=r,
        )
        self.missing_feature = Gauge(
            "garrison_guard_missing_feature",
            "1 for each kernel feature or tool not available",
            ["source", "feature"],
            registry=r,
        )
        self.pending = Gauge(
            "garrison_guard_pending_verifications",
            "Package-manager writes awaiting verification",
            registry=r,
        )

    def serve(self, listen: str) -> None:
        """Start the HTTP endpoint on HOST:PORT (a daemon thread of prometheus_client)."""
        from prometheus_client import start_http_server

        host, _, port = listen.rpartition(":")
        start_http_server(int(port), addr=host.strip("[]"), registry=self.registry)

    def write_textfile(self, path: str) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(path, self.registry)
        os.chmod(path, 0o644)
