"""The gateway stops a SIM's packets when its usable states end (001 §32, §31.3, 002
§12.3) and cuts a session that crosses the heavy-traffic threshold (001 §47.1(2)): in the
kernel, within a second, with the session log saying why."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.dataplane.device import Device
from tests.dataplane.support import OTHER_IMEI, Plane, reachable, within
from tests.integration.cloud import Sim

LIMIT = 400_000


def _everything_stops(
    dp: Plane, sim: Sim, device: Device, change: Callable[[], None], reason: str
) -> None:
    internet, closed = dp.urls()
    assert reachable(device, f"{internet}/bytes/1000")
    assert reachable(device, f"{closed}/bytes/1000")
    started = time.monotonic()
    change()
    left = 1.0 - (time.monotonic() - started)
    within(
        left,
        lambda: not reachable(device, f"{internet}/ip") and not reachable(device, f"{closed}/ip"),
    )
    within(1.0, lambda: not device.has_link())  # the network ended the context
    assert reason in [r for _, r in dp.cloud.session_log(sim)]
    time.sleep(0.6)
    assert not reachable(device, f"{internet}/ip")
    assert not reachable(device, f"{closed}/ip")


def test_001_s32_deactivation_stops_closed_network_and_internet(dp: Plane) -> None:
    sim = dp.cloud.sim(switch=True, internet=True)
    device, _ = dp.connect(sim)
    _everything_stops(dp, sim, device, lambda: dp.cloud.deactivate(sim), "deactivated")


def test_001_s31_3_imei_lock_mismatch_stops_closed_network_and_internet(dp: Plane) -> None:
    sim = dp.cloud.sim(switch=True, internet=True)
    device, _ = dp.connect(sim)
    _everything_stops(dp, sim, device, lambda: dp.cloud.imei_lock(sim, OTHER_IMEI), "imei_locked")


def test_001_s32_gateway_power_off_stops_closed_network_and_internet(dp: Plane) -> None:
    sim = dp.cloud.sim(switch=True, internet=True)
    device, _ = dp.connect(sim)
    _everything_stops(dp, sim, device, lambda: dp.cloud.power(sim, False), "gateway_powered_off")


def test_002_s12_3_account_suspension_stops_closed_network_and_internet(dp: Plane) -> None:
    sim = dp.cloud.sim(switch=True, internet=True)
    device, _ = dp.connect(sim)
    year, month = map(int, dp.cloud.ok(dp.cloud.steer.get("/_emulator/clock"))["month"].split("-"))
    index = year * 12 + month - 1 - 2  # two months ago: due on the 10th of last month
    unpaid = f"{index // 12:04d}-{index % 12 + 1:02d}"

    def suspend() -> None:
        dp.cloud.account(suspension_enabled=True, suspension_days=0)
        path = f"/_emulator/invoices/{unpaid}/payment"
        dp.cloud.ok(dp.cloud.steer.put(path, json={"paid": False}))

    _everything_stops(dp, sim, device, suspend, "account_suspended")


def test_001_s47_1_2_heavy_traffic_cuts_the_session_in_the_kernel(dp: Plane) -> None:
    dp.cloud.account(session_cut_bytes=LIMIT)
    sim = dp.cloud.sim(switch=True, internet=True)
    device, _ = dp.connect(sim)
    internet, closed = dp.urls()
    status, body = device.get(f"{internet}/bytes/100000")
    assert (status, len(body)) == (200, 100_000)

    with pytest.raises(TimeoutError):  # the transfer stalls when the threshold is reached
        device.get(f"{internet}/bytes/{2 * LIMIT}", timeout=1.0)
    within(1.0, lambda: "SESSION_CUT" in [s for s, _ in dp.cloud.session_log(sim)])
    up, down = dp.cloud.traffic_status(sim)
    # The kernel's quota let exactly up to LIMIT bytes through and dropped the packet
    # that would cross it (one segment-offload packet is at most 64 KiB).
    assert LIMIT - 65_536 < up + down <= LIMIT
    assert not reachable(device, f"{internet}/ip")
    assert not reachable(device, f"{closed}/ip")
    within(1.0, lambda: not device.has_link())
    time.sleep(0.6)
    assert sum(dp.cloud.traffic_status(sim)) == up + down  # nothing more was carried

    body_ = {"iccid": sim.iccid, "up": 1, "down": 1}
    answer = dp.cloud.ok(dp.cloud.steer.post("/_emulator/network/traffic", json=body_))
    assert answer["accepted"] is False


def test_001_s47_1_2_after_a_cut_a_new_session_carries_again(dp: Plane) -> None:
    dp.cloud.account(session_cut_bytes=LIMIT)
    sim = dp.cloud.sim(switch=True, internet=True)
    device, link = dp.connect(sim)
    internet, _ = dp.urls()
    with pytest.raises(TimeoutError):
        device.get(f"{internet}/bytes/{2 * LIMIT}", timeout=1.0)
    within(1.0, lambda: not device.has_link())
    # The device activates a context again (as the stub does): a new pair, a new session.
    device.plug(link)
    device.configure(link)
    assert dp.cloud.session(sim, "up") == {"accepted": True, "reason": None}
    within(1.0, lambda: reachable(device, f"{internet}/bytes/100000"))
