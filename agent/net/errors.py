"""What can go wrong with the network or the data connection, by exit code (contracts §1)."""

from __future__ import annotations

from agent.at.engine import FinalResult


class NetSaidNo(Exception):
    """The modem or the network refused, or is not ready (exit 4): a CME error, a SIM that
    is not READY, no registration within the time allowed."""

    def __init__(self, message: str, result: FinalResult | None = None) -> None:
        super().__init__(message)
        self.result = result


class InvalidApn(ValueError):
    """An APN that 3GPP TS 23.003 would not accept, or that could rewrite the command (exit 2)."""
