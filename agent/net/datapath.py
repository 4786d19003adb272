"""The whole data path of `internet on|off|status`: modem, network device, host, DNS.

`bring_up` runs after the PDP context is active: the dialect's network-device start
(`agent.net.bearer.netdev_commands`), `+CGCONTRDP=<cid>` for the address, mask, gateway
and DNS, the host interface configured over netlink (`agent.net.host_link`) and the DNS
servers handed over (`agent.net.dns`). What it changed is written, step by step, to
`datapath.json` in the state directory; `bring_down` undoes exactly that, in reverse,
before the context is deactivated. A step that cannot be done (no root, no netlink, no
such interface, no resolver to hand DNS to) does not undo the data connection: it is
reported in `problems`, and the command says what it could not do.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.at.errors import ResponseParseError
from agent.modem.client import Modem
from agent.net import dns as dns_mod
from agent.net import host_link
from agent.net.bearer import (
    BearerParams,
    default_interface,
    netdev_commands,
    parse_cgcontrdp,
    read_params,
)
from agent.net.probe import DEFAULT_PORT, probe_tcp, probe_url

log = logging.getLogger(__name__)

RECORD_FILE = "datapath.json"
__all__ = [
    "HostStatus",
    "PathRecord",
    "PathReport",
    "bring_down",
    "bring_up",
    "default_interface",
    "host_view",
    "load_record",
]  # fmt: skip


@dataclass
class PathRecord:
    """What `internet on` changed beyond the PDP context."""

    cid: int
    dialect: str
    netdev_started: bool = False
    host: host_link.HostRecord | None = None
    dns: dns_mod.DnsRecord | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "cid": self.cid,
            "dialect": self.dialect,
            "netdev_started": self.netdev_started,
            "host": None if self.host is None else self.host.to_json(),
            "dns": None if self.dns is None else self.dns.to_json(),
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> PathRecord:
        """The record `to_json` saved; `ValueError` when it is not one."""
        try:
            host = doc.get("host")
            dns = doc.get("dns")
            return cls(
                cid=int(doc["cid"]),
                dialect=str(doc["dialect"]),
                netdev_started=bool(doc.get("netdev_started", False)),
                host=None if host is None else host_link.HostRecord.from_json(host),
                dns=None if dns is None else dns_mod.DnsRecord.from_json(dns),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a data path record: {exc}") from exc


@dataclass
class PathReport:
    """What `on` achieved: the interface's settings, and what it could not do."""

    interface: str | None = None
    address: str | None = None
    gateway: str | None = None
    dns: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def load_record(state_dir: Path) -> PathRecord | None:
    """The saved record, or None (none, or unreadable: logged)."""
    path = state_dir / RECORD_FILE
    try:
        return PathRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("data path: ignoring %s: %s", path, exc)
        return None


def save_record(state_dir: Path, record: PathRecord | None) -> None:
    """Write the record atomically (mode 0600), or remove it (None)."""
    path = state_dir / RECORD_FILE
    if record is None:
        path.unlink(missing_ok=True)
        return
    fd, temp = tempfile.mkstemp(dir=state_dir, prefix=".datapath-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(record.to_json(), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


async def read_bearer(modem: Modem, cid: int) -> BearerParams | None:
    """`+CGCONTRDP=<cid>`'s line for `cid`, or None when the modem does not say."""
    response = await modem.command(read_params(cid))
    if not response.result.ok:
        log.info("+CGCONTRDP=%d refused (%s)", cid, response.result)
        return None
    try:
        found = parse_cgcontrdp(response.lines)
    except ResponseParseError as exc:
        log.warning("data path: unreadable +CGCONTRDP answer: %s", exc)
        return None
    return next((p for p in found if p.cid == cid), None)


def _merge(old: PathRecord | None, new: PathRecord) -> PathRecord:
    """An `on` over an earlier `on`: what the earlier one added stays ours to undo."""
    if old is None:
        return new
    new.host = new.host or old.host
    new.dns = new.dns or old.dns
    new.netdev_started = new.netdev_started or old.netdev_started
    if old.host is not None and new.host is not None and old.host.interface == new.host.interface:
        new.host.added_address = new.host.added_address or old.host.added_address
        new.host.was_up = old.host.was_up
        new.host.routes = list(dict.fromkeys([*old.host.routes, *new.host.routes]))
    old_file = old.dns is not None and old.dns.method == "file"
    if old_file and new.dns is not None and new.dns.method == "file" and not new.dns.previous:
        new.dns.previous = old.dns.previous if old.dns is not None else None
    return new


async def bring_up(
    modem: Modem,
    *,
    dialect: str,
    cid: int,
    interface: str,
    dns_file: Path | None,
    state_dir: Path,
    netns: str | None = None,
    start_netdev: bool = True,
) -> PathReport:
    """Start the network device, configure the host, hand DNS over; record each step.

    `netns` configures an interface in another namespace (tests; DNS then goes only to
    `dns_file`)."""
    report = PathReport()
    old = load_record(state_dir)
    record = PathRecord(cid, dialect)
    netdev = netdev_commands(dialect, cid) if start_netdev else None
    if netdev is not None:
        response = await modem.command(netdev.start)
        if response.result.ok:
            record.netdev_started = True
        else:
            report.problems.append(
                f"the modem's network device start ({netdev.start.masked}) failed: "
                f"{response.result}"
            )
    save_record(state_dir, _merge(old, record))
    params = await read_bearer(modem, cid)
    if params is None or params.address is None:
        report.problems.append(
            "the modem did not report the data call's address (+CGCONTRDP); "
            f"{interface} not configured"
        )
        return report
    report.dns = list(params.dns)
    try:
        record.host = await asyncio.to_thread(  # pyroute2's IPRoute runs its own loop
            functools.partial(
                host_link.configure,
                interface,
                params.address,
                params.prefix_len or 32,
                params.gateway,
                netns=netns,
            )
        )
        report.interface, report.address = interface, params.address
        report.gateway = params.gateway
    except host_link.HostLinkError as exc:
        report.problems.append(f"the host interface was not configured: {exc}")
    record = _merge(old, record)
    save_record(state_dir, record)
    if record.host is not None:
        try:
            record.dns = dns_mod.apply(
                interface, list(params.dns), dns_file=dns_file, use_resolved=netns is None
            )
        except dns_mod.DnsError as exc:
            report.problems.append(f"DNS not configured: {exc}")
        else:
            if record.dns.method == "none" and params.dns:
                report.problems.append(
                    "DNS not configured: systemd-resolved does not serve this host and no "
                    "--dns-file was given (servers: " + ", ".join(params.dns) + ")"
                )
        record = _merge(old, record)
        save_record(state_dir, record)
    return report


async def bring_down(
    modem: Modem | None, state_dir: Path, *, netns: str | None = None
) -> tuple[list[str], list[str]]:
    """Undo what the record says, in reverse; (what was undone, what could not be)."""
    record = load_record(state_dir)
    if record is None:
        return [], []
    undone: list[str] = []
    problems: list[str] = []
    if record.dns is not None:
        try:
            did = dns_mod.undo(record.dns)
            if did:
                undone.append(did)
            record.dns = None
        except dns_mod.DnsError as exc:
            problems.append(f"DNS not restored: {exc}")
    if record.host is not None:
        try:
            undone += await asyncio.to_thread(
                functools.partial(host_link.unconfigure, record.host, netns=netns)
            )
            record.host = None
        except host_link.HostLinkError as exc:
            problems.append(f"host interface not restored: {exc}")
    if record.netdev_started and modem is not None:
        netdev = netdev_commands(record.dialect, record.cid)
        if netdev is not None and netdev.stop is not None:
            response = await modem.command(netdev.stop)
            if response.result.ok:
                undone.append(f"network device stopped ({netdev.stop.masked})")
            else:
                log.info("network device stop refused: %s", response.result)
        record.netdev_started = False
    save_record(state_dir, None if not problems else record)
    return undone, problems


@dataclass(frozen=True)
class HostStatus:
    """The host's side for `internet status` (contracts §1)."""

    interface: str | None
    address: str | None
    gateway: str | None
    dns: list[str]
    reachable: bool

    def to_json(self) -> dict[str, Any]:
        """`{"interface","address","gateway","dns","reachable"}`."""
        return {
            "interface": self.interface,
            "address": self.address,
            "gateway": self.gateway,
            "dns": list(self.dns),
            "reachable": self.reachable,
        }


async def host_view(interface: str, probe: str | None, state_dir: Path) -> HostStatus:
    """What the host shows for `interface` now, and whether the far side answers."""
    try:
        view = await asyncio.to_thread(host_link.observe, interface)
    except host_link.HostLinkError as exc:
        log.info("host: cannot read %s over netlink: %s", interface, exc)
        exists = host_link.interface_exists(interface)
        view = host_link.HostView(interface, exists=exists)
    record = load_record(state_dir)
    servers: list[str] = []
    if record is not None and record.dns is not None and record.dns.interface == interface:
        servers = list(record.dns.servers)
    reachable = False
    if view.address is not None:
        if probe is not None:
            reachable = await asyncio.to_thread(probe_url, probe, view.address)
        elif view.gateway is not None:
            reachable = await asyncio.to_thread(probe_tcp, view.gateway, DEFAULT_PORT, view.address)
    return HostStatus(
        interface if view.exists else None, view.address, view.gateway, servers, reachable
    )
