"""`+CME ERROR` (3GPP TS 27.007 §9.2) and `+CMS ERROR` (3GPP TS 27.005 §3.2.5) codes and
texts, both ways: with `AT+CMEE=2` a modem sends `+CME ERROR: incorrect password` and the
engine still needs the number (16).

Texts are matched loosely (case, spaces and punctuation ignored) because vendors vary
them: `PH_SIM PIN required`, `Phone adapter link reserved`, `SIM PIN Required`.
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping

_GENERAL: dict[int, str] = {
    0: "phone failure",
    1: "no connection to phone",
    2: "phone-adaptor link reserved",
    3: "operation not allowed",
    4: "operation not supported",
    5: "PH-SIM PIN required",
    6: "PH-FSIM PIN required",
    7: "PH-FSIM PUK required",
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
    26: "dial string too long",
    27: "invalid characters in dial string",
    30: "no network service",
    31: "network timeout",
    32: "network not allowed - emergency calls only",
    40: "network personalization PIN required",
    41: "network personalization PUK required",
    42: "network subset personalization PIN required",
    43: "network subset personalization PUK required",
    44: "service provider personalization PIN required",
    45: "service provider personalization PUK required",
    46: "corporate personalization PIN required",
    47: "corporate personalization PUK required",
    48: "hidden key required",
    49: "EAP method not supported",
    50: "incorrect parameters",
    51: "command implemented but currently disabled",
    52: "command aborted by user",
    53: "not attached to network due to MT functionality restrictions",
    54: "modem not allowed - MT restricted to emergency calls only",
    55: "operation not allowed because of MT functionality restrictions",
    56: "fixed dial number only allowed - called number is not a fixed dial number",
    57: "temporarily out of service due to other MT usage",
    58: "language/alphabet not supported",
    59: "unexpected data value",
    60: "system failure",
    61: "data missing",
    62: "call barred",
    63: "message waiting indication subscription failure",
    100: "unknown",
}

# §9.2.2: GPRS and EPS related errors; the number in brackets is the NAS cause they carry.
_PACKET: dict[int, str] = {
    102: "IMSI unknown in HLR",
    103: "illegal MS",
    104: "IMSI unknown in VLR",
    105: "IMEI not accepted",
    106: "illegal ME",
    107: "GPRS services not allowed",
    108: "GPRS services and non-GPRS services not allowed",
    109: "MS identity cannot be derived by the network",
    110: "implicitly detached",
    111: "PLMN not allowed",
    112: "location area not allowed",
    113: "roaming not allowed in this location area",
    114: "GPRS services not allowed in this PLMN",
    115: "no suitable cells in location area",
    116: "MSC temporarily not reachable",
    117: "network failure",
    118: "CS domain not available",
    119: "ESM failure",
    122: "congestion",
    124: "MBMS bearer capabilities insufficient for the service",
    125: "not authorized for this CSG",
    126: "insufficient resources",
    127: "missing or unknown APN",
    128: "unknown PDP address or PDP type",
    129: "user authentication failed",
    130: "activation rejected by GGSN, Serving GW or PDN GW",
    131: "activation rejected, unspecified",
    132: "service option not supported",
    133: "requested service option not subscribed",
    134: "service option temporarily out of order",
    135: "NSAPI already used",
    136: "regular deactivation",
    137: "QoS not accepted",
    138: "call cannot be identified",
    139: "CS service temporarily not available",
    140: "feature not supported",
    141: "semantic error in the TFT operation",
    142: "syntactical error in the TFT operation",
    143: "unknown PDP context",
    144: "semantic errors in packet filter(s)",
    145: "syntactical errors in packet filter(s)",
    146: "PDP context without TFT already activated",
    147: "multicast group membership time-out",
    148: "unspecified GPRS error",
    149: "PDP authentication failure",
    150: "invalid mobile class",
    171: "last PDN disconnection not allowed",
    172: "semantically incorrect message",
    173: "invalid mandatory information",
    174: "message type non-existent or not implemented",
    175: "conditional IE error",
    176: "unspecified protocol error",
    177: "operator determined barring",
    178: "maximum number of PDP contexts reached",
    179: "requested APN not supported in current RAT and PLMN combination",
    180: "request rejected, bearer control mode violation",
    181: "unsupported QCI value",
}

# Not in 27.007 but common in modules' manuals (Siemens/Cinterion lineage and others).
_VENDOR: dict[int, str] = {
    262: "SIM blocked",
}

CME_ERRORS: Mapping[int, str] = types.MappingProxyType({**_GENERAL, **_PACKET, **_VENDOR})
"""`+CME ERROR` code → text."""

CMS_ERRORS: Mapping[int, str] = types.MappingProxyType(
    {
        300: "ME failure",
        301: "SMS service of ME reserved",
        302: "operation not allowed",
        303: "operation not supported",
        304: "invalid PDU mode parameter",
        305: "invalid text mode parameter",
        310: "(U)SIM not inserted",
        311: "(U)SIM PIN required",
        312: "PH-(U)SIM PIN required",
        313: "(U)SIM failure",
        314: "(U)SIM busy",
        315: "(U)SIM wrong",
        316: "(U)SIM PUK required",
        317: "(U)SIM PIN2 required",
        318: "(U)SIM PUK2 required",
        320: "memory failure",
        321: "invalid memory index",
        322: "memory full",
        330: "SMSC address unknown",
        331: "no network service",
        332: "network timeout",
        340: "no +CNMA acknowledgement expected",
        500: "unknown error",
    }
)
"""`+CMS ERROR` code → text (27.005 §3.2.5; 0-255 are network causes, not listed)."""

# Spellings seen from modules and older editions of the standards.
_CME_ALIASES: dict[str, int] = {
    "phone adapter link reserved": 2,
    "link reserved": 2,
    "no connection": 1,
    "PH-SIM PUK required": 48,
    "no network": 30,
    "timeout": 31,
    "network not allowed, emergency calls only": 32,
    "unknown error": 100,
}
_CMS_ALIASES: dict[str, int] = {
    "SIM PUK required": 316,
    "SIM PIN2 required": 317,
    "SIM PUK2 required": 318,
}

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def _key(text: str) -> str:
    """`simpinrequired` for `SIM PIN Required`; British `personalisation` folded in."""
    folded = text.lower().replace("personalisation", "personalization")
    return _NOT_ALNUM.sub("", folded)


def _index(codes: Mapping[int, str], aliases: Mapping[str, int]) -> dict[str, int]:
    index: dict[str, int] = {}
    for code, text in codes.items():
        index.setdefault(_key(text), code)
        if "(U)" in text:
            index.setdefault(_key(text.replace("(U)", "")), code)
    for text, code in aliases.items():
        index.setdefault(_key(text), code)
    return index


_CME_INDEX = _index(CME_ERRORS, _CME_ALIASES)
_CMS_INDEX = _index(CMS_ERRORS, _CMS_ALIASES)


def cme_code_for_text(text: str) -> int | None:
    """The `+CME ERROR` code a verbose text stands for; None when it is not known."""
    return _CME_INDEX.get(_key(text)) if _key(text) else None


def cms_code_for_text(text: str) -> int | None:
    """The `+CMS ERROR` code a verbose text stands for; None when it is not known."""
    return _CMS_INDEX.get(_key(text)) if _key(text) else None


def cme_text(code: int) -> str | None:
    """The 27.007 text of a `+CME ERROR` code; None for codes not listed here."""
    return CME_ERRORS.get(code)


def cms_text(code: int) -> str | None:
    """The 27.005 text of a `+CMS ERROR` code; None for codes not listed here."""
    return CMS_ERRORS.get(code)
