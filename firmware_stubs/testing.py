"""Helpers for tests that drive the sans-I/O `Interpreter` directly (no pty)."""

from __future__ import annotations

from firmware_stubs.interpreter import Interpreter


class ManualClock:
    """A clock that moves only when told; pass it as the interpreter's `clock`."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


def exchange(modem: Interpreter, line: str) -> str:
    """Send `line` + CR to the modem; returns all it answers right away, as text."""
    return modem.receive_data(line.encode("latin-1") + b"\r").decode("latin-1")
