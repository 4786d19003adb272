"""What the gateway forwarded is what is billed (001 §38.1) and what `traffic_status`,
`sim/status` and the event log say; the device's own interface meter agrees to within the
link layer (14 bytes of Ethernet header per frame, and the ARP frames the gateway does not
forward)."""

from __future__ import annotations

import json
import time

from tests.dataplane.device import gateway_counters
from tests.dataplane.support import Plane, within

ETHERNET_HEADER = 14
ARP_BOUND = 4 * 28  # a few ARP requests and replies (28 bytes each without Ethernet)


def test_001_s38_1_invoice_bills_exactly_the_bytes_the_gateway_counted(dp: Plane) -> None:
    sim = dp.cloud.sim(switch=True, internet=True)
    device, link = dp.connect(sim)
    internet, closed = dp.urls()
    fetched = 0
    for url, n in ((internet, 1_000_000), (internet, 250_000), (closed, 500_000)):
        status, body = device.get(f"{url}/bytes/{n}")
        assert (status, len(body)) == (200, n)
        fetched += n
    time.sleep(0.6)  # a couple of reconciles

    kernel = gateway_counters(link["namespace"], dp.instance)
    up, down = kernel[f"up_{sim.id}"], kernel[f"dn_{sim.id}"]
    assert down > fetched
    within(1.0, lambda: dp.cloud.traffic_status(sim) == (up, down))
    assert dp.cloud.month_bytes(sim) == (up, down)
    events = dp.cloud.traffic_events(sim)
    assert (sum(e["up"] for e in events), sum(e["down"] for e in events)) == (up, down)

    month = dp.cloud.ok(dp.cloud.steer.get("/_emulator/clock"))["month"]
    invoice = dp.cloud.ok(dp.cloud.steer.get(f"/_emulator/invoices/{month}"))
    [data] = [i for i in invoice["lines"] if i["item"] == "data" and i["subject"] == sim.iccid]
    assert data["quantity"] == up + down

    meter = device.counters()
    device_up = meter["tx_bytes"] - ETHERNET_HEADER * meter["tx_packets"]
    device_down = meter["rx_bytes"] - ETHERNET_HEADER * meter["rx_packets"]
    assert 0 <= device_up - up <= ARP_BOUND, (device_up, up)
    assert 0 <= device_down - down <= ARP_BOUND, (device_down, down)


def test_001_s38_1_bytes_up_to_session_down_are_billed_once(dp: Plane) -> None:
    sim = dp.cloud.sim(switch=True, internet=True)
    device, link = dp.connect(sim)
    internet, _ = dp.urls()
    device.get(f"{internet}/bytes/700000")
    kernel = gateway_counters(link["namespace"], dp.instance)  # no reconcile waited for
    assert dp.cloud.session(sim, "down")["accepted"]
    up, down = kernel[f"up_{sim.id}"], kernel[f"dn_{sim.id}"]
    assert dp.cloud.traffic_status(sim) == (up, down)
    time.sleep(0.6)
    assert dp.cloud.traffic_status(sim) == (up, down)
    lines = dp.cloud.steer.get("/_emulator/events").text.splitlines()
    traffic = [json.loads(x) for x in lines if '"traffic"' in x]
    assert sum(e["up"] + e["down"] for e in traffic) == up + down
