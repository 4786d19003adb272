"""ICCIDs: the Luhn check digit, the EF_ICCID encoding (ETSI TS 102 221 §13.2), and the
validation of a read ICCID as ModemManager's `mm_3gpp_parse_iccid` does it.

Real cards and peers' test data do not all pass Luhn, and some carry hex digits after the
issuer prefix, so nothing here rejects an ICCID for its check digit: callers report it.
What is refused is a value that cannot be a SIM's ICCID: not 19 or 20 characters, a
character that is not a digit (hex only after the sixth), or an issuer identifier whose
major industry identifier is not 89, telecommunications (ITU-T E.118, ISO/IEC 7812).
"""

from __future__ import annotations

import string

from simgate_common.luhn import luhn_check_digit, luhn_valid

__all__ = [
    "HEX_DIGITS",
    "decode_ef_iccid",
    "encode_ef_iccid",
    "luhn_check_digit",
    "luhn_valid",
    "validate_iccid",
]

HEX_DIGITS = frozenset(string.hexdigits.upper())


def decode_ef_iccid(hex_data: str) -> str:
    """Decode EF_ICCID's 10 bytes of nibble-swapped BCD; `F` padding nibbles are dropped.

    Raises `ValueError` when the data is not hex or a filler appears before real digits.
    """
    data = hex_data.strip().upper()
    if not data or len(data) % 2 or not set(data) <= HEX_DIGITS:
        raise ValueError(f"EF_ICCID is not an even run of hex digits: {hex_data!r}")
    swapped = "".join(data[i + 1] + data[i] for i in range(0, len(data), 2))
    iccid = swapped.rstrip("F")
    if "F" in iccid[:6] or not iccid:
        raise ValueError(f"EF_ICCID has padding inside the number: {hex_data!r}")
    return iccid


def encode_ef_iccid(iccid: str, size: int = 10) -> str:
    """Encode an ICCID as EF_ICCID's nibble-swapped BCD, padded with `F` to `size` bytes."""
    digits = iccid.upper()
    if not digits or not set(digits) <= HEX_DIGITS or len(digits) > size * 2:
        raise ValueError(f"not an ICCID of at most {size * 2} hex digits: {iccid!r}")
    padded = digits.ljust(size * 2, "F")
    return "".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2))


TELECOM_MII = "89"


def validate_iccid(raw: str) -> str:
    """The ICCID a modem's answer spells, validated; `ValueError` says what is wrong.

    Quotes and spaces around are dropped; `98...` of 20 characters is EF_ICCID's
    nibble-swapped form and is swapped back; one trailing `F` filler is dropped.
    """
    text = raw.strip().strip('"').strip().upper()
    for position, char in enumerate(text):
        if not (char.isdigit() or (position >= 6 and char in HEX_DIGITS)):
            raise ValueError(f"ICCID has {char!r} at position {position}: {raw!r}")
    if not 19 <= len(text) <= 20:
        raise ValueError(f"an ICCID has 19 or 20 characters, this has {len(text)}: {raw!r}")
    if text.startswith("98"):
        if len(text) != 20:
            raise ValueError(f"a nibble-swapped ICCID has 20 characters: {raw!r}")
        text = "".join(text[i + 1] + text[i] for i in range(0, 20, 2))
    elif not text.startswith(TELECOM_MII):
        raise ValueError(
            f"issuer identifier {text[:2]!r} is not a telecom one (an ICCID starts 89): {raw!r}"
        )
    return text[:-1] if text.endswith("F") else text
