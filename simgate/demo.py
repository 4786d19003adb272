"""`simgate demo`: the whole system on embedded defaults, from a new card to an invoice.

The emulator (embedded MQTT broker, SQLite in a temporary folder) runs as a child
process; a customer registers a SIM and a mobile gateway through its Sakura API; a stub
modem holding that card uses the emulator as its radio network; the agent unlocks the
SIM, turns the internet on, meters the device's traffic and reports it over MQTT through
its outbox; the virtual clock moves to the next month, and the month's invoice is shown.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import signal
import sys
import tempfile
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

from agent.net.errors import NetSaidNo
from agent.reporting.outbox import OutboxError
from agent.sim.manager import SimRefused, SimSaidNo
from emulator.billing.render import render_invoice
from firmware_stubs import EmulatorNetwork, NetworkProfile, StubModem, TrafficProfile
from firmware_stubs.card import new_card, save_card
from firmware_stubs.dataplane import DataPlaneNetwork
from simgate.demo_cloud import (
    JST,
    Cloud,
    CloudError,
    Emulator,
    build_gateway,
    first_of_next_month,
    manufacture_card,
    register_sim,
    start_emulator,
)
from simgate.demo_datapath import IFACE, DeviceNamespace, unavailable
from simgate.demo_device import DeviceRun, RealPath, run_device
from simgate_common.exit_codes import ExitCode

START = datetime(2026, 3, 10, 10, 0, tzinfo=JST)
"""The virtual clock's start: the invoice's month and dates are the same on every run."""
STEPS = 13


class Steps:
    """Numbered progress lines on stderr, so that stdout holds only the demo's results."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.current = "starting"
        self.tty = sys.stderr.isatty()

    def __call__(self, text: str) -> None:
        self.done += 1
        self.current = text
        mark = f"[{self.done}/{self.total}]"
        if self.tty:
            mark = f"\033[1m{mark}\033[0m"
        print(f"{mark} {text}", file=sys.stderr, flush=True)

    def progress(self, text: str) -> None:
        """A line that rewrites itself on a terminal (nothing otherwise)."""
        if self.tty:
            print(f"\r\033[K      {text}", end="", file=sys.stderr, flush=True)

    def end_progress(self) -> None:
        """End the self-rewriting line."""
        if self.tty:
            print(file=sys.stderr, flush=True)


class Output:
    """Results for a person on stdout, or nothing until the one JSON document."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def __call__(self, text: str = "") -> None:
        if not self.as_json:
            print(text, flush=True)


@dataclass(frozen=True)
class Options:
    """The command line."""

    as_json: bool
    traffic_seconds: float
    rate_up: float
    rate_down: float
    keep: bool
    verbose: int
    simulated: bool  # keep the stub's simulated counter even where packets could move


class Interrupted(Exception):
    """SIGTERM: stop what runs, clean up, exit."""


def _rate(text: str) -> tuple[float, float]:
    up, _, down = text.partition("/")
    try:
        rates = (float(up), float(down or up))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not UP[/DOWN] bytes per second: {text!r}") from None
    if min(rates) < 0:
        raise argparse.ArgumentTypeError("rates must not be negative")
    return rates


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 1 <= value <= 60:
        raise argparse.ArgumentTypeError("--traffic-seconds must be 1 to 60")
    return value


def _parse(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(prog="simgate demo", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.add_argument(
        "--traffic-seconds",
        type=_seconds,
        default=4.0,
        metavar="S",
        help="how long data flows once the internet is on (default 4)",
    )
    parser.add_argument(
        "--traffic-rate",
        type=_rate,
        default=(250_000.0, 1_000_000.0),
        metavar="UP[/DOWN]",
        help="bytes per second the data session moves (default 250000/1000000)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder and print its path"
    )
    parser.add_argument(
        "--simulated-traffic",
        action="store_true",
        help="count the stub's simulated traffic even as root (by default root moves real "
        "packets through the emulator's data plane, in a namespace of the demo's own)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log to stderr (-vv: AT traffic too); the emulator logs to emulator.log in the folder",
    )
    args = parser.parse_args(argv)
    up, down = args.traffic_rate
    return Options(
        args.json, args.traffic_seconds, up, down, args.keep, args.verbose, args.simulated_traffic
    )


def main(argv: Sequence[str]) -> int:
    """Run the demo; returns the exit status."""
    try:
        options = _parse(argv)
    except SystemExit as exc:
        return ExitCode.OK if exc.code == 0 else ExitCode.BAD_INPUT
    if options.verbose:
        level = logging.INFO if options.verbose == 1 else logging.DEBUG
        logging.basicConfig(
            level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    workdir = Path(tempfile.mkdtemp(prefix="simgate-demo-"))
    steps = Steps(STEPS)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        document = _demo(workdir, options, steps, Output(options.as_json))
    except BaseException as exc:  # every failure ends in one clear message
        steps.end_progress()
        return _failed(steps, exc, options.verbose)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if options.keep:
            print(f"simgate demo: kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if options.as_json:
        document["workdir"] = str(workdir) if options.keep else None
        print(json.dumps(document, indent=2))
    return ExitCode.OK


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted("stopped by SIGTERM")


def _failed(steps: Steps, exc: BaseException, verbose: int) -> int:
    code: int
    if isinstance(exc, KeyboardInterrupt):
        message, code = "interrupted", 130
    elif isinstance(exc, Interrupted):
        message, code = str(exc), 128 + signal.SIGTERM
    elif isinstance(exc, CloudError):
        message, code = str(exc), exc.code
    elif isinstance(exc, SimRefused):
        message, code = f"refused by a safety rule: {exc}", ExitCode.REFUSED_BY_SAFETY_RULE
    elif isinstance(exc, SimSaidNo | NetSaidNo):
        message, code = str(exc), ExitCode.MODEM_SAID_NO
    elif isinstance(exc, OSError | TimeoutError | OutboxError):
        message, code = str(exc) or type(exc).__name__, ExitCode.UNREACHABLE
    else:
        message, code = f"{type(exc).__name__}: {exc}", 1
        if verbose:
            traceback.print_exception(exc, file=sys.stderr)
    where = f"step {steps.done}/{steps.total} ({steps.current})"
    print(f"simgate demo: {where} failed: {message}", file=sys.stderr)
    return code


def _demo(workdir: Path, options: Options, step: Steps, out: Output) -> dict[str, Any]:
    emulator: Emulator | None = None
    device_ns: DeviceNamespace | None = None
    why_not = "--simulated-traffic" if options.simulated else unavailable()
    try:
        step("starting the emulator: embedded MQTT broker, SQLite in a temporary folder")
        if why_not is None:
            device_ns = DeviceNamespace.create()
        emulator = start_emulator(
            workdir, verbose=options.verbose > 0, data_plane=device_ns is not None
        )
        info = emulator.info
        if device_ns is None:
            out(
                f"  packets     simulated ({why_not}): the stub's counter stands for the "
                "network's; run as root to move real packets"
            )
        else:
            out(f"  packets     real: the emulator's data plane; the device is namespace "
                f"{device_ns.name}")  # fmt: skip
        cloud = Cloud(info)
        clock_start = cloud.set_clock(START)
        out(f"  folder      {workdir}")
        out(f"  Sakura API  {info['api_root']}")
        out(f"  MQTT        {info['mqtt']} (embedded)")
        out(f"  clock       {_when(clock_start)} (virtual; runs on from there)")
        return _with_emulator(workdir, options, step, out, cloud, emulator, clock_start, device_ns)
    finally:
        if emulator is not None:
            code = emulator.stop()
            if code not in (0, -signal.SIGTERM):
                print(f"simgate demo: the emulator exited with status {code}", file=sys.stderr)
        if device_ns is not None:
            device_ns.remove()


def _with_emulator(
    workdir: Path,
    options: Options,
    step: Steps,
    out: Output,
    cloud: Cloud,
    emulator: Emulator,
    clock_start: datetime,
    device_ns: DeviceNamespace | None,
) -> dict[str, Any]:
    step("a new SIM card is shipped; the customer registers it with its PASSCODE (Sakura API)")
    card = new_card()
    card_path = workdir / "card.json"
    save_card(card, card_path)
    iccid, imsi = card.iccid, card.imsi
    sim_id = register_sim(cloud, iccid, manufacture_card(cloud, iccid, imsi))
    out(f"  SIM {sim_id}: ICCID {iccid}, IMSI {imsi}, registered and activated")
    step("a switch and a mobile gateway: connected, SIM added, powered on, internet on")
    switch_id, gateway_id = build_gateway(cloud, sim_id)
    out(f"  switch {switch_id}, mobile gateway {gateway_id}")

    step("starting a stub modem with that card (PIN lock on); the emulator is its network")
    traffic = TrafficProfile(rate_up=options.rate_up, rate_down=options.rate_down, interval=0.5)
    network = EmulatorNetwork(
        str(emulator.info["http"]), traffic=traffic, credentials=cloud.credentials
    )
    carrier: EmulatorNetwork | DataPlaneNetwork = network
    real = None
    if device_ns is not None:
        carrier = DataPlaneNetwork(network, ifname=IFACE, netns=device_ns.name)
        internet = cloud.steer("GET", "/_emulator/dataplane")["internet"]["url"]
        real = RealPath(device_ns, str(internet), options.rate_down)
    token = str(cloud.steer("GET", f"/_emulator/sims/{iccid}/token")["token"])
    try:
        with StubModem(
            card_path=card_path, carrier=carrier, network=NetworkProfile(register_delay=0.0)
        ) as stub:
            out(f"  modem on {stub.device_path}, card file {card_path}")
            device = run_device(
                stub=stub,
                workdir=workdir,
                broker_url=str(emulator.info["mqtt"]),
                token=token,
                network_now=clock_start,
                seconds=options.traffic_seconds,
                step=step,
                out=out,
                real=real,
            )
    finally:
        if isinstance(carrier, DataPlaneNetwork):
            carrier.close()  # session down, the link gone
    return _bill(cloud, step, out, iccid, sim_id, device, emulator.process.pid)


def _when(moment: datetime) -> str:
    return moment.astimezone(JST).replace(microsecond=0).isoformat()


def _bill(
    cloud: Cloud,
    step: Steps,
    out: Output,
    iccid: str,
    sim_id: str,
    device: DeviceRun,
    pid: int,
) -> dict[str, Any]:
    reports: list[dict[str, Any]] = cloud.steer("GET", f"/_emulator/sims/{iccid}/reports")
    month_sim = cloud.api("GET", f"/commonserviceitem/{sim_id}/sim/status")["sim"]
    measured = month_sim["traffic_bytes_of_current_month"]
    net_up, net_down = int(measured["uplink_bytes"]), int(measured["downlink_bytes"])
    rep_up = sum(int(r["up"]) for r in reports)
    rep_down = sum(int(r["down"]) for r in reports)
    out(f"  the emulator holds {len(reports)} usage report(s) from the device:")
    for report in reports:
        out(
            f"    seq {report['seq']}: {report['up']:,} up, {report['down']:,} down "
            f"({report['start']} .. {report['end']}, source {report['source']})"
        )
    out(f"  device reported {rep_up:,} up + {rep_down:,} down")
    out(f"  network measured {net_up:,} up + {net_down:,} down (this is what is billed)")

    step("moving the virtual clock to the next month")
    month = cloud.steer("GET", "/_emulator/clock")["month"]
    clock = cloud.advance_to(first_of_next_month(datetime.fromisoformat(device.clock_end)))
    out(f"  clock       {_when(datetime.fromisoformat(clock['now']))}")

    step(f"the SIM's status and the invoice of {month}")
    status = cloud.api("GET", f"/commonserviceitem/{sim_id}/sim/status")["sim"]
    seen = cloud.steer("GET", f"/_emulator/sims/{iccid}")
    invoice: dict[str, Any] = cloud.steer("GET", f"/_emulator/invoices/{month}")
    out(
        f"  SIM {status['iccid']}: registered, "
        f"{'activated' if status['activated'] else 'not activated'}, session "
        f"{status['session_status']}; the device last reported {seen['sim_state']}, "
        f"{'online' if seen['online'] else 'offline'}"
    )
    out()
    out(render_invoice(invoice))
    return {
        "iccid": iccid,
        "sim": {"before": device.before, "after": device.after},
        "safety": device.safety,
        "net": device.net,
        "internet": device.internet,
        "traffic": {
            "packets": "simulated" if device.fetched is None else "real",
            "fetched": device.fetched,
            "network": {"up": net_up, "down": net_down},
            "device": {"up": rep_up, "down": rep_down, "source": device.source},
        },
        "reports": {
            "count": len(reports),
            "sent": device.records,
            "bytes_up": rep_up,
            "bytes_down": rep_down,
        },
        "clock": {"start": device.clock_start, "end": clock["now"]},
        "status": {"sim": status, "device": seen},
        "invoice": invoice,
        "emulator_pid": pid,
    }
