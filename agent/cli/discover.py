"""`simgate agent discover` and `run`: modems on the bus, and the daemon."""

from __future__ import annotations

import argparse
import asyncio

from agent.cli.common import Groups, Output, add_json
from agent.discovery.discover import discover
from agent.presentation import render_modems


def add_commands(groups: Groups) -> None:
    """The `discover` and `run` commands."""
    found = groups.add_parser("discover", help="modems on the USB bus (pyudev)")
    add_json(found)
    found.add_argument(
        "--watch",
        action="store_true",
        help="list again whenever a tty comes or goes (udev events), until Ctrl-C; "
        "with --json, one JSON document a line",
    )

    run = groups.add_parser(
        "run", help="the daemon: keep the SIM and the data connection up, meter and report"
    )
    add_json(run)  # the daemon logs; --json only shapes a failure to start


async def run(args: argparse.Namespace) -> Output:
    """`discover` once."""
    try:
        modems = await asyncio.to_thread(discover)
    except ImportError as exc:  # pyudev installed, libudev missing
        raise OSError(f"udev is not available on this host: {exc}") from exc
    return [m.to_json() for m in modems], render_modems(modems)
