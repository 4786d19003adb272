"""Reconnect delays: exponential, capped, with jitter so that a fleet does not reconnect
in lock-step after a broker outage."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delay before reconnect attempt `n` (0-based): `min(maximum, initial * factor**n)`,
    shortened by a random fraction of up to `jitter` (0: none, 1: anywhere down to 0)."""

    initial: float = 0.5
    maximum: float = 60.0
    factor: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise ValueError("backoff: need 0 < initial <= maximum")
        if self.factor < 1:
            raise ValueError("backoff: factor must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("backoff: jitter must be between 0 and 1")

    def ceiling(self, attempt: int) -> float:
        """The delay before jitter."""
        exponent = min(max(attempt, 0), 1024)
        try:
            return min(self.maximum, self.initial * self.factor**exponent)
        except OverflowError:
            return self.maximum

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The delay to wait before attempt `attempt`, in seconds."""
        return self.ceiling(attempt) * (1.0 - self.jitter * rng.random())
