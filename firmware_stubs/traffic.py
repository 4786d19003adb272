"""The traffic the network measures in a data session, and what it has counted.

Theory of the books. While a session is up, traffic accrues at a steady rate (plus the
bytes the host writes in data mode). The stub's ticker takes what accrued since the
last report and sends it to the network; the local counters count only what the
network *accepted*, so they match the network's books. A report that surely did not
reach the network (no connection, a 5xx answer) is carried into the next one; a report
that was sent but got no answer may or may not have been counted: it is never resent
(that could count it twice) and is kept aside as `unconfirmed`. A refused report ends
the session; its bytes were not carried, so they are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from firmware_stubs.network import NetworkAnswer, TrafficProfile, Verdict


@dataclass
class TrafficCounters:
    """Bytes up and down."""

    up: int = 0
    down: int = 0

    @property
    def total(self) -> int:
        """Up plus down."""
        return self.up + self.down

    def add(self, up: int, down: int) -> None:
        """Count more bytes."""
        self.up += up
        self.down += down


@dataclass(frozen=True)
class TrafficReport:
    """Bytes taken from the meter for one report, and the session they belong to."""

    session: int
    up: int
    down: int


@dataclass
class TrafficMeter:
    """Meters the current session (sans-I/O: the caller passes the time)."""

    profile: TrafficProfile = field(default_factory=TrafficProfile)
    session: int = 0  # rises by one per session
    active: bool = False
    current: TrafficCounters = field(default_factory=TrafficCounters)  # accepted, this session
    total: TrafficCounters = field(default_factory=TrafficCounters)  # accepted, every session
    unconfirmed: TrafficCounters = field(default_factory=TrafficCounters)  # sent, no answer
    failures: int = 0  # reports in a row that did not reach the network
    moved: TrafficCounters = field(default_factory=TrafficCounters)  # what the modem moved
    _since: float = 0.0
    _fraction: tuple[float, float] = (0.0, 0.0)
    _carry: TrafficCounters = field(default_factory=TrafficCounters)

    def start(self, now: float) -> None:
        """A session starts: its counters restart."""
        self.session += 1
        self.active = True
        self.current = TrafficCounters()
        self.failures = 0
        self._since = now
        self._fraction = (0.0, 0.0)
        self._carry = TrafficCounters()

    def stop(self) -> None:
        """The session is over: bytes not yet reported are never reported."""
        self.active = False
        self._carry = TrafficCounters()

    def add_up(self, count: int) -> None:
        """The host sent `count` bytes (data mode)."""
        if self.active:
            self._carry.up += count
            self.moved.up += count

    def take(self, now: float) -> TrafficReport | None:
        """What accrued (and was carried) until `now`, for a report; None with no session."""
        if not self.active:
            return None
        elapsed = max(0.0, now - self._since)
        self._since = max(self._since, now)
        up = self._fraction[0] + self.profile.rate_up * elapsed
        down = self._fraction[1] + self.profile.rate_down * elapsed
        self._fraction = (up - int(up), down - int(down))
        self.moved.add(int(up), int(down))
        report = TrafficReport(self.session, self._carry.up + int(up), self._carry.down + int(down))
        self._carry = TrafficCounters()
        return report

    def moved_until(self, now: float) -> TrafficCounters:
        """What the modem moved, every session, counting what accrued since the last
        report (no side effect): the modem's own data counters read this."""
        up = down = 0
        if self.active:
            elapsed = max(0.0, now - self._since)
            up = int(self._fraction[0] + self.profile.rate_up * elapsed)
            down = int(self._fraction[1] + self.profile.rate_down * elapsed)
        return TrafficCounters(self.moved.up + up, self.moved.down + down)

    def settle(self, report: TrafficReport, answer: NetworkAnswer) -> None:
        """Book a report by the network's answer (see the module's theory)."""
        same = report.session == self.session
        if answer.verdict is Verdict.ACCEPTED:
            self.total.add(report.up, report.down)
            if same:
                self.current.add(report.up, report.down)
        elif answer.verdict is Verdict.NOT_DELIVERED:
            if same and self.active:
                self._carry.add(report.up, report.down)
        elif answer.verdict is Verdict.UNANSWERED:
            self.unconfirmed.add(report.up, report.down)
        if answer.reached:
            self.failures = 0
        elif same:
            self.failures += 1
