"""`simgate agent net …` and `internet …`: registration and the data connection.

`internet on` also brings up the host's side of the data call and `off` undoes it
(`agent.net.datapath`, imported only by those commands: it loads netlink).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from agent.cli.common import Groups, Output, add_json, cid, dialect_of, iface, open_modem, seconds
from agent.modem.client import Modem
from agent.net import datapath
from agent.net.data_connection import (
    DEFAULT_PDP_TYPE,
    PDP_TYPES,
    REGISTER_TIMEOUT_SECONDS,
    ConnectionStatus,
    DataConnection,
)
from agent.net.registration import RegistrationManager
from agent.presentation import render_connection, render_net, rows, show
from agent.state_dir import state_dir


def add_commands(groups: Groups) -> None:
    """The `net` and `internet` groups."""
    net = groups.add_parser("net", help="the radio network: registration, operator, signal")
    net_actions = net.add_subparsers(dest="action", required=True)
    add_json(net_actions.add_parser("status", help="registration, RAT, operator, RSSI"))

    internet = groups.add_parser("internet", help="the data connection and the host's path")
    actions = internet.add_subparsers(dest="action", required=True)
    on = actions.add_parser(
        "on", help="activate a PDP context, start the network device, configure the host"
    )
    on.add_argument("--apn", required=True, help="the access point name of the SIM's carrier")
    on.add_argument("--cid", type=cid, help="context id (default: one with this APN, else 1)")
    on.add_argument(
        "--pdp-type", choices=PDP_TYPES, default=DEFAULT_PDP_TYPE, help="default IP (IPv4)"
    )
    on.add_argument(
        "--register-timeout",
        type=seconds,
        default=REGISTER_TIMEOUT_SECONDS,
        metavar="S",
        help=f"wait this long for network registration (default {REGISTER_TIMEOUT_SECONDS:g})",
    )
    _add_host_options(on)
    on.add_argument(
        "--dns-file",
        type=Path,
        metavar="PATH",
        help="where to write the DNS servers when systemd-resolved does not serve the host "
        "(its old content is kept and put back by `internet off`)",
    )
    on.add_argument(
        "--no-host",
        action="store_true",
        help="only the PDP context: leave the host's interface, routes and DNS alone",
    )
    add_json(on)
    off = actions.add_parser(
        "off", help="undo what `on` did to the host, then deactivate the PDP context(s)"
    )
    off.add_argument("--cid", type=cid, help="only this context")
    add_json(off)
    status = actions.add_parser(
        "status", help="context, APN, address; the host interface, gateway, DNS, reachability"
    )
    _add_host_options(status)
    add_json(status)


def _add_host_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--iface",
        type=iface,
        metavar="NAME",
        help="the modem's host interface (default: what the dialect's driver names it, "
        "wwan0 or usb0)",
    )
    parser.add_argument(
        "--probe-url",
        metavar="URL",
        help="probe the far side with an HTTP GET of URL from the interface's address "
        "(default: a TCP connection to the gateway)",
    )


async def run_net(args: argparse.Namespace) -> Output:
    """`net status`."""
    async with await open_modem(args) as modem:
        status = await RegistrationManager(modem).status()
    return status.to_json(), render_net(status)


def _warn(problems: list[str]) -> None:
    for problem in problems:
        print(f"simgate agent: warning: {problem}", file=sys.stderr)


async def run_internet(args: argparse.Namespace) -> Output:
    """`internet on|off|status`."""
    async with await open_modem(args) as modem:
        connection = DataConnection(modem)
        if args.action == "on":
            status = await connection.connect(
                args.apn,
                cid=args.cid,
                pdp_type=args.pdp_type,
                register_timeout=args.register_timeout,
            )
            if args.no_host:
                return status.to_json(), render_connection(status)
            dialect = (await dialect_of(args, modem)).name
            interface = args.iface or datapath.default_interface(dialect)
            report = await datapath.bring_up(
                modem,
                dialect=dialect,
                cid=status.cid or 1,
                interface=interface,
                dns_file=args.dns_file,
                state_dir=state_dir(),
            )
            _warn(report.problems)
            doc, text = await _with_host(status, interface, args.probe_url, state_dir())
            doc["problems"] = report.problems
            return doc, text
        if args.action == "off":
            undone, problems = await datapath.bring_down(modem, state_dir())
            _warn(problems)
            status = await connection.disconnect(args.cid)
            doc = {**status.to_json(), "undone": undone, "problems": problems}
            return doc, render_connection(status)
        status = await connection.status()
        interface = args.iface or await _status_interface(args, modem, state_dir())
        return await _with_host(status, interface, args.probe_url, state_dir())


async def _status_interface(args: argparse.Namespace, modem: Modem, directory: Path) -> str:
    record = datapath.load_record(directory)
    if record is not None and record.host is not None:
        return str(record.host.interface)
    return str(datapath.default_interface((await dialect_of(args, modem)).name))


async def _with_host(
    status: ConnectionStatus, interface: str, probe_url: str | None, directory: Path
) -> tuple[dict[str, Any], str]:
    """The status document with the host's view (contracts §1 `internet status`)."""
    host = await datapath.host_view(interface, probe_url, directory)
    doc: dict[str, Any] = {**status.to_json(), **host.to_json()}
    text = render_connection(status) + "\n" + rows(
        [
            ("interface", show(host.interface)),
            ("host address", show(host.address)),
            ("gateway", show(host.gateway)),
            ("DNS", ", ".join(host.dns) or "none"),
            ("reachable", show(host.reachable)),
        ]
    )  # fmt: skip
    return doc, text
