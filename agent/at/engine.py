"""The sans-I/O AT engine: fed the modem's bytes, it yields what they mean.

The engine never reads or writes a port. `send()` turns a `Command` into the bytes to
write; `receive_data()` takes whatever bytes arrived and returns events. It holds one
command in flight at most.

Theory of line classification. A modem's output is a stream of lines; what a line *is*
depends on what we are waiting for, not on how it looks:

- With nothing pending, every complete line is unsolicited (a URC), even `+CSQ: 20,99`.
- With a command pending, the first line equal to the command text is its echo; a final
  result line ends the command. The final results are those ModemManager's serial parser
  (`mm-serial-parsers.c`) accepts: `OK`, `CONNECT[ <text>]`, `+CME ERROR: <n|text>`,
  `+CMS ERROR: <n|text>`, `NO CARRIER`, `BUSY`, `NO ANSWER`, `NO DIALTONE`, any line
  starting `ERROR`, and the vendor words `COMMAND NOT SUPPORT` (an error), `MODEM ERROR: <n>`
  (Motorola; an unknown ME error) and `NA` (Samsung; "not allowed", CME 3); after `ATV0`
  the digit codes. A word the engine does not know must not leave a command waiting for
  its timeout: while a command whose answer has only `+NAME:` lines is pending, a bare line
  in the shape of a result word (capitals, spaces, an optional `: detail`) ends it as an
  `ERROR` carrying that text; commands that answer bare lines (`ATI`, `+CGSN`, `+CMGL`
  PDUs, see `BARE_ANSWERS`) keep such lines as their answer. A `+NAME:` line belongs to
  the command when `NAME` is one of the prefixes the command answers with, and is a URC
  otherwise; a line with no `+NAME:`
  prefix belongs to the command (`ATI`, `+CGSN`, `+CIMI` answer bare lines), except a
  reboot banner, which abandons the command, and the few bare URCs (`RING`, `SMS Ready`).
- After `> ` arrives for a command that asked for a prompt, the engine reports `Prompt`.
- A command abandoned after its timeout still owes a final result. The engine counts
  what it is owed and swallows that many final results (`LateResult`), and the
  information lines before them, before taking anything for the next command; otherwise
  every later answer would be matched to the command before it. A late `CONNECT` puts the
  engine in data mode: the modem is there, whatever we expected. `forgive()` clears the
  debt once the line is known to be quiet.
- After `CONNECT` the port carries data, not lines: bytes are passed through as `Data`
  until the transport says the call is over (`leave_data_mode()`).

Lines end with CR, LF, or any run of them (`\\r\\n`, `\\r\\r\\n`, a bare `\\n`); empty
lines are dropped. A line longer than `max_line` is dropped whole and reported as
`Garbage`, so memory stays bounded whatever the modem sends; so is a line that is not
printable ASCII/UTF-8 text.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from agent.at.cme_errors import cme_code_for_text, cms_code_for_text
from agent.at.commands import Command
from agent.at.errors import EngineStateError

DEFAULT_MAX_LINE = 4096

REBOOT_BANNERS = frozenset({"RDY", "START", "^SYSSTART", "+SYSSTART", "SYSSTART"})
# Unsolicited lines without a `+NAME:` prefix that modules send at any time.
BARE_URCS = frozenset({"RING", "CALL READY", "SMS READY", "SMS DONE", "PB DONE"})


class ResultKind(enum.Enum):
    """The kinds of final result code of ITU-T V.250 and 3GPP TS 27.007/27.005."""

    OK = "OK"
    ERROR = "ERROR"
    CME_ERROR = "+CME ERROR"
    CMS_ERROR = "+CMS ERROR"
    CONNECT = "CONNECT"
    NO_CARRIER = "NO CARRIER"
    BUSY = "BUSY"
    NO_ANSWER = "NO ANSWER"
    NO_DIALTONE = "NO DIALTONE"


@dataclass(frozen=True, slots=True)
class FinalResult:
    """The modem's verdict on a command; errors are values here, never exceptions."""

    kind: ResultKind
    code: int | None = None
    text: str = ""

    @property
    def ok(self) -> bool:
        """True for `OK` and `CONNECT`: the command did what was asked."""
        return self.kind in (ResultKind.OK, ResultKind.CONNECT)

    def __str__(self) -> str:
        if self.kind in (ResultKind.CME_ERROR, ResultKind.CMS_ERROR):
            detail = " ".join(p for p in (str(self.code or ""), self.text) if p)
            return f"{self.kind.value}: {detail}"
        return f"{self.kind.value} {self.text}".rstrip()


@dataclass(frozen=True, slots=True)
class Response:
    """A command's complete answer: its information lines and its final result."""

    command: Command
    lines: tuple[str, ...]
    result: FinalResult


@dataclass(frozen=True, slots=True)
class Urc:
    """An unsolicited result code: a line the modem sent of its own accord."""

    line: str


@dataclass(frozen=True, slots=True)
class Prompt:
    """The `> ` prompt: the modem waits for a payload ended by Ctrl-Z."""


@dataclass(frozen=True, slots=True)
class Reboot:
    """A boot banner arrived: the modem restarted; any pending command is lost."""

    banner: str
    abandoned: Command | None


@dataclass(frozen=True, slots=True)
class Garbage:
    """Bytes that are not a line of text, or a line past the length bound (truncated)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class LateResult:
    """A final result owed to a command abandoned after its timeout, now swallowed."""

    result: FinalResult


@dataclass(frozen=True, slots=True)
class Data:
    """Bytes received in data mode (after `CONNECT`)."""

    data: bytes


Event = Response | Urc | Prompt | Reboot | Garbage | Data | LateResult


class State(enum.StrEnum):
    """Where the engine is in a command's life-cycle."""

    IDLE = "idle"
    AWAITING = "awaiting"
    PROMPT = "prompt"
    DATA = "data"


class Trigger(enum.StrEnum):
    """What can move the engine from one state to another."""

    SEND = "send"
    PROMPT = "prompt"
    PAYLOAD = "payload"
    FINAL = "final"
    CONNECT = "connect"
    REBOOT = "reboot"
    ABANDON = "abandon"
    HANG_UP = "hang up"


TRANSITIONS: dict[State, dict[Trigger, State]] = {
    State.IDLE: {
        Trigger.SEND: State.AWAITING,
        Trigger.REBOOT: State.IDLE,
        Trigger.CONNECT: State.DATA,
    },
    State.AWAITING: {
        Trigger.PROMPT: State.PROMPT,
        Trigger.FINAL: State.IDLE,
        Trigger.CONNECT: State.DATA,
        Trigger.REBOOT: State.IDLE,
        Trigger.ABANDON: State.IDLE,
    },
    State.PROMPT: {
        Trigger.PAYLOAD: State.AWAITING,
        Trigger.FINAL: State.IDLE,
        Trigger.CONNECT: State.DATA,
        Trigger.REBOOT: State.IDLE,
        Trigger.ABANDON: State.IDLE,
    },
    State.DATA: {Trigger.HANG_UP: State.IDLE, Trigger.ABANDON: State.IDLE},
}

NUMERIC_RESULTS: dict[str, ResultKind] = {
    "0": ResultKind.OK,
    "1": ResultKind.CONNECT,
    "3": ResultKind.NO_CARRIER,
    "4": ResultKind.ERROR,
    "6": ResultKind.NO_DIALTONE,
    "7": ResultKind.BUSY,
    "8": ResultKind.NO_ANSWER,
}

_PLAIN_RESULTS = {
    kind.value: kind
    for kind in (
        ResultKind.OK,
        ResultKind.ERROR,
        ResultKind.NO_CARRIER,
        ResultKind.BUSY,
        ResultKind.NO_ANSWER,
        ResultKind.NO_DIALTONE,
    )
}
_PREFIX = re.compile(r"^([+^%$#*][A-Z0-9_]+):", re.IGNORECASE)
# A bare line shaped like a result code: capitals and spaces, maybe `: detail` after.
_RESULT_WORD = re.compile(r"[A-Z][A-Z _-]*[A-Z](?:: ?[ -~]*)?")
# Vendor error words ModemManager's serial parser accepts besides 27.007's.
CME_UNKNOWN, CME_NOT_ALLOWED = 100, 3
_VENDOR_ERROR = "COMMAND NOT SUPPORT"
_MODEM_ERROR = "MODEM ERROR:"
_LINE_END = re.compile(rb"[\r\n]+")


_ERROR_RESULTS = (
    ("+CME ERROR:", ResultKind.CME_ERROR, cme_code_for_text),
    ("+CMS ERROR:", ResultKind.CMS_ERROR, cms_code_for_text),
)


def parse_final_result(line: str, *, numeric: bool = False) -> FinalResult | None:
    """The final result `line` stands for, or None when it is not one."""
    return _final_result(line, line.upper(), numeric)


def _final_result(line: str, upper: str, numeric: bool) -> FinalResult | None:
    if numeric and line in NUMERIC_RESULTS:
        return FinalResult(NUMERIC_RESULTS[line])
    plain = _PLAIN_RESULTS.get(upper)
    if plain is not None:
        return FinalResult(plain)
    if upper.startswith("CONNECT") and (len(upper) == 7 or upper[7] == " "):
        return FinalResult(ResultKind.CONNECT, text=line[8:].strip())
    if upper.startswith("+CM"):
        for prefix, kind, lookup in _ERROR_RESULTS:
            if upper.startswith(prefix):
                detail = line[len(prefix) :].strip()
                if detail.isdigit():
                    return FinalResult(kind, int(detail))
                return FinalResult(kind, lookup(detail), detail)
    if upper.startswith("ERROR"):
        return FinalResult(ResultKind.ERROR, text=line[5:].strip(" :"))
    if upper == _VENDOR_ERROR:
        return FinalResult(ResultKind.ERROR, text=line)
    if upper.startswith(_MODEM_ERROR):
        return FinalResult(ResultKind.CME_ERROR, CME_UNKNOWN, line)
    if upper == "NA":
        return FinalResult(ResultKind.CME_ERROR, CME_NOT_ALLOWED, line)
    return None


def line_prefix(line: str) -> str | None:
    """`+CREG` for `+CREG: 1,5`; None for a line without a `+NAME:` prefix."""
    match = _PREFIX.match(line)
    return match.group(1).upper() if match else None


@dataclass
class AtEngine:
    """The AT conversation with one modem port, as a pure state machine."""

    max_line: int = DEFAULT_MAX_LINE
    numeric_results: bool = False
    state: State = State.IDLE
    _pending: Command | None = None
    _lines: list[str] = field(default_factory=list)
    _buffer: bytearray = field(default_factory=bytearray)
    _discarding: bool = False
    _echo_seen: bool = False
    _swallow_lf: bool = False
    _owed: int = 0
    _data_mode: bool = False
    late_results: int = 0

    @property
    def pending(self) -> Command | None:
        """The command in flight, if any."""
        return self._pending

    @property
    def in_data_mode(self) -> bool:
        """True after `CONNECT`, until `leave_data_mode()`."""
        return self._data_mode

    def _move(self, trigger: Trigger) -> None:
        try:
            self.state = TRANSITIONS[self.state][trigger]
            self._data_mode = self.state is State.DATA
        except KeyError:
            raise EngineStateError(
                f"cannot {trigger.value} while {self.state.value}"
                + (f" ({self._pending.masked})" if self._pending else "")
            ) from None

    def send(self, command: Command) -> bytes:
        """Start `command`; returns the bytes to write. One command in flight at most."""
        try:
            wire = command.line.encode("ascii") + b"\r"
        except UnicodeEncodeError:
            raise EngineStateError(f"{command.masked} is not ASCII; not sent") from None
        self._move(Trigger.SEND)
        self._pending = command
        self._lines = []
        self._echo_seen = False
        if command.sets_numeric_results is not None:
            self.numeric_results = command.sets_numeric_results
        return wire

    def send_payload(self, payload: bytes) -> bytes:
        """After a `Prompt`: the payload and its Ctrl-Z terminator, to write."""
        self._move(Trigger.PAYLOAD)
        return payload + b"\x1a"

    def abandon(self, *, owes_result: bool = True) -> Command | None:
        """Give up on the pending command (timeout, cancellation); returns it.

        The command still owes its final result (`owes_result`), unless it never reached
        the modem (its write failed). Its late answer is swallowed as it arrives; the
        caller should resynchronise (`AT` until `OK`) before trusting the line again.
        """
        command = self._pending
        if self.state is not State.IDLE:
            if owes_result and self.state is not State.DATA:
                self._owed += 1
            self._move(Trigger.ABANDON)
        self._reset_command()
        return command

    def forgive(self) -> None:
        """Stop waiting for abandoned commands' results: the line is known to be quiet."""
        self._owed = 0

    def leave_data_mode(self) -> None:
        """The data call ended (port closed and reopened, or `+++`/`ATH`)."""
        self._move(Trigger.HANG_UP)
        self._buffer.clear()

    def _reset_command(self) -> None:
        self._pending = None
        self._lines = []
        self._echo_seen = False

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes from the modem; returns the events they complete, in order."""
        if self._data_mode:
            if self._swallow_lf and data:
                self._swallow_lf = False
                data = data[1:] if data[:1] == b"\n" else data
            return [Data(bytes(data))] if data else []
        events: list[Event] = []
        self._buffer += data
        while not self._data_mode:
            match = _LINE_END.search(self._buffer)
            if match is None:
                self._check_unterminated(events)
                break
            raw = bytes(self._buffer[: match.start()])
            lone_cr = match.group() == b"\r"  # read before the buffer changes under it
            del self._buffer[: match.end()]
            if self._discarding:
                self._discarding = False
                continue
            if len(raw) > self.max_line:
                events.append(Garbage(raw[: self.max_line]))
                continue
            if raw:
                self._on_raw_line(raw, events)
                # CONNECT's line may have ended on a CR whose LF is still on the way.
                self._swallow_lf = lone_cr and not self._buffer
        if self._data_mode and self._buffer:
            events.append(Data(bytes(self._buffer)))
            self._buffer.clear()
        return events

    def _check_unterminated(self, events: list[Event]) -> None:
        """Handle what is left without a line end: the prompt, or an overlong line."""
        if (
            self.state is State.AWAITING
            and self._pending is not None
            and self._pending.expects_prompt
            and self._buffer.lstrip(b"\r\n") == b"> "
        ):
            self._buffer.clear()
            self._move(Trigger.PROMPT)
            events.append(Prompt())
        elif len(self._buffer) > self.max_line:
            if not self._discarding:
                events.append(Garbage(bytes(self._buffer[: self.max_line])))
            self._buffer.clear()
            self._discarding = True

    def _enter_data_mode_late(self) -> None:
        """A late CONNECT: the modem is in data mode; what was pending is lost."""
        self._reset_command()
        self._move(Trigger.CONNECT)

    def _on_raw_line(self, raw: bytes, events: list[Event]) -> None:
        if b"\x00" in raw:
            raw = raw.replace(b"\x00", b"")
        if not raw.strip():
            return
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            events.append(Garbage(raw))
            return
        if not line.isprintable():
            events.append(Garbage(raw))
            return
        self._on_line(line, events)

    def _on_line(self, line: str, events: list[Event]) -> None:
        command = self._pending
        upper = line.upper()
        if upper in REBOOT_BANNERS:
            if self.state is not State.IDLE:
                self._move(Trigger.REBOOT)
            self._reset_command()
            self.numeric_results = False
            self._owed = 0
            events.append(Reboot(line, command))
            return
        if command is not None and not self._echo_seen and upper[:2] == "AT":
            self._echo_seen = True  # the echo, possibly garbled: never an answer line
            return
        if line == ">" and self.state is State.AWAITING and command and command.expects_prompt:
            self._move(Trigger.PROMPT)  # the prompt, with a line end after it
            events.append(Prompt())
            return
        # A V or Z command's own result may come in either format.
        numeric = self.numeric_results or (
            command is not None and command.sets_numeric_results is not None
        )
        result = _final_result(line, upper, numeric)
        if result is not None and self._owed:
            self._owed -= 1
            self.late_results += 1
            events.append(LateResult(result))
            if result.kind is ResultKind.CONNECT:
                self._enter_data_mode_late()
            return
        if command is None or self.state is State.IDLE:
            events.append(Urc(line))
            return
        if result is not None:
            self._move(Trigger.CONNECT if result.kind is ResultKind.CONNECT else Trigger.FINAL)
            events.append(Response(command, tuple(self._lines), result))
            self._reset_command()
            return
        prefix = line_prefix(line)
        if upper in BARE_URCS:
            events.append(Urc(line))
        elif self._owed:
            pass  # an information line of the abandoned command still being answered
        elif prefix is None and not command.bare_lines and _RESULT_WORD.fullmatch(line):
            self._move(Trigger.FINAL)  # an unknown final word: never wait for the timeout
            result = FinalResult(ResultKind.ERROR, text=line)
            events.append(Response(command, tuple(self._lines), result))
            self._reset_command()
        elif prefix is None or prefix in command.response_prefixes:
            self._lines.append(line)
        else:
            events.append(Urc(line))
