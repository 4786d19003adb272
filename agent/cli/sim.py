"""`simgate agent sim …`: status, unlock, unblock, PIN lock, forget-pin."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from agent.cli.common import (
    Groups,
    Output,
    add_json,
    add_last_attempt,
    dialect_of,
    open_modem,
    state_of,
)
from agent.presentation import render_status
from agent.sim.failed_pins import FailedPinMemory
from agent.sim.manager import SimManager, SimStatus
from agent.sim.secrets import secret_from

log = logging.getLogger("agent")

SimAction = Callable[[SimManager, argparse.Namespace], Awaitable[SimStatus]]


def add_commands(groups: Groups) -> None:
    """The `sim` group."""
    sim = groups.add_parser("sim", help="the SIM card: status, unlock, unblock, PIN lock")
    actions = sim.add_subparsers(dest="action", required=True)

    status = actions.add_parser("status", help="state, ICCID, IMSI, IMEI, tries left")
    add_json(status)

    unlock = actions.add_parser(
        "unlock", help="enter the PIN ($SIMGATE_PIN or --pin-file); refused below 2 tries left"
    )
    unlock.add_argument("--pin-file", type=Path, help="file holding the PIN (mode 0600)")
    add_last_attempt(unlock)
    add_json(unlock)

    unblock = actions.add_parser("unblock", help="enter the PUK and set a new PIN")
    unblock.add_argument("--puk-file", type=Path, required=True, help="file holding the PUK (0600)")
    unblock.add_argument(
        "--new-pin-file", type=Path, required=True, help="file holding the new PIN (0600)"
    )
    add_last_attempt(unblock)
    add_json(unblock)

    pin = actions.add_parser("pin", help="turn the PIN lock on or off, or change the PIN")
    pin_actions = pin.add_subparsers(dest="pin_action", required=True)
    for name, text in (("enable", "require the PIN at power-on"), ("disable", "stop requiring it")):
        lock = pin_actions.add_parser(name, help=text)
        lock.add_argument("--pin-file", type=Path, help="file holding the PIN (0600)")
        add_last_attempt(lock)
        add_json(lock)
    change = pin_actions.add_parser("change", help="change the PIN")
    change.add_argument("--pin-file", type=Path, help="file holding the current PIN (0600)")
    change.add_argument(
        "--new-pin-file", type=Path, help="file holding the new PIN (0600; or $SIMGATE_NEW_PIN)"
    )
    add_last_attempt(change)
    add_json(change)
    forget = actions.add_parser(
        "forget-pin",
        help="allow a PIN again that the failed-PIN memory lists for this card "
        "(after an attempt whose answer was lost); sends nothing to the card",
    )
    forget.add_argument("--pin-file", type=Path, help="file holding the PIN (0600)")
    add_json(forget)


async def _status(sim: SimManager, args: argparse.Namespace) -> SimStatus:
    return await sim.status()


async def _unlock(sim: SimManager, args: argparse.Namespace) -> SimStatus:
    pin = secret_from(args.pin_file, "SIMGATE_PIN", "PIN")
    return await sim.unlock(pin, allow_last_attempt=args.allow_last_attempt)


async def _unblock(sim: SimManager, args: argparse.Namespace) -> SimStatus:
    puk = secret_from(args.puk_file, None, "PUK")
    new_pin = secret_from(args.new_pin_file, None, "new PIN")
    return await sim.unblock(puk, new_pin, allow_last_attempt=args.allow_last_attempt)


async def _pin(sim: SimManager, args: argparse.Namespace) -> SimStatus:
    pin = secret_from(args.pin_file, "SIMGATE_PIN", "PIN")
    if args.pin_action == "change":
        new_pin = secret_from(args.new_pin_file, "SIMGATE_NEW_PIN", "new PIN")
        return await sim.change_pin(pin, new_pin, allow_last_attempt=args.allow_last_attempt)
    enabled = args.pin_action == "enable"
    return await sim.set_pin_lock(enabled, pin, allow_last_attempt=args.allow_last_attempt)


async def _forget_pin(sim: SimManager, args: argparse.Namespace) -> SimStatus:
    pin = secret_from(args.pin_file, "SIMGATE_PIN", "PIN")
    iccid = await sim.forget_failed_pin(pin)
    log.warning("the failed-PIN memory no longer refuses that PIN on card %s", iccid)
    return await sim.status()


ACTIONS: dict[str, SimAction] = {
    "status": _status,
    "unlock": _unlock,
    "unblock": _unblock,
    "pin": _pin,
    "forget-pin": _forget_pin,
}


async def run(args: argparse.Namespace) -> Output:
    """Run one `sim` action."""
    memory = FailedPinMemory(state_of(args))
    async with await open_modem(args) as modem:
        sim = SimManager(modem, memory, await dialect_of(args, modem))
        status = await ACTIONS[args.action](sim, args)
    return status.to_json(), render_status(status)
