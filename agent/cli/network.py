"""`simgate agent net …` and `internet …`: registration and the data connection."""

from __future__ import annotations

import argparse

from agent.cli.common import Groups, Output, add_json, cid, open_modem, seconds
from agent.net.data_connection import (
    DEFAULT_PDP_TYPE,
    PDP_TYPES,
    REGISTER_TIMEOUT_SECONDS,
    DataConnection,
)
from agent.net.registration import RegistrationManager
from agent.presentation import render_connection, render_net


def add_commands(groups: Groups) -> None:
    """The `net` and `internet` groups."""
    net = groups.add_parser("net", help="the radio network: registration, operator, signal")
    net_actions = net.add_subparsers(dest="action", required=True)
    add_json(net_actions.add_parser("status", help="registration, RAT, operator, RSSI"))

    internet = groups.add_parser("internet", help="the data connection (PDP context)")
    actions = internet.add_subparsers(dest="action", required=True)
    on = actions.add_parser("on", help="define, attach and activate a PDP context")
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
    add_json(on)
    off = actions.add_parser("off", help="deactivate the active PDP context(s)")
    off.add_argument("--cid", type=cid, help="only this context")
    add_json(off)
    add_json(actions.add_parser("status", help="active, context, APN, address (from the modem)"))


async def run_net(args: argparse.Namespace) -> Output:
    """`net status`."""
    async with await open_modem(args) as modem:
        status = await RegistrationManager(modem).status()
    return status.to_json(), render_net(status)


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
        elif args.action == "off":
            status = await connection.disconnect(args.cid)
        else:
            status = await connection.status()
    return status.to_json(), render_connection(status)
