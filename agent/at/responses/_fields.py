"""Shared lexing of information lines: prefixes, comma fields, quotes, numbers.

A payload is split on commas that are outside double quotes and outside parentheses, so
`(2,"T-Mobile","TMO","31026",0),,(0-4)` is three fields. Fields come back stripped of
surrounding spaces but still quoted; `unquote` removes one pair of quotes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from agent.at.errors import ResponseParseError

_DECIMAL = re.compile(r"[0-9]+")
_HEX = re.compile(r"[0-9A-Fa-f]+")


def prefixed(lines: Sequence[str], prefix: str) -> Iterator[tuple[str, str]]:
    """Yield `(line, payload)` for each line that starts with `prefix:` (any case)."""
    wanted = prefix.upper() + ":"
    for line in lines:
        text = line.strip()
        if text[: len(wanted)].upper() == wanted:
            yield line, text[len(wanted) :].strip()


def first_prefixed(lines: Sequence[str], prefix: str) -> tuple[str, str]:
    """The first `(line, payload)` carrying `prefix`; raise when no line carries it."""
    for found in prefixed(lines, prefix):
        return found
    raise ResponseParseError(prefix, " | ".join(lines), f"no line starts with {prefix}:")


def split_fields(payload: str, command: str, line: str) -> list[str]:
    """Split `payload` on top-level commas; each field stripped, quotes kept."""
    fields: list[str] = []
    current: list[str] = []
    in_quote = False
    depth = 0
    for char in payload:
        if char == '"':
            in_quote = not in_quote
        elif not in_quote and char == "(":
            depth += 1
        elif not in_quote and char == ")":
            depth -= 1
            if depth < 0:
                raise ResponseParseError(command, line, "a ')' closes nothing")
        elif not in_quote and depth == 0 and char == ",":
            fields.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    if in_quote:
        raise ResponseParseError(command, line, "a quoted string is not closed")
    if depth:
        raise ResponseParseError(command, line, "a '(' is not closed")
    fields.append("".join(current).strip())
    return fields


def unquote(field: str) -> str:
    """`field` without one pair of enclosing double quotes, stripped."""
    text = field.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1].strip()
    return text


def to_int(field: str, command: str, line: str, what: str) -> int:
    """A decimal field (quotes and leading zeros allowed); raise when it is not one."""
    text = unquote(field)
    if not _DECIMAL.fullmatch(text):
        raise ResponseParseError(command, line, f"{what} is not a decimal number: {field!r}")
    return int(text)


def to_optional_int(field: str | None, command: str, line: str, what: str) -> int | None:
    """Like `to_int`, but an absent or empty field is None."""
    if field is None or not unquote(field):
        return None
    return to_int(field, command, line, what)


def decimal_or_none(field: str | None) -> int | None:
    """A decimal field's value, or None when it is absent, empty or not decimal."""
    if field is None:
        return None
    text = unquote(field)
    return int(text) if _DECIMAL.fullmatch(text) else None


def to_optional_hex(field: str | None, command: str, line: str, what: str) -> int | None:
    """A hex field (quoted or not, spaces inside ignored); None when absent or empty."""
    if field is None:
        return None
    text = "".join(unquote(field).split())
    if not text:
        return None
    if not _HEX.fullmatch(text):
        raise ResponseParseError(command, line, f"{what} is not hexadecimal: {field!r}")
    return int(text, 16)


def is_hex(text: str) -> bool:
    """True when `text` is a non-empty run of hex digits."""
    return _HEX.fullmatch(text) is not None


def is_decimal(text: str) -> bool:
    """True when `text` is a non-empty run of ASCII decimal digits."""
    return _DECIMAL.fullmatch(text) is not None
