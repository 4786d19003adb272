"""Traffic monitoring with automatic shaping (the gateway's `traffic_monitoring`): once
the month's traffic through the gateway passes the quota, the kernel holds the gateway's
sessions to `bandwidth_limit_in_kbps`; `traffic_status` says `traffic_shaping: true`."""

from __future__ import annotations

import time

from tests.dataplane.support import Plane, within

QUOTA_MB = 1
KBPS = 1600  # 200,000 bytes per second


def test_traffic_monitoring_shaping_holds_the_rate_in_the_kernel(dp: Plane) -> None:
    sim = dp.cloud.sim(switch=True, internet=True)
    config = {
        "traffic_quota_in_mb": QUOTA_MB,
        "bandwidth_limit_in_kbps": KBPS,
        "email_config": {"enabled": False},
        "slack_config": {"enabled": False},
        "auto_traffic_shaping": True,
    }
    path = f"/appliance/{sim.gateway}/mobilegateway/traffic_monitoring"
    dp.cloud.ok(dp.cloud.api.put(path, json={"traffic_monitoring_config": config}))
    device, _ = dp.connect(sim)
    internet, closed = dp.urls()

    started = time.monotonic()
    status, body = device.get(f"{internet}/bytes/1200000", timeout=5.0)  # passes the quota
    assert (status, len(body)) == (200, 1_200_000)
    assert time.monotonic() - started < 2.0  # not shaped yet

    def shaped() -> bool:
        doc = dp.cloud.ok(
            dp.cloud.api.get(f"/appliance/{sim.gateway}/mobilegateway/traffic_status")
        )
        return bool(doc["traffic_status"]["traffic_shaping"])

    within(1.0, shaped)
    time.sleep(0.6)  # a reconcile applies the limit
    size = 1_000_000
    started = time.monotonic()
    status, body = device.get(f"{closed}/bytes/{size}", timeout=20.0)
    elapsed = time.monotonic() - started
    assert (status, len(body)) == (200, size)
    rate = KBPS * 1000 / 8
    burst = max(rate, 2 * 65_536)
    # nftables' byte bucket holds one second at the rate plus the burst; that much goes at
    # once, the rest at the rate (20 % slack for the clock and TCP).
    assert elapsed >= (size - rate - burst) / rate * 0.8, elapsed
    assert elapsed < 15.0
