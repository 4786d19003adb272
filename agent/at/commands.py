"""Building AT command lines safely: quoting, secrets, timeouts and answer prefixes.

Nothing a caller passes can end a command or start another: quoted strings refuse `"`,
CR, LF, Ctrl-Z, ESC and every other control character; bare tokens allow only the
characters 27.007 uses in unquoted parameters. Secrets are kept as such, so every log
and transcript shows `AT+CPIN="****"`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from agent.at.errors import CommandInjectionError

DEFAULT_TIMEOUT = 5.0

# Commands the network or the SIM can hold up for long, in their set and test forms;
# seconds, after ModemManager's choices and the modules' AT manuals (e.g. +COPS=? scans
# every band). Reading a setting (`AT+COPS?`) is quick and keeps the default.
LONG_TIMEOUTS: dict[str, float] = {
    "+COPS": 180.0,
    "+CGACT": 150.0,
    "+CGATT": 75.0,
    "D": 60.0,
    "+CPIN": 20.0,
    "+CLCK": 20.0,
    "+CPWD": 20.0,
    "+CFUN": 30.0,
    "+CSIM": 10.0,
    "+CRSM": 10.0,
}

# Commands whose answers carry another prefix than their own name (or several).
EXTRA_PREFIXES: dict[str, tuple[str, ...]] = {
    "+CCID": ("+ICCID", "+CCID"),
    "+CICCID": ("+ICCID",),
    "+QCCID": ("+QCCID",),
    "+CGSN": ("+CGSN", "+GSN"),
}

# Commands whose answers include lines with no `+NAME:` prefix (27.007 §5, 27.005 §3.4:
# identity texts, PDUs, the command list). For every other command such a line in the
# shape of a result word ends the command (see the engine), rather than waiting forever.
BARE_ANSWERS = frozenset(
    {
        "I",
        "+CGMI",
        "+GMI",
        "+CGMM",
        "+GMM",
        "+CGMR",
        "+GMR",
        "+CGSN",
        "+GSN",
        "+CIMI",
        "+CCID",
        "+ICCID",
        "+QCCID",
        "+CICCID",
        "+CMGL",
        "+CMGR",
        "+CMGS",
        "+CLAC",
        "+CUSD",
    }
)

_TOKEN = re.compile(r"^[A-Za-z0-9.*#_+\-]*$")
_NAME = re.compile(r"^(?:[+^%$#*][A-Za-z0-9_]+|&?[A-Za-z]\d*|)$")
MASK = "****"


@dataclass(frozen=True, slots=True)
class Quoted:
    """A string parameter, written in double quotes; `secret` masks it in logs."""

    value: str
    secret: bool = False

    def __repr__(self) -> str:
        return f"Quoted({MASK!r}, secret=True)" if self.secret else f"Quoted({self.value!r})"


def secret(value: str) -> Quoted:
    """A quoted parameter that must never be shown: a PIN, PUK or password."""
    return Quoted(value, secret=True)


Param = str | int | Quoted | None


@dataclass(frozen=True, slots=True)
class Command:
    """One command line (without the trailing CR), ready for the engine to send."""

    line: str = field(repr=False)  # may hold a PIN: reprs show `masked` only
    masked: str
    timeout: float = DEFAULT_TIMEOUT
    response_prefixes: frozenset[str] = field(default_factory=frozenset)
    expects_prompt: bool = False
    sets_numeric_results: bool | None = None
    bare_lines: bool = False  # the answer may hold lines without a `+NAME:` prefix

    def __str__(self) -> str:
        return self.masked


def _check_quoted(value: str, secret: bool) -> str:
    bad = sorted({c for c in value if c == '"' or not c.isprintable() or not c.isascii()})
    if bad:
        shown = "characters" if secret else ", ".join(repr(c) for c in bad)
        raise CommandInjectionError(
            f"parameter may not contain {shown}: only printable ASCII without double quotes "
            "can be quoted without ending the string or the command"
        )
    return value


def _render(param: Param) -> tuple[str, str]:
    """(wire text, logged text) of one parameter."""
    if param is None:
        return "", ""
    if isinstance(param, bool):
        raise TypeError("write booleans as 0 or 1")
    if isinstance(param, int):
        return str(param), str(param)
    if isinstance(param, Quoted):
        text = f'"{_check_quoted(param.value, param.secret)}"'
        return text, f'"{MASK}"' if param.secret else text
    if not _TOKEN.match(param):
        raise CommandInjectionError(
            f"bare parameter {param!r} may hold only letters, digits and . * # _ + -; "
            "quote strings with Quoted()"
        )
    return param, param


def _timeout_for(name: str) -> float:
    return LONG_TIMEOUTS.get(name.upper(), DEFAULT_TIMEOUT)


def _build(
    name: str,
    suffix: str,
    params: tuple[Param, ...],
    *,
    timeout: float | None,
    prefixes: tuple[str, ...],
    expects_prompt: bool = False,
) -> Command:
    if not _NAME.match(name):
        raise CommandInjectionError(f"not an AT command name: {name!r}")
    rendered = [_render(p) for p in params]
    wire = ",".join(r[0] for r in rendered)
    logged = ",".join(r[1] for r in rendered)
    upper = name.upper()
    answer_prefixes = frozenset(EXTRA_PREFIXES.get(upper, (upper,)) + tuple(prefixes))
    return Command(
        line=f"AT{name}{suffix}{wire}",
        masked=f"AT{name}{suffix}{logged}",
        timeout=_timeout_for(name) if timeout is None else timeout,
        response_prefixes=answer_prefixes,
        expects_prompt=expects_prompt,
        bare_lines=upper in BARE_ANSWERS,
    )


def execute(name: str, *, timeout: float | None = None, prefixes: tuple[str, ...] = ()) -> Command:
    """`AT<name>`: run an action or read a bare answer (`AT+CIMI`, `ATI`, `ATE0`)."""
    command = _build(name, "", (), timeout=timeout, prefixes=prefixes)
    if name.upper() in ("V0", "V1"):
        return _with_numeric(command, name.upper() == "V0")
    if name.upper() == "Z":
        return _with_numeric(command, False)
    return command


def _with_numeric(command: Command, numeric: bool) -> Command:
    return dataclasses.replace(command, sets_numeric_results=numeric)


def read(name: str, *, timeout: float | None = None, prefixes: tuple[str, ...] = ()) -> Command:
    """`AT<name>?`: read the current setting."""
    return _build(
        name, "?", (), timeout=DEFAULT_TIMEOUT if timeout is None else timeout, prefixes=prefixes
    )


def supported_values(
    name: str, *, timeout: float | None = None, prefixes: tuple[str, ...] = ()
) -> Command:
    """`AT<name>=?` (27.007's "test command"): ask which values are supported."""
    return _build(name, "=?", (), timeout=timeout, prefixes=prefixes)


def write(
    name: str,
    *params: Param,
    timeout: float | None = None,
    prefixes: tuple[str, ...] = (),
    expects_prompt: bool = False,
) -> Command:
    """`AT<name>=<p1>,<p2>…`: set values or run with arguments."""
    return _build(
        name,
        "=",
        params,
        timeout=timeout,
        prefixes=prefixes,
        expects_prompt=expects_prompt,
    )


def dial(number: str, *, timeout: float | None = None) -> Command:
    """`ATD<number>`, e.g. `ATD*99***1#` to start a packet data call."""
    if not number or not _TOKEN.match(number):
        raise CommandInjectionError(f"not a dial string: {number!r}")
    return Command(
        line=f"ATD{number}",
        masked=f"ATD{number}",
        bare_lines=True,
        timeout=_timeout_for("D") if timeout is None else timeout,
    )
