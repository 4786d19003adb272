"""A stub modem on a real pty, with a card file written by the test."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from firmware_stubs.faults import Faults
from firmware_stubs.pty_server import StubModem

ICCID = "89811000000000000004"
PIN = "2468"
PUK = "13572468"


@dataclass
class Bench:
    """What a SIM test needs: the card file, the state dir, and a way to (re)start the stub."""

    tmp: Path
    card_path: Path
    state_dir: Path

    def write_card(self, **overrides: object) -> None:
        card: dict[str, object] = {
            "iccid": ICCID,
            "imsi": "440101234567890",
            "pin": PIN,
            "puk": PUK,
            "pin_enabled": True,
            "pin_retries": 3,
            "puk_retries": 10,
        }
        card.update(overrides)
        self.card_path.write_text(json.dumps(card))

    def card(self) -> dict[str, object]:
        loaded: dict[str, object] = json.loads(self.card_path.read_text())
        return loaded

    def stub(self, faults: Faults | None = None) -> StubModem:
        return StubModem(card_path=self.card_path, faults=faults or Faults())


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Bench:
    state = tmp_path / "state"
    monkeypatch.setenv("SIMGATE_STATE_DIR", str(state))
    bench = Bench(tmp_path, tmp_path / "card.json", state)
    bench.write_card()
    return bench


def secret_file(path: Path, value: str, mode: int = 0o600) -> Path:
    """A secret file with `value` and `mode`."""
    path.write_text(value + "\n")
    path.chmod(mode)
    return path
