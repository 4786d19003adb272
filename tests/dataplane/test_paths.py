"""Real packets through the gateway: the closed network while the closed-network usable
state holds (001 §32.1), the internet only while the internet usable state and the
internet setting allow it (§32.3, §44), the attach answer and the listing (contracts §4,
DATAPLANE.md §1 and §3)."""

from __future__ import annotations

import time

from tests.dataplane.support import Plane, reachable, within

BYTES = 300_000


def test_001_s32_1_closed_network_and_internet_carry_real_packets(dp: Plane) -> None:
    sim = dp.cloud.sim(switch=True, internet=True)
    device, link = dp.connect(sim)
    internet, closed = dp.urls()

    status, body = device.get(f"{internet}/bytes/{BYTES}")
    assert (status, len(body)) == (200, BYTES)
    status, body = device.get(f"{closed}/bytes/{BYTES}")
    assert (status, len(body)) == (200, BYTES)
    # The internet sees the gateway's WAN address (NAT); the switch segment sees the SIM.
    _, seen = device.get(f"{internet}/ip")
    assert seen.decode().strip().startswith("198.19.")
    _, seen = device.get(f"{closed}/ip")
    assert seen.decode().strip() == link["address"]


def test_001_s32_1_without_switch_the_closed_network_is_unreachable(dp: Plane) -> None:
    sim = dp.cloud.sim(switch=False, internet=True)
    device, _ = dp.connect(sim)
    internet, closed = dp.urls()
    assert reachable(device, f"{internet}/bytes/10")
    assert not reachable(device, f"{closed}/bytes/10")


def test_001_s44_internet_setting_off_drops_internet_within_1s_closed_still_works(
    dp: Plane,
) -> None:
    sim = dp.cloud.sim(switch=True, internet=True)
    device, _ = dp.connect(sim)
    internet, closed = dp.urls()
    assert reachable(device, f"{internet}/bytes/1000")

    started = time.monotonic()
    dp.cloud.set_internet(sim, False)
    within(1.0 - (time.monotonic() - started), lambda: not reachable(device, f"{internet}/ip"))
    status, body = device.get(f"{closed}/bytes/{BYTES}")
    assert (status, len(body)) == (200, BYTES)
    time.sleep(0.6)  # several reconciles later it is still off
    assert not reachable(device, f"{internet}/ip")

    dp.cloud.set_internet(sim, True)
    within(1.0, lambda: reachable(device, f"{internet}/ip"))


def test_001_s44_internet_off_from_the_start_gives_the_closed_network_only(dp: Plane) -> None:
    sim = dp.cloud.sim(switch=True, internet=False)
    answer = dp.cloud.attach(sim)
    assert (answer["closed_network"], answer["internet"]) == (True, False)
    device, _ = dp.connect(sim)
    internet, closed = dp.urls()
    assert reachable(device, f"{closed}/bytes/10")
    assert not reachable(device, f"{internet}/bytes/10")


def test_dataplane_attach_answer_is_dataplane_md_s1(dp: Plane) -> None:
    sim = dp.cloud.sim(switch=True)
    answer = dp.cloud.attach(sim)
    link = answer["dataplane"]
    assert set(link) == {
        "namespace",
        "peer_ifname",
        "address",
        "prefix_len",
        "gateway",
        "dns",
        "mtu",
    }
    assert link["address"] == answer["ip"]
    assert link["prefix_len"] == 32
    assert len(link["peer_ifname"]) <= 15
    assert link["namespace"].startswith(dp.instance + "-")
    assert len(link["dns"]) == 2
    assert link["mtu"] == 1500


def test_dataplane_refused_attach_has_null_dataplane(dp: Plane) -> None:
    sim = dp.cloud.sim(activate=False)
    answer = dp.cloud.attach(sim)
    assert (answer["accepted"], answer["reason"], answer["dataplane"]) == (
        False,
        "deactivated",
        None,
    )


def test_001_s40_fixed_ip_set_through_the_sakura_api_is_the_sims_address(dp: Plane) -> None:
    sim = dp.cloud.sim(switch=True)
    fixed = "100.100.7.9"
    dp.cloud.ok(
        dp.cloud.api.put(f"/commonserviceitem/{sim.id}/sim/ip", json={"sim": {"ip": fixed}})
    )
    device, link = dp.connect(sim)
    assert link["address"] == fixed
    _, closed = dp.urls()
    _, seen = device.get(f"{closed}/ip")
    assert seen.decode().strip() == fixed


def test_dataplane_session_without_the_link_is_refused_no_link(dp: Plane) -> None:
    sim = dp.cloud.sim(switch=True)
    assert dp.cloud.attach(sim)["accepted"]
    assert dp.cloud.session(sim, "up") == {"accepted": False, "reason": "no_link"}


def test_dataplane_traffic_report_is_refused_measured_by_gateway(dp: Plane) -> None:
    sim = dp.cloud.sim(switch=True)
    dp.connect(sim)
    body = {"iccid": sim.iccid, "up": 1000, "down": 1000}
    answer = dp.cloud.ok(dp.cloud.steer.post("/_emulator/network/traffic", json=body))
    assert (answer["accepted"], answer["reason"]) == (False, "measured_by_gateway")
    assert dp.cloud.traffic_status(sim) == (0, 0)


def test_dataplane_session_down_deletes_the_pair(dp: Plane) -> None:
    sim = dp.cloud.sim(switch=True)
    device, _ = dp.connect(sim)
    assert device.has_link()
    assert dp.cloud.session(sim, "down") == {"accepted": True, "reason": None}
    assert not device.has_link()
    assert dp.cloud.session_log(sim)[-1] == ("DOWN", "closed_by_device")


def test_contracts_s4_dataplane_listing(dp: Plane) -> None:
    sim = dp.cloud.sim(switch=True)
    doc = dp.cloud.dataplane()
    assert set(doc) == {"enabled", "internet", "gateways"}
    assert doc["enabled"] is True
    assert set(doc["internet"]) == {"address", "url"}
    assert doc["internet"]["url"] == f"http://{doc['internet']['address']}"
    [gateway] = doc["gateways"]
    assert set(gateway) == {"id", "namespace", "closed_network"}
    assert gateway["id"] == sim.gateway
    assert set(gateway["closed_network"]) == {"address", "url"}
    assert gateway["namespace"] == f"{dp.instance}-gw{sim.gateway}"


def test_contracts_s4_dataplane_listing_needs_credentials(dp: Plane) -> None:
    response = dp.cloud.steer.get("/_emulator/dataplane", auth=("wrong", "wrong"))
    assert response.status_code == 401


def test_dataplane_link_lost_ends_the_session_and_bills_its_bytes(dp: Plane) -> None:
    sim = dp.cloud.sim(switch=True)
    device, _ = dp.connect(sim)
    internet, _ = dp.urls()
    assert reachable(device, f"{internet}/bytes/200000")
    device.unplug()  # the stub died without a session down; its pair went with it
    within(3.0, lambda: ("DOWN", "link_lost") in dp.cloud.session_log(sim))
    up, down = dp.cloud.traffic_status(sim)
    assert down > 200_000
    assert up > 0
