"""What every `simgate agent` command group shares: argument types, output, the modem."""

from __future__ import annotations

import argparse
from typing import TypeAlias

from agent.dialects import Dialect, get_dialect, identify
from agent.modem.client import Modem
from agent.transcript import RecordingModem

# What a command prints: its JSON document and its text for a person.
Output = tuple[object, str]
Groups: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


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
    """`--json` on a command."""
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


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
