"""ICCIDs: the Luhn check digit and the EF_ICCID encoding (ETSI TS 102 221 §13.2).

Real cards and peers' test data do not all pass Luhn, and some carry hex digits after the
issuer prefix, so nothing here rejects an ICCID for its check digit: callers report it.
"""

from __future__ import annotations

import string

HEX_DIGITS = frozenset(string.hexdigits.upper())


def luhn_check_digit(digits: str) -> int:
    """The Luhn digit that, appended to `digits` (decimal only), makes a valid number."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def luhn_valid(number: str) -> bool:
    """True when `number` is all decimal digits and its last digit is its Luhn digit."""
    if len(number) < 2 or not number.isdigit():
        return False
    return luhn_check_digit(number[:-1]) == int(number[-1])


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
