"""`GET /metrics`: the emulator in the Prometheus text format (prometheus_client).

Read at scrape time, so nothing on the ingest path pays for it:
- `simgate_reports_stored_total`, `simgate_reports_duplicate_total`,
  `simgate_reports_rejected_total`: device messages by verdict since this process started
  (the ingest's own counters; `stored` counts every message that changed the books);
- `simgate_ingest_batches_total`, `simgate_ingest_failures_total`;
- `simgate_ingest_lag_seconds`: how long the oldest message of the batch being written
  has waited since the broker handed it over (else the last batch's), and
  `simgate_ingest_backlog`: messages waiting for the writer (embedded broker);
- `simgate_mqtt_connected_devices`: device connections (embedded: sessions connected;
  mosquitto: its `$SYS/broker/clients/connected` less the emulator's own clients);
- `simgate_sims` (registered SIMs) and `simgate_cards` (cards made) from the database.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from emulator.backend import Backend
from emulator.models.credentials import INGEST_USERNAME

PREFIX: Final = "simgate"

router = APIRouter(tags=["emulator: metrics"])


class EmulatorCollector(Collector):
    """Collects the emulator's figures from the app's state at each scrape."""

    def __init__(self, state: Any) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        """Every metric, read now."""
        mqtt = getattr(self._state, "mqtt", None)
        counts = _ingest_counts(mqtt)
        for verdict in ("stored", "duplicate", "rejected"):
            yield CounterMetricFamily(
                f"{PREFIX}_reports_{verdict}",
                f"Device messages ingested with the verdict '{verdict}' since start.",
                value=counts.get(verdict, 0),
            )
        yield CounterMetricFamily(
            f"{PREFIX}_ingest_batches",
            "Ingest transactions committed since start.",
            value=counts.get("batches", 0),
        )
        yield CounterMetricFamily(
            f"{PREFIX}_ingest_failures",
            "Device messages that could not be stored (to be resent) since start.",
            value=counts.get("failures", 0),
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_ingest_lag_seconds",
            "Seconds the oldest message of the batch being written (else the last batch) "
            "waited between the broker handing it over and its commit.",
            value=_lag(mqtt),
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_ingest_backlog",
            "Device messages waiting for the ingest writer.",
            value=_backlog(mqtt),
        )
        connected = connected_devices(mqtt, getattr(self._state, "mosquitto_control", None))
        yield GaugeMetricFamily(
            f"{PREFIX}_mqtt_connected_devices",
            "Devices connected to the MQTT broker (0 while unknown).",
            value=connected or 0,
        )
        backend: Backend = self._state.backend
        with backend.store.transaction() as db:
            sims = db.one("SELECT count(*) AS n FROM sims")
            cards = db.one("SELECT count(*) AS n FROM cards")
        yield GaugeMetricFamily(
            f"{PREFIX}_sims", "Registered SIMs.", value=0 if sims is None else sims["n"]
        )
        made = 0 if cards is None else cards["n"]
        yield GaugeMetricFamily(f"{PREFIX}_cards", "Cards made by the SIM factory.", value=made)


def _ingest_counts(mqtt: Any) -> dict[str, int]:
    if mqtt is None:
        return {}
    counts: dict[str, int] = mqtt.status().get("ingest", {})
    return counts


def _counts_object(mqtt: Any) -> Any:
    writer = getattr(mqtt, "writer", None)
    return getattr(writer, "counts", None) or getattr(mqtt, "counts", None)


def _lag(mqtt: Any) -> float:
    counts = _counts_object(mqtt)
    lag = getattr(counts, "lag", None)
    return float(lag()) if callable(lag) else 0.0


def _backlog(mqtt: Any) -> int:
    backlog = getattr(getattr(mqtt, "writer", None), "backlog", 0)
    return int(backlog)


def connected_devices(mqtt: Any, control: Any) -> int | None:
    """Devices connected now: the embedded broker's connected sessions other than the
    emulator's own, or what the mosquitto controller last heard; None when unknown."""
    if control is not None:
        known: int | None = control.connected_devices
        return known
    broker = getattr(mqtt, "_broker", None)
    sessions = getattr(broker, "_sessions", None)
    if sessions is None:
        return None
    now = time.monotonic()
    cached = _CONNECTED_CACHE.get(id(broker))
    if cached is not None and now - cached[0] < _CACHE_SECONDS:
        return cached[1]
    count = sum(
        1
        for session, _ in list(sessions.values())
        if session.username != INGEST_USERNAME and session.transitions.state == "connected"
    )
    _CONNECTED_CACHE.clear()
    _CONNECTED_CACHE[id(broker)] = (now, count)
    return count


_CACHE_SECONDS: Final = 1.0
"""Counting 10,000 sessions costs milliseconds of the event loop: at most once a second."""
_CONNECTED_CACHE: dict[int, tuple[float, int]] = {}


def registry(state: Any) -> CollectorRegistry:
    """The app's own registry (made on first use)."""
    existing = getattr(state, "metrics_registry", None)
    if isinstance(existing, CollectorRegistry):
        return existing
    made = CollectorRegistry(auto_describe=False)
    made.register(EmulatorCollector(state))
    state.metrics_registry = made
    return made


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def metrics(request: Request) -> Response:
    """The emulator's metrics in the Prometheus text format."""
    body = generate_latest(registry(request.app.state))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
