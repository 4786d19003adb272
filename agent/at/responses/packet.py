"""Answers about packet data and the device's modes: `+CGACT?`, `+CGDCONT?`, `+CGPADDR`,
`+CGATT?`, `+CFUN?` and `+CMEE?` (3GPP TS 27.007 §10.1, §8.2, §9.1)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.at.errors import ResponseParseError
from agent.at.responses._fields import (
    first_prefixed,
    prefixed,
    split_fields,
    to_int,
    unquote,
)


@dataclass(frozen=True, slots=True)
class PdpContextState:
    """One line of `AT+CGACT?`: whether context `cid` is active."""

    cid: int
    active: bool


def _flag(field: str, command: str, line: str, what: str) -> bool:
    value = to_int(field, command, line, what)
    if value not in (0, 1):
        raise ResponseParseError(command, line, f"{what} is {value}, not 0 or 1")
    return value == 1


def parse_cgact(lines: Sequence[str]) -> tuple[PdpContextState, ...]:
    """`+CGACT: <cid>,<state>` lines; none at all means no context is defined."""
    states: list[PdpContextState] = []
    for line, payload in prefixed(lines, "+CGACT"):
        fields = split_fields(payload, "+CGACT", line)
        if len(fields) != 2:
            raise ResponseParseError("+CGACT", line, "expected <cid>,<state>")
        cid = to_int(fields[0], "+CGACT", line, "cid")
        states.append(PdpContextState(cid, _flag(fields[1], "+CGACT", line, "state")))
    return tuple(states)


@dataclass(frozen=True, slots=True)
class PdpContext:
    """One line of `AT+CGDCONT?`: a defined context; `apn` is "" when none is set."""

    cid: int
    pdp_type: str
    apn: str


def parse_cgdcont(lines: Sequence[str]) -> tuple[PdpContext, ...]:
    """`+CGDCONT: <cid>,<PDP_type>,<APN>[,...]` lines; none means no context is defined."""
    contexts: list[PdpContext] = []
    for line, payload in prefixed(lines, "+CGDCONT"):
        fields = split_fields(payload, "+CGDCONT", line)
        if len(fields) < 2:
            raise ResponseParseError("+CGDCONT", line, "expected <cid>,<PDP_type>[,<APN>]")
        cid = to_int(fields[0], "+CGDCONT", line, "cid")
        pdp_type = unquote(fields[1]).upper()
        if not pdp_type:
            raise ResponseParseError("+CGDCONT", line, "empty PDP type")
        apn = unquote(fields[2]) if len(fields) > 2 else ""
        contexts.append(PdpContext(cid, pdp_type, apn))
    return tuple(contexts)


@dataclass(frozen=True, slots=True)
class PdpAddress:
    """One line of `AT+CGPADDR`: the addresses of context `cid` (IPv4 and/or IPv6)."""

    cid: int
    addresses: tuple[str, ...] = ()

    @property
    def has_address(self) -> bool:
        """True when some address is set and not all zeros (`0.0.0.0`)."""
        return any(a.strip("0.:") for a in self.addresses)


def parse_cgpaddr(lines: Sequence[str]) -> tuple[PdpAddress, ...]:
    """`+CGPADDR: <cid>[,<addr1>[,<addr2>]]` lines (addresses quoted or not)."""
    addresses: list[PdpAddress] = []
    for line, payload in prefixed(lines, "+CGPADDR"):
        fields = split_fields(payload, "+CGPADDR", line)
        if len(fields) > 3:
            raise ResponseParseError("+CGPADDR", line, "expected <cid>[,<addr1>[,<addr2>]]")
        cid = to_int(fields[0], "+CGPADDR", line, "cid")
        found = tuple(a for a in (unquote(f) for f in fields[1:]) if a)
        addresses.append(PdpAddress(cid, found))
    return tuple(addresses)


@dataclass(frozen=True, slots=True)
class AttachState:
    """The answer to `AT+CGATT?`."""

    attached: bool


def parse_cgatt(lines: Sequence[str]) -> AttachState:
    """`+CGATT: 0|1` → `AttachState`."""
    line, payload = first_prefixed(lines, "+CGATT")
    return AttachState(_flag(split_fields(payload, "+CGATT", line)[0], "+CGATT", line, "state"))


@dataclass(frozen=True, slots=True)
class Functionality:
    """The answer to `AT+CFUN?`: 0 minimum, 1 full, 4 radio off; others vendor-defined."""

    level: int

    @property
    def full(self) -> bool:
        """The radio and SIM are on."""
        return self.level == 1

    @property
    def radio_off(self) -> bool:
        """The transmit and receive circuits are off (levels 0 and 4)."""
        return self.level in (0, 4)


def parse_cfun(lines: Sequence[str]) -> Functionality:
    """`+CFUN: <fun>[,...]` → `Functionality` (a second field, sent by some, is ignored)."""
    line, payload = first_prefixed(lines, "+CFUN")
    return Functionality(to_int(split_fields(payload, "+CFUN", line)[0], "+CFUN", line, "fun"))


@dataclass(frozen=True, slots=True)
class ErrorReporting:
    """The answer to `AT+CMEE?`: 0 plain `ERROR`, 1 numeric codes, 2 verbose texts."""

    mode: int

    @property
    def numeric(self) -> bool:
        """`+CME ERROR: 16`."""
        return self.mode == 1

    @property
    def verbose(self) -> bool:
        """`+CME ERROR: incorrect password`."""
        return self.mode == 2


def parse_cmee(lines: Sequence[str]) -> ErrorReporting:
    """`+CMEE: 0|1|2` → `ErrorReporting`."""
    line, payload = first_prefixed(lines, "+CMEE")
    mode = to_int(split_fields(payload, "+CMEE", line)[0], "+CMEE", line, "mode")
    if mode > 2:
        raise ResponseParseError("+CMEE", line, f"mode {mode} is not 0-2")
    return ErrorReporting(mode)
