"""The sans-I/O AT interpreter: bytes from the host in, bytes for the host out.

Theory of the byte loop. In command mode each received byte is echoed (if `ATE1`) and
collected into a line until `\\r` (S3); backspace (S5) removes one; control characters
before the first printable one (the `\\n` of a `\\r\\n` terminator, NULs) are ignored; a
line longer than `MAX_LINE` is discarded and answered `ERROR`. A finished line is
executed at once; its answer is sent at once, or, when the modem "works" on it (the
`delay` fault, a network scan), held as *pending* until a deadline: bytes arriving
meanwhile wait in a backlog and are processed after the answer is sent. A successful
`ATD*99#` switches to data mode: from then on, host bytes are counted, not parsed,
until the host closes the port (`host_closed`). A reboot drops the pending answer, the
backlog and the partial line, and says `RDY`.

Timers (the end of a registration search, a pending answer, a scheduled reboot) fire
from `poll()`, which the transport calls at `next_deadline()` (and may call any time).
Registration URCs are reported only in command mode with nothing pending.

The network's traffic meter is read and booked through `take_traffic()` and
`settle_traffic()`; the transport does the network I/O in between (its ticker). A
session the network ends drops the contexts, with `NO CARRIER` if a data call was on.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from firmware_stubs.at_syntax import (
    AtSyntaxError,
    CmeError,
    CmsError,
    Command,
    CommandError,
    CommandKind,
    mask_secrets,
    parse_command_line,
)
from firmware_stubs.card import SimCard, load_card
from firmware_stubs.commands_basic import BASIC_COMMANDS, S_REGISTER
from firmware_stubs.commands_net import NET_COMMANDS, registration_line
from firmware_stubs.commands_sim import SIM_COMMANDS
from firmware_stubs.commands_sms import SMS_COMMANDS, DeliveryOutcome, clac, receive_sms
from firmware_stubs.dialects import Dialect, get_dialect, is_imei
from firmware_stubs.faults import Faults
from firmware_stubs.network import LocalNetwork, Network, NetworkAnswer, Verdict
from firmware_stubs.replies import (
    CommandSpec,
    PromptHandler,
    Reply,
    SimNeed,
    cme_final,
    format_final,
    format_info,
)
from firmware_stubs.state import ModemState, NetworkProfile
from firmware_stubs.traffic import TrafficReport

logger = logging.getLogger(__name__)

MAX_LINE = 512
MAX_PAYLOAD = 1024  # a `> ` payload: an SMS-SUBMIT of 176 octets is 352 hex digits
CR, BACKSPACE, CTRL_Z, ESCAPE = 0x0D, 0x08, 0x1A, 0x1B
BASE_COMMANDS: dict[str, CommandSpec] = {
    **BASIC_COMMANDS,
    **SIM_COMMANDS,
    **NET_COMMANDS,
    **SMS_COMMANDS,
}


@dataclass
class _Pending:
    deadline: float
    output: bytes


class Interpreter:
    """A simulated modem with its SIM card, driven by bytes; it does no I/O of its own."""

    def __init__(
        self,
        card: SimCard | Path,
        dialect: str | Dialect = "generic",
        *,
        imei: str | None = None,
        network: NetworkProfile | None = None,
        faults: Faults | None = None,
        carrier: Network | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`card` is a card model or a card file path (loaded, or created if absent);
        `carrier` decides attaches (default: a `LocalNetwork` that admits every SIM)."""
        if isinstance(card, Path):
            card = load_card(card)
        chosen = get_dialect(dialect)
        if imei is not None and not is_imei(imei):
            raise ValueError("an IMEI is 15 digits")
        self._clock = clock
        self.state = ModemState(
            card=card,
            dialect=chosen,
            imei=imei or chosen.imei,
            network=network or NetworkProfile(),
            faults=faults or Faults(),
            carrier=carrier or LocalNetwork(),
            now=clock(),
        )
        self.commands: dict[str, CommandSpec] = {**BASE_COMMANDS, **chosen.commands}
        names = tuple(sorted({*self.commands, "+CLAC"}))
        self.commands["+CLAC"] = CommandSpec(lambda state, cmd: clac(names, cmd))
        self._prompt: PromptHandler | None = None
        self._payload = bytearray()
        self._line = bytearray()
        self._overflow = False
        self._pending: _Pending | None = None
        self._backlog = bytearray()
        self._commands_since_boot = 0
        self._next_reboot = self._reboot_deadline()
        self._reported: dict[str, int] = {}
        self._report_registration(bytearray())

    @property
    def card(self) -> SimCard:
        """The SIM card in the modem."""
        return self.state.card

    @property
    def data_mode(self) -> bool:
        """True between `CONNECT` and the host closing the port."""
        return self.state.data_mode

    def receive_data(self, data: bytes) -> bytes:
        """Feed bytes written by the host; returns the bytes the modem sends back."""
        out = bytearray()
        self._timers(out)
        self._consume(data, out)
        self._report_registration(out)
        return bytes(out)

    def poll(self) -> bytes:
        """Fire due timers; returns what the modem sends (answers, URCs, `RDY`)."""
        out = bytearray()
        self._timers(out)
        self._report_registration(out)
        return bytes(out)

    def next_deadline(self) -> float | None:
        """The clock time at which `poll()` has something to do, if any."""
        deadlines = [self._next_reboot] if self._next_reboot is not None else []
        if self._pending is not None:
            deadlines.append(self._pending.deadline)
        elif not self.state.data_mode:
            search = self.state.registration_deadline()
            if search is not None:
                deadlines.append(search)
        return min(deadlines, default=None)

    def host_closed(self) -> None:
        """The host closed the port: a data call ends (the context stays up), input resets
        (a `> ` payload half typed is dropped)."""
        self._prompt = None
        self._payload.clear()
        if self.state.data_mode:
            logger.info("host hung up: data mode over")
        self.state.data_mode = False
        self.state.data_cid = None
        self._line.clear()
        self._overflow = False

    def network_changed(self) -> bytes:
        """The carrier's answer may have changed: search again; returns the URCs (and the
        `NO CARRIER` of a data call whose context dropped)."""
        state = self.state
        state.now = self._clock()
        state.network_changed()
        out = bytearray()
        self._end_lost_data_call(out)
        self._report_registration(out)
        return bytes(out)

    def take_traffic(self) -> TrafficReport | None:
        """The traffic measured since the last report, if a data session is up."""
        self.state.now = self._clock()
        return self.state.meter.take(self.state.now) if self.state.session_open else None

    def settle_traffic(self, report: TrafficReport, answer: NetworkAnswer) -> bytes:
        """Book the network's answer to a traffic report; returns what the modem sends
        (`+CGEV` URCs, `NO CARRIER`, registration URCs) when the session is over."""
        state = self.state
        state.now = self._clock()
        state.meter.settle(report, answer)
        if state.session_open and report.session == state.meter.session:
            limit = state.meter.profile.lost_after
            if answer.verdict is Verdict.REFUSED:
                logger.info("the network refused traffic (%s): session over", answer.reason)
                state.end_session_by_network()
                state.network_changed()
            elif answer.session_cut:
                logger.info("the network cut the data session (heavy traffic)")
                state.end_session_by_network()
            elif not answer.reached and state.meter.failures >= limit:
                logger.warning("%d traffic reports unanswered: no coverage", limit)
                state.lose_coverage()
        out = bytearray()
        self._end_lost_data_call(out)
        self._report_registration(out)
        return bytes(out)

    def shutdown(self) -> None:
        """Power off: the contexts go down and the network hears the session end."""
        self.state.now = self._clock()
        self.state.deactivate()

    def _end_lost_data_call(self, out: bytearray) -> None:
        state = self.state
        if not state.data_mode:
            return
        context = state.contexts.get(state.data_cid) if state.data_cid is not None else None
        if context is None or not context.active or not state.registered():
            logger.info("network lost: data call over")
            state.data_mode = False
            state.data_cid = None
            state.urcs.clear()
            out += format_final("NO CARRIER", state.verbose)

    def reboot(self) -> bytes:
        """A spontaneous reboot: abandon any pending command, reset, return the banner."""
        self.state.now = self._clock()
        logger.info("modem reboots")
        self._pending = None
        self._backlog.clear()
        self._line.clear()
        self._overflow = False
        self._prompt = None
        self._payload.clear()
        self._commands_since_boot = 0
        self._next_reboot = self._reboot_deadline()
        self.state.power_cycle()
        banner = self.state.dialect.boot_banner
        return format_info(banner, True) if banner else b""

    def _reboot_deadline(self) -> float | None:
        every = self.state.faults.reboot_every
        return None if every is None else self.state.now + every

    def _timers(self, out: bytearray) -> None:
        self.state.now = now = self._clock()
        if self._next_reboot is not None and now >= self._next_reboot:
            out += self.reboot()
        pending = self._pending
        if pending is not None and now >= pending.deadline:
            self._pending = None
            out += pending.output
            backlog = bytes(self._backlog)
            self._backlog.clear()
            self._consume(backlog, out)

    def _consume(self, data: bytes, out: bytearray) -> None:
        if self._pending is not None:
            self._backlog += data
            return
        state = self.state
        for index, byte in enumerate(data):
            if self._prompt is not None:
                self._prompt_byte(byte, out)
                continue
            if state.data_mode:
                state.data_bytes_up += len(data) - index
                state.meter.add_up(len(data) - index)
                return
            if state.echo:
                out.append(byte)
            if byte == CR:
                self._execute_line(out)
                if self._pending is not None:
                    self._backlog += data[index + 1 :]
                    return
            elif byte == BACKSPACE:
                if self._line:
                    self._line.pop()
            elif not self._line and byte < 0x20:
                continue
            elif len(self._line) >= MAX_LINE:
                self._overflow = True
            else:
                self._line.append(byte)

    def _prompt_byte(self, byte: int, out: bytearray) -> None:
        """After `> `: collect the payload until Ctrl-Z (send) or ESC (cancel)."""
        state = self.state
        if state.echo and byte not in (CTRL_Z, ESCAPE):
            out.append(byte)
        if byte not in (CTRL_Z, ESCAPE):
            if len(self._payload) < MAX_PAYLOAD:
                self._payload.append(byte)
            return
        handler, self._prompt = self._prompt, None
        payload = self._payload.decode("latin-1").strip("\r\n")
        self._payload.clear()
        if byte == ESCAPE or handler is None:
            out += format_final("OK", state.verbose)  # 27.005 §3.5.1: ESC cancels, no send
            return
        final = "OK"
        try:
            reply = handler(state, payload)
        except CommandError:
            reply, final = Reply([]), "ERROR"
        except CmeError as exc:
            reply, final = Reply([]), cme_final(exc.code, state.cmee)
        except CmsError as exc:
            reply, final = Reply([]), f"+CMS ERROR: {exc.code}"
        for line in reply.lines:
            out += format_info(line, state.verbose)
        out += format_final(final if final != "OK" else reply.final, state.verbose)

    def deliver_sms(self, sender: str, text: str, when: datetime.datetime) -> DeliveryOutcome:
        """A message from the network for this card: stored and announced (`+CMTI`) or
        shown (`+CMT`) as `+CNMI` says; the outcome is what the network is told."""
        self.state.now = self._clock()
        return receive_sms(self.state, sender, text, when)

    def _execute_line(self, out: bytearray) -> None:
        text = self._line.decode("latin-1").strip()
        overflow = self._overflow
        self._line.clear()
        self._overflow = False
        if not text and not overflow:
            return
        state = self.state
        if overflow:
            logger.debug("<- (line longer than %d bytes, dropped)", MAX_LINE)
            out += format_final("ERROR", state.verbose)
            return
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("<- %s", mask_secrets(text))
        limit = state.faults.reboot_after_commands
        self._commands_since_boot += 1
        if limit is not None and self._commands_since_boot >= limit:
            out += self.reboot()
            return
        answer, delay = self._run(text)
        delay += state.faults.delay
        if delay > 0:
            self._pending = _Pending(state.now + delay, answer)
        else:
            out += answer

    def _run(self, text: str) -> tuple[bytes, float]:
        """Execute one command line; returns its answer and how long it takes."""
        state = self.state
        if text[:2].upper() != "AT":
            return format_final("ERROR", state.verbose), 0.0
        try:
            commands = parse_command_line(text[2:])
        except AtSyntaxError as exc:
            logger.debug("syntax error: %s", exc)
            return format_final("ERROR", state.verbose), 0.0
        out = bytearray()
        final, delay = "OK", 0.0
        for command in commands:
            try:
                reply = self._dispatch(command)
            except CommandError as exc:
                logger.debug("%s: %s", command.name, exc)
                final = "ERROR"
                break
            except CmeError as exc:
                final = cme_final(exc.code, state.cmee)
                break
            except CmsError as exc:
                final = f"+CMS ERROR: {exc.code}"
                break
            for line in reply.lines:
                out += format_info(line, state.verbose)
            delay += reply.delay
            if reply.prompt is not None:  # `> `: the rest of the line is not run
                self._prompt = reply.prompt
                self._payload.clear()
                out += b"\r\n> "
                return bytes(out), delay
            if reply.final != "OK":
                final = reply.final
                break
        if out and state.held_urcs:  # the dialect's URCs slip in before the final result
            for urc in state.held_urcs:
                out += format_info(urc, state.verbose)
            state.held_urcs.clear()
        out += format_final(final, state.verbose)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("-> %s", final)
        return bytes(out), delay

    def _dispatch(self, command: Command) -> Reply:
        if command.name[0] == "S" and command.name[1:].isdigit():
            spec: CommandSpec | None = S_REGISTER
        else:
            spec = self.commands.get(command.name)
        if spec is None:
            raise CommandError("unknown command")
        _sim_check(self.state, spec, command)
        return spec.handler(self.state, command)

    def _report_registration(self, out: bytearray) -> None:
        state = self.state
        if self._pending is not None or state.data_mode or self._prompt is not None:
            return
        for urc in state.urcs:
            out += format_info(urc, state.verbose)
        state.urcs.clear()
        for name, stat, n in (
            ("+CREG", state.cs_stat(), state.creg_n),
            ("+CGREG", state.ps_stat(), state.cgreg_n),
            ("+CEREG", state.ps_stat(), state.cereg_n),
        ):
            previous = self._reported.get(name)
            self._reported[name] = stat
            if previous is not None and previous != stat and n > 0:
                out += format_info(registration_line(name, stat, state, n, urc=True), state.verbose)


def _sim_check(state: ModemState, spec: CommandSpec, command: Command) -> None:
    """Raise the `+CME ERROR` a command gets while the SIM cannot serve it."""
    if spec.sim is SimNeed.NOTHING or command.kind is CommandKind.TEST:
        return
    if state.sim_busy():
        raise CmeError(14)
    if spec.sim is SimNeed.UNLOCKED:
        code = state.sim_locked_error()
        if code is not None:
            raise CmeError(code)
