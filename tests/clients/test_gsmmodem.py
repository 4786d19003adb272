"""python-gsmmodem-new, a widely used modem library, against the stub in every dialect.

It connects with a PIN, reads signal, network and identity, sends an SMS and receives one
the network delivers (`+CMTI`, then `AT+CMGR` and `AT+CMGD`), as it would on a module.
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

from firmware_stubs import NetworkProfile, StubModem
from firmware_stubs.commands_sms import DeliveryOutcome

gsmmodem = pytest.importorskip("gsmmodem.modem", reason="python-gsmmodem-new (test extra)")

PIN = "2468"
MSISDN = "+817012345678"
JST = dt.timezone(dt.timedelta(hours=9))
DIALECTS = ["generic", "quectel", "simcom", "ublox"]


def write_card(path: Path) -> None:
    card = {
        "iccid": "89811000000000000004",
        "imsi": "440101234567890",
        "pin": PIN,
        "puk": "13572468",
        "pin_enabled": True,
        "pin_retries": 3,
        "puk_retries": 10,
        "msisdn": MSISDN,
    }
    path.write_text(json.dumps(card))


@pytest.fixture
def stub_for(tmp_path: Path) -> Iterator[Any]:
    stubs: list[StubModem] = []

    def start(dialect: str) -> StubModem:
        write_card(tmp_path / "card.json")
        stub = StubModem(
            card_path=tmp_path / "card.json",
            dialect=dialect,
            network=NetworkProfile(register_delay=0.05),
        )
        stubs.append(stub.start())
        return stub

    yield start
    for stub in stubs:
        stub.stop()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_gsmmodem_connects_reads_sends_and_receives(stub_for: Any, dialect: str) -> None:
    stub: StubModem = stub_for(dialect)
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
        assert modem.imsi == "440101234567890"
        assert modem.ownNumber == MSISDN
        sent = modem.sendSms("+819011112222", "hello from python-gsmmodem")
        assert sent.status == sent.ENROUTE
        when = dt.datetime(2026, 3, 10, 9, 30, tzinfo=JST)
        outcome = stub.deliver_sms("+819099998888", "こんにちは from the network", when)
        assert outcome is DeliveryOutcome.DELIVERED
        assert arrived.wait(10), "no +CMTI reached python-gsmmodem"
        (sms,) = received
        assert (sms.number, sms.text) == ("+819099998888", "こんにちは from the network")
        assert sms.time == when
        deadline = time.monotonic() + 10  # it deletes what it has read (AT+CMGD)
        while any(stub.card.sms) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not any(stub.card.sms)
    finally:
        modem.close()
        for thread in threading.enumerate():
            if "HandleModemNotification" in thread.name:
                thread.join(10)
