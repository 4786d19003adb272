"""Fault injection: what can go wrong, declared as data, and the output corrupter."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Faults:
    """Faults the stub injects. All off by default.

    - `delay`: seconds between a command line and its answer (the echo is immediate).
    - `busy_after_unlock`: for this many seconds after a PIN or PUK is accepted,
      SIM-dependent commands and `+CPIN?` answer `+CME ERROR: 14` (SIM busy), as SIMCom
      modules do.
    - `drop` / `garble`: probability that each output byte is lost / replaced by another.
    - `seed`: seeds the random generator of `drop` and `garble` (reproducible runs).
    - `reboot_after_commands`: reboot instead of answering every N-th command line.
    - `reboot_every`: reboot every so many seconds.
    - `quote_cpin`: answer `+CPIN: "READY"` (value quoted), as some modules do; breaks
      clients that compare the 27.007 form (`+CPIN: READY`), such as python-gsmmodem.
    """

    delay: float = 0.0
    busy_after_unlock: float = 0.0
    drop: float = 0.0
    garble: float = 0.0
    seed: int | None = None
    reboot_after_commands: int | None = None
    reboot_every: float | None = None
    quote_cpin: bool = False

    def __post_init__(self) -> None:
        for name in ("delay", "busy_after_unlock"):
            if getattr(self, name) < 0:
                raise ValueError(f"Faults.{name} must not be negative")
        for name in ("drop", "garble"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"Faults.{name} is a probability from 0 to 1")
        if self.drop + self.garble > 1.0:
            raise ValueError("Faults.drop + Faults.garble must not exceed 1")
        if self.reboot_after_commands is not None and self.reboot_after_commands < 1:
            raise ValueError("Faults.reboot_after_commands must be at least 1")
        if self.reboot_every is not None and self.reboot_every <= 0:
            raise ValueError("Faults.reboot_every must be positive")


class OutputCorrupter:
    """Drops and garbles output bytes with the probabilities of `faults`, reproducibly."""

    def __init__(self, faults: Faults) -> None:
        self._drop = faults.drop
        self._garble = faults.garble
        self._rng = random.Random(faults.seed)

    @property
    def active(self) -> bool:
        """False when the corrupter passes everything through untouched."""
        return self._drop > 0 or self._garble > 0

    def apply(self, data: bytes) -> bytes:
        """`data` with some bytes dropped and some replaced by a different byte."""
        if not self.active:
            return data
        out = bytearray()
        for byte in data:
            draw = self._rng.random()
            if draw < self._drop:
                continue
            if draw < self._drop + self._garble:
                out.append(byte ^ self._rng.randrange(1, 256))
            else:
                out.append(byte)
        return bytes(out)
