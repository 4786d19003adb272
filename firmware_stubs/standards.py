"""The stub's own facts from the standards, stated here and nowhere in the agent.

The stub is the oracle the agent is tested against: a table shared with the agent would
carry the agent's mistakes into the stub, where no test could see them. So the result
codes (ITU-T V.250), the `+CME ERROR` texts (3GPP TS 27.007 §9.2) and the EF_ICCID
encoding (ETSI TS 102 221 §13.2) the stub sends are written down here from the standards.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

V250_NUMERIC_CODES: Mapping[str, int] = MappingProxyType(
    {
        "OK": 0,
        "CONNECT": 1,
        "RING": 2,
        "NO CARRIER": 3,
        "ERROR": 4,
        "NO DIALTONE": 6,
        "BUSY": 7,
        "NO ANSWER": 8,
    }
)
"""V.250 §5.7.1, table 1: a final result's number under `ATV0`."""

CME_TEXTS: Mapping[int, str] = MappingProxyType(
    {
        # 27.007 §9.2.1, general errors
        0: "phone failure",
        1: "no connection to phone",
        2: "phone-adaptor link reserved",
        3: "operation not allowed",
        4: "operation not supported",
        5: "PH-SIM PIN required",
        10: "SIM not inserted",
        11: "SIM PIN required",
        12: "SIM PUK required",
        13: "SIM failure",
        14: "SIM busy",
        15: "SIM wrong",
        16: "incorrect password",
        17: "SIM PIN2 required",
        18: "SIM PUK2 required",
        20: "memory full",
        21: "invalid index",
        22: "not found",
        23: "memory failure",
        24: "text string too long",
        25: "invalid characters in text string",
        30: "no network service",
        31: "network timeout",
        32: "network not allowed - emergency calls only",
        50: "incorrect parameters",
        100: "unknown",
        # 27.007 §9.2.2, GPRS and EPS errors
        103: "Illegal MS",
        106: "Illegal ME",
        107: "GPRS services not allowed",
        111: "PLMN not allowed",
        112: "Location area not allowed",
        113: "Roaming not allowed in this location area",
        132: "service option not supported",
        133: "requested service option not subscribed",
        134: "service option temporarily out of order",
        148: "unspecified GPRS error",
        149: "PDP authentication failure",
        150: "invalid mobile class",
    }
)
"""The verbose text of each `+CME ERROR` code the stub may send (`AT+CMEE=2`)."""

HEX_DIGITS = frozenset("0123456789ABCDEF")
"""What an ICCID may hold: decimal digits, and hex on some real cards after the issuer."""


def encode_ef_iccid(iccid: str, size: int = 10) -> str:
    """EF_ICCID's content for `iccid`: BCD, each byte's two digits swapped, `F`-padded.

    ETSI TS 102 221 §13.2: the first digit goes in the low nibble of the first byte, so the
    hex text of the file reads each digit pair the other way round.
    """
    digits = iccid.upper()
    if not digits or not set(digits) <= HEX_DIGITS or len(digits) > size * 2:
        raise ValueError(f"not an ICCID of at most {size * 2} hex digits: {iccid!r}")
    padded = digits.ljust(size * 2, "F")
    return "".join(high + low for low, high in zip(padded[::2], padded[1::2], strict=True))
