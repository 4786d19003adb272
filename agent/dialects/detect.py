"""Which dialect a modem speaks: from its `+CGMI`/`+CGMM` answers, or its USB ids.

`+CGMI` answers differ in case and length (`Quectel`, `SIMCOM INCORPORATED`,
`SIMCOM_Ltd`, `u-blox`); a prefix match on the lower-cased text decides. A modem
whose maker is not known speaks `generic` (3GPP TS 27.007 only).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from agent.at import commands
from agent.dialects.table import DIALECTS, GENERIC, Dialect
from agent.modem.client import Modem

log = logging.getLogger(__name__)

# USB vendor ids shared by several makers (Qualcomm's, used by u-blox and others): no say.
_AMBIGUOUS_USB_VENDORS = frozenset({"05c6"})


@dataclass(frozen=True, slots=True)
class Identity:
    """What the modem says it is, and the dialect chosen from it."""

    manufacturer: str | None
    model: str | None
    dialect: Dialect


def dialect_for(manufacturer: str | None, model: str | None = None) -> Dialect:
    """The dialect of a modem that answers `manufacturer` to `+CGMI` (`generic` if unknown).

    `model` (`+CGMM`) breaks ties: some SIMCom firmware answers `+CGMI` with the
    chipset maker, but keeps `SIMCOM` in its model name.
    """
    for text in (manufacturer, model):
        wanted = (text or "").strip().lower()
        if not wanted:
            continue
        for dialect in DIALECTS.values():
            if any(wanted.startswith(prefix) for prefix in dialect.manufacturers):
                return dialect
    return GENERIC


def dialect_for_usb(usb_vendor_id: str) -> Dialect | None:
    """The dialect of a USB vendor id (`2c7c` Quectel...); None when the id does not say."""
    wanted = usb_vendor_id.strip().lower()
    if wanted in _AMBIGUOUS_USB_VENDORS:
        return None
    for dialect in DIALECTS.values():
        if wanted in dialect.usb_vendor_ids:
            return dialect
    return None


def dialect_for_vendor_name(vendor: str) -> Dialect | None:
    """The dialect of a maker's name as `agent discover` reports it (`u-blox`, `SIMCom`)."""
    dialect = dialect_for(vendor)
    return None if dialect is GENERIC else dialect


def _first_text(lines: Sequence[str], prefix: str) -> str | None:
    for line in lines:
        text = line.strip()
        if not text:
            continue
        if text.upper().startswith(prefix + ":"):
            text = text.split(":", 1)[1].strip()
        return text.strip('"') or None
    return None


async def identify(modem: Modem) -> Identity:
    """Ask the modem (`AT+CGMI`, `AT+CGMM`) and choose its dialect; never raises for a
    refusal (a modem that will not say is `generic`)."""
    found: list[str | None] = []
    for name in ("+CGMI", "+CGMM"):
        response = await modem.command(commands.execute(name))
        found.append(_first_text(response.lines, name) if response.result.ok else None)
    manufacturer, model = found
    dialect = dialect_for(manufacturer, model)
    log.debug("modem %r %r speaks the %s dialect", manufacturer, model, dialect.name)
    return Identity(manufacturer, model, dialect)
