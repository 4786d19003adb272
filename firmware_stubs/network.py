"""The radio network's side of an attach: does it let this SIM register, and how.

A real network decides whether a SIM may register (home, roaming, or rejected), not the
modem. The stub asks a `Network` once per registration search (when the search ends)
and keeps the answer until registration is lost or `network_changed()` starts a new
search. Today the answer comes from a local object (`LocalNetwork`); an emulator-backed
network (the emulator says whether the SIM is allowed, over HTTP) plugs in here later.
"""

from __future__ import annotations

import enum
import threading
from typing import Protocol


class AttachOutcome(enum.IntEnum):
    """What the network answers to an attach, as the registration `<stat>` it leads to."""

    HOME = 1
    DENIED = 3
    ROAMING = 5

    @property
    def registered(self) -> bool:
        """True when the SIM may use the network (home or roaming)."""
        return self is not AttachOutcome.DENIED


class Network(Protocol):
    """Decides whether a SIM may attach; called from the stub's serving thread."""

    def attach(self, iccid: str, imsi: str) -> AttachOutcome:
        """The outcome of an attach by the card `iccid` / `imsi`."""
        ...


class LocalNetwork:
    """A network in-process: every SIM gets `outcome`, which tests may change live.

    After changing it, call `StubModem.network_changed()` (or
    `Interpreter.network_changed()`) so the modem searches again and reports the new
    registration state, with URCs where they are enabled.
    """

    def __init__(self, outcome: AttachOutcome = AttachOutcome.HOME) -> None:
        self._lock = threading.Lock()
        self._outcome = outcome
        self.attempts: list[tuple[str, str]] = []

    @property
    def outcome(self) -> AttachOutcome:
        """What the next attach gets."""
        with self._lock:
            return self._outcome

    @outcome.setter
    def outcome(self, value: AttachOutcome) -> None:
        with self._lock:
            self._outcome = value

    def attach(self, iccid: str, imsi: str) -> AttachOutcome:
        """Record the attempt and answer `outcome`."""
        with self._lock:
            self.attempts.append((iccid, imsi))
            return self._outcome
