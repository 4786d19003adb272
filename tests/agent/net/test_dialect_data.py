"""The data connection and modem-counter usage against the stub in every dialect."""

from __future__ import annotations

import json
import time

import pytest

from agent.cli import main
from agent.dialects import dialect_for, dialect_for_usb, dialect_for_vendor_name
from agent.modem.client import Modem
from agent.net.data_connection import ConnectionStatus, DataConnection
from firmware_stubs import LocalNetwork, NetworkProfile, StubModem, TrafficProfile
from tests.agent.conftest import Bench

APN = "iot.example"
DIALECT_NAMES = ["generic", "quectel", "simcom", "ublox"]


def stub_for(bench: Bench, dialect: str) -> StubModem:
    bench.write_card(pin_enabled=False)
    traffic = TrafficProfile(rate_up=20_000.0, rate_down=80_000.0, interval=0.1)
    return StubModem(
        card_path=bench.card_path,
        dialect=dialect,
        network=NetworkProfile(register_delay=0.0),
        carrier=LocalNetwork(traffic=traffic),
    )


@pytest.mark.asyncio
@pytest.mark.parametrize("name", DIALECT_NAMES)
async def test_internet_on_and_off(bench: Bench, name: str) -> None:
    with stub_for(bench, name) as stub:
        async with await Modem.open(stub.device_path) as modem:
            connection = DataConnection(modem)
            up = await connection.connect(APN, register_timeout=5.0)
            assert up == ConnectionStatus(True, 1, APN, "10.64.0.2")
            assert stub.interpreter.state.session_open
            down = await connection.disconnect()
    assert down == ConnectionStatus(False, 1, APN, None)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", ["quectel", "ublox"])
def test_usage_from_the_modem_counters(
    bench: Bench, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with stub_for(bench, name) as stub:
        port = ["--port", stub.device_path]
        code, out, err = run(capsys, *port, "internet", "on", "--apn", APN, "--json")
        assert code == 0, err
        code, out, err = run(capsys, *port, "usage", "--source", "modem", "--json")
        assert code == 0, err
        first = json.loads(out)
        assert first["source"] == "modem"
        time.sleep(0.3)
        code, out, err = run(capsys, *port, "usage", "--json")  # auto: the modem's
        moved = stub.interpreter.state.data_counters()[0]
    assert code == 0, err
    second = json.loads(out)
    assert second["source"] == "modem"
    assert first["bytes_up"] < second["bytes_up"] <= moved.up
    assert first["bytes_down"] < second["bytes_down"] <= moved.down
    assert second["bytes_down"] - first["bytes_down"] > second["bytes_up"] - first["bytes_up"]


@pytest.mark.parametrize("name", ["generic", "simcom"])
def test_no_modem_counters_exits_4(
    bench: Bench, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with stub_for(bench, name) as stub:
        code, out, err = run(
            capsys, "--port", stub.device_path, "usage", "--source", "modem", "--json"
        )
    assert code == 4
    assert json.loads(out)["exit_code"] == 4  # --json: the failure as one object
    assert "no data counter command" in err


def test_a_forced_dialect_picks_its_counter_command(
    bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    with stub_for(bench, "quectel") as stub:
        port = ["--port", stub.device_path]
        code, _, err = run(capsys, *port, "--dialect", "ublox", "usage", "--source", "modem")
        assert code == 5  # the Quectel stub refuses +UGCNTRD: the counters are unavailable
        assert "refused AT+UGCNTRD" in err
        code, _, err = run(capsys, *port, "--dialect", "simcom", "usage", "--source", "modem")
        assert code == 4
        assert "simcom dialect has no data counter command" in err


@pytest.mark.parametrize(
    ("manufacturer", "model", "name"),
    [
        ("Quectel", "EC25", "quectel"),
        ("QUECTEL", "BG96", "quectel"),
        ("SIMCOM INCORPORATED", "SIMCOM_SIM7600G-H", "simcom"),
        ("SIMCOM_Ltd", "SIMCOM_SIM7080G", "simcom"),
        ("Qualcomm", "SIMCOM_SIM7600E", "simcom"),
        ("u-blox", "SARA-R410M-02B", "ublox"),
        ("u-blox", "SARA-R500S", "ublox"),
        ("Sierra Wireless, Incorporated", "EM7455", "generic"),
        (None, None, "generic"),
        ("", "", "generic"),
    ],
)
def test_detection_from_cgmi_and_cgmm(
    manufacturer: str | None, model: str | None, name: str
) -> None:
    assert dialect_for(manufacturer, model).name == name


def test_detection_from_usb_ids_and_discovered_vendor_names() -> None:
    assert dialect_for_usb("2c7c").name == "quectel"  # type: ignore[union-attr]
    assert dialect_for_usb("1E0E").name == "simcom"  # type: ignore[union-attr]
    assert dialect_for_usb("1546").name == "ublox"  # type: ignore[union-attr]
    assert dialect_for_usb("05c6") is None  # Qualcomm's id: u-blox SARA-R410M and others
    assert dialect_for_usb("1199") is None
    assert dialect_for_vendor_name("u-blox").name == "ublox"  # type: ignore[union-attr]
    assert dialect_for_vendor_name("Telit") is None
