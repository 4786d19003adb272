"""The radio network's side: attach, session and traffic decisions (service-rules §1.2).

A SIM may communicate in two states (001 §32):
- closed-network usable: registered, on a gateway, gateway on a switch and powered on;
- internet usable: registered, on a gateway, gateway powered on, internet enabled (§44).
Before either is looked at: the contract must stand (non-payment policy), the SIM must
be activated, and an IMEI lock must match the device (§31.3). Every refusal carries a
reason and is written to the SIM's session log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from emulator.clock import VirtualClock
from emulator.models import account, events, sessions, traffic
from emulator.models.gateways import Gateway
from emulator.models.gateways import load as load_gateway
from emulator.models.sims import Sim, find_by_iccid
from emulator.store import Store, Tx

# Every reason the network gives for a refusal (contracts §4 lists the first five).
REASONS = {
    "not_registered": "no SIM with this ICCID is registered",
    "imsi_mismatch": "the IMSI is not the registered card's",
    "contract_terminated": "the contract was terminated for non-payment (002 §16.1(2))",
    "account_suspended": "the account is suspended for non-payment (002 §12.3)",
    "deactivated": "the SIM is deactivated",
    "imei_locked": "the SIM is locked to another IMEI (001 §31.3)",
    "no_gateway": "the SIM is not registered to a mobile gateway (001 §32)",
    "gateway_powered_off": "the SIM's mobile gateway is powered off (001 §32)",
    "no_usable_network": "the gateway is on no switch and its internet is off (001 §32, §44)",
    "traffic_quota_exceeded": "the gateway passed its traffic quota and is stopped",
    "not_attached": "the device has not attached",
    "no_session": "no data session is up",
    "session_cut": "the session was cut for heavy traffic (001 §47.1(2))",
    "no_link": "the modem's link is not in the gateway's namespace (data plane)",
    "address_in_use": "another session on the gateway holds this address (data plane)",
    "measured_by_gateway": "the gateway measures this session's traffic itself (data plane)",
}


@dataclass(frozen=True)
class Decision:
    """The network's answer to an attach, session or traffic report."""

    accepted: bool
    reason: str | None = None
    closed_network: bool = False
    internet: bool = False
    ip: str | None = None
    shaped: bool = False
    session_cut: bool = False


def _refuse(reason: str) -> Decision:
    return Decision(accepted=False, reason=reason)


def dynamic_ip(sim: Sim) -> str:
    """The address handed out when the SIM has no fixed IP (stable per SIM)."""
    value = int(sim.id) % (1 << 22)
    return f"100.{64 + (value >> 16)}.{(value >> 8) & 255}.{value & 255}"


def usability(db: Tx, sim: Sim, imei: str | None, now: datetime) -> Decision:
    """Apply the lock and usability rules to a registered SIM, in order."""
    standing, _ = account.standing(db, now)
    if standing == "terminated":
        return _refuse("contract_terminated")
    if standing == "suspended":
        return _refuse("account_suspended")
    if not sim.activated:
        return _refuse("deactivated")
    if sim.imei_lock is not None and imei != sim.imei_lock:
        return _refuse("imei_locked")
    if sim.gateway_id is None:
        return _refuse("no_gateway")
    gw: Gateway = load_gateway(db, None, sim.gateway_id)
    if not gw.powered_on:
        return _refuse("gateway_powered_off")
    closed = gw.switch_id is not None
    internet = gw.internet_enabled
    if not (closed or internet):
        return _refuse("no_usable_network")
    quota = traffic.quota_state(db, gw.id, gw.traffic_config, now)
    if quota == "stopped":
        return _refuse("traffic_quota_exceeded")
    return Decision(
        accepted=True,
        closed_network=closed,
        internet=internet,
        ip=sim.ip or dynamic_ip(sim),
        shaped=quota == "shaped",
    )


class Network:
    """`/_emulator/network/*`: what the carrier decides when a device asks."""

    def __init__(self, store: Store, clock: VirtualClock) -> None:
        self._store = store
        self._clock = clock

    def attach(self, iccid: str, imsi: str | None, imei: str | None) -> Decision:
        """A device attaches with this card in a handset with this IMEI."""
        now = self._clock.now()
        with self._store.transaction() as db:
            sim = find_by_iccid(db, iccid)
            if sim is None:
                return _refuse("not_registered")
            decision = (
                _refuse("imsi_mismatch")
                if imsi and imsi != sim.imsi
                else usability(db, sim, imei, now)
            )
            status = sessions.ATTACHED if decision.accepted else sessions.REJECTED
            if not decision.accepted:
                sessions.end_session(db, now, sim.id, decision.reason or "refused", detach=True)
            else:
                db.execute(
                    "UPDATE sims SET attached = 1, connected_imei = ? WHERE id = ?", (imei, sim.id)
                )
            sessions.log(
                db,
                now,
                sim.id,
                status,
                gateway_id=sim.gateway_id,
                reason=decision.reason,
                imei=imei,
                imsi=imsi,
            )
            return decision

    def session(self, iccid: str, up: bool) -> Decision:
        """The device opens (`up`) or closes a data session."""
        now = self._clock.now()
        with self._store.transaction() as db:
            sim = find_by_iccid(db, iccid)
            if sim is None:
                return _refuse("not_registered")
            if not up:
                sessions.end_session(db, now, sim.id, "closed_by_device")
                return Decision(accepted=True)
            if not sim.attached:
                decision = _refuse("not_attached")
            else:
                decision = usability(db, sim, sim.connected_imei, now)
            log = dict(gateway_id=sim.gateway_id, imei=sim.connected_imei, imsi=sim.imsi)
            if not decision.accepted:
                sessions.end_session(db, now, sim.id, decision.reason or "refused")
                sessions.log(db, now, sim.id, sessions.REJECTED, reason=decision.reason, **log)
                return decision
            if not sim.session_up:
                db.execute(
                    "UPDATE sims SET session_up = 1, session_bytes = 0, session_cut = 0 "
                    "WHERE id = ?",
                    (sim.id,),
                )
                sessions.log(db, now, sim.id, sessions.UP, **log)
            return decision

    def traffic(self, iccid: str, up: int, down: int) -> Decision:
        """The network measured `up`/`down` bytes in the SIM's session: count them
        (per SIM and JST month, and in the billing log), apply the quota and the
        heavy-traffic cut (Decision §47)."""
        now = self._clock.now()
        with self._store.transaction() as db:
            sim = find_by_iccid(db, iccid)
            if sim is None:
                return _refuse("not_registered")
            if not sim.session_up:
                return _refuse("session_cut" if sim.session_cut else "no_session")
            decision = usability(db, sim, sim.connected_imei, now)
            if not decision.accepted:
                _end_refused(db, now, sim, decision)
                return decision
            assert sim.gateway_id is not None
            _count(db, now, sim, sim.gateway_id, up, down)
            return _after_count(db, now, sim, sim.gateway_id, up + down, decision, False)

    def gateway_traffic(
        self, iccid: str, gateway_id: str, up: int, down: int, *, quota_spent: bool = False
    ) -> Decision:
        """The gateway's data plane forwarded `up`/`down` bytes for the SIM since its last
        read: they are counted and billed whatever the session's state now (the kernel
        already carried them), then the usability rules are applied to the session, and
        the heavy-traffic cut (§47.1(2)) when the bytes crossed the threshold or the
        gateway's quota dropped a packet (`quota_spent`). The answer says which networks
        the session may use now; not accepted or `session_cut` means it is over."""
        now = self._clock.now()
        with self._store.transaction() as db:
            sim = find_by_iccid(db, iccid)
            if sim is None:
                return _refuse("not_registered")
            if up + down > 0:
                _count(db, now, sim, gateway_id, up, down)
            if not sim.session_up:
                return _refuse("session_cut" if sim.session_cut else "no_session")
            decision = usability(db, sim, sim.connected_imei, now)
            if not decision.accepted:
                _end_refused(db, now, sim, decision)
                return decision
            return _after_count(db, now, sim, gateway_id, up + down, decision, quota_spent)


def _count(db: Tx, now: datetime, sim: Sim, gateway_id: str, up: int, down: int) -> None:
    """Count traffic for the SIM and gateway, and log it for billing."""
    gw = load_gateway(db, None, gateway_id) if _gateway_exists(db, gateway_id) else None
    traffic.add(db, now, sim.id, gateway_id, up, down)
    if up + down > 0:
        events.append(db, now, "traffic", iccid=sim.iccid, up=up, down=down)
    if gw is not None:
        traffic.notify_if_over(db, gw.id, gw.traffic_config, now)


def _gateway_exists(db: Tx, gateway_id: str) -> bool:
    return db.one("SELECT 1 FROM gateways WHERE id = ?", (gateway_id,)) is not None


def _end_refused(db: Tx, now: datetime, sim: Sim, decision: Decision) -> None:
    sessions.end_session(db, now, sim.id, decision.reason or "refused")
    sessions.log(
        db,
        now,
        sim.id,
        sessions.REJECTED,
        gateway_id=sim.gateway_id,
        reason=decision.reason,
        imei=sim.connected_imei,
        imsi=sim.imsi,
    )


def _after_count(
    db: Tx,
    now: datetime,
    sim: Sim,
    gateway_id: str,
    carried: int,
    decision: Decision,
    quota_spent: bool,
) -> Decision:
    """Add `carried` to the session's bytes and cut the session when it crossed the
    account's threshold (Decision §47)."""
    session_bytes = sim.session_bytes + carried
    if carried:  # the data plane asks every tick; an idle one writes nothing
        db.execute("UPDATE sims SET session_bytes = ? WHERE id = ?", (session_bytes, sim.id))
    row = db.one("SELECT session_cut_bytes FROM account WHERE id = 1")
    cut_bytes = None if row is None else row["session_cut_bytes"]
    limit: int | None = None if cut_bytes is None else int(cut_bytes)
    cut = limit is not None and (session_bytes > limit or quota_spent)
    if cut:
        db.execute("UPDATE sims SET session_up = 0, session_cut = 1 WHERE id = ?", (sim.id,))
        sessions.log(
            db,
            now,
            sim.id,
            sessions.CUT,
            gateway_id=gateway_id,
            reason=f"session carried {session_bytes} bytes, over {limit}"
            if limit is not None and session_bytes > limit
            else f"session carried {session_bytes} bytes; the next packet would pass {limit}",
            imei=sim.connected_imei,
            imsi=sim.imsi,
        )
    gw = load_gateway(db, None, gateway_id)
    shaped = traffic.quota_state(db, gw.id, gw.traffic_config, now) == "shaped"
    return Decision(
        accepted=True,
        closed_network=decision.closed_network,
        internet=decision.internet,
        ip=decision.ip,
        shaped=shaped,
        session_cut=cut,
    )
