"""A modem that replays a recorded transcript (`agent/transcript.py`'s JSON Lines).

Theory. A transcript is the agent's side of a conversation: each command it sent, with
the answer it got and how long that took, and the URCs and restart banners between.
Replay answers commands *in order*: the next command must match the next recorded one
(ignoring case; a recorded `****` matches any 4-8 digit secret, so `AT+CPIN="****"`
takes whatever PIN the test holds). The agent is deterministic given the answers, so
the same agent commands send the same lines. A command that does not match, or comes
after the transcript ended, is answered `ERROR`, logged as an error and kept in
`failures`; the position does not move, so the next right command still plays.

Timing: an answer goes out `took × speed` seconds after its command (0 for at once).
URCs recorded while a command was pending go out before its final result; those
recorded after it, right after its answer. A command recorded as timed out, or whose
answer was lost, gets no answer at all, as on the bench. The modem never echoes.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from firmware_stubs.at_syntax import mask_secrets
from firmware_stubs.pty_server import StubModem
from firmware_stubs.replies import format_final, format_info

logger = logging.getLogger(__name__)

CR = 0x0D
SECRET_SHAPE = r"[0-9]{4,8}"  # noqa: S105 (a pattern, not a password)


class TranscriptError(ValueError):
    """The transcript file cannot be read (names the line)."""


class TranscriptMismatch(AssertionError):
    """The agent sent commands the transcript does not cover."""


@dataclass(frozen=True)
class Event:
    """A URC or a restart banner, as recorded."""

    t: float
    line: str
    reboot: bool = False


@dataclass
class Exchange:
    """One recorded command and what the modem did."""

    t: float
    send: str
    lines: tuple[str, ...]
    result: str | None  # None: timed out or lost: no answer
    took: float
    during: list[Event] = field(default_factory=list)
    after: list[Event] = field(default_factory=list)

    def matches(self, line: str) -> bool:
        """True when `line` is this command, secrets of the right shape standing in."""
        pattern = re.escape(self.send).replace(re.escape("****"), SECRET_SHAPE)
        return re.fullmatch(pattern, line.strip(), re.IGNORECASE) is not None


def _number(event: dict[str, object], key: str, where: str) -> float:
    value = event.get(key, 0.0)
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise TranscriptError(f"{where}: {key!r} is not a number of seconds")
    return float(value)


def load_transcript(path: Path) -> list[Exchange]:
    """The exchanges of a transcript file, URCs attached; `TranscriptError` if bad."""
    exchanges: list[Exchange] = []
    events: list[Event] = []
    offset = 0.0  # sessions restart their clocks; keep one time line
    last = 0.0
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TranscriptError(f"cannot read transcript {path}: {exc}") from exc
    for number, raw in enumerate(text.splitlines(), 1):
        where = f"{path}:{number}"
        if not raw.strip():
            continue
        try:
            event = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise TranscriptError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(event, dict):
            raise TranscriptError(f"{where}: not a JSON object")
        if event.get("transcript") is not None:
            if event.get("version") != 1:
                raise TranscriptError(f"{where}: unknown transcript version")
            offset = last
            continue
        t = offset + _number(event, "t", where)
        last = max(last, t)
        if isinstance(event.get("send"), str):
            lines = event.get("lines", [])
            result = event.get("result")
            if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
                raise TranscriptError(f"{where}: 'lines' is not a list of strings")
            if result is not None and not isinstance(result, str):
                raise TranscriptError(f"{where}: 'result' is not a string")
            took = _number(event, "took", where)
            exchanges.append(Exchange(t, event["send"], tuple(lines), result, took))
            last = max(last, t + took)
        elif isinstance(event.get("urc"), str):
            events.append(Event(t, event["urc"]))
        elif isinstance(event.get("reboot"), str):
            events.append(Event(t, event["reboot"], reboot=True))
        else:
            raise TranscriptError(f"{where}: neither a command, a URC nor a restart")
    _attach(exchanges, events)
    return exchanges


def _attach(exchanges: list[Exchange], events: list[Event]) -> None:
    """Give each URC to the exchange it was recorded during or after."""
    exchanges.sort(key=lambda e: e.t)
    leading: list[Event] = []
    for event in sorted(events, key=lambda e: e.t):
        owner = None
        for exchange in exchanges:
            if exchange.t <= event.t:
                owner = exchange
            else:
                break
        if owner is None:
            leading.append(event)
        elif event.t <= owner.t + owner.took:
            owner.during.append(event)
        else:
            owner.after.append(event)
    if exchanges:
        exchanges[0].during[:0] = leading


class ReplayModem:
    """A sans-I/O modem that answers from a transcript (the `Interpreter` interface)."""

    def __init__(
        self,
        exchanges: list[Exchange],
        *,
        speed: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed < 0:
            raise ValueError("the replay speed factor must not be negative")
        self._exchanges = exchanges
        self._next = 0
        self._speed = speed
        self._clock = clock
        self._line = bytearray()
        self._pending: tuple[float, bytes] | None = None
        self._backlog = bytearray()
        self.data_mode = False
        self.failures: list[str] = []

    @classmethod
    def from_file(cls, path: Path, *, speed: float = 1.0) -> ReplayModem:
        """A replay of the transcript at `path`."""
        return cls(load_transcript(path), speed=speed)

    @property
    def remaining(self) -> int:
        """Recorded commands not yet played."""
        return len(self._exchanges) - self._next

    def check(self) -> None:
        """Raise `TranscriptMismatch` if any command was not covered."""
        if self.failures:
            raise TranscriptMismatch("; ".join(self.failures))

    def receive_data(self, data: bytes) -> bytes:
        """Feed the host's bytes; returns what the modem sends back now."""
        out = bytearray(self.poll())
        if self._pending is not None or self.data_mode:
            if not self.data_mode:
                self._backlog += data
            return bytes(out)
        for index, byte in enumerate(data):
            if byte == CR:
                self._execute(out)
                if self._pending is not None:
                    self._backlog += data[index + 1 :]
                    break
            elif byte >= 0x20:
                self._line.append(byte)
        return bytes(out)

    def poll(self) -> bytes:
        """Send a held answer whose time has come."""
        if self._pending is None or self._clock() < self._pending[0]:
            return b""
        out = bytearray(self._pending[1])
        self._pending = None
        backlog = bytes(self._backlog)
        self._backlog.clear()
        out += self.receive_data(backlog) if backlog else b""
        return bytes(out)

    def next_deadline(self) -> float | None:
        """When `poll` has an answer to send."""
        return self._pending[0] if self._pending is not None else None

    def host_closed(self) -> None:
        """The host closed the port: a data call ends; a partial line is dropped."""
        self.data_mode = False
        self._line.clear()

    def reboot(self) -> bytes:
        """A restart on request: the banner."""
        self._pending = None
        return format_info("RDY", True)

    def network_changed(self) -> bytes:
        """Nothing: the transcript is the network."""
        return b""

    def shutdown(self) -> None:
        """Log how much of the transcript was not played."""
        if self.remaining:
            logger.info("replay stopped with %d recorded commands not played", self.remaining)

    def _execute(self, out: bytearray) -> None:
        text = self._line.decode("latin-1").strip()
        self._line.clear()
        if not text:
            return
        if self._next >= len(self._exchanges):
            self._fail(out, f"{mask_secrets(text)} after the transcript ended")
            return
        exchange = self._exchanges[self._next]
        if not exchange.matches(text):
            self._fail(out, f"{mask_secrets(text)} where the transcript has {exchange.send}")
            return
        self._next += 1
        answer = bytearray()
        for event in exchange.during:
            answer += format_info(event.line, True)
        if exchange.result is not None:
            for line in exchange.lines:
                answer += format_info(line, True)
            answer += format_final(exchange.result, True)
            self.data_mode = exchange.result.upper().startswith("CONNECT")
        for event in exchange.after:
            answer += format_info(event.line, True)
        delay = exchange.took * self._speed
        if delay > 0 and exchange.result is not None:
            self._pending = (self._clock() + delay, bytes(answer))
        else:
            out += answer

    def _fail(self, out: bytearray, message: str) -> None:
        logger.error("replay: the transcript does not cover %s", message)
        self.failures.append(message)
        out += format_final("ERROR", True)


@contextmanager
def replay_stub(path: Path, *, speed: float = 0.0) -> Iterator[StubModem]:
    """Serve the transcript at `path` on a pty; on leaving, `TranscriptMismatch` if the
    agent sent a command the transcript does not cover."""
    device = ReplayModem.from_file(path, speed=speed)
    with StubModem(device=device) as stub:
        yield stub
    device.check()
