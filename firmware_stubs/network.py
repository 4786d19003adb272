"""The radio network's side: attaches, data sessions and the traffic it measures.

A real network decides whether a SIM may register (home, roaming, or rejected), not the
modem. The stub asks a `Network` once per registration search (when the search ends)
and keeps the answer until registration is lost or `network_changed()` starts a new
search. While a PDP context is active the network holds a data session for the SIM; it
may meter its traffic (`traffic` says at what rate and how often) and end the session
by refusing a traffic report.

Two networks plug in here: `LocalNetwork` (in-process, steered by tests) and
`firmware_stubs.emulator_network.EmulatorNetwork` (the emulator decides, over HTTP).
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class TrafficProfile:
    """How much traffic a session moves and how often the network reports it."""

    rate_up: float = 500.0  # bytes per second
    rate_down: float = 2000.0
    interval: float = 5.0  # seconds between reports
    lost_after: int = 3  # reports in a row that get no answer before coverage is lost

    def __post_init__(self) -> None:
        if self.rate_up < 0 or self.rate_down < 0:
            raise ValueError("traffic rates must not be negative")
        if not self.interval > 0:
            raise ValueError("the traffic report interval must be positive")
        if self.lost_after < 1:
            raise ValueError("lost_after must be at least 1")


class AttachOutcome(enum.IntEnum):
    """What the network answers to an attach, as the registration `<stat>` it leads to.

    `SEARCHING` means no answer came (no coverage: the network could not be reached);
    the modem keeps searching and asks again later, with backoff.
    """

    HOME = 1
    SEARCHING = 2
    DENIED = 3
    ROAMING = 5

    @property
    def registered(self) -> bool:
        """True when the SIM may use the network (home or roaming)."""
        return self in (AttachOutcome.HOME, AttachOutcome.ROAMING)


class Verdict(enum.Enum):
    """How a session or traffic request to the network ended."""

    ACCEPTED = "accepted"
    REFUSED = "refused"  # the network answered no (`reason` says why)
    NOT_DELIVERED = "not_delivered"  # it surely did not act on it (no connection, 5xx)
    UNANSWERED = "unanswered"  # sent, but no answer came: it may or may not have acted


@dataclass(frozen=True)
class NetworkAnswer:
    """The network's answer to a session change or a traffic report."""

    verdict: Verdict
    reason: str | None = None
    session_cut: bool = False  # a traffic report was counted and ended the session

    @property
    def accepted(self) -> bool:
        """True when the network accepted (and, for traffic, counted) the request."""
        return self.verdict is Verdict.ACCEPTED

    @property
    def reached(self) -> bool:
        """True when the network gave an answer (yes or no)."""
        return self.verdict in (Verdict.ACCEPTED, Verdict.REFUSED)


ACCEPTED = NetworkAnswer(Verdict.ACCEPTED)


class Network(Protocol):
    """The carrier; called from the stub's serving thread and its traffic ticker."""

    @property
    def traffic(self) -> TrafficProfile | None:
        """The traffic the network meters in a session, or None for no traffic reports."""
        ...

    def attach(self, iccid: str, imsi: str, imei: str) -> AttachOutcome:
        """The outcome of an attach by the card `iccid` / `imsi` in the device `imei`."""
        ...

    def address(self, iccid: str) -> str | None:
        """The IP address the network gives the SIM, or None to let the modem pick one."""
        ...

    def open_session(self, iccid: str) -> NetworkAnswer:
        """A PDP context goes up: may the SIM have a data session?"""
        ...

    def close_session(self, iccid: str) -> NetworkAnswer:
        """The last PDP context went down: the session ends."""
        ...

    def report_traffic(self, iccid: str, up: int, down: int) -> NetworkAnswer:
        """The network measured `up`/`down` bytes in the SIM's session since the last
        report; a refusal ends the session."""
        ...


class LocalNetwork:
    """A network in-process: every SIM gets `outcome`, which tests may change live.

    After changing it, call `StubModem.network_changed()` (or
    `Interpreter.network_changed()`) so the modem searches again and reports the new
    registration state, with URCs where they are enabled. Sessions are accepted unless
    `session_refusal` names a reason; traffic reports (made only with a `traffic`
    profile) are accepted and recorded in `reports` unless `traffic_refusal` names one.
    """

    def __init__(
        self, outcome: AttachOutcome = AttachOutcome.HOME, traffic: TrafficProfile | None = None
    ) -> None:
        self._lock = threading.Lock()
        self._outcome = outcome
        self._traffic = traffic
        self.attempts: list[tuple[str, str]] = []
        self.sessions: list[tuple[str, bool]] = []
        self.reports: list[tuple[str, int, int]] = []
        self.session_refusal: str | None = None
        self.traffic_refusal: str | None = None

    @property
    def traffic(self) -> TrafficProfile | None:
        """The traffic metered in a session (None: no reports)."""
        return self._traffic

    @property
    def outcome(self) -> AttachOutcome:
        """What the next attach gets."""
        with self._lock:
            return self._outcome

    @outcome.setter
    def outcome(self, value: AttachOutcome) -> None:
        with self._lock:
            self._outcome = value

    def attach(self, iccid: str, imsi: str, imei: str = "") -> AttachOutcome:
        """Record the attempt and answer `outcome`."""
        with self._lock:
            self.attempts.append((iccid, imsi))
            return self._outcome

    def address(self, iccid: str) -> str | None:
        """None: the modem's own fixed addresses."""
        return None

    def open_session(self, iccid: str) -> NetworkAnswer:
        """Accepted unless `session_refusal` is set."""
        with self._lock:
            if self.session_refusal is not None:
                return NetworkAnswer(Verdict.REFUSED, self.session_refusal)
            self.sessions.append((iccid, True))
            return ACCEPTED

    def close_session(self, iccid: str) -> NetworkAnswer:
        """Recorded and accepted."""
        with self._lock:
            self.sessions.append((iccid, False))
            return ACCEPTED

    def report_traffic(self, iccid: str, up: int, down: int) -> NetworkAnswer:
        """Recorded and accepted unless `traffic_refusal` is set."""
        with self._lock:
            if self.traffic_refusal is not None:
                return NetworkAnswer(Verdict.REFUSED, self.traffic_refusal)
            self.reports.append((iccid, up, down))
            return ACCEPTED
