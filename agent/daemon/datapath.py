"""The data-path keeper: the host side of the data call, kept as `internet on` leaves it.

Theory. The connection keeper keeps the PDP context; this keeper, called right after it
on every check (so under the same cadence and the same back-off as the context: the
check interval, a registration or `+CGEV` URC, a cloud command), keeps the host's side:

- context active, interface present, nothing recorded (or recorded for another
  context): bring the path up (`agent.net.datapath.bring_up`: the network-device start,
  `+CGCONTRDP`, address, routes, DNS);
- context active and recorded: compare the host with the record (`host_link.missing`);
  a link set down, an address lost, the default route deleted or stolen by another
  gateway is repaired by bringing the path up again (what the record owns stays owned);
- context not active: undo what the record says (the interface may be gone with it);
- interface absent while the context is up (the modem's driver not bound yet): wait.

Each new problem is logged once at WARNING, repeats at DEBUG. pyroute2 is loaded only
when an interface is there to configure.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from pathlib import Path

from agent.modem.client import Modem
from agent.net import datapath, host_link
from agent.net.data_connection import ConnectionStatus

log = logging.getLogger(__name__)


class DataPathKeeper:
    """Keeps the modem's host interface configured while the data connection is up."""

    def __init__(
        self,
        *,
        enabled: bool,
        interface: str,
        state_dir: Path,
        dns_file: Path | None = None,
        sysfs_root: Path = host_link.SYSFS_NET,
        netns: str | None = None,
    ) -> None:
        self.enabled = enabled
        self.interface = interface
        self.state_dir = state_dir
        self.dns_file = dns_file
        self.sysfs_root = sysfs_root
        self.netns = netns
        self.configured = False
        """True while the host interface carries the data call's address (meter it)."""
        self.bring_ups = 0
        self.repairs = 0
        self._said: str | None = None

    def _once(self, text: str) -> None:
        log.log(logging.WARNING if text != self._said else logging.DEBUG, "internet: %s", text)
        self._said = text

    async def _exists(self) -> bool:
        if self.netns is None:
            return host_link.interface_exists(self.interface, self.sysfs_root)
        view = await asyncio.to_thread(host_link.observe, self.interface, self.netns)
        return view.exists

    async def keep(self, modem: Modem, dialect: str, status: ConnectionStatus) -> None:
        """Bring the host side to what the data connection's state wants."""
        if not self.enabled:
            return
        record = datapath.load_record(self.state_dir)
        if not status.active or status.cid is None:
            self.configured = False
            if record is not None:
                undone, problems = await datapath.bring_down(None, self.state_dir, netns=self.netns)
                log.info("internet: data connection down; host undone: %s", ", ".join(undone))
                for problem in problems:
                    self._once(problem)
            return
        if not await self._exists():
            self.configured = False
            self._once(f"data connection up, but no interface {self.interface!r} yet; waiting")
            return
        if record is not None and record.host is not None and record.cid == status.cid:
            try:
                lacks = await asyncio.to_thread(
                    functools.partial(host_link.missing, record.host, netns=self.netns)
                )
            except host_link.HostLinkError as exc:
                self._once(f"cannot check {self.interface}: {exc}")
                return
            if not lacks:
                self.configured = True
                self._said = None
                return
            log.warning("internet: %s lost %s; repairing", self.interface, ", ".join(lacks))
            self.repairs += 1
            repairing = True
        else:
            repairing = False
        report = await datapath.bring_up(
            modem,
            dialect=dialect,
            cid=status.cid,
            interface=self.interface,
            dns_file=self.dns_file,
            state_dir=self.state_dir,
            netns=self.netns,
            start_netdev=not repairing,
        )
        self.bring_ups += 1
        self.configured = report.address is not None
        for problem in report.problems:
            self._once(problem)
        if not report.problems:
            self._said = None
