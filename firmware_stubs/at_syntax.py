"""The command side of the AT grammar (ITU-T V.250): split a command line into commands.

This is the modem's half of the grammar the agent speaks: it reads what the agent writes.
Everything here is pure; a line that breaks the grammar raises `AtSyntaxError`, which the
interpreter answers with `ERROR`.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

# Characters V.250 allows in an extended command name after its prefix.
_EXT_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!%-./:_")
# Prefixes of extended commands: `+` (standard) and the vendor prefixes seen in the wild.
EXT_PREFIXES = "+%^$*#"


class AtSyntaxError(ValueError):
    """The command line does not follow the AT grammar."""


class CommandError(Exception):
    """The command is known but its parameters are wrong: answered with plain `ERROR`."""


class CmeError(Exception):
    """The modem refuses the command with `+CME ERROR: <code>` (27.007 §9.2)."""

    def __init__(self, code: int) -> None:
        super().__init__(f"+CME ERROR: {code}")
        self.code = code


class CmsError(Exception):
    """The modem refuses a message service command with `+CMS ERROR: <code>` (27.005)."""

    def __init__(self, code: int) -> None:
        super().__init__(f"+CMS ERROR: {code}")
        self.code = code


class CommandKind(enum.Enum):
    """The four forms of an extended command: `+X`, `+X?`, `+X=?`, `+X=…`."""

    EXEC = ""
    READ = "?"
    TEST = "=?"
    SET = "="


@dataclass(frozen=True)
class Param:
    """One parameter of a set command; `quoted` tells a string constant from a number."""

    text: str
    quoted: bool = False

    @property
    def empty(self) -> bool:
        """True for an omitted parameter (`,,`)."""
        return not self.text and not self.quoted


@dataclass(frozen=True)
class Command:
    """One command of a command line.

    `name` is upper case: `+CPIN`, `E`, `&C`, `S7`, `D`. Basic commands keep their numeric
    value (or the dial string for `D`) in `value`; extended set commands their `params`.
    """

    name: str
    kind: CommandKind = CommandKind.EXEC
    params: tuple[Param, ...] = ()
    value: str = ""

    def param_count(self, low: int, high: int) -> None:
        """Raise `CommandError` unless the command has `low` to `high` parameters."""
        if not low <= len(self.params) <= high:
            raise CommandError(f"{self.name} takes {low} to {high} parameters")

    def int_param(
        self, index: int, default: int | None = None, allowed: range | set[int] | None = None
    ) -> int:
        """Parameter `index` as an unquoted integer (or `default` when omitted)."""
        param = self.params[index] if index < len(self.params) else Param("")
        if param.empty:
            if default is None:
                raise CommandError(f"{self.name}: parameter {index + 1} is required")
            return default
        if param.quoted or not param.text.isdigit() or len(param.text) > 9:
            raise CommandError(f"{self.name}: parameter {index + 1} must be a number")
        value = int(param.text)
        if allowed is not None and value not in allowed:
            raise CommandError(f"{self.name}: parameter {index + 1} is out of range")
        return value

    def str_param(self, index: int, default: str | None = None) -> str:
        """Parameter `index` as text, quoted or not (or `default` when omitted)."""
        param = self.params[index] if index < len(self.params) else Param("")
        if param.empty:
            if default is None:
                raise CommandError(f"{self.name}: parameter {index + 1} is required")
            return default
        return param.text


def parse_command_line(body: str) -> list[Command]:
    """Split what follows `AT` into commands; `[]` for a bare `AT`."""
    commands: list[Command] = []
    i, n = 0, len(body)
    while i < n:
        char = body[i]
        upper = char.upper()
        if char in " ;":
            i += 1
        elif char in EXT_PREFIXES:
            command, i = _extended(body, i)
            commands.append(command)
        elif upper == "D":
            commands.append(Command("D", value=body[i + 1 :].strip()))
            break
        elif upper == "S":
            command, i = _s_register(body, i + 1)
            commands.append(command)
        elif char == "&" and i + 1 < n and body[i + 1].isalpha() and body[i + 1].isascii():
            letter = body[i + 1].upper()
            value, i = _digits(body, i + 2)
            commands.append(Command("&" + letter, value=value))
        elif upper.isalpha() and upper.isascii():
            value, i = _digits(body, i + 1)
            commands.append(Command(upper, value=value))
        else:
            raise AtSyntaxError(f"unexpected character {char!r}")
    return commands


def _digits(body: str, i: int) -> tuple[str, int]:
    start = i
    while i < len(body) and body[i] in "0123456789":
        i += 1
    return body[start:i], i


def _s_register(body: str, i: int) -> tuple[Command, int]:
    number, i = _digits(body, i)
    if not number:
        raise AtSyntaxError("S register without a number")
    name = "S" + str(int(number))
    if body.startswith("?", i):
        return Command(name, CommandKind.READ), i + 1
    if body.startswith("=", i):
        value, i = _digits(body, i + 1)
        return Command(name, CommandKind.SET, value=value), i
    raise AtSyntaxError("S register needs ? or =")


def _extended(body: str, i: int) -> tuple[Command, int]:
    start = i
    i += 1
    while i < len(body) and body[i].upper() in _EXT_NAME_CHARS:
        i += 1
    name = body[start:i].upper()
    if len(name) < 2:
        raise AtSyntaxError("extended command without a name")
    params: tuple[Param, ...] = ()
    if body.startswith("=?", i):
        kind, i = CommandKind.TEST, i + 2
    elif body.startswith("?", i):
        kind, i = CommandKind.READ, i + 1
    elif body.startswith("=", i):
        kind = CommandKind.SET
        params, i = _params(body, i + 1)
    else:
        kind = CommandKind.EXEC
    while i < len(body) and body[i] == " ":
        i += 1
    if i < len(body) and body[i] != ";":
        raise AtSyntaxError(f"{name}: unexpected {body[i]!r} after the command")
    return Command(name, kind, params), i


def _params(body: str, i: int) -> tuple[tuple[Param, ...], int]:
    params: list[Param] = []
    n = len(body)
    while True:
        while i < n and body[i] == " ":
            i += 1
        if i < n and body[i] == '"':
            end = body.find('"', i + 1)
            if end < 0:
                raise AtSyntaxError("unterminated string constant")
            params.append(Param(body[i + 1 : end], quoted=True))
            i = end + 1
            while i < n and body[i] == " ":
                i += 1
        else:
            start = i
            while i < n and body[i] not in ',;"':
                i += 1
            text = body[start:i].strip()
            if '"' in body[i : i + 1]:
                raise AtSyntaxError("quote inside a parameter")
            if text and not all(c.isalnum() or c in ".-+*#()" for c in text):
                raise AtSyntaxError(f"bad parameter {text!r}")
            params.append(Param(text))
        if i < n and body[i] == ",":
            i += 1
            continue
        if i < n and body[i] != ";":
            raise AtSyntaxError("parameters must be separated by commas")
        return tuple(params), i


# Commands whose parameters carry secrets, and how many leading parameters are harmless.
_SECRET_COMMANDS = {"+CPIN": 0, "+CPIN2": 0, "+CPWD": 1, "+CLCK": 2, "+CSIM": 1}
_SECRET_RE = re.compile(r"(\+CPIN2?|\+CPWD|\+CLCK|\+CSIM)\s*=([^;]*)", re.IGNORECASE)


def mask_secrets(line: str) -> str:
    """The command line with PINs, PUKs and APDU data replaced by `****`, fit for logs."""

    def mask(match: re.Match[str]) -> str:
        if match.group(2).strip() == "?":
            return match.group(0)
        keep = _SECRET_COMMANDS[match.group(1).upper()]
        parts = _split_raw(match.group(2))
        if parts is None:
            return f"{match.group(1)}=****"
        masked = [
            part if index < keep else ('"****"' if part.strip().startswith('"') else "****")
            for index, part in enumerate(parts)
        ]
        return f"{match.group(1)}={','.join(masked)}"

    return _SECRET_RE.sub(mask, line)


def _split_raw(text: str) -> list[str] | None:
    """Split raw parameter text at commas outside quotes; None if a quote is unclosed."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if quoted:
        return None
    parts.append("".join(current))
    return parts
