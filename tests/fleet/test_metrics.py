"""`/metrics` (contracts §4): Prometheus text format, counted as devices report."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from simgate_common import wire
from simgate_common.wire import UsageReport
from tests.fleet.dynsec_support import Device

BATCH = "/cloud/zone/is1a/api/cloud/1.1/commonserviceitem/batch"


def metrics(api: httpx.Client) -> dict[str, float]:
    """Every sample of `/metrics` by name."""
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def fleet(api: httpx.Client, count: int) -> list[dict[str, Any]]:
    """`count` registered SIMs with their tokens, through the bulk API."""
    cards = [
        json.loads(line)
        for line in api.post("/_emulator/sims", json={"count": count}).text.splitlines()
    ]
    items = [
        {
            "Provider": {"Class": "sim"},
            "Status": {"ICCID": c["iccid"]},
            "Remark": {"PassCode": c["passcode"]},
        }
        for c in cards
    ]
    assert api.post(BATCH, json={"CommonServiceItems": items}).status_code == 201
    tokens = api.post("/_emulator/tokens", json={"iccids": [c["iccid"] for c in cards]})
    return [json.loads(line) for line in tokens.text.splitlines()]


def usage(iccid: str, seq: int) -> bytes:
    """A valid usage report."""
    return UsageReport(
        seq,
        iccid,
        "356938035643809",
        "2026-03-10T00:00:00Z",
        "2026-03-10T00:05:00Z",
        10,
        20,
        "modem",
    ).to_json()


def publish_acked(device: Device, topic: str, payload: bytes) -> None:
    """QoS 1, and wait for the PUBACK (the ingest has decided by then)."""
    info = device.client.publish(topic, payload, qos=1)
    info.wait_for_publish(10)
    assert info.is_published()


def test_metrics_count_reports_sims_and_connected_devices(
    api: httpx.Client, server: dict[str, Any]
) -> None:
    before = metrics(api)
    for name in (
        "simgate_reports_stored_total",
        "simgate_reports_duplicate_total",
        "simgate_reports_rejected_total",
        "simgate_mqtt_connected_devices",
        "simgate_sims",
        "simgate_ingest_lag_seconds",
    ):
        assert name in before, name
    sims = fleet(api, 3)
    port = int(server["mqtt"].rsplit(":", 1)[1])
    device = sims[0]
    topic = wire.usage_topic(device["iccid"])
    with Device(port, device["iccid"], device["token"]) as client:
        assert client.wait_answer()
        publish_acked(client, topic, usage(device["iccid"], 1))
        publish_acked(client, topic, usage(device["iccid"], 1))
        publish_acked(client, topic, b'{"seq": "one"}')
        during = metrics(api)
        deadline = time.monotonic() + 5  # the count is refreshed at most once a second
        while during["simgate_mqtt_connected_devices"] == before["simgate_mqtt_connected_devices"]:
            assert time.monotonic() < deadline, "the connection is not counted"
            time.sleep(0.05)
            during = metrics(api)
    assert during["simgate_reports_stored_total"] == before["simgate_reports_stored_total"] + 1
    assert (
        during["simgate_reports_duplicate_total"] == before["simgate_reports_duplicate_total"] + 1
    )
    assert during["simgate_reports_rejected_total"] == before["simgate_reports_rejected_total"] + 1
    assert during["simgate_mqtt_connected_devices"] == before["simgate_mqtt_connected_devices"] + 1
    assert during["simgate_sims"] == before["simgate_sims"] + 3
    assert 0 <= during["simgate_ingest_lag_seconds"] < 5
    deadline = time.monotonic() + 5
    while (
        metrics(api)["simgate_mqtt_connected_devices"] != before["simgate_mqtt_connected_devices"]
    ):
        assert time.monotonic() < deadline, "the closed connection is still counted"
        time.sleep(0.05)
