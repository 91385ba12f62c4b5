"""Optional loopback HTTP endpoint: ``/healthz`` and Prometheus ``/metrics``.

Off unless ``[daemon] metrics_addr`` is set. A private registry (not the global one) keeps the
numbers per daemon instance, which tests with several daemons in one process rely on.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

log = logging.getLogger(__name__)

# The *_created series double the output and no dashboard of ours uses them.
disable_created_metrics()

# Event-to-remote latency buckets: the target is about a second, so resolve well below it.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0)


class DaemonMetrics:
    """The daemon's counters. Always present (cheap); only served when the endpoint is on."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.queue_length = Gauge(
            "syncd_queue_length", "Changes waiting for a pass", ["pair"], registry=self.registry
        )
        self.in_flight = Gauge(
            "syncd_in_flight_ops", "Operations being executed", ["pair"], registry=self.registry
        )
        self.ops_done = Counter(
            "syncd_ops_done", "Operations completed", ["pair", "kind"], registry=self.registry
        )
        self.ops_failed = Counter(
            "syncd_ops_failed", "Operations that failed", ["pair", "kind"], registry=self.registry
        )
        self.bytes_uploaded = Counter(
            "syncd_uploaded_bytes", "Bytes uploaded", ["pair"], registry=self.registry
        )
        self.rate_limited = Counter(
            "syncd_rate_limited_responses", "HTTP 429 answers seen", registry=self.registry
        )
        self.passes = Counter(
            "syncd_passes", "Sync passes run", ["pair", "kind", "outcome"], registry=self.registry
        )
        self.last_full_reconcile = Gauge(
            "syncd_last_full_reconcile_timestamp_seconds",
            "Unix time of the last successful full reconcile",
            ["pair"],
            registry=self.registry,
        )
        self.event_latency = Histogram(
            "syncd_event_to_remote_seconds",
            "From a filesystem event to the end of the pass that synced it",
            ["pair"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


HealthFn = Callable[[], tuple[bool, dict[str, Any]]]


class MetricsServer:
    """A tiny threaded HTTP server on a loopback address; refuses to bind anywhere else."""

    def __init__(self, addr: str, metrics: DaemonMetrics, health: HealthFn) -> None:
        host, port = parse_loopback_addr(addr)
        handler = _make_handler(metrics, health)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="syncd-metrics", daemon=True
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()
        log.info("metrics endpoint on http://%s:%d/ (/healthz, /metrics)", *self.address)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def parse_loopback_addr(addr: str) -> tuple[str, int]:
    """'127.0.0.1:9108' or '[::1]:9108' -> (host, port); non-loopback hosts are refused."""
    host, sep, port_text = addr.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(f"metrics_addr {addr!r} must be HOST:PORT, e.g. 127.0.0.1:9108")
    host = host.strip("[]") or "127.0.0.1"
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"metrics_addr {addr!r} must be a loopback address (127.0.0.1 or ::1)")
    return host, int(port_text)


def _make_handler(metrics: DaemonMetrics, health: HealthFn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, metrics.render())
            elif path == "/healthz":
                ok, detail = health()
                body = json.dumps({"ok": ok, **detail}, default=str).encode()
                self._send(200 if ok else 503, "application/json", body)
            else:
                self._send(404, "text/plain", b"not found\n")

        def _send(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("metrics http: " + format, *args)

    return Handler
