"""How a module behaves, apart from the commands it knows: what the modem's state needs.

`Dialect` (firmware_stubs.dialects) adds the command table; the state and the handlers
read only this, so the state never imports a dialect's commands.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Personality:
    """How one family of modules identifies itself and answers."""

    name: str
    manufacturer: str
    model: str
    revision: str
    imei: str
    quote_cpin: bool = False  # `+CPIN: "SIM PIN"` instead of `+CPIN: SIM PIN`
    cmee_default: int = 0
    gcap: str = "+GCAP: +CGSM,+DS,+ES"
    boot_banner: str = "RDY"  # sent after a (re)boot; empty for none
    busy_after_unlock: float = 0.0  # seconds of SIM busy after an unlock (Faults override)
    unlock_urcs: tuple[str, ...] = ()  # URCs once a PIN or PUK is accepted
    urcs_before_ok: bool = False  # held URCs go out inside the next answer with lines

    @property
    def ati_lines(self) -> list[str]:
        """The answer to `ATI`."""
        return [self.manufacturer, self.model, f"Revision: {self.revision}"]
