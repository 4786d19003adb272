"""One hardware-in-the-loop suite, two targets: the stub modem (default) or a bench modem.

    pytest hil_tests                                   # against a fresh stub modem
    pytest hil_tests --port /dev/ttyUSB2 --pin-file ~/bench/pin
    pytest hil_tests --port /dev/ttyUSB2 --pin-file pin --puk-file puk --sacrificial-sim
    pytest hil_tests --port auto --pin-file pin --apn soracom.io   # found with pyudev

On a bench, tests that spend PIN or PUK tries run only with `--sacrificial-sim` (the card
may end up PUK-locked, or dead); everything else leaves the card as it found it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.discovery.discover import discover
from agent.sim.secrets import read_secret_file
from firmware_stubs import NetworkProfile
from firmware_stubs.dialects import DIALECTS
from firmware_stubs.pty_server import StubModem

STUB_PIN = "4321"
STUB_PUK = "87654321"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hil", "hardware in the loop")
    group.addoption("--port", default=None, help="a bench modem's AT port (default: the stub)")
    group.addoption("--pin-file", type=Path, default=None, help="the bench SIM's PIN (0600)")
    group.addoption("--puk-file", type=Path, default=None, help="the bench SIM's PUK (0600)")
    group.addoption("--apn", default="simgate.test", help="APN for the data-connection tests")
    group.addoption(
        "--sacrificial-sim",
        action="store_true",
        help="the bench SIM may be PUK-locked or destroyed: run the tests that spend tries",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """On the stub, every test runs in every dialect; a bench modem is what it is."""
    if "target" in metafunc.fixturenames:
        on_stub = metafunc.config.getoption("--port") is None
        metafunc.parametrize("dialect", sorted(DIALECTS) if on_stub else ["bench"])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "spends_tries: spends PIN/PUK tries (stub or sacrificial SIM)"
    )


@dataclass
class Target:
    """The modem under test and what the suite may do to its card."""

    port: str
    pin: str
    puk: str | None
    on_stub: bool
    apn: str
    stub: StubModem | None = None


def bench_port(option: str) -> str:
    """`--port` as given, or with `auto` the AT port of the one modem pyudev finds."""
    if option != "auto":
        return option
    found = [m for m in discover() if m.at_port]
    if len(found) != 1:
        names = ", ".join(f"{m.vendor} {m.model}" for m in found) or "none"
        pytest.exit(f"--port auto needs exactly one modem with a known AT port; found {names}", 2)
    return str(found[0].at_port)


@pytest.fixture
def target(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dialect: str,
) -> Iterator[Target]:
    """A fresh stub with a PIN-locked card, or the bench modem named by `--port`."""
    monkeypatch.setenv("SIMGATE_STATE_DIR", str(tmp_path / "state"))
    config = request.config
    apn = config.getoption("--apn")
    spends = request.node.get_closest_marker("spends_tries") is not None
    port = config.getoption("--port")
    if port is None:
        card = tmp_path / "card.json"
        card.write_text(
            json.dumps(
                {
                    "iccid": "89811000000000000004",
                    "imsi": "440101234567890",
                    "pin": STUB_PIN,
                    "puk": STUB_PUK,
                    "pin_enabled": True,
                    "pin_retries": 3,
                    "puk_retries": 10,
                }
            )
        )
        network = NetworkProfile(register_delay=0.0)
        with StubModem(card_path=card, dialect=dialect, network=network) as stub:
            yield Target(stub.device_path, STUB_PIN, STUB_PUK, on_stub=True, apn=apn, stub=stub)
        return
    if spends and not config.getoption("--sacrificial-sim"):
        pytest.skip("spends PIN/PUK tries: bench runs need --sacrificial-sim")
    pin_file = config.getoption("--pin-file")
    if pin_file is None:
        pytest.skip("a bench run needs --pin-file")
    puk_file = config.getoption("--puk-file")
    yield Target(
        bench_port(port),
        read_secret_file(pin_file, "PIN"),
        read_secret_file(puk_file, "PUK") if puk_file else None,
        on_stub=False,
        apn=apn,
    )
