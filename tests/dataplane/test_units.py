"""The data plane's pure parts (names, addresses, nft scripts and listings) and the
model's side of gateway-measured traffic: no root needed."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from emulator.backend import Backend
from emulator.dataplane import naming, nft
from emulator.models.network import Network

IMEI = "353456789012345"
BENCH = ipaddress.ip_network("198.18.0.0/15")


def test_instance_name_is_stable_per_database_and_differs_between_them(tmp_path: Path) -> None:
    a = naming.instance_name(tmp_path / "a.db")
    assert a == naming.instance_name(tmp_path / "." / "a.db")
    assert a != naming.instance_name(tmp_path / "b.db")
    assert a.startswith("sg")
    assert len(a) == 8
    with pytest.raises(ValueError, match="prefix"):
        naming.instance_name(tmp_path / "a.db", "Sg-x")


def test_names_and_addresses_fit_their_rules() -> None:
    names = naming.Names("sgdp123456")
    assert names.owns(names.gateway_ns("112233445566"))
    assert not names.owns("sgdp123457-inet")
    assert len(naming.peer_ifname("112233445566")) <= 15
    assert len(naming.peer_ifname("x" * 40)) <= 15
    for index in (1, 2, naming.MAX_GATEWAYS):
        addresses = [naming.wan_address(index), *naming.closed_segment(index)]
        assert all(ipaddress.ip_address(a) in BENCH for a in addresses)
    assert naming.closed_segment(1) != naming.closed_segment(2)
    assert ipaddress.ip_address(naming.INTERNET_HOST) in BENCH
    assert ipaddress.ip_address(naming.SIM_GATEWAY) in BENCH
    with pytest.raises(ValueError, match="outside"):
        naming.wan_address(naming.MAX_GATEWAYS + 1)


def test_bind_script_gives_the_quota_one_byte_over_the_threshold() -> None:
    script = nft.bind_script("t", "11", "s11", "100.64.0.1", 1000)
    assert "add quota ip t q_11 { over 1001 bytes }" in script
    assert 'add element ip t bound { "s11" . 100.64.0.1 }' in script
    assert "quota" not in nft.bind_script("t", "11", "s11", "100.64.0.1", None)
    lines = nft.unbind_lines("t", "11", "s11", "100.64.0.1", {"internet"}, True)
    assert lines[0] == "delete element ip t internet { 100.64.0.1 }"
    assert lines.index("delete element ip t cut { 100.64.0.1 }") < lines.index(
        "delete quota ip t q_11"
    )


def test_parse_reads_counters_quotas_and_sets() -> None:
    doc = {
        "nftables": [
            {"metainfo": {"version": "1.0.6"}},
            {"counter": {"name": "up_11", "bytes": 120, "packets": 2}},
            {"counter": {"name": "dn_11", "bytes": 3000, "packets": 3}},
            {"quota": {"name": "q_11", "bytes": 1001, "used": 1001, "inv": True}},
            {"set": {"name": "closed", "type": "ipv4_addr", "elem": ["100.64.0.1"]}},
            {"set": {"name": "internet", "type": "ipv4_addr"}},
            {"set": {"name": "bound", "type": ["ifname", "ipv4_addr"], "elem": []}},
        ]
    }
    state = nft.parse(doc)
    assert state.counters == {"up_11": 120, "dn_11": 3000}
    assert state.sets == {"closed": {"100.64.0.1"}, "internet": set()}
    assert state.quota_spent("11")
    assert not state.quota_spent("12")


@pytest.fixture
def usable(tmp_path: Path) -> tuple[Backend, str, str, str]:
    """A backend with a SIM up in a session on a powered gateway with internet."""
    backend = Backend(tmp_path / "e.db")
    backend.account.update(entity_type="business")
    card = backend.cards.manufacture(None, None, None)
    assert card.passcode is not None
    sim = backend.sims.register(iccid=card.iccid, passcode=card.passcode, name="s")
    backend.sims.set_activated(sim.id, True)
    gw = backend.gateways.create("is1a", name="g", internet_enabled=True)
    backend.gateways.add_sim("is1a", gw.id, sim.id)
    backend.gateways.set_power("is1a", gw.id, True)
    assert backend.network.attach(card.iccid, card.imsi, IMEI).accepted
    assert backend.network.session(card.iccid, True).accepted
    return backend, card.iccid, sim.id, gw.id


def test_001_s38_1_gateway_bytes_are_counted_even_as_the_session_ends(
    usable: tuple[Backend, str, str, str],
) -> None:
    backend, iccid, sim_id, gw_id = usable
    network: Network = backend.network
    backend.sims.set_imei_lock(sim_id, "353456789099999")
    decision = network.gateway_traffic(iccid, gw_id, 100, 900)
    assert (decision.accepted, decision.reason) == (False, "imei_locked")
    counter, _ = backend.gateways.traffic_status("is1a", gw_id)
    assert (counter.up, counter.down) == (100, 900)
    # once over, later bytes (forwarded before the sets were emptied) still count
    assert network.gateway_traffic(iccid, gw_id, 1, 2).reason == "no_session"
    counter, _ = backend.gateways.traffic_status("is1a", gw_id)
    assert (counter.up, counter.down) == (101, 902)
    backend.close()


def test_001_s47_1_2_spent_kernel_quota_cuts_the_session(
    usable: tuple[Backend, str, str, str],
) -> None:
    backend, iccid, _, gw_id = usable
    backend.account.update(session_cut_bytes=1000)
    assert not backend.network.gateway_traffic(iccid, gw_id, 400, 600).session_cut
    decision = backend.network.gateway_traffic(iccid, gw_id, 0, 0, quota_spent=True)
    assert decision.session_cut
    assert backend.network.gateway_traffic(iccid, gw_id, 0, 0).reason == "session_cut"
    backend.close()


def test_001_s44_gateway_traffic_answers_which_networks_are_allowed(
    usable: tuple[Backend, str, str, str],
) -> None:
    backend, iccid, _, gw_id = usable
    decision = backend.network.gateway_traffic(iccid, gw_id, 0, 0)
    assert (decision.accepted, decision.closed_network, decision.internet) == (True, False, True)
    backend.gateways.update("is1a", gw_id, internet_enabled=False)
    assert backend.network.gateway_traffic(iccid, gw_id, 0, 0).reason == "no_usable_network"
    backend.close()
