"""Answers about the radio network: registration (`+CREG`, `+CGREG`, `+CEREG`, `+C5GREG`),
the operator (`+COPS`) and signal quality (`+CSQ`), per 3GPP TS 27.007 §7 and §10."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from agent.at.errors import ResponseParseError
from agent.at.responses._fields import (
    decimal_or_none,
    first_prefixed,
    is_decimal,
    prefixed,
    split_fields,
    to_int,
    to_optional_hex,
    to_optional_int,
    unquote,
)

CliRegistration = Literal["home", "roaming", "searching", "denied", "not_registered", "unknown"]


class RegistrationStatus(enum.IntEnum):
    """`<stat>` of 27.007 §7.2, §10.1.20, §10.1.22 and §10.1.34."""

    NOT_REGISTERED = 0
    HOME = 1
    SEARCHING = 2
    DENIED = 3
    UNKNOWN = 4
    ROAMING = 5
    HOME_SMS_ONLY = 6
    ROAMING_SMS_ONLY = 7
    EMERGENCY_ONLY = 8
    HOME_CSFB_NOT_PREFERRED = 9
    ROAMING_CSFB_NOT_PREFERRED = 10
    RLOS_ONLY = 11

    @property
    def registered(self) -> bool:
        """Registered with a network, at home or roaming, in any of its variants."""
        return self.cli_name in ("home", "roaming")

    @property
    def cli_name(self) -> CliRegistration:
        """The CLI contract's word: emergency-only and RLOS-only count as not registered."""
        return _CLI_NAMES[self]


_CLI_NAMES: dict[RegistrationStatus, CliRegistration] = {
    RegistrationStatus.NOT_REGISTERED: "not_registered",
    RegistrationStatus.HOME: "home",
    RegistrationStatus.SEARCHING: "searching",
    RegistrationStatus.DENIED: "denied",
    RegistrationStatus.UNKNOWN: "unknown",
    RegistrationStatus.ROAMING: "roaming",
    RegistrationStatus.HOME_SMS_ONLY: "home",
    RegistrationStatus.ROAMING_SMS_ONLY: "roaming",
    RegistrationStatus.EMERGENCY_ONLY: "not_registered",
    RegistrationStatus.HOME_CSFB_NOT_PREFERRED: "home",
    RegistrationStatus.ROAMING_CSFB_NOT_PREFERRED: "roaming",
    RegistrationStatus.RLOS_ONLY: "not_registered",
}


class AccessTechnology(enum.IntEnum):
    """`<AcT>` of 27.007 §7.3 / §7.2."""

    GSM = 0
    GSM_COMPACT = 1
    UTRAN = 2
    GSM_EGPRS = 3
    UTRAN_HSDPA = 4
    UTRAN_HSUPA = 5
    UTRAN_HSDPA_HSUPA = 6
    E_UTRAN = 7
    EC_GSM_IOT = 8
    E_UTRAN_NB_S1 = 9
    E_UTRA_5GCN = 10
    NR_5GCN = 11
    NG_RAN = 12
    E_UTRA_NR_DUAL = 13


def access_technology(value: int | None) -> AccessTechnology | None:
    """The `AccessTechnology` for `value`; None for absent or vendor-specific values."""
    if value is None:
        return None
    try:
        return AccessTechnology(value)
    except ValueError:
        return None


RegistrationCommand = Literal["+CREG", "+CGREG", "+CEREG", "+C5GREG"]
_REGISTRATION_COMMANDS: tuple[RegistrationCommand, ...] = ("+CREG", "+CGREG", "+CEREG", "+C5GREG")
# Fields between <AcT> and <cause_type>: +CGREG has <rac>, +C5GREG the allowed NSSAI pair.
_FIELDS_BEFORE_CAUSE = {"+CREG": 3, "+CGREG": 4, "+CEREG": 3, "+C5GREG": 5}


@dataclass(frozen=True, slots=True)
class Registration:
    """A registration state: from a read answer (`n` set) or from a URC (`n` None)."""

    command: RegistrationCommand
    stat: RegistrationStatus
    lac_or_tac: int | None = None
    cell_id: int | None = None
    act: AccessTechnology | None = None
    n: int | None = None
    cause_type: int | None = None
    reject_cause: int | None = None

    @property
    def cli_name(self) -> CliRegistration:
        """The CLI contract's word for `stat`."""
        return self.stat.cli_name


def _registration_command(command: str) -> RegistrationCommand:
    name = command.strip().upper().removeprefix("AT").rstrip("?")
    name = name if name.startswith("+") else "+" + name
    for known in _REGISTRATION_COMMANDS:
        if name == known:
            return known
    raise ValueError(f"not a registration command: {command!r}")


def _stat(field: str, command: str, line: str) -> RegistrationStatus:
    value = to_int(field, command, line, "stat")
    try:
        return RegistrationStatus(value)
    except ValueError:
        raise ResponseParseError(command, line, f"stat {value} is not in 27.007") from None


def _build(
    command: RegistrationCommand, line: str, n: int | None, stat_field: str, rest: list[str]
) -> Registration:
    """`rest` holds the fields after `<stat>`; the Novatel LTE layout puts an RAC before
    the cell id (`+CEREG: 1, 1F00, 20 ,79D903 ,7`), recognisable by its field count."""
    stat = _stat(stat_field, command, line)
    if command == "+CEREG" and len(rest) == 4:
        rest = [rest[0], rest[2], rest[3]]
    location = [*rest, "", "", ""]
    offset = _FIELDS_BEFORE_CAUSE[command]
    cause = rest[offset : offset + 2] if len(rest) >= offset + 2 else [None, None]
    return Registration(
        command=command,
        stat=stat,
        lac_or_tac=to_optional_hex(location[0], command, line, "lac/tac"),
        cell_id=to_optional_hex(location[1], command, line, "cell id"),
        act=access_technology(decimal_or_none(location[2])),
        n=n,
        cause_type=decimal_or_none(cause[0]),
        reject_cause=decimal_or_none(cause[1]),
    )


def parse_registration_read(lines: Sequence[str], command: str) -> Registration:
    """The answer to `AT+CREG?` (or `+CGREG?`, `+CEREG?`, `+C5GREG?`): `<n>,<stat>[,...]`.

    `command` may be spelt `+CREG`, `CREG` or `AT+CREG?`; another command is a caller's
    mistake (`ValueError`). A line of the same prefix with a single field is a URC that
    slipped in and is skipped.
    """
    name = _registration_command(command)
    for line, payload in prefixed(lines, name):
        fields = split_fields(payload, name, line)
        if len(fields) >= 2:
            n = to_int(fields[0], name, line, "n")
            return _build(name, line, n, fields[1], fields[2:])
    raise ResponseParseError(name, " | ".join(lines), f"no {name}: line holds <n>,<stat>")


def parse_registration_urc(line: str) -> Registration:
    """An unsolicited `+CREG: <stat>[,<lac>,<ci>[,<AcT>...]]` (or `+CGREG`, `+CEREG`,
    `+C5GREG`). Altair LTE modules put `<n>` first in URCs too (five fields, the second
    a small number): that form is read as a read answer."""
    upper = line.strip().upper()
    for name in _REGISTRATION_COMMANDS:
        if upper.startswith(name + ":"):
            fields = split_fields(line.strip()[len(name) + 1 :], name, line)
            altair = (
                name in ("+CREG", "+CEREG")
                and len(fields) == 5
                and all(is_decimal(f) and len(f) <= 2 for f in fields[:2])
            )
            if altair:
                return _build(name, line, int(fields[0]), fields[1], fields[2:])
            return _build(name, line, None, fields[0], fields[1:])
    raise ResponseParseError("+CREG", line, "not a registration line")


class OperatorFormat(enum.IntEnum):
    """`<format>` of `+COPS` (27.007 §7.3)."""

    LONG_ALPHANUMERIC = 0
    SHORT_ALPHANUMERIC = 1
    NUMERIC = 2


@dataclass(frozen=True, slots=True)
class Operator:
    """The answer to `AT+COPS?`; `+COPS: 0` (no operator selected) has only `mode`."""

    mode: int
    format: OperatorFormat | None = None
    name: str | None = None
    act: AccessTechnology | None = None


def parse_cops(lines: Sequence[str]) -> Operator:
    """`+COPS: <mode>[,<format>,<oper>[,<AcT>]]` → `Operator`."""
    line, payload = first_prefixed(lines, "+COPS")
    fields = split_fields(payload, "+COPS", line)
    mode = to_int(fields[0], "+COPS", line, "mode")
    if len(fields) == 1:
        return Operator(mode)
    if len(fields) < 3:
        raise ResponseParseError("+COPS", line, "a format without an operator")
    raw_format = to_int(fields[1], "+COPS", line, "format")
    try:
        fmt = OperatorFormat(raw_format)
    except ValueError:
        raise ResponseParseError("+COPS", line, f"format {raw_format} is not 0-2") from None
    act = to_optional_int(fields[3], "+COPS", line, "AcT") if len(fields) > 3 else None
    return Operator(mode, fmt, unquote(fields[2]), access_technology(act))


class OperatorAvailability(enum.IntEnum):
    """`<stat>` of an entry in the `AT+COPS=?` list."""

    UNKNOWN = 0
    AVAILABLE = 1
    CURRENT = 2
    FORBIDDEN = 3


@dataclass(frozen=True, slots=True)
class NetworkOperator:
    """One network in the answer to `AT+COPS=?`."""

    stat: OperatorAvailability
    long_name: str
    short_name: str
    numeric: str
    act: AccessTechnology | None = None


def parse_cops_list(lines: Sequence[str]) -> tuple[NetworkOperator, ...]:
    """The networks in an `AT+COPS=?` answer; the trailing mode and format lists are
    skipped. A line that starts with `(` continues the list of the line before it."""
    payloads: list[str] = [payload for _, payload in prefixed(lines, "+COPS")]
    if not payloads:
        raise ResponseParseError("+COPS", " | ".join(lines), "no line starts with +COPS:")
    payloads += [line.strip() for line in lines if line.strip().startswith("(")]
    found: list[NetworkOperator] = []
    for payload in payloads:
        for entry in split_fields(payload, "+COPS", payload):
            if not entry:
                break
            operator = _list_entry(entry)
            if operator is None:
                break
            found.append(operator)
    return tuple(found)


def _list_entry(entry: str) -> NetworkOperator | None:
    """An operator entry `(stat,"long","short","numeric"[,AcT])`; None for a range list."""
    if not (entry.startswith("(") and entry.endswith(")")):
        raise ResponseParseError("+COPS", entry, "a list entry is not in parentheses")
    fields = split_fields(entry[1:-1], "+COPS", entry)
    if len(fields) < 4 or (fields[1] and not fields[1].startswith('"')):
        return None
    stat = to_int(fields[0], "+COPS", entry, "stat")
    if stat > 3:
        raise ResponseParseError("+COPS", entry, f"stat {stat} is not 0-3")
    act = to_optional_int(fields[4], "+COPS", entry, "AcT") if len(fields) > 4 else None
    return NetworkOperator(
        OperatorAvailability(stat),
        unquote(fields[1]),
        unquote(fields[2]),
        unquote(fields[3]),
        access_technology(act),
    )


@dataclass(frozen=True, slots=True)
class SignalQuality:
    """The answer to `AT+CSQ` (27.007 §8.5): raw `<rssi>` and `<ber>` (99 = unknown)."""

    rssi_index: int
    ber: int

    @property
    def rssi_dbm(self) -> int | None:
        """Received strength in dBm (0: -113 or less, 31: -51 or more); None if unknown.

        The TD-SCDMA range 100-191 maps to -116 .. -25 dBm.
        """
        if self.rssi_index <= 31:
            return -113 + 2 * self.rssi_index
        if 100 <= self.rssi_index <= 191:
            return self.rssi_index - 216
        return None

    @property
    def ber_known(self) -> bool:
        """True when the modem measured a bit error rate."""
        return self.ber != 99


def parse_csq(lines: Sequence[str]) -> SignalQuality:
    """`+CSQ: <rssi>,<ber>` → `SignalQuality`."""
    line, payload = first_prefixed(lines, "+CSQ")
    fields = split_fields(payload, "+CSQ", line)
    if len(fields) != 2:
        raise ResponseParseError("+CSQ", line, "expected <rssi>,<ber>")
    rssi = to_int(fields[0], "+CSQ", line, "rssi")
    ber = to_int(fields[1], "+CSQ", line, "ber")
    if not (rssi <= 31 or rssi == 99 or 100 <= rssi <= 191):
        raise ResponseParseError("+CSQ", line, f"rssi {rssi} is outside 27.007")
    if not (ber <= 7 or ber == 99):
        raise ResponseParseError("+CSQ", line, f"ber {ber} is outside 27.007")
    return SignalQuality(rssi, ber)
