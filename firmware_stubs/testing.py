"""Helpers for tests and benchmarks: a manual clock, direct exchanges, a stub process."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from firmware_stubs.interpreter import Interpreter


class ManualClock:
    """A clock that moves only when told; pass it as the interpreter's `clock`."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


def exchange(modem: Interpreter, line: str) -> str:
    """Send `line` + CR to the modem; returns all it answers right away, as text."""
    return modem.receive_data(line.encode("latin-1") + b"\r").decode("latin-1")


@contextlib.contextmanager
def stub_process(
    workdir: Path, card: dict[str, Any], *args: str, start_timeout: float = 15.0
) -> Iterator[Path]:
    """`simgate stub serve` in a child process, with `card` as its card file.

    Yields the symlink to its pty (as a bench's udev name would be); the child is
    terminated on exit. A modem is its own device: in a benchmark, an in-process stub
    would compete with the code measured for the GIL.
    """
    card_path = workdir / "card.json"
    card_path.write_text(json.dumps(card))
    link = workdir / "ttySTUB"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simgate.cli",
            "stub",
            "serve",
            "--link",
            str(link),
            "--card",
            str(card_path),
            *args,
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + start_timeout
        while not link.exists():
            if child.poll() is not None:
                raise RuntimeError(f"simgate stub serve exited with {child.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("simgate stub serve did not start")
            time.sleep(0.02)
        yield link
    finally:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(10)
