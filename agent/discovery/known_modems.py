"""USB ids of common cellular modules, and which USB interface carries their AT port.

The facts come from ModemManager's udev port-type hints (`src/plugins/<vendor>/
77-mm-<vendor>-port-types.rules`: the interface tagged as the primary AT port) and,
where a module is not there, from the Linux `option` driver's table. They are data:
add a module as a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class KnownModem:
    """A module: its maker, model name and the USB interface number of its AT port."""

    vendor: str
    model: str
    at_interface: int | None  # None: the module is known but its AT interface is not


# USB vendor id -> the maker's name (modules of an unlisted product are still reported).
VENDORS = MappingProxyType(
    {
        "2c7c": "Quectel",
        "1e0e": "SIMCom",
        "1546": "u-blox",
        "1199": "Sierra Wireless",
        "1bc7": "Telit",
    }
)


def _rows(vendor: str, rows: dict[str, tuple[str, int | None]]) -> dict[str, KnownModem]:
    return {pid: KnownModem(vendor, model, at) for pid, (model, at) in rows.items()}


_QUECTEL = _rows(
    "Quectel",
    {
        "0125": ("EC25/EG25-G", 2),
        "0121": ("EC21", 2),
        "0191": ("EG91", 2),
        "0195": ("EG95", 2),
        "0296": ("BG96", 2),
        "0306": ("EG06/EP06/EM06", 2),
        "0512": ("EG12/EM12", 2),
        "0800": ("RM500", 2),
    },
)
_SIMCOM = _rows(
    "SIMCom",
    {
        "9001": ("SIM7000/SIM7100/SIM7600", 2),
        "9205": ("SIM7070/SIM7080/SIM7090", 2),
        "9206": ("SIM7070/SIM7080/SIM7090", 2),
        "9011": ("A7600E-H/A7602E-H", 4),
    },
)
_UBLOX = _rows(
    "u-blox",
    {
        "1010": ("TOBY-L4", 6),
        "1102": ("LISA-U2/SARA-U2", 0),
        "1104": ("LISA-U2/SARA-U2", 0),
        "1107": ("TOBY-R2", 0),
        "110a": ("LARA-R2", 0),
    },
)
_SIERRA = _rows(
    "Sierra Wireless",
    {
        "9071": ("MC74xx/EM7455", 3),
        "9079": ("EM7455", 3),
        "9091": ("EM7565", 3),
        "c001": ("HL7812", 0),
    },
)
_TELIT = _rows(
    "Telit",
    {
        "1031": ("LE910C1-EUX", 1),
        "1033": ("LE910C1-EUX", 1),
        "1040": ("LE922/LM9x0", 4),
        "1041": ("LE922/LM9x0", 5),
        "1050": ("FN980", 4),
        "1051": ("FN980", 5),
        "1060": ("LN920", 4),
        "1061": ("LN920", 5),
        "1070": ("FN990", 4),
        "1071": ("FN990", 5),
        "1101": ("ME910C1", 1),
        "110a": ("MEx10G1", 1),
        "1201": ("LE910C1", 4),
        "1204": ("LE910C1", 5),
    },
)
# u-blox modules that carry Qualcomm's vendor id (05c6); other 05c6 devices are not modems
# this table can name. SARA-R410M: the `option` driver leaves interfaces 1 and 3 to the
# network driver; which serial interface is the AT port is not recorded here.
_UBLOX_ON_QUALCOMM = _rows("u-blox", {"908b": ("LARA-R6", 1), "90b2": ("SARA-R410M", None)})

KNOWN_MODEMS = MappingProxyType(
    {
        **{("2c7c", pid): m for pid, m in _QUECTEL.items()},
        **{("1e0e", pid): m for pid, m in _SIMCOM.items()},
        **{("1546", pid): m for pid, m in _UBLOX.items()},
        **{("1199", pid): m for pid, m in _SIERRA.items()},
        **{("1bc7", pid): m for pid, m in _TELIT.items()},
        **{("05c6", pid): m for pid, m in _UBLOX_ON_QUALCOMM.items()},
    }
)


def known_modem(vendor_id: str, product_id: str) -> KnownModem | None:
    """The table's entry for a USB id (hex, any case), if any."""
    return KNOWN_MODEMS.get((vendor_id.lower(), product_id.lower()))
