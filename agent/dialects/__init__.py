"""Vendor dialects beside generic 3GPP: Quectel, SIMCom and u-blox, as data.

`DIALECTS` holds one `Dialect` per family; `identify(modem)` asks `+CGMI`/`+CGMM` and
picks one; `dialect_for_usb` maps a USB vendor id. See docs/dialects.md.
"""

from agent.dialects.detect import (
    Identity,
    dialect_for,
    dialect_for_usb,
    dialect_for_vendor_name,
    identify,
)
from agent.dialects.table import (
    DIALECTS,
    GENERIC,
    QUECTEL,
    SIMCOM,
    UBLOX,
    CounterReader,
    Dialect,
    PdpCommands,
    Quirks,
    RetryReader,
    get_dialect,
)

__all__ = [
    "DIALECTS",
    "GENERIC",
    "QUECTEL",
    "SIMCOM",
    "UBLOX",
    "CounterReader",
    "Dialect",
    "Identity",
    "PdpCommands",
    "Quirks",
    "RetryReader",
    "dialect_for",
    "dialect_for_usb",
    "dialect_for_vendor_name",
    "get_dialect",
    "identify",
]
