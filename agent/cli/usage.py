"""`simgate agent usage`: bytes sent and received, from the modem or the OS."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from agent.cli.common import Groups, Output, add_json, iface, open_modem, state_of
from agent.dialects import get_dialect
from agent.presentation import render_usage
from agent.sim.manager import WrongUsage
from agent.usage.meter import UsageMeter
from agent.usage.sources import (
    DEFAULT_INTERFACE,
    SYSFS_NET,
    NoModemCounters,
    OsInterfaceCounters,
    UsageSource,
    modem_counters,
)

log = logging.getLogger("agent")


def add_commands(groups: Groups) -> None:
    """The `usage` command."""
    usage = groups.add_parser("usage", help="bytes sent and received, metered across resets")
    usage.add_argument(
        "--source",
        choices=("auto", "modem", "os"),
        default="auto",
        help="auto: the modem's counters when it has some and --port is given, else the OS",
    )
    usage.add_argument(
        "--iface", default=DEFAULT_INTERFACE, type=iface, help="OS network interface"
    )
    usage.add_argument(
        "--sysfs-root", type=Path, default=SYSFS_NET, help=f"where interfaces are ({SYSFS_NET})"
    )
    add_json(usage)


async def run(args: argparse.Namespace) -> Output:
    """`usage`: meter the chosen source once."""
    meter = UsageMeter(state_of(args))
    os_counters = OsInterfaceCounters(args.iface, sysfs_root=args.sysfs_root)
    if args.source == "os" or (args.source == "auto" and not args.port):
        usage, _ = await meter.measure(os_counters)
        return usage.to_json(), render_usage(usage)
    if not args.port:
        raise WrongUsage("--source modem needs --port URL")
    async with await open_modem(args) as modem:
        source: UsageSource
        forced = None if args.dialect == "auto" else get_dialect(args.dialect)
        try:
            source = await modem_counters(modem, forced)
        except NoModemCounters:
            if args.source == "modem":
                raise
            log.info("the modem has no known data counters; using %s", os_counters.name)
            source = os_counters
        usage, _ = await meter.measure(source)
    return usage.to_json(), render_usage(usage)
