"""`simgate stub serve`: a simulated modem on a new pty, reachable through a symlink."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TextIO

from firmware_stubs import netif
from firmware_stubs.card import CardFileError, load_card
from firmware_stubs.dataplane import DataPlaneNetwork
from firmware_stubs.dialects import DIALECTS, is_imei
from firmware_stubs.emulator_network import EmulatorNetwork
from firmware_stubs.faults import Faults
from firmware_stubs.network import AttachOutcome, LocalNetwork, Network, TrafficProfile
from firmware_stubs.pty_server import StubModem
from firmware_stubs.replay import ReplayModem, TranscriptError
from simgate_common.exit_codes import ExitCode

CARD_FILE_NAME = "stub-card.json"
REPLAY_DIVERGED = 1  # exit status: the agent sent a command the transcript does not cover


def state_dir() -> Path:
    """`$SIMGATE_STATE_DIR`, else `$XDG_STATE_HOME/simgate`, else `~/.local/state/simgate`."""
    explicit = os.environ.get("SIMGATE_STATE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "simgate"


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"seconds must be 0 or more: {text!r}")
    return value


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a probability: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a probability is from 0 to 1: {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    value = _seconds(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"seconds must be more than 0: {text!r}")
    return value


def _rates(text: str) -> tuple[float, float]:
    """`UP[/DOWN]` bytes per second (one number: both ways)."""
    try:
        values = [float(part) for part in text.split("/")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not UP[/DOWN] bytes per second: {text!r}") from None
    if len(values) not in (1, 2) or not all(0 <= v < float("inf") for v in values):
        raise argparse.ArgumentTypeError(f"not UP[/DOWN] bytes per second: {text!r}")
    return values[0], values[-1]


def _imei(text: str) -> str:
    if not is_imei(text):
        raise argparse.ArgumentTypeError("an IMEI is 15 digits")
    return text


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `simgate stub`."""
    parser = argparse.ArgumentParser(
        prog="simgate stub", description="Serve a simulated modem and SIM card on a pty."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve a simulated modem on a new pty until stopped",
        description="Serve a simulated modem on a new pty and make --link a symlink to it; "
        "runs until SIGINT or SIGTERM, then removes the symlink.",
    )
    serve.add_argument("--link", required=True, type=Path, help="symlink to create to the pty")
    serve.add_argument("--dialect", choices=sorted(DIALECTS), default="generic")
    serve.add_argument(
        "--card",
        type=Path,
        help=f"card state file (default: $SIMGATE_STATE_DIR/{CARD_FILE_NAME}; created if absent)",
    )
    serve.add_argument("--imei", type=_imei, help="IMEI (default: fixed per dialect)")
    serve.add_argument("--delay", type=_seconds, default=0.0, help="answer delay, seconds")
    serve.add_argument(
        "--quote-cpin",
        action="store_true",
        help='answer +CPIN: "READY" with the value quoted (a fault some modules have)',
    )
    serve.add_argument(
        "--busy-after-unlock",
        type=_seconds,
        default=0.0,
        metavar="S",
        help="answer +CME ERROR: 14 (SIM busy) for S seconds after an unlock "
        "(default 0: the dialect's own window, 0.5 s for simcom)",
    )
    serve.add_argument("--drop", type=_probability, default=0.0, help="output byte loss odds")
    serve.add_argument("--garble", type=_probability, default=0.0, help="output byte garble odds")
    serve.add_argument("--seed", type=int, help="seed of --drop and --garble")
    serve.add_argument(
        "--attach",
        choices=[o.name.lower() for o in AttachOutcome if o is not AttachOutcome.SEARCHING],
        help="what the carrier answers when the SIM attaches (default home; not with --emulator)",
    )
    serve.add_argument(
        "--emulator",
        metavar="URL",
        help="the emulator (http://HOST:PORT) is the radio network: it decides attaches "
        "and counts the traffic of data sessions",
    )
    serve.add_argument(
        "--netns",
        metavar="NAME",
        help="with --emulator and a data plane: the network namespace where the modem's "
        "interface appears once a data context starts (default: the stub's own)",
    )
    default = TrafficProfile()
    serve.add_argument(
        "--traffic-rate",
        type=_rates,
        metavar="UP[/DOWN]",
        default=(default.rate_up, default.rate_down),
        help="bytes per second a data session moves (default "
        f"{default.rate_up:g}/{default.rate_down:g})",
    )
    serve.add_argument(
        "--traffic-interval",
        type=_positive_seconds,
        metavar="S",
        default=default.interval,
        help=f"seconds between traffic reports to the network (default {default.interval:g})",
    )
    serve.add_argument(
        "--replay",
        type=Path,
        metavar="FILE",
        help="answer from a transcript recorded with `simgate agent --record` instead of "
        "simulating; a command it does not cover is answered ERROR and the exit is 1",
    )
    serve.add_argument(
        "--replay-speed",
        type=_seconds,
        default=1.0,
        metavar="X",
        help="scale the recorded answer delays by X (default 1; 0 answers at once)",
    )
    serve.add_argument("-v", "--verbose", action="store_true", help="log AT traffic to stderr")
    serve.add_argument(
        "--json",
        action="store_true",
        help='on start, print one JSON line {"link","pty","dialect","card":{"path","iccid",'
        '"imsi"}}; a failure as {"error","exit_code"}',
    )
    return parser


def _make_link(link: Path, target: str) -> None:
    """Point `link` at `target`, replacing a symlink but never another kind of file."""
    if link.is_symlink():
        link.unlink()
    elif link.exists():
        raise FileExistsError(f"{link} exists and is not a symlink; not replacing it")
    link.symlink_to(target)


def _remove_link(link: Path, target: str) -> None:
    if link.is_symlink() and os.readlink(link) == target:
        link.unlink()


def serve(args: argparse.Namespace) -> int:
    """Run `serve` with parsed arguments; returns the exit status."""
    if args.drop + args.garble > 1:
        print("simgate stub: --drop plus --garble must not exceed 1", file=sys.stderr)
        return ExitCode.BAD_INPUT
    try:
        carrier = _carrier(args)
    except ValueError as exc:
        print(f"simgate stub: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    if args.replay is not None:
        return _serve_replay(args)
    card_path: Path = args.card or state_dir() / CARD_FILE_NAME
    try:
        card = load_card(card_path)
    except CardFileError as exc:
        print(f"simgate stub: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except OSError as exc:
        print(f"simgate stub: cannot create card file {card_path}: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    faults = Faults(
        delay=args.delay,
        busy_after_unlock=args.busy_after_unlock,
        drop=args.drop,
        garble=args.garble,
        seed=args.seed,
        quote_cpin=args.quote_cpin,
    )
    stub = StubModem(
        card=card, dialect=args.dialect, faults=faults, imei=args.imei, carrier=carrier
    )
    emulator = carrier.inner if isinstance(carrier, DataPlaneNetwork) else carrier
    url = emulator.url if isinstance(emulator, EmulatorNetwork) else None
    network = f", network {url}" if url else ""
    start = {
        "dialect": args.dialect,
        "card": {"path": str(card_path), "iccid": card.iccid, "imsi": card.imsi},
        "emulator": url,
    }
    detail = f"card {card_path}{network}"
    try:
        return _run(
            stub, args.link, f"a {args.dialect} modem", detail, start if args.json else None
        )
    finally:
        if isinstance(carrier, DataPlaneNetwork):
            carrier.close()  # the stub is gone: no data session, no interface left


def _serve_replay(args: argparse.Namespace) -> int:
    """Serve `--replay FILE`; exit 1 when the agent sent what the transcript lacks."""
    if args.emulator is not None or args.attach is not None:
        print("simgate stub: --replay excludes --emulator and --attach", file=sys.stderr)
        return ExitCode.BAD_INPUT
    try:
        device = ReplayModem.from_file(args.replay, speed=args.replay_speed)
    except TranscriptError as exc:
        print(f"simgate stub: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    start: dict[str, object] | None = {"replay": str(args.replay)} if args.json else None
    code = _run(StubModem(device=device), args.link, "a replay", f"transcript {args.replay}", start)
    if code == ExitCode.OK and device.failures:
        print(
            f"simgate stub: the transcript did not cover {len(device.failures)} command(s): "
            + "; ".join(device.failures),
            file=sys.stderr,
        )
        return REPLAY_DIVERGED
    return code


def _run(
    stub: StubModem, link: Path, what: str, detail: str, start: dict[str, object] | None = None
) -> int:
    """Serve `stub` behind `link` until SIGINT or SIGTERM; with `start`, say so in JSON."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        stub.start()
        try:
            _make_link(link, stub.device_path)
        except OSError as exc:
            print(f"simgate stub: cannot create link: {exc}", file=sys.stderr)
            return ExitCode.BAD_INPUT
        try:
            if start is not None:
                document = {"link": str(link), "pty": stub.device_path, **start}
                print(json.dumps(document), flush=True)
            else:
                print(
                    f"simgate stub: serving {what} on {stub.device_path} (link {link}, {detail})",
                    flush=True,
                )
            while not stop.wait(1.0):
                pass
        finally:
            _remove_link(link, stub.device_path)
    finally:
        stub.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return ExitCode.OK


def _carrier(args: argparse.Namespace) -> Network:
    """The network of `--emulator` or `--attach`; `ValueError` for a bad combination."""
    up, down = args.traffic_rate
    traffic = TrafficProfile(rate_up=up, rate_down=down, interval=args.traffic_interval)
    if args.emulator is None:
        if args.netns is not None:
            raise ValueError("--netns needs --emulator (the network's data plane)")
        return LocalNetwork(AttachOutcome[(args.attach or "home").upper()])
    if args.attach is not None:
        raise ValueError("--attach and --emulator exclude each other (the emulator decides)")
    netns = netif.check_netns(args.netns) if args.netns is not None else None
    ifname = DIALECTS[args.dialect].netdev
    return DataPlaneNetwork(EmulatorNetwork(args.emulator, traffic=traffic), ifname=ifname,
                            netns=netns)  # fmt: skip


def main(argv: list[str]) -> int:
    """Entry point of `simgate stub`; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage and 0 for --help
        return int(exc.code) if isinstance(exc.code, int) else ExitCode.BAD_INPUT
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(message)s",
    )
    if not args.verbose:  # the network's decisions (attach refused and why) are news
        logging.getLogger("firmware_stubs.emulator_network").setLevel(logging.INFO)
    if not args.json:
        return serve(args)
    said = _Tee(sys.stderr)
    with contextlib.redirect_stderr(said):
        code = serve(args)
    if code != ExitCode.OK:
        last = said.text.strip().splitlines()[-1:] or ["the stub stopped"]
        message = last[0].removeprefix("simgate stub: ")
        print(json.dumps({"error": message, "exit_code": int(code)}), flush=True)
    return code


class _Tee(io.TextIOBase):
    """Writes through to `stream` and keeps what was written (for `--json` failures)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()
