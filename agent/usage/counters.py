"""Byte counters into traffic: non-negative deltas across resets and wraps (pure logic).

Counter theory. A byte counter only grows, until one of three things happens:
- it *wraps*: a 32-bit counter (many modem firmwares, 32-bit kernels' drivers) goes
  from near 2^32 back to near 0; the bytes moved are `2^32 - previous + current`;
- it *resets*: the modem rebooted or the network interface was re-created, and the
  counter starts again from 0; the bytes moved since the reset are `current`;
- its *epoch* changes: where the source can tell (the interface's ifindex, the host's
  boot id), a different epoch is a reset even when the new value happens to be higher.
A reading lower than the previous one is a wrap when the previous value was within
`wrap_margin` of 2^32 (or 2^64) and the new one is below `wrap_margin`: that is, when a
wrap explains it with less than `wrap_margin` bytes moved. Otherwise it is a reset.
Choose `wrap_margin` above the most traffic that can pass between two readings.

The first reading is measured from 0: whatever the counter shows then was never metered.
"""

from __future__ import annotations

from dataclasses import dataclass

WRAP_MODULI = (2**32, 2**64)
DEFAULT_WRAP_MARGIN = 2**30  # 1 GiB: 150 Mbit/s for a minute is ~1.1 GB


class CounterStateError(ValueError):
    """A saved tracker state that cannot be a tracker's."""


class CounterTracker:
    """Turns successive raw readings of one counter into deltas; tracks the total."""

    def __init__(
        self,
        *,
        last: int = 0,
        epoch: str | None = None,
        total: int = 0,
        wrap_margin: int = DEFAULT_WRAP_MARGIN,
    ) -> None:
        if last < 0 or total < 0 or wrap_margin <= 0:
            raise ValueError("counter values and the wrap margin must be positive")
        self.last = last
        self.epoch = epoch
        self.total = total
        self.wrap_margin = wrap_margin

    def feed(self, value: int, epoch: str | None = None) -> int:
        """Take a raw reading; returns the bytes moved since the previous one (>= 0)."""
        if value < 0:
            raise ValueError(f"a byte counter cannot be negative: {value}")
        if epoch is not None and self.epoch is not None and epoch != self.epoch:
            delta = value  # a new counter (new interface, new boot): it started at 0
        elif value >= self.last:
            delta = value - self.last
        else:
            delta = self._wrapped(value)
        self.last = value
        if epoch is not None:
            self.epoch = epoch
        self.total += delta
        return delta

    def _wrapped(self, value: int) -> int:
        for modulus in WRAP_MODULI:
            if self.last < modulus <= self.last + self.wrap_margin and value < self.wrap_margin:
                return modulus - self.last + value
        return value  # a reset: counting started again from 0

    def to_json(self) -> dict[str, object]:
        """The state to persist (the wrap margin is configuration, not state)."""
        return {"last": self.last, "epoch": self.epoch, "total": self.total}

    @classmethod
    def from_json(cls, doc: object, *, wrap_margin: int = DEFAULT_WRAP_MARGIN) -> CounterTracker:
        """A tracker from `to_json`'s output; `CounterStateError` for anything else."""
        if not isinstance(doc, dict):
            raise CounterStateError("a counter state is a JSON object")
        epoch = doc.get("epoch")
        if epoch is not None and not isinstance(epoch, str):
            raise CounterStateError("'epoch' must be a string or null")
        last, total = _byte_count(doc, "last"), _byte_count(doc, "total")
        return cls(last=last, epoch=epoch, total=total, wrap_margin=wrap_margin)


def _byte_count(doc: dict[object, object], key: str) -> int:
    value = doc.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CounterStateError(f"{key!r} must be a whole number of bytes, 0 or more")
    return value


@dataclass(frozen=True, slots=True)
class CounterReading:
    """One raw reading of a source: bytes sent and received, and the counters' epoch."""

    bytes_up: int
    bytes_down: int
    epoch: str | None = None


@dataclass(frozen=True, slots=True)
class Traffic:
    """Bytes moved: since the previous reading (`delta_*`) and in all (`total_*`)."""

    delta_up: int
    delta_down: int
    total_up: int
    total_down: int


class TrafficTracker:
    """A pair of `CounterTracker`s: up (sent) and down (received)."""

    def __init__(
        self, up: CounterTracker | None = None, down: CounterTracker | None = None
    ) -> None:
        self.up = up or CounterTracker()
        self.down = down or CounterTracker()

    def feed(self, reading: CounterReading) -> Traffic:
        """Take one reading of both counters."""
        delta_up = self.up.feed(reading.bytes_up, reading.epoch)
        delta_down = self.down.feed(reading.bytes_down, reading.epoch)
        return Traffic(delta_up, delta_down, self.up.total, self.down.total)

    def to_json(self) -> dict[str, object]:
        """The state to persist."""
        return {"up": self.up.to_json(), "down": self.down.to_json()}

    @classmethod
    def from_json(cls, doc: object, *, wrap_margin: int = DEFAULT_WRAP_MARGIN) -> TrafficTracker:
        """A tracker pair from `to_json`'s output; `CounterStateError` for anything else."""
        if not isinstance(doc, dict):
            raise CounterStateError("a traffic state is a JSON object")
        return cls(
            CounterTracker.from_json(doc.get("up"), wrap_margin=wrap_margin),
            CounterTracker.from_json(doc.get("down"), wrap_margin=wrap_margin),
        )
