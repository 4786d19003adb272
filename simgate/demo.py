"""`simgate demo`: the parts of the end-to-end demo that exist, on embedded defaults.

Today: a simulated modem on a pty with a fresh card, and the agent reading the SIM,
refusing what the safety rules forbid, unlocking it and reading its ICCID. The cloud half
(emulator, MQTT reporting, the invoice) joins when the device-to-cloud work lands.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from agent.cli import render_status
from agent.modem.client import Modem
from agent.sim.failed_pins import FailedPinMemory
from agent.sim.manager import SimManager, SimSaidNo
from firmware_stubs.card import DEFAULT_PIN
from firmware_stubs.faults import Faults
from firmware_stubs.pty_server import StubModem
from simgate.exit_codes import ExitCode

NOT_YET = (
    "not in this demo yet: the emulator, the data connection, MQTT usage reports and the "
    "invoice (they come with the device-to-cloud work)"
)


class Steps:
    """Numbered progress lines on stderr, so stdout stays the demo's output."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.tty = sys.stderr.isatty()

    def __call__(self, text: str) -> None:
        self.done += 1
        mark = (
            f"\033[1m[{self.done}/{self.total}]\033[0m"
            if self.tty
            else f"[{self.done}/{self.total}]"
        )
        print(f"{mark} {text}", file=sys.stderr, flush=True)


async def _run(workdir: Path, as_json: bool) -> int:
    step = Steps(5)
    step("starting a simulated modem with a new SIM card (PIN lock on)")
    with StubModem(card_path=workdir / "card.json", faults=Faults()) as stub:
        async with await Modem.open(stub.device_path) as modem:
            sim = SimManager(modem, FailedPinMemory(workdir))
            step(f"reading the SIM through {stub.device_path}")
            before = await sim.status()
            if not as_json:
                print(render_status(before))
            step("entering a wrong PIN once: the card counts it, the agent remembers it")
            try:
                await sim.unlock("9999" if DEFAULT_PIN != "9999" else "8888")
            except SimSaidNo as exc:
                if not as_json:
                    print(f"  -> {exc}")
            step("unlocking with the right PIN")
            after = await sim.unlock(DEFAULT_PIN)
            step(f"SIM ready; ICCID {after.iccid}")
            if as_json:
                print(json.dumps({"before": before.to_json(), "after": after.to_json()}))
            else:
                print(render_status(after))
    print(f"simgate demo: {NOT_YET}", file=sys.stderr)
    return ExitCode.OK


def main(argv: Sequence[str]) -> int:
    """Run the demo; returns the exit status."""
    parser = argparse.ArgumentParser(prog="simgate demo", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="simgate-demo-") as tmp:
        return asyncio.run(_run(Path(tmp), args.json))
