"""ICCIDs: the Luhn check digit and the EF_ICCID encoding (ETSI TS 102 221 §13.2).

Real cards and peers' test data do not all pass Luhn, and some carry hex digits after the
issuer prefix, so nothing here rejects an ICCID for its check digit: callers report it.
"""

from __future__ import annotations

import string

from simgate_common.luhn import luhn_check_digit, luhn_valid

__all__ = ["HEX_DIGITS", "decode_ef_iccid", "encode_ef_iccid", "luhn_check_digit", "luhn_valid"]

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
