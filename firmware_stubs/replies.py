"""What a command handler returns, how handlers are declared, and result-code formatting."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from firmware_stubs.at_syntax import Command
from firmware_stubs.standards import CME_TEXTS, V250_NUMERIC_CODES

if TYPE_CHECKING:
    from firmware_stubs.state import ModemState


@dataclass
class Reply:
    """A handler's answer: information lines, the final result, and extra think time."""

    lines: list[str]
    final: str = "OK"
    delay: float = 0.0  # seconds the modem "works" before answering (e.g. +COPS=?)
    prompt: PromptHandler | None = None  # send `> `, read a payload to Ctrl-Z, then this


OK = Reply([])


class SimNeed(enum.Enum):
    """What a command needs from the SIM before it runs (checked before its handler)."""

    NOTHING = "nothing"
    CARD = "card"  # files readable with ALWAYS access (EF_ICCID): any card state but busy
    UNLOCKED = "unlocked"  # the PIN verified (or disabled), not blocked, not busy


Handler = Callable[["ModemState", Command], Reply]
PromptHandler = Callable[["ModemState", str], Reply]  # the payload text, without Ctrl-Z


@dataclass(frozen=True)
class CommandSpec:
    """A row of the command table: the handler and what it needs from the SIM.

    The SIM check skips the test form (`+X=?`), which real modules answer from firmware.
    """

    handler: Handler
    sim: SimNeed = SimNeed.NOTHING


def format_info(line: str, verbose: bool) -> bytes:
    """An information line or URC: `\\r\\n<line>\\r\\n` (V1) or `<line>\\r\\n` (V0)."""
    text = line.encode("latin-1", "replace")
    return b"\r\n" + text + b"\r\n" if verbose else text + b"\r\n"


def format_final(final: str, verbose: bool) -> bytes:
    """A final result code; V0 turns the V.250 ones into digits (`0\\r` for OK)."""
    if verbose:
        return b"\r\n" + final.encode("latin-1", "replace") + b"\r\n"
    word = "NO CARRIER" if final.startswith("NO CARRIER") else final.split(" ", 1)[0]
    if word in V250_NUMERIC_CODES:
        return b"%d\r" % V250_NUMERIC_CODES[word]
    return final.encode("latin-1", "replace") + b"\r\n"


def cme_final(code: int, cmee: int) -> str:
    """The final result for a modem error under `+CMEE=<cmee>`."""
    if cmee == 0:
        return "ERROR"
    if cmee == 2:
        return f"+CME ERROR: {CME_TEXTS.get(code, 'unknown')}"
    return f"+CME ERROR: {code}"
