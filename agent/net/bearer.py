"""What the network gave the data call: `+CGCONTRDP` (27.007 §10.1.23), and the vendors'
commands that start the modem's network device.

`+CGCONTRDP: <cid>,<bearer_id>,<apn>[,<local_addr and subnet_mask>[,<gw_addr>
[,<DNS_prim_addr>[,<DNS_sec_addr>...]]]]`. Since 27.007 v9.4.0 the address and mask are
one field, dot-joined (`10.1.2.3.255.255.255.255`); before, the mask was a field of its
own; both are read (as ModemManager's `mm_3gpp_parse_cgcontrdp_response` does). Empty
or all-zero addresses mean "not given".

Start commands (ModemManager's plugins and the vendors' AT manuals; docs/agent.md):
Quectel `AT+QNETDEVCTL=1,<cid>,0` (ECM/RNDIS call), SIMCom `AT$QCRMCALL=1,1` (RMNET/
NDIS call on profile 1), Telit `AT#ECM=<cid>,0` (ModemManager's telit-ecm bearer);
u-blox and generic modules need none (`+CGACT` brings the interface up).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from agent.at import commands
from agent.at.commands import Command
from agent.at.errors import ResponseParseError
from agent.at.responses._fields import prefixed, split_fields, to_int, unquote

NAME = "+CGCONTRDP"


@dataclass(frozen=True, slots=True)
class BearerParams:
    """One `+CGCONTRDP` line: the IPv4 parameters of an active context."""

    cid: int
    bearer_id: int
    apn: str
    address: str | None
    prefix_len: int | None
    gateway: str | None
    dns: tuple[str, ...]


def _ipv4(field: str, line: str, what: str) -> str | None:
    text = unquote(field)
    if not text:
        return None
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError:
        raise ResponseParseError(NAME, line, f"{what} is not an IPv4 address: {text!r}") from None
    return None if int(address) == 0 else str(address)


def _prefix(mask: str, line: str) -> int:
    try:
        return ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen
    except ValueError:
        raise ResponseParseError(NAME, line, f"not a subnet mask: {mask!r}") from None


def _address_and_mask(fields: list[str], line: str) -> tuple[str | None, int | None, int]:
    """(address, prefix, how many fields it took) from the 4th field on."""
    text = unquote(fields[3]) if len(fields) > 3 else ""
    if not text:
        return None, None, 1
    parts = text.split(".")
    if len(parts) == 8:  # 27.007 >= v9.4.0: a.b.c.d.m1.m2.m3.m4
        address = _ipv4(".".join(parts[:4]), line, "the local address")
        return address, _prefix(".".join(parts[4:]), line), 1
    if len(parts) == 4:  # before v9.4.0: the mask in a field of its own
        address = _ipv4(text, line, "the local address")
        mask = unquote(fields[4]) if len(fields) > 4 else ""
        return address, _prefix(mask, line) if mask else 32, 2
    if ":" in text:
        raise ResponseParseError(NAME, line, "an IPv6 context; only IPv4 is configured")
    raise ResponseParseError(NAME, line, f"not an address and mask: {text!r}")


def parse_cgcontrdp(lines: Sequence[str]) -> tuple[BearerParams, ...]:
    """Every `+CGCONTRDP:` line (none: no active context)."""
    found: list[BearerParams] = []
    for line, payload in prefixed(lines, NAME):
        fields = split_fields(payload, NAME, line)
        if len(fields) < 3:
            raise ResponseParseError(NAME, line, "expected <cid>,<bearer_id>,<apn>,...")
        cid = to_int(fields[0], NAME, line, "cid")
        bearer_id = to_int(fields[1], NAME, line, "bearer id")
        address, prefix, used = _address_and_mask(fields, line)
        rest = fields[3 + used :]
        gateway = _ipv4(rest[0], line, "the gateway") if rest else None
        dns = tuple(d for d in (_ipv4(f, line, "a DNS server") for f in rest[1:3]) if d)
        found.append(
            BearerParams(cid, bearer_id, unquote(fields[2]), address, prefix, gateway, dns)
        )
    return tuple(found)


def read_params(cid: int) -> Command:
    """`AT+CGCONTRDP=<cid>`."""
    return commands.write(NAME, cid)


@dataclass(frozen=True, slots=True)
class NetdevCommands:
    """A dialect's commands that start and stop the modem's network device."""

    start: Command
    stop: Command | None
    interface: str  # what the module's driver names the host interface


def netdev_commands(dialect: str, cid: int) -> NetdevCommands | None:
    """The start/stop commands of `dialect` for context `cid` (None: `+CGACT` is enough)."""
    if dialect == "quectel":
        return NetdevCommands(
            commands.write("+QNETDEVCTL", 1, cid, 0, timeout=60.0),
            commands.write("+QNETDEVCTL", 0, cid, 0, timeout=60.0),
            "usb0",
        )
    if dialect == "simcom":
        return NetdevCommands(
            commands.write("$QCRMCALL", 1, 1, 1, 2, cid, timeout=60.0),
            commands.write("$QCRMCALL", 0, 1, 1, 2, cid, timeout=60.0),
            "wwan0",
        )
    if dialect == "telit":
        return NetdevCommands(
            commands.write("#ECM", cid, 0, timeout=60.0), commands.write("#ECMD", 0), "wwan0"
        )
    return None


DEFAULT_INTERFACES = {"generic": "wwan0", "quectel": "usb0", "simcom": "wwan0", "ublox": "usb0"}
"""The host interface a module's data function shows by default (override: --iface)."""


def default_interface(dialect: str) -> str:
    """The host interface name to configure for `dialect`."""
    return DEFAULT_INTERFACES.get(dialect, "wwan0")
