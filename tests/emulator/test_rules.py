"""Service-rules §0 and §1 as the emulator applies them, tested on the models (no HTTP).

Each test is named after its clause (seed 001 unless said otherwise) or Decision.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from emulator.backend import Backend
from emulator.clock import JST, jst_month
from emulator.errors import BadRequest, Conflict, Forbidden
from emulator.models.traffic import TrafficConfig
from simgate_common.luhn import luhn_valid

from .conftest import IMEI, OTHER_IMEI, register, stored_bytes, usable


def event_types(backend: Backend) -> list[str]:
    return [str(e["type"]) for e in backend.events.iter_dicts()]


def log_statuses(backend: Backend, sim_id: str) -> list[tuple[str, str | None]]:
    return [(e.status, e.reason) for e in reversed(backend.sims.session_log(sim_id))]


# --- §0 Time -------------------------------------------------------------------------


def test_sec0_traffic_month_is_jst(backend: Backend) -> None:
    s = usable(backend)
    backend.network.attach(s.sim.iccid, s.sim.imsi, IMEI)
    backend.network.session(s.sim.iccid, True)
    backend.clock.set(datetime(2026, 3, 31, 16, 30, tzinfo=UTC), frozen=True)
    assert backend.network.traffic(s.sim.iccid, 100, 200).accepted
    status = backend.sims.status(s.sim.id)
    assert status.month == "2026-04"
    assert (status.traffic.up, status.traffic.down) == (100, 200)
    counter, _ = backend.gateways.traffic_status("is1a", s.gateway.id)
    assert counter.total == 300
    assert jst_month(datetime(2026, 3, 31, 14, 59, tzinfo=UTC)) == "2026-03"


def test_sec0_events_stamped_by_virtual_clock_in_utc(backend: Backend) -> None:
    register(backend)
    (event,) = list(backend.events.iter_dicts())
    assert event["at"] == "2026-03-10T00:00:00+00:00"
    assert datetime.fromisoformat(str(event["at"])) == backend.clock.now()


def test_sec0_virtual_clock_set_advance_and_survive_restart(db_target: Path | str) -> None:
    b = Backend(db_target)
    b.clock.set(datetime(2026, 1, 1, tzinfo=JST), frozen=True)
    b.clock.advance(86400 * 31)
    assert b.clock.now() == datetime(2026, 2, 1, tzinfo=JST)
    with pytest.raises(BadRequest):
        b.clock.advance(-1)
    b.close()
    again = Backend(db_target)
    assert again.clock.now() == datetime(2026, 2, 1, tzinfo=JST)
    again.clock.set(datetime(2026, 2, 1, tzinfo=JST))  # running again
    assert again.clock.now() >= datetime(2026, 2, 1, tzinfo=JST)
    again.close()


# --- §1.1 Objects, states, the account -----------------------------------------------


def test_001_s34_2_individual_account_refused(backend: Backend) -> None:
    backend.account.update(entity_type="individual")
    card = backend.cards.manufacture()
    assert card.passcode is not None
    with pytest.raises(Forbidden) as exc:
        backend.sims.register(iccid=card.iccid, passcode=card.passcode)
    assert exc.value.code == "individual_account_refused"
    assert "§34.2" in exc.value.message
    with pytest.raises(Forbidden):
        backend.gateways.create("is1a", name="gw")
    assert backend.sims.list_all() == []
    assert backend.gateways.list_all("is1a") == []
    assert event_types(backend) == []
    backend.account.update(entity_type="non_profit")
    assert backend.sims.register(iccid=card.iccid, passcode=card.passcode).iccid == card.iccid


def test_001_s34_1_contract_forms_at_first_sim_registration(backend: Backend) -> None:
    assert backend.account.get().contract_formed_at is None
    backend.switches.create("is1a", name="sw")  # a switch alone forms nothing
    assert backend.account.get().contract_formed_at is None
    register(backend)
    assert backend.account.get().contract_formed_at == backend.clock.now()
    backend.clock.advance(3600)
    register(backend)
    assert backend.account.get().contract_formed_at == backend.clock.now() - timedelta(hours=1)


def test_001_s34_1_contract_forms_at_first_gateway_creation(backend: Backend) -> None:
    backend.gateways.create("is1a", name="gw")
    assert backend.account.get().contract_formed_at == backend.clock.now()


def test_001_s43_2_registration_needs_the_cards_passcode(backend: Backend) -> None:
    card = backend.cards.manufacture(passcode="RIGHT123")
    with pytest.raises(BadRequest) as exc:
        backend.sims.register(iccid=card.iccid, passcode="WRONG999")
    assert exc.value.code == "invalid_passcode"
    assert "WRONG999" not in exc.value.message
    assert "RIGHT123" not in exc.value.message
    with pytest.raises(BadRequest) as unknown:
        backend.sims.register(iccid="8981000000000000001", passcode="RIGHT123")
    assert unknown.value.code == "invalid_iccid"
    assert backend.sims.list_all() == []
    assert event_types(backend) == []
    assert backend.sims.register(iccid=card.iccid, passcode="RIGHT123").imsi == card.imsi


def test_001_s43_2_duplicate_iccid_is_a_conflict(backend: Backend) -> None:
    card = backend.cards.manufacture()
    sim = register(backend, card)
    with pytest.raises(Conflict) as exc:
        register(backend, card)
    assert exc.value.status == 409
    assert [s.id for s in backend.sims.list_all()] == [sim.id]


@pytest.mark.parametrize(
    "iccid", ["", "898100000000000", "89810000000000000000000", "89810000000000000A1"]
)
def test_iccid_must_be_18_to_22_digits(backend: Backend, iccid: str) -> None:
    with pytest.raises(BadRequest) as exc:
        backend.sims.register(iccid=iccid, passcode="ABCD1234")
    assert exc.value.code == "invalid_iccid"
    with pytest.raises(BadRequest):
        backend.cards.manufacture(iccid=iccid)


def test_001_s32_1_closed_network_needs_switch_and_power(backend: Backend) -> None:
    s = usable(backend, switch=False, power=False)
    net = backend.network
    assert net.attach(s.sim.iccid, s.sim.imsi, IMEI).reason == "gateway_powered_off"
    backend.gateways.set_power("is1a", s.gateway.id, True)
    assert net.attach(s.sim.iccid, s.sim.imsi, IMEI).reason == "no_usable_network"
    backend.gateways.connect_switch("is1a", s.gateway.id, s.switch.id)
    ok = net.attach(s.sim.iccid, s.sim.imsi, IMEI)
    assert ok.accepted
    assert ok.closed_network
    assert not ok.internet
    assert ok.ip


def test_001_s32_1_sim_needs_a_gateway(backend: Backend) -> None:
    sim = register(backend)
    backend.sims.set_activated(sim.id, True)
    assert backend.network.attach(sim.iccid, sim.imsi, IMEI).reason == "no_gateway"
    assert backend.network.attach("8981999999999999999", None, IMEI).reason == "not_registered"


def test_001_s32_3_internet_needs_power_and_internet_setting(backend: Backend) -> None:
    s = usable(backend, switch=False, power=True, internet=True)
    d = backend.network.attach(s.sim.iccid, s.sim.imsi, IMEI)
    assert d.accepted
    assert d.internet
    assert not d.closed_network
    backend.gateways.set_power("is1a", s.gateway.id, False)
    assert backend.network.attach(s.sim.iccid, s.sim.imsi, IMEI).reason == "gateway_powered_off"


def test_001_s44_internet_off_closed_network_only(backend: Backend) -> None:
    s = usable(backend, switch=True, internet=True)
    d = backend.network.attach(s.sim.iccid, s.sim.imsi, IMEI)
    assert d.accepted
    assert d.internet
    assert d.closed_network
    backend.gateways.update("is1a", s.gateway.id, internet_enabled=False)
    d = backend.network.attach(s.sim.iccid, s.sim.imsi, IMEI)
    assert d.accepted
    assert d.closed_network
    assert not d.internet


def test_deactivated_sim_refused_and_session_ends(backend: Backend) -> None:
    s = usable(backend)
    backend.network.attach(s.sim.iccid, s.sim.imsi, IMEI)
    assert backend.network.session(s.sim.iccid, True).accepted
    backend.sims.set_activated(s.sim.id, False)
    assert backend.network.traffic(s.sim.iccid, 1, 1).reason == "no_session"
    assert backend.network.attach(s.sim.iccid, s.sim.imsi, IMEI).reason == "deactivated"
    assert ("DOWN", "deactivated") in log_statuses(backend, s.sim.id)


def test_001_s31_3_imei_lock_refuses_other_imei(backend: Backend) -> None:
    s = usable(backend)
    backend.sims.set_imei_lock(s.sim.id, IMEI)
    refused = backend.network.attach(s.sim.iccid, s.sim.imsi, OTHER_IMEI)
    assert not refused.accepted
    assert refused.reason == "imei_locked"
    assert backend.network.attach(s.sim.iccid, s.sim.imsi, IMEI).accepted
    assert log_statuses(backend, s.sim.id) == [("REJECTED", "imei_locked"), ("ATTACHED", None)]
    assert backend.sims.get(s.sim.id).connected_imei == IMEI


def test_imsi_must_match_the_card(backend: Backend) -> None:
    s = usable(backend)
    assert backend.network.attach(s.sim.iccid, "440109999999999", IMEI).reason == "imsi_mismatch"


def test_session_and_traffic_need_attach_and_session(backend: Backend) -> None:
    s = usable(backend)
    assert backend.network.session(s.sim.iccid, True).reason == "not_attached"
    backend.network.attach(s.sim.iccid, s.sim.imsi, IMEI)
    assert backend.network.traffic(s.sim.iccid, 1, 1).reason == "no_session"
    assert backend.network.session(s.sim.iccid, True).accepted
    assert backend.network.traffic(s.sim.iccid, 1, 1).accepted
    assert backend.network.session(s.sim.iccid, False).accepted
    assert backend.network.traffic(s.sim.iccid, 1, 1).reason == "no_session"


def test_gateway_power_off_ends_sessions(backend: Backend) -> None:
    s = usable(backend)
    backend.network.attach(s.sim.iccid, s.sim.imsi, IMEI)
    backend.network.session(s.sim.iccid, True)
    backend.gateways.set_power("is1a", s.gateway.id, False)
    assert backend.network.traffic(s.sim.iccid, 5, 5).reason == "no_session"
    assert ("DOWN", "gateway_powered_off") in log_statuses(backend, s.sim.id)


def test_decision_s47_heavy_traffic_session_cut(backend: Backend) -> None:
    backend.account.update(session_cut_bytes=1000)
    s = usable(backend)
    backend.network.attach(s.sim.iccid, s.sim.imsi, IMEI)
    backend.network.session(s.sim.iccid, True)
    assert not backend.network.traffic(s.sim.iccid, 500, 500).session_cut  # exactly 1000
    crossing = backend.network.traffic(s.sim.iccid, 1, 0)
    assert crossing.accepted
    assert crossing.session_cut
    assert backend.network.traffic(s.sim.iccid, 1, 0).reason == "session_cut"
    assert log_statuses(backend, s.sim.id)[-1][0] == "SESSION_CUT"
    assert backend.sims.status(s.sim.id).traffic.total == 1001  # measured bytes are counted
    assert backend.network.session(s.sim.iccid, True).accepted  # a new session may start
    assert backend.network.traffic(s.sim.iccid, 10, 0).accepted


def test_decision_s47_threshold_off_by_default(backend: Backend) -> None:
    s = usable(backend)
    backend.network.attach(s.sim.iccid, s.sim.imsi, IMEI)
    backend.network.session(s.sim.iccid, True)
    assert not backend.network.traffic(s.sim.iccid, 10**12, 10**12).session_cut


def test_decision_non_payment_policy_off_by_default(backend: Backend) -> None:
    s = usable(backend)
    backend.account.set_invoice_paid("2025-12", paid=False)
    backend.clock.set(datetime(2026, 6, 1, tzinfo=JST), frozen=True)
    assert backend.account.get().standing == "active"
    assert backend.network.attach(s.sim.iccid, s.sim.imsi, IMEI).accepted


def test_decision_non_payment_suspends_then_terminates(backend: Backend) -> None:
    s = usable(backend)
    backend.account.update(suspension_enabled=True, suspension_days=20)
    backend.account.set_invoice_paid("2026-03", paid=False)  # due 2026-04-10
    backend.clock.set(datetime(2026, 4, 30, 12, tzinfo=JST), frozen=True)  # 20 days after
    assert backend.network.attach(s.sim.iccid, s.sim.imsi, IMEI).accepted
    backend.clock.set(datetime(2026, 5, 1, tzinfo=JST), frozen=True)  # 21 days after
    assert backend.network.attach(s.sim.iccid, s.sim.imsi, IMEI).reason == "account_suspended"
    assert ("REJECTED", "account_suspended") in log_statuses(backend, s.sim.id)
    backend.clock.set(datetime(2026, 7, 11, tzinfo=JST), frozen=True)  # 3 months + 1 day
    assert backend.network.attach(s.sim.iccid, s.sim.imsi, IMEI).reason == "contract_terminated"
    backend.account.set_invoice_paid("2026-03", paid=True, amount=1234)
    assert backend.network.attach(s.sim.iccid, s.sim.imsi, IMEI).accepted
    payment = [e for e in backend.events.iter_dicts() if e["type"] == "payment"]
    assert payment == [
        {
            "at": "2026-07-10T15:00:00+00:00",
            "type": "payment",
            "invoice_month": "2026-03",
            "amount": 1234,
        }
    ]


# --- Traffic monitoring ---------------------------------------------------------------


def _monitored(backend: Backend, *, shaping: bool, kbps: int) -> tuple[str, str]:
    s = usable(backend)
    config = TrafficConfig(1, kbps, True, False, "", shaping)
    backend.gateways.set_traffic_config("is1a", s.gateway.id, config)
    backend.network.attach(s.sim.iccid, s.sim.imsi, IMEI)
    backend.network.session(s.sim.iccid, True)
    return s.sim.iccid, s.gateway.id


def test_traffic_monitoring_over_quota_shapes(backend: Backend) -> None:
    iccid, gw = _monitored(backend, shaping=True, kbps=128)
    assert not backend.network.traffic(iccid, 600_000, 400_000).shaped  # exactly 1 MB
    assert backend.network.traffic(iccid, 1, 0).shaped
    assert backend.network.traffic(iccid, 1, 0).accepted
    counter, shaped = backend.gateways.traffic_status("is1a", gw)
    assert shaped
    assert counter.total == 1_000_002
    with backend.store.transaction() as db:
        notes = db.all("SELECT kind, message FROM notifications")
    assert [n["kind"] for n in notes] == ["traffic_quota_exceeded"]  # once per month
    assert "email" in notes[0]["message"]


def test_traffic_monitoring_over_quota_stops_at_zero_kbps(backend: Backend) -> None:
    iccid, _ = _monitored(backend, shaping=True, kbps=0)
    assert backend.network.traffic(iccid, 1_000_001, 0).accepted
    assert backend.network.traffic(iccid, 1, 0).reason == "traffic_quota_exceeded"
    backend.clock.set(datetime(2026, 4, 1, tzinfo=JST), frozen=True)  # a new month
    sim = backend.sims.list_all()[0]
    assert backend.network.attach(iccid, sim.imsi, IMEI).accepted


def test_traffic_monitoring_without_shaping_only_notifies(backend: Backend) -> None:
    iccid, gw = _monitored(backend, shaping=False, kbps=0)
    backend.network.traffic(iccid, 2_000_000, 0)
    assert backend.network.traffic(iccid, 1, 0).accepted
    assert backend.gateways.traffic_status("is1a", gw)[1] is False


# --- Billing events --------------------------------------------------------------------


def test_billable_facts_go_to_the_event_log(backend: Backend) -> None:
    s = usable(backend)
    backend.sims.set_ip(s.sim.id, "10.0.0.5")
    backend.sims.set_imei_lock(s.sim.id, IMEI)
    backend.sims.set_imei_lock(s.sim.id, OTHER_IMEI)  # still set: no new event
    backend.gateways.set_dns("is1a", s.gateway.id, "8.8.8.8", "8.8.4.4")
    backend.network.attach(s.sim.iccid, s.sim.imsi, OTHER_IMEI)
    backend.network.session(s.sim.iccid, True)
    backend.network.traffic(s.sim.iccid, 10, 20)
    backend.network.traffic(s.sim.iccid, 0, 0)  # no communication, no event
    backend.gateways.delete_sim("is1a", s.gateway.id, s.sim.id)
    backend.sims.delete(s.sim.id)
    backend.gateways.set_power("is1a", s.gateway.id, False)
    backend.gateways.delete("is1a", s.gateway.id)
    events = list(backend.events.iter_dicts())
    assert [(e["type"], e.get("option")) for e in events] == [
        ("sim_registered", None),
        ("gateway_created", None),
        ("option_set", "ip"),
        ("option_set", "device_lock"),
        ("option_set", "dns"),
        ("traffic", None),
        ("option_cleared", "ip"),
        ("option_cleared", "device_lock"),
        ("sim_deleted", None),
        ("option_cleared", "dns"),
        ("gateway_deleted", None),
    ]
    assert events[5] == {
        "at": events[5]["at"],
        "type": "traffic",
        "iccid": s.sim.iccid,
        "up": 10,
        "down": 20,
    }
    assert events[4]["subject"] == s.gateway.id
    assert events[2]["subject"] == s.sim.iccid


def test_refused_changes_leave_state_and_log_untouched(backend: Backend) -> None:
    s = usable(backend)
    before = backend.events.lines()
    with pytest.raises(Conflict):
        backend.sims.delete(s.sim.id)  # still on the gateway
    with pytest.raises(Conflict):
        backend.gateways.delete("is1a", s.gateway.id)  # powered on
    with pytest.raises(BadRequest):
        backend.sims.set_ip(s.sim.id, "not-an-ip")
    assert backend.events.lines() == before
    assert backend.sims.get(s.sim.id) == s.sim


def test_device_token_is_per_registration_and_not_stored(backend: Backend) -> None:
    card = backend.cards.manufacture()
    sim = register(backend, card)
    token = backend.device_tokens.token_for(sim)
    assert backend.device_tokens.verify(sim, token)
    backend.sims.delete(sim.id)
    again = register(backend, card)
    assert backend.device_tokens.token_for(again) != token
    assert token.encode() not in stored_bytes(backend)


def test_concurrent_traffic_on_one_sim_is_never_lost(backend: Backend) -> None:
    s = usable(backend)
    backend.network.attach(s.sim.iccid, s.sim.imsi, IMEI)
    backend.network.session(s.sim.iccid, True)

    def report() -> None:
        for _ in range(50):
            assert backend.network.traffic(s.sim.iccid, 1, 2).accepted

    threads = [threading.Thread(target=report) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    status = backend.sims.status(s.sim.id)
    assert (status.traffic.up, status.traffic.down) == (200, 400)
    assert status.sim.session_bytes == 600
    assert event_types(backend).count("traffic") == 200


def test_state_survives_reopen(db_target: Path | str) -> None:
    b = Backend(db_target)
    sim = register(b)
    b.close()
    again = Backend(db_target)
    assert again.sims.get(sim.id).iccid == sim.iccid
    assert [e["type"] for e in again.events.iter_dicts()] == ["sim_registered"]
    again.close()


def test_reset_forgets_everything_but_credentials(backend: Backend) -> None:
    usable(backend)
    backend.reset()
    assert backend.sims.list_all() == []
    assert backend.events.lines() == []
    assert backend.account.get().entity_type == "business"
    assert backend.clock.frozen is False


def test_manufactured_iccids_pass_the_luhn_check(backend: Backend) -> None:
    cards = [backend.cards.manufacture() for _ in range(20)]
    assert all(luhn_valid(card.iccid) and len(card.iccid) == 19 for card in cards)


def test_rule4_a_non_ascii_device_token_is_refused_not_raised(backend: Backend) -> None:
    sim = register(backend)
    assert backend.device_tokens.verify(sim, "トークン") is False
    assert backend.device_tokens.verify(sim, backend.device_tokens.token_for(sim)) is True
