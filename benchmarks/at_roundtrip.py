"""AT round trip: the agent's `Modem.command` against a raw pyserial loop, same pty, same run.

    .venv/bin/python benchmarks/at_roundtrip.py [--rounds 2000] [--repeats 5] [--json]

Each repeat times `--rounds` exchanges of `AT+CPIN?` with the stub modem, alternating
the contenders so machine noise falls on all of them; the medians of the repeats are
compared. The stub runs in its own process (`simgate stub serve`), as a modem is its own
device: in-process it would compete with the contenders for the GIL. Each measurement
runs in a fresh interpreter too, so that no contender's threads outlive its turn and
slow the next one (python-gsmmodem-new's reader thread did). The raw loop (write,
then `read(in_waiting)` until `OK`) is the limit the agent is measured against;
python-gsmmodem-new is timed too when it is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import serial

from agent.at import commands
from agent.modem.client import Modem
from firmware_stubs.testing import stub_process

QUERY = b"AT+CPIN?\r"


def raw_pyserial(port: str, rounds: int) -> float:
    """Seconds per round trip of a bare write + read(in_waiting)-until-OK loop."""
    with serial.Serial(port, timeout=1) as ser:
        start = time.perf_counter()
        for _ in range(rounds):
            ser.write(QUERY)
            buf = b""
            while b"OK\r\n" not in buf:
                buf += ser.read(ser.in_waiting or 1)
        return (time.perf_counter() - start) / rounds


def agent_modem(port: str, rounds: int) -> float:
    """Seconds per round trip of the agent's asyncio client."""

    async def run() -> float:
        command = commands.read("+CPIN")
        async with await Modem.open(port) as modem:
            await modem.command(command)
            start = time.perf_counter()
            for _ in range(rounds):
                await modem.command(command)
            return (time.perf_counter() - start) / rounds

    return asyncio.run(run())


def gsmmodem(port: str, rounds: int) -> float:
    """Seconds per round trip of python-gsmmodem-new's `write()` (when installed)."""
    from gsmmodem.serial_comms import SerialComms  # an optional peer, never a dependency

    comms = SerialComms(port, 115200)
    comms.connect()  # the port and its reader thread only, without GsmModem's init
    try:
        comms.write("AT+CPIN?\r")
        start = time.perf_counter()
        for _ in range(rounds):
            comms.write("AT+CPIN?\r")
        return float(time.perf_counter() - start) / rounds
    finally:
        comms.close()


CARD = {
    "iccid": "89811000000000000004",
    "imsi": "440101234567890",
    "pin": "0000",
    "puk": "12345678",
    "pin_enabled": False,
    "pin_retries": 3,
    "puk_retries": 10,
}


CONTENDERS: dict[str, Callable[[str, int], float]] = {
    "raw pyserial loop (limit)": raw_pyserial,
    "simgate agent": agent_modem,
    "python-gsmmodem-new": gsmmodem,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--contender", help=argparse.SUPPRESS)  # internal: one measurement
    parser.add_argument("--port", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contender:
        print(CONTENDERS[args.contender](args.port, args.rounds))
        return 0

    contenders = ["raw pyserial loop (limit)", "simgate agent"]
    if importlib.util.find_spec("gsmmodem") is not None:
        contenders.append("python-gsmmodem-new")
    else:
        print("python-gsmmodem-new is not installed: not timed", file=sys.stderr)

    results: dict[str, list[float]] = {name: [] for name in contenders}
    # each contender against the raw loop of the same repeat: how much the ratio moves
    ratios: dict[str, list[float]] = {name: [] for name in contenders}
    with tempfile.TemporaryDirectory() as tmp, stub_process(Path(tmp), CARD) as link:
        port = os.path.realpath(link)
        for repeat in range(1, args.repeats + 1):
            for name in contenders:
                command = [sys.executable, __file__, "--contender", name, "--port", port]
                done = subprocess.run(
                    [*command, "--rounds", str(args.rounds)],
                    capture_output=True,
                    text=True,
                    timeout=600,
                    check=False,
                )
                if done.returncode != 0:  # a peer may fail; say so
                    print(f"{name}: failed ({done.stderr.strip()[-300:]})", file=sys.stderr)
                    continue
                results[name].append(float(done.stdout))
                ratios[name].append(results[name][-1] / results[contenders[0]][-1])
            print(f"repeat {repeat}/{args.repeats} done", file=sys.stderr)

    medians = {name: statistics.median(times) for name, times in results.items() if times}
    limit = medians["raw pyserial loop (limit)"]
    report = {
        name: {
            "median_us": round(value * 1e6, 1),
            "ratio_to_raw": round(value / limit, 3),
            "repeat_ratios": sorted(round(r, 3) for r in ratios[name]),
        }
        for name, value in medians.items()
    }
    if args.json:
        print(json.dumps({"rounds": args.rounds, "repeats": args.repeats, "results": report}))
    else:
        print(f"AT+CPIN? round trip over a pty, {args.rounds} rounds x {args.repeats} repeats")
        for name, row in report.items():
            spread = sorted(ratios[name])
            print(
                f"  {name:<28} {row['median_us']:>8.1f} µs   {row['ratio_to_raw']:.2f}x raw"
                f"   (repeats {spread[0]:.2f}x to {spread[-1]:.2f}x)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
