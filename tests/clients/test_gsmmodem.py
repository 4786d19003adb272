"""python-gsmmodem-new, a widely used modem library, against the stub in every dialect.

It connects with a PIN, reads signal, network and identity, sends an SMS and receives one
sent through the emulator's SMS API to the card's number (the stub holding the card gets
it over the radio network: `+CMTI`, then the library's `AT+CMGR` and `AT+CMGD`), as it
would on a module.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from firmware_stubs import EmulatorNetwork, StubModem
from tests.emulator import live
from tests.integration.cloud import FAST, TRAFFIC, Cloud
from tests.integration.conftest import cloud, emulator

__all__ = ["cloud", "emulator"]

gsmmodem = pytest.importorskip("gsmmodem.modem", reason="python-gsmmodem-new (test extra)")

PIN = "2468"
JST = dt.timezone(dt.timedelta(hours=9))
DIALECTS = ["generic", "quectel", "simcom", "ublox"]


def write_card(path: Path, iccid: str, imsi: str) -> None:
    card = {
        "iccid": iccid,
        "imsi": imsi,
        "pin": PIN,
        "puk": "13572468",
        "pin_enabled": True,
        "pin_retries": 3,
        "puk_retries": 10,
    }
    path.write_text(json.dumps(card))


@pytest.fixture
def stub_for(tmp_path: Path, cloud: Cloud) -> Iterator[Any]:
    """A stub in `dialect` holding a registered SIM's card (PIN on), the emulator as its
    radio network; returns it and the card's number."""
    stubs: list[StubModem] = []

    def start(dialect: str) -> tuple[StubModem, str]:
        sim = cloud.sim()
        number: str = cloud.ok(cloud.steer.get(f"/_emulator/sims/{sim.iccid}"))["msisdn"]
        write_card(tmp_path / "card.json", sim.iccid, sim.imsi)
        stub = StubModem(
            card_path=tmp_path / "card.json",
            dialect=dialect,
            network=FAST,
            carrier=EmulatorNetwork(
                cloud.url, traffic=TRAFFIC, credentials=(live.TOKEN, live.SECRET)
            ),
        )
        stubs.append(stub.start())
        return stub, number

    yield start
    for stub in stubs:
        stub.stop()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_gsmmodem_connects_reads_sends_and_receives(
    stub_for: Any, cloud: Cloud, dialect: str
) -> None:
    stub, number = stub_for(dialect)
    received: list[Any] = []
    arrived = threading.Event()

    def on_sms(sms: Any) -> None:
        received.append(sms)
        arrived.set()

    modem = gsmmodem.GsmModem(
        stub.device_path, 115200, smsReceivedCallbackFunc=on_sms, requestDelivery=False
    )
    try:
        modem.connect(pin=PIN)
        deadline = time.monotonic() + 10  # waitForNetworkCoverage leaves a Timer thread
        while modem.networkName is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert modem.networkName == "NTT DOCOMO"
        assert modem.signalStrength == 20
        assert modem.manufacturer == stub.interpreter.state.dialect.manufacturer
        assert modem.model == stub.interpreter.state.dialect.model
        assert modem.imei == stub.interpreter.state.imei
        assert modem.imsi == stub.card.imsi
        deadline = time.monotonic() + 10  # the network's number reaches the card
        while stub.card.msisdn != number and time.monotonic() < deadline:
            time.sleep(0.05)
        assert modem.ownNumber == number
        sent = modem.sendSms("+819011112222", "hello from python-gsmmodem")
        assert sent.status == sent.ENROUTE
        body = {"kind": "2fa", "to": number, "text": "こんにちは: code 123456"}
        auth = (live.TOKEN, live.SECRET)
        sent = cloud.ok(cloud.steer.post("/sms/v1/messages", json=body, auth=auth))
        assert arrived.wait(15), "no +CMTI reached python-gsmmodem"
        (sms,) = received
        assert (sms.number, sms.text) == ("SIMGATE", "こんにちは: code 123456")
        stamp = dt.datetime.fromisoformat(sent["sent_at"]).astimezone(JST)
        assert sms.time == stamp.replace(microsecond=0)  # the SCTS has whole seconds
        record = f"/sms/v1/messages/{sent['id']}"
        while cloud.ok(cloud.steer.get(record, auth=auth))["status"] != "delivered":
            assert time.monotonic() < deadline + 20, "the emulator never heard of the delivery"
            time.sleep(0.05)
        deadline = time.monotonic() + 10  # it deletes what it has read (AT+CMGD)
        while any(stub.card.sms) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not any(stub.card.sms)
    finally:
        for thread in threading.enumerate():  # its AT+CMGD's OK, read before the close
            if "HandleModemNotification" in thread.name:
                thread.join(10)
        modem.close()
