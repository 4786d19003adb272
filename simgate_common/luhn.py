"""The Luhn check digit, shared by the device side (ICCIDs, IMEIs) and the emulator."""

from __future__ import annotations


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
