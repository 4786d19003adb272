"""What every `simgate agent` command group shares: argument types, output, the modem."""

from __future__ import annotations

import argparse
import difflib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, NoReturn, TextIO, TypeAlias

from agent.dialects import Dialect, get_dialect, identify
from agent.modem.client import Modem
from agent.state_dir import state_dir
from agent.transcript import RecordingModem

# What a command prints: its JSON document and its text for a person.
Output = tuple[object, str]
Groups: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
DEFAULT_CONFIG: Final = Path("/etc/simgate/agent.toml")
PROGRESS_LOGGER: Final = "agent.progress"
"""Library code logs the waits a person sits through here (INFO); the CLI shows them."""


class UsageError(Exception):
    """Bad usage found by the parser (exit 2); `parser` is the (sub)command's."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser
        self.message = message


class AgentParser(argparse.ArgumentParser):
    """An argument parser that raises `UsageError` and suggests the nearest choice."""

    def error(self, message: str) -> NoReturn:
        """Raise instead of printing and exiting, so `main` can answer in JSON too."""
        raise UsageError(self, message)

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        choices = action.choices
        if choices is None or value in choices:
            return
        names = [str(choice) for choice in choices]
        close = difflib.get_close_matches(str(value), names, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise argparse.ArgumentError(
            action, f"invalid choice: {value!r} (choose from {', '.join(names)}){hint}"
        )


def add_globals(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """`-v`, `--json`, `--port`, `--config`: on the top parser, and again on every leaf
    command (defaults suppressed there, so a value given before the command stays)."""
    have = parser._option_string_actions
    quiet: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
    if "-v" not in have:
        parser.add_argument(
            "-v",
            "--verbose",
            dest="verbose" if top else "late_verbose",
            action="count",
            default=0 if top else argparse.SUPPRESS,
            help="log to stderr, -vv with AT traffic",
        )
    if "--json" not in have:
        parser.add_argument(
            "--json",
            action="store_true",
            help="print one JSON document on stdout",
            **({"default": False} if top else quiet),
        )
    if "--port" not in have:
        parser.add_argument(
            "--port",
            metavar="URL",
            help="the modem's AT port: /dev/ttyUSB2, a pty path, socket://host:port, loop:// "
            "(default $SIMGATE_PORT, else [modem] port of the config)",
            **quiet,
        )
    if "--config" not in have:
        parser.add_argument(
            "--config",
            type=Path,
            metavar="FILE",
            help=f"the agent's TOML config (default {DEFAULT_CONFIG} when it exists)",
            **quiet,
        )


def leaves(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every parser under `parser` that has no subcommands of its own."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield parser
        return
    for action in subs:
        for child in dict.fromkeys(action.choices.values()):
            yield from leaves(child)


def state_of(args: argparse.Namespace) -> Path:
    """The state folder: the config's `[state] dir`, else `$SIMGATE_STATE_DIR` and on."""
    chosen: Path | None = getattr(args, "state_dir", None)
    if chosen is None:
        return state_dir()
    chosen.mkdir(mode=0o700, parents=True, exist_ok=True)
    return chosen


class TerminalProgress(logging.Handler):
    """Shows `agent.progress` lines on a terminal, each replacing the one before."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(logging.INFO)
        self.stream = stream
        self._width = 0

    def emit(self, record: logging.LogRecord) -> None:
        """Overwrite the progress line; a final line (`extra={"done": True}`) stays."""
        text = record.getMessage()
        final = bool(getattr(record, "done", False))
        pad = " " * max(0, self._width - len(text))
        self.stream.write(f"\r{text}{pad}" + ("\n" if final else ""))
        self.stream.flush()
        self._width = 0 if final else len(text)

    def finish(self) -> None:
        """Wipe a progress line still showing, so the command's output starts clean."""
        if self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


def progress_to_terminal(stream: TextIO | None = None) -> None:
    """Show progress lines on stderr when it is a terminal (never in pipes or logs)."""
    out = stream or sys.stderr
    logger = logging.getLogger(PROGRESS_LOGGER)
    if not out.isatty() or any(isinstance(h, TerminalProgress) for h in logger.handlers):
        return
    logger.addHandler(TerminalProgress(out))
    logger.setLevel(logging.INFO)
    logger.propagate = False


def cid(text: str) -> int:
    """A PDP context id, 1-255."""
    if not text.isdigit() or not 1 <= int(text) <= 255:
        raise argparse.ArgumentTypeError(f"a context id is 1-255: {text!r}")
    return int(text)


def seconds(text: str) -> float:
    """A number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"seconds must be 0 or more: {text!r}")
    return value


def iface(text: str) -> str:
    """A network interface name as the kernel allows it."""
    if not text or "/" in text or text in (".", "..") or len(text) > 15:
        raise argparse.ArgumentTypeError(f"not a network interface name: {text!r}")
    return text


def add_json(parser: argparse.ArgumentParser) -> None:
    """`--json` on a command (also accepted before it: the global option)."""
    parser.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print one JSON document on stdout",
    )


def add_last_attempt(parser: argparse.ArgumentParser) -> None:
    """`--allow-last-attempt` on a command that sends a PIN or PUK."""
    parser.add_argument(
        "--allow-last-attempt",
        action="store_true",
        help="send even when fewer than 2 tries remain (a wrong one may lock the card)",
    )


async def open_modem(args: argparse.Namespace) -> Modem:
    """The modem at `--port`, recording to `--record` when given."""
    if args.record is not None:
        return await RecordingModem.open_recording(args.port, args.record, baudrate=args.baudrate)
    return await Modem.open(args.port, baudrate=args.baudrate)


async def dialect_of(args: argparse.Namespace, modem: Modem) -> Dialect:
    """`--dialect`, or the one the modem's identity names."""
    if args.dialect != "auto":
        return get_dialect(args.dialect)
    return (await identify(modem)).dialect


def finish_progress() -> None:
    """Wipe any progress line left on the terminal."""
    for handler in logging.getLogger(PROGRESS_LOGGER).handlers:
        if isinstance(handler, TerminalProgress):
            handler.finish()
