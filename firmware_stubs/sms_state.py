"""The modem's 27.005 settings (what `ATZ` restores) and its message counter."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_SMSC = "+819000000000"


@dataclass
class SmsSettings:
    """`+CMGF`, `+CSCA`, `+CNMI`, `+CSDH`, `+CSMP`, and the next message reference."""

    text_mode: bool = False
    smsc: str = DEFAULT_SMSC
    smsc_type: int = 145
    cnmi: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    show_header: bool = False
    csmp: tuple[int, int, int, int] = (17, 167, 0, 0)
    next_reference: int = 0
    voice_hangup: int = 0

    def reset(self) -> None:
        """ATZ: the profile's defaults (the SMSC lives on the card: kept)."""
        self.text_mode = False
        self.cnmi = (0, 0, 0, 0, 0)
        self.show_header = False
        self.csmp = (17, 167, 0, 0)
        self.voice_hangup = 0

    def take_reference(self) -> int:
        """The TP-MR of the next message sent (0-255, wrapping)."""
        reference = self.next_reference
        self.next_reference = (reference + 1) % 256
        return reference
