"""`simgate agent …`: the device agent's command line (contracts §1)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from agent.at.errors import CommandInjectionError
from agent.dialects import DIALECTS, Dialect, get_dialect, identify
from agent.discovery.discover import DiscoveredModem, discover
from agent.modem.client import Modem
from agent.net.data_connection import (
    DEFAULT_PDP_TYPE,
    PDP_TYPES,
    REGISTER_TIMEOUT_SECONDS,
    ConnectionStatus,
    DataConnection,
)
from agent.net.errors import InvalidApn, NetSaidNo
from agent.net.registration import NetStatus, RegistrationManager
from agent.sim.failed_pins import FailedPinMemory
from agent.sim.manager import SimManager, SimRefused, SimSaidNo, SimStatus, WrongUsage
from agent.sim.secrets import SecretSourceError, UnsafeSecretFile, secret_from
from agent.state_dir import state_dir
from agent.transcript import RecordingModem
from agent.usage.meter import MeterStateError, Usage, UsageMeter
from agent.usage.sources import (
    DEFAULT_INTERFACE,
    SYSFS_NET,
    NoModemCounters,
    OsInterfaceCounters,
    UsageSource,
    modem_counters,
)
from simgate_common.exit_codes import ExitCode

log = logging.getLogger("agent")

SimAction = Callable[[SimManager, argparse.Namespace], Awaitable[SimStatus]]
# What a command prints: its JSON document and its text for a person.
Output = tuple[object, str]
NEEDS_PORT = ("sim", "net", "internet")


def build_parser() -> argparse.ArgumentParser:
    """The `simgate agent` argument parser."""
    parser = argparse.ArgumentParser(
        prog="simgate agent", description="Drive a cellular modem over AT commands."
    )
    parser.add_argument(
        "--port",
        metavar="URL",
        help="the modem's AT port: /dev/ttyUSB2, a pty path, socket://host:port or loop://",
    )
    parser.add_argument(
        "--baudrate", type=int, default=115200, help="serial speed (default 115200)"
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log to stderr, -vv with AT traffic"
    )
    parser.add_argument(
        "--dialect",
        choices=("auto", *DIALECTS),
        default="auto",
        help="the modem's vendor commands: auto (from AT+CGMI/AT+CGMM, the default) or a name",
    )
    parser.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="append this run's AT exchange to a transcript (JSON Lines, secrets masked)",
    )
    groups = parser.add_subparsers(
        dest="group", required=True, metavar="{sim,net,internet,usage,discover,run}"
    )
    sim = groups.add_parser("sim", help="the SIM card: status, unlock, unblock, PIN lock")
    actions = sim.add_subparsers(dest="action", required=True)

    status = actions.add_parser("status", help="state, ICCID, IMSI, IMEI, tries left")
    _add_json(status)

    unlock = actions.add_parser(
        "unlock", help="enter the PIN ($SIMGATE_PIN or --pin-file); refused below 2 tries left"
    )
    unlock.add_argument("--pin-file", type=Path, help="file holding the PIN (mode 0600)")
    _add_last_attempt(unlock)
    _add_json(unlock)

    unblock = actions.add_parser("unblock", help="enter the PUK and set a new PIN")
    unblock.add_argument("--puk-file", type=Path, required=True, help="file holding the PUK (0600)")
    unblock.add_argument(
        "--new-pin-file", type=Path, required=True, help="file holding the new PIN (0600)"
    )
    _add_last_attempt(unblock)
    _add_json(unblock)

    pin = actions.add_parser("pin", help="turn the PIN lock on or off, or change the PIN")
    pin_actions = pin.add_subparsers(dest="pin_action", required=True)
    for name, text in (("enable", "require the PIN at power-on"), ("disable", "stop requiring it")):
        lock = pin_actions.add_parser(name, help=text)
        lock.add_argument("--pin-file", type=Path, help="file holding the PIN (0600)")
        _add_last_attempt(lock)
        _add_json(lock)
    change = pin_actions.add_parser("change", help="change the PIN")
    change.add_argument("--pin-file", type=Path, help="file holding the current PIN (0600)")
    change.add_argument(
        "--new-pin-file", type=Path, help="file holding the new PIN (0600; or $SIMGATE_NEW_PIN)"
    )
    _add_last_attempt(change)
    _add_json(change)
    forget = actions.add_parser(
        "forget-pin",
        help="allow a PIN again that the failed-PIN memory lists for this card "
        "(after an attempt whose answer was lost); sends nothing to the card",
    )
    forget.add_argument("--pin-file", type=Path, help="file holding the PIN (0600)")
    _add_json(forget)
    _add_network_commands(groups)
    return parser


def _add_network_commands(groups: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    net = groups.add_parser("net", help="the radio network: registration, operator, signal")
    net_actions = net.add_subparsers(dest="action", required=True)
    _add_json(net_actions.add_parser("status", help="registration, RAT, operator, RSSI"))

    internet = groups.add_parser("internet", help="the data connection (PDP context)")
    actions = internet.add_subparsers(dest="action", required=True)
    on = actions.add_parser("on", help="define, attach and activate a PDP context")
    on.add_argument("--apn", required=True, help="the access point name of the SIM's carrier")
    on.add_argument("--cid", type=_cid, help="context id (default: one with this APN, else 1)")
    on.add_argument(
        "--pdp-type", choices=PDP_TYPES, default=DEFAULT_PDP_TYPE, help="default IP (IPv4)"
    )
    on.add_argument(
        "--register-timeout",
        type=_seconds,
        default=REGISTER_TIMEOUT_SECONDS,
        metavar="S",
        help=f"wait this long for network registration (default {REGISTER_TIMEOUT_SECONDS:g})",
    )
    _add_json(on)
    off = actions.add_parser("off", help="deactivate the active PDP context(s)")
    off.add_argument("--cid", type=_cid, help="only this context")
    _add_json(off)
    _add_json(actions.add_parser("status", help="active, context, APN, address (from the modem)"))

    usage = groups.add_parser("usage", help="bytes sent and received, metered across resets")
    usage.add_argument(
        "--source",
        choices=("auto", "modem", "os"),
        default="auto",
        help="auto: the modem's counters when it has some and --port is given, else the OS",
    )
    usage.add_argument(
        "--iface", default=DEFAULT_INTERFACE, type=_iface, help="OS network interface"
    )
    usage.add_argument(
        "--sysfs-root", type=Path, default=SYSFS_NET, help=f"where interfaces are ({SYSFS_NET})"
    )
    _add_json(usage)

    found = groups.add_parser("discover", help="modems on the USB bus (pyudev)")
    _add_json(found)
    found.add_argument(
        "--watch",
        action="store_true",
        help="list again whenever a tty comes or goes (udev events), until Ctrl-C; "
        "with --json, one JSON document a line",
    )

    run = groups.add_parser(
        "run", help="the daemon: keep the SIM and the data connection up, meter and report"
    )
    run.add_argument("--config", type=Path, required=True, help="the TOML config file")
    run.add_argument(
        "-v", "--verbose", dest="run_verbose", action="count", default=0, help="log at DEBUG"
    )


def _cid(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 255:
        raise argparse.ArgumentTypeError(f"a context id is 1-255: {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"seconds must be 0 or more: {text!r}")
    return value


def _iface(text: str) -> str:
    if not text or "/" in text or text in (".", "..") or len(text) > 15:
        raise argparse.ArgumentTypeError(f"not a network interface name: {text!r}")
    return text


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def _add_last_attempt(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-last-attempt",
        action="store_true",
        help="send even when fewer than 2 tries remain (a wrong one may lock the card)",
    )


async def _sim_status(sim: SimManager, args: argparse.Namespace) -> SimStatus:
    return await sim.status()


async def _sim_unlock(sim: SimManager, args: argparse.Namespace) -> SimStatus:
    pin = secret_from(args.pin_file, "SIMGATE_PIN", "PIN")
    return await sim.unlock(pin, allow_last_attempt=args.allow_last_attempt)


async def _sim_unblock(sim: SimManager, args: argparse.Namespace) -> SimStatus:
    puk = secret_from(args.puk_file, None, "PUK")
    new_pin = secret_from(args.new_pin_file, None, "new PIN")
    return await sim.unblock(puk, new_pin, allow_last_attempt=args.allow_last_attempt)


async def _sim_pin(sim: SimManager, args: argparse.Namespace) -> SimStatus:
    pin = secret_from(args.pin_file, "SIMGATE_PIN", "PIN")
    if args.pin_action == "change":
        new_pin = secret_from(args.new_pin_file, "SIMGATE_NEW_PIN", "new PIN")
        return await sim.change_pin(pin, new_pin, allow_last_attempt=args.allow_last_attempt)
    enabled = args.pin_action == "enable"
    return await sim.set_pin_lock(enabled, pin, allow_last_attempt=args.allow_last_attempt)


async def _sim_forget_pin(sim: SimManager, args: argparse.Namespace) -> SimStatus:
    pin = secret_from(args.pin_file, "SIMGATE_PIN", "PIN")
    iccid = await sim.forget_failed_pin(pin)
    log.warning("the failed-PIN memory no longer refuses that PIN on card %s", iccid)
    return await sim.status()


SIM_ACTIONS: dict[str, SimAction] = {
    "status": _sim_status,
    "unlock": _sim_unlock,
    "unblock": _sim_unblock,
    "pin": _sim_pin,
    "forget-pin": _sim_forget_pin,
}


def _show(value: object) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _rows(rows: Sequence[tuple[str, str]]) -> str:
    width = max(len(key) for key, _ in rows)
    return "\n".join(f"  {key:>{width}}: {value}" for key, value in rows)


def render_status(status: SimStatus) -> str:
    """`sim status` for a person, in the manner of `mmcli -i`."""
    iccid = _show(status.iccid)
    if status.iccid is not None and status.iccid_luhn_valid is False:
        iccid += " (fails the Luhn check)"
    return _rows(
        [
            ("state", _show(status.state)),
            ("iccid", iccid),
            ("imsi", _show(status.imsi)),
            ("imei", _show(status.imei)),
            ("pin lock", _show(status.pin_enabled)),
            ("PIN tries left", _show(status.pin_retries)),
            ("PUK tries left", _show(status.puk_retries)),
        ]
    )


def render_net(status: NetStatus) -> str:
    """`net status` for a person."""
    signal = "unknown" if status.rssi_dbm is None else f"{status.rssi_dbm} dBm"
    return _rows(
        [
            ("registration", status.registration.replace("_", " ")),
            ("access technology", _show(status.rat)),
            ("operator", _show(status.operator)),
            ("signal", signal),
        ]
    )


def render_connection(status: ConnectionStatus) -> str:
    """`internet status` for a person."""
    return _rows(
        [
            ("connected", _show(status.active)),
            ("context", _show(status.cid)),
            ("APN", _show(status.apn)),
            ("address", _show(status.ip) if status.active else "none"),
        ]
    )


def render_usage(usage: Usage) -> str:
    """`usage` for a person."""
    return _rows(
        [
            ("source", usage.source),
            ("sent", f"{usage.bytes_up:,} bytes"),
            ("received", f"{usage.bytes_down:,} bytes"),
        ]
    )


def render_modems(modems: Sequence[DiscoveredModem]) -> str:
    """`discover` for a person: one modem a line."""
    if not modems:
        return "no modems found"
    lines = []
    for modem in modems:
        at_port = modem.at_port or f"not known (ports: {', '.join(modem.ports) or 'none'})"
        lines.append(
            f"{modem.vendor} {modem.model} ({modem.usb_vendor_id}:{modem.usb_product_id}): "
            f"AT port {at_port}, network interface {modem.interface or 'none'}"
        )
    return "\n".join(lines)


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _fail(code: ExitCode, message: str) -> int:
    print(f"simgate agent: {message}", file=sys.stderr)
    return code


async def _open(args: argparse.Namespace) -> Modem:
    """The modem at `--port`, recording to `--record` when given."""
    if args.record is not None:
        return await RecordingModem.open_recording(args.port, args.record, baudrate=args.baudrate)
    return await Modem.open(args.port, baudrate=args.baudrate)


async def _dialect(args: argparse.Namespace, modem: Modem) -> Dialect:
    if args.dialect != "auto":
        return get_dialect(args.dialect)
    return (await identify(modem)).dialect


async def _run_sim(args: argparse.Namespace) -> Output:
    memory = FailedPinMemory(state_dir())
    async with await _open(args) as modem:
        sim = SimManager(modem, memory, await _dialect(args, modem))
        status = await SIM_ACTIONS[args.action](sim, args)
    return status.to_json(), render_status(status)


async def _run_net(args: argparse.Namespace) -> Output:
    async with await _open(args) as modem:
        status = await RegistrationManager(modem).status()
    return status.to_json(), render_net(status)


async def _run_internet(args: argparse.Namespace) -> Output:
    async with await _open(args) as modem:
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


async def _run_usage(args: argparse.Namespace) -> Output:
    meter = UsageMeter(state_dir())
    os_counters = OsInterfaceCounters(args.iface, sysfs_root=args.sysfs_root)
    if args.source == "os" or (args.source == "auto" and not args.port):
        usage, _ = await meter.measure(os_counters)
        return usage.to_json(), render_usage(usage)
    if not args.port:
        raise WrongUsage("--source modem needs --port URL")
    async with await _open(args) as modem:
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


async def _run_discover(args: argparse.Namespace) -> Output:
    try:
        modems = await asyncio.to_thread(discover)
    except ImportError as exc:  # pyudev installed, libudev missing
        raise OSError(f"udev is not available on this host: {exc}") from exc
    return [m.to_json() for m in modems], render_modems(modems)


RUNNERS: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, Output]]] = {
    "sim": _run_sim,
    "net": _run_net,
    "internet": _run_internet,
    "usage": _run_usage,
    "discover": _run_discover,
}


def main(argv: Sequence[str]) -> int:
    """Run `simgate agent` with `argv`; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return ExitCode.OK if exit_.code == 0 else ExitCode.BAD_INPUT
    if args.group == "run":
        from agent.daemon.commands import run_daemon

        return run_daemon(args)
    if args.group == "discover" and args.watch:
        from agent.daemon.commands import watch_discover

        _configure_logging(args.verbose)
        return watch_discover(args)
    _configure_logging(args.verbose)
    if args.group in NEEDS_PORT and not args.port:
        return _fail(ExitCode.BAD_INPUT, f"--port URL is required for `{args.group}` commands")
    try:
        document, text = asyncio.run(RUNNERS[args.group](args))
    except (SimRefused, UnsafeSecretFile) as exc:
        return _fail(ExitCode.REFUSED_BY_SAFETY_RULE, f"refused: {exc}")
    except (
        SecretSourceError,
        WrongUsage,
        CommandInjectionError,
        InvalidApn,
        MeterStateError,
    ) as exc:
        return _fail(ExitCode.BAD_INPUT, str(exc))
    except (SimSaidNo, NetSaidNo, NoModemCounters) as exc:
        return _fail(ExitCode.MODEM_SAID_NO, str(exc))
    except OSError as exc:
        return _fail(ExitCode.UNREACHABLE, str(exc))
    print(json.dumps(document) if args.json else text)
    return ExitCode.OK
