"""The modem's state that command handlers read and change, and the radio network it sees.

Registration theory: the modem registers only while the radio is on (`+CFUN=1`), the
operator selection is not "deregister" (`+COPS=2`) and the SIM is READY. When those hold,
it searches (stat 2) for `register_delay` seconds, then is registered home (stat 1);
whenever one stops holding it is not registered (stat 0) and its PDP contexts drop.
Packet-switched registration (`+CGREG`, `+CEREG`) also needs the PS attach (`+CGATT`).
When a search ends, the carrier's `Network` decides the outcome (home, roaming or
denied); the answer holds until registration is lost or `network_changed()` is called.
No answer at all (the network unreachable) is no coverage: the modem keeps searching
and asks again after `attach_retry` seconds, doubling up to `attach_retry_max`.

Session theory: the first PDP context to go active opens the SIM's data session with the
network (a refusal fails the activation); the last to go inactive closes it, after a
final traffic report. The network may end a session (a refused traffic report, a cut):
the contexts drop with `+CGEV: NW PDN DEACT <cid>` (when `+CGEREP` is on) and, unless
it was only a cut, the modem registers again, asking the network anew.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from firmware_stubs.at_syntax import CmeError
from firmware_stubs.card import CardState, SimCard
from firmware_stubs.faults import Faults
from firmware_stubs.network import AttachOutcome, LocalNetwork, Network, TrafficProfile, Verdict
from firmware_stubs.personality import Personality
from firmware_stubs.sms_state import SmsSettings
from firmware_stubs.traffic import TrafficCounters, TrafficMeter

logger = logging.getLogger(__name__)

NOT_REGISTERED, HOME, SEARCHING, DENIED, ROAMING = 0, 1, 2, 3, 5
REGISTERED = (HOME, ROAMING)
NO_NETWORK_SERVICE = 30
SERVICE_NOT_SUBSCRIBED = 133  # 27.007 §9.2.2: "requested service option not subscribed"


@dataclass(frozen=True)
class NetworkProfile:
    """The radio network the stub pretends to see, and how long things take."""

    operator_long: str = "NTT DOCOMO"
    operator_short: str = "DOCOMO"
    operator_numeric: str = "44010"
    tac: str = "1A2B"
    cell_id: str = "01C2D3E4"
    act: int = 7  # E-UTRAN
    rssi: int = 20
    register_delay: float = 0.2
    cops_scan_seconds: float = 0.5
    connect_speed: int = 150_000_000
    other_operators: tuple[tuple[str, str, str], ...] = (("SoftBank", "SoftBank", "44020"),)
    attach_retry: float = 1.0  # first wait before asking an unreachable network again
    attach_retry_max: float = 30.0

    def __post_init__(self) -> None:
        if min(self.register_delay, self.cops_scan_seconds, self.attach_retry) < 0:
            raise ValueError("NetworkProfile delays must not be negative")
        if self.attach_retry_max < self.attach_retry:
            raise ValueError("attach_retry_max must not be less than attach_retry")


@dataclass
class PdpContext:
    """One `+CGDCONT` context and whether it is active."""

    pdp_type: str
    apn: str
    active: bool = False


@dataclass
class ModemState:
    """Everything the command handlers may read or change."""

    card: SimCard
    dialect: Personality  # how the module behaves; never its command table
    imei: str
    network: NetworkProfile = field(default_factory=NetworkProfile)
    faults: Faults = field(default_factory=Faults)
    carrier: Network = field(default_factory=LocalNetwork)
    now: float = 0.0
    # settings that ATZ restores
    echo: bool = True
    verbose: bool = True
    cmee: int = 0
    x_level: int = 4
    dcd_mode: int = 1
    dtr_mode: int = 2
    creg_n: int = 0
    cgreg_n: int = 0
    cereg_n: int = 0
    cops_format: int = 0
    cgerep: int = 0
    charset: str = "IRA"
    s_registers: dict[int, int] = field(default_factory=dict)
    sms: SmsSettings = field(default_factory=SmsSettings)
    # state that a reboot restores
    cfun: int = 1
    cops_deregistered: bool = False
    ps_attach_wanted: bool = True
    busy_until: float = 0.0
    data_mode: bool = False
    data_cid: int | None = None
    data_bytes_up: int = 0
    contexts: dict[int, PdpContext] = field(default_factory=dict)
    session_open: bool = False
    meter: TrafficMeter = field(init=False)
    urcs: list[str] = field(default_factory=list)  # network-initiated URCs to send
    held_urcs: list[str] = field(default_factory=list)  # sent inside the next answer
    counter_base: TrafficCounters = field(default_factory=TrafficCounters)  # vendor counters
    session_base: TrafficCounters = field(default_factory=TrafficCounters)
    _ready_at: float | None = None
    _outcome: AttachOutcome | None = None
    _retry_at: float | None = None
    _attach_failures: int = 0

    def __post_init__(self) -> None:
        self.cmee = self.dialect.cmee_default
        if not self.contexts:
            self.contexts[1] = PdpContext("IP", "")
        profile = self.carrier.traffic  # no metering network: a meter that never moves
        self.meter = TrafficMeter(profile or TrafficProfile(rate_up=0.0, rate_down=0.0))

    def reset_settings(self) -> None:
        """ATZ / AT&F: the user profile's defaults (not the radio, card or contexts)."""
        self.echo = True
        self.verbose = True
        self.cmee = self.dialect.cmee_default
        self.x_level = 4
        self.dcd_mode = 1
        self.dtr_mode = 2
        self.creg_n = self.cgreg_n = self.cereg_n = 0
        self.cops_format = 0
        self.cgerep = 0
        self.charset = "IRA"
        self.s_registers.clear()
        self.sms.reset()

    def power_cycle(self) -> None:
        """A reboot: defaults, radio on, the card re-powered, contexts down, data mode over."""
        self.reset_settings()
        self.cfun = 1
        self.cops_deregistered = False
        self.ps_attach_wanted = True
        self.busy_until = 0.0
        self.data_mode = False
        self.data_cid = None
        self.deactivate()
        self._forget_registration()
        self.urcs.clear()
        self.held_urcs.clear()
        self.counter_base = self.meter.moved_until(self.now)  # a reboot zeroes the counters
        self.card.power_on()

    def sim_busy(self) -> bool:
        """True inside the SIM-busy window that follows an unlock."""
        return self.now < self.busy_until

    def sim_locked_error(self) -> int | None:
        """The `+CME ERROR` code for a card that is not usable, or None when READY."""
        state = self.card.state
        if state is CardState.BLOCKED:
            return 13  # SIM failure: what modules answer for a card with no PUK tries left
        if state is CardState.SIM_PUK:
            return 12
        if state is CardState.SIM_PIN:
            return 11
        return None

    def unlocked(self) -> None:
        """Called after a PIN or PUK is accepted: opens the SIM-busy window (the fault's
        length, else the dialect's) and queues the dialect's SIM-ready URCs."""
        busy = self.faults.busy_after_unlock or self.dialect.busy_after_unlock
        self.busy_until = self.now + busy
        queue = self.held_urcs if self.dialect.urcs_before_ok else self.urcs
        queue.extend(self.dialect.unlock_urcs)

    def data_counters(self) -> tuple[TrafficCounters, TrafficCounters]:
        """(since the counters were reset, this session): what vendor counters report."""
        moved = self.meter.moved_until(self.now)
        since_reset = TrafficCounters(
            moved.up - self.counter_base.up, moved.down - self.counter_base.down
        )
        if not self.session_open:
            return since_reset, TrafficCounters()
        session = TrafficCounters(
            moved.up - self.session_base.up, moved.down - self.session_base.down
        )
        return since_reset, session

    def reset_data_counters(self) -> None:
        """Zero the vendor data counters (`AT+QGDCNT=0`)."""
        self.counter_base = self.meter.moved_until(self.now)

    def cs_stat(self) -> int:
        """The circuit-switched registration status (`+CREG`), advancing the search."""
        can_register = (
            self.cfun == 1 and not self.cops_deregistered and self.card.state is CardState.READY
        )
        if not can_register:
            self._forget_registration()
            stat = NOT_REGISTERED
        else:
            if self._ready_at is None:
                self._ready_at = self.now + self.network.register_delay
            if self.now < self._ready_at:
                stat = SEARCHING
            else:
                outcome = self._outcome
                retry_due = self._retry_at is not None and self.now >= self._retry_at
                if outcome is None or (outcome is AttachOutcome.SEARCHING and retry_due):
                    outcome = self._ask_carrier()
                stat = int(outcome)
        if stat not in REGISTERED:
            self.deactivate()
        return stat

    def _ask_carrier(self) -> AttachOutcome:
        outcome = self.carrier.attach(self.card.iccid, self.card.imsi, self.imei)
        self._outcome = outcome
        if outcome is AttachOutcome.SEARCHING:
            self._schedule_retry()
        else:
            self._attach_failures = 0
            self._retry_at = None
        return outcome

    def _schedule_retry(self) -> None:
        net = self.network
        wait = min(net.attach_retry * 2**self._attach_failures, net.attach_retry_max)
        self._attach_failures = min(self._attach_failures + 1, 32)
        self._retry_at = self.now + wait

    def _forget_registration(self) -> None:
        self._ready_at = None
        self._outcome = None
        self._retry_at = None
        self._attach_failures = 0

    def ps_stat(self) -> int:
        """The packet-switched registration status (`+CGREG`, `+CEREG`)."""
        stat = self.cs_stat()
        if not self.ps_attach_wanted and stat in REGISTERED:
            return NOT_REGISTERED
        return stat

    def network_changed(self) -> None:
        """The carrier may answer differently now: drop the registration and search again."""
        self._forget_registration()
        self.cs_stat()

    def lose_coverage(self) -> None:
        """The network stopped answering: its session is gone, the modem searches and asks
        again after a backoff."""
        self.end_session_by_network()
        if self._ready_at is None:
            self._ready_at = self.now
        self._outcome = AttachOutcome.SEARCHING
        self._schedule_retry()
        self.cs_stat()

    def registration_deadline(self) -> float | None:
        """When the search in progress ends (or an unreachable network is asked again)."""
        if self._ready_at is not None and self.now < self._ready_at:
            return self._ready_at
        if self._outcome is AttachOutcome.SEARCHING:
            return self._retry_at
        return None

    def activate(self, cids: Iterable[int]) -> None:
        """Activate contexts; the first opens the data session (`CmeError` if refused)."""
        if not self.session_open:
            answer = self.carrier.open_session(self.card.iccid)
            if answer.verdict is Verdict.REFUSED:
                logger.info("the network refused a data session: %s", answer.reason)
                raise CmeError(SERVICE_NOT_SUBSCRIBED)
            if not answer.accepted:
                logger.warning("the network did not answer a session request: no coverage")
                self.lose_coverage()
                raise CmeError(NO_NETWORK_SERVICE)
            self.session_open = True
            self.meter.start(self.now)
            self.session_base = self.meter.moved_until(self.now)
        for cid in cids:
            self.contexts[cid].active = True

    def deactivate(self, cids: Iterable[int] | None = None) -> None:
        """Deactivate contexts (all by default); the last one closes the data session."""
        for cid in self.contexts if cids is None else cids:
            self.contexts[cid].active = False
        if self.session_open and not any(c.active for c in self.contexts.values()):
            self.session_open = False
            report = self.meter.take(self.now)
            if self.carrier.traffic is not None and report and (report.up or report.down):
                answer = self.carrier.report_traffic(self.card.iccid, report.up, report.down)
                self.meter.settle(report, answer)
            self.meter.stop()
            if not self.carrier.close_session(self.card.iccid).reached:
                logger.info("the network did not answer the end of the data session")

    def end_session_by_network(self) -> None:
        """The network ended the data session: every context drops, with `+CGEV` URCs."""
        for cid, context in sorted(self.contexts.items()):
            if context.active:
                context.active = False
                if self.cgerep:
                    self.urcs.append(f"+CGEV: NW PDN DEACT {cid}")
        self.session_open = False
        self.meter.stop()

    def registered(self) -> bool:
        """True when registered (home or roaming) and attached for packet data."""
        return self.ps_stat() in REGISTERED

    def pdp_address(self, cid: int) -> str:
        """The address the network gives the SIM, else a fixed one per context."""
        return self.carrier.address(self.card.iccid) or f"10.64.{cid // 256}.{cid % 256 + 1}"
