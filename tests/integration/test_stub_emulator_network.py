"""The emulator is the stub's radio network: attach, sessions and traffic, as the real
agent sees them (a live emulator on 127.0.0.1, a stub on a real pty)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import serial

from agent.cli import main as agent_main
from firmware_stubs import EmulatorNetwork, StubModem
from tests.integration.cloud import OTHER_IMEI, TRAFFIC, Cloud, Sim, stub_for, wait_for
from tests.stub.test_stub_pty import command, read_until

APN = "sakura"


def agent(capsys: pytest.CaptureFixture[str], stub: StubModem, *argv: str) -> tuple[int, Any, str]:
    """Run the agent's CLI in-process on the stub's port: exit code, JSON or text, stderr."""
    code = agent_main(["--port", stub.device_path, *argv])
    out, err = capsys.readouterr()
    return code, json.loads(out) if "--json" in argv and out else out, err


def registration(capsys: pytest.CaptureFixture[str], stub: StubModem) -> str:
    code, status, err = agent(capsys, stub, "net", "status", "--json")
    assert code == 0, err
    word: str = status["registration"]
    return word


def wait_registration(capsys: pytest.CaptureFixture[str], stub: StubModem, word: str) -> None:
    wait_for(lambda: registration(capsys, stub) == word, what=f"registration {word}")


def internet_on(capsys: pytest.CaptureFixture[str], stub: StubModem) -> dict[str, Any]:
    code, status, err = agent(capsys, stub, "internet", "on", "--apn", APN, "--json")
    assert code == 0, err
    assert status["active"] is True
    return dict(status)


def internet_active(capsys: pytest.CaptureFixture[str], stub: StubModem) -> bool:
    code, status, err = agent(capsys, stub, "internet", "status", "--json")
    assert code == 0, err
    return bool(status["active"])


def books(cloud: Cloud, sim: Sim) -> tuple[int, int]:
    """What the emulator counted, from `sim/status`; also checked against the events."""
    for _ in range(50):  # reports may land between the reads: read until they agree
        counted = cloud.month_bytes(sim)
        events = cloud.traffic_events(sim)
        if cloud.month_bytes(sim) == counted:
            assert (sum(e["up"] for e in events), sum(e["down"] for e in events)) == counted
            return counted
    raise AssertionError("the emulator's books kept moving")


def settled(cloud: Cloud, sim: Sim, stub: StubModem) -> bool:
    total = stub.traffic.total
    return books(cloud, sim) == (total.up, total.down)


def test_internet_on_opens_a_session_and_its_traffic_reaches_the_books(
    cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = cloud.sim()
    with stub_for(cloud.url, sim) as stub:
        wait_registration(capsys, stub, "home")
        status = internet_on(capsys, stub)
        carrier = stub.interpreter.state.carrier
        assert isinstance(carrier, EmulatorNetwork)
        answer = carrier.attach_answer(sim.iccid)
        assert answer is not None
        assert answer["internet"] is True
        assert status["ip"] == answer["ip"]  # the network's address, not the modem's
        assert ("UP", None) in cloud.session_log(sim)
        assert cloud.status(sim)["session_status"] == "UP"
        wait_for(lambda: sum(books(cloud, sim)) > 0, what="first traffic")
        start, before = time.monotonic(), books(cloud, sim)
        time.sleep(1.0)
        after, elapsed = books(cloud, sim), time.monotonic() - start
        up_rate = (after[0] - before[0]) / elapsed
        down_rate = (after[1] - before[1]) / elapsed
        assert TRAFFIC.rate_up * 0.6 < up_rate < TRAFFIC.rate_up * 1.4
        assert TRAFFIC.rate_down * 0.6 < down_rate < TRAFFIC.rate_down * 1.4
        assert len(cloud.traffic_events(sim)) >= 5  # one per report (interval 0.1 s)
        code, off, err = agent(capsys, stub, "internet", "off", "--json")
        assert (code, off["active"]) == (0, False), err
        assert cloud.session_log(sim)[-1] == ("DOWN", "closed_by_device")
        wait_for(lambda: settled(cloud, sim, stub), what="the books to match the stub's")
        assert stub.traffic.current == stub.traffic.total  # one session so far
        assert stub.traffic.unconfirmed.total == 0


@pytest.mark.parametrize("case", ["not_registered", "deactivated", "imei_locked", "no_gateway"])
def test_a_refused_attach_is_denied_registration_and_internet_on_fails(
    cloud: Cloud, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    if case == "not_registered":
        sim = cloud.card()
    else:
        sim = cloud.sim(activate=case != "deactivated", gateway=case != "no_gateway")
    if case == "imei_locked":
        cloud.imei_lock(sim, OTHER_IMEI)
    with stub_for(cloud.url, sim) as stub:
        wait_registration(capsys, stub, "denied")
        code, _, err = agent(
            capsys, stub, "internet", "on", "--apn", APN, "--register-timeout", "0.3"
        )
        assert code == 4
        assert "registration: denied" in err
    if sim.id is not None:
        assert ("REJECTED", case) in cloud.session_log(sim)


@pytest.mark.parametrize("change", ["no_usable_network", "gateway_powered_off"])
def test_gateway_internet_off_or_power_off_drops_the_context_and_denies_the_sim(
    cloud: Cloud, capsys: pytest.CaptureFixture[str], change: str
) -> None:
    sim = cloud.sim(internet=True, switch=False)
    with stub_for(cloud.url, sim) as stub:
        wait_registration(capsys, stub, "home")
        internet_on(capsys, stub)
        if change == "no_usable_network":
            cloud.set_internet(sim, False)  # no switch either: nothing left to reach
        else:
            cloud.ok(cloud.api.delete(f"/appliance/{sim.gateway}/power"))
        wait_for(lambda: not internet_active(capsys, stub), what="the context to drop")
        wait_registration(capsys, stub, "denied")
        assert ("REJECTED", change) in cloud.session_log(sim)
        wait_for(lambda: settled(cloud, sim, stub), what="the books to match the stub's")


def test_closed_network_only_keeps_the_context_and_its_traffic(
    cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = cloud.sim(internet=False, switch=True)
    with stub_for(cloud.url, sim) as stub:
        wait_registration(capsys, stub, "home")
        internet_on(capsys, stub)
        carrier = stub.interpreter.state.carrier
        assert isinstance(carrier, EmulatorNetwork)
        answer = carrier.attach_answer(sim.iccid)
        assert answer is not None
        assert (answer["internet"], answer["closed_network"]) == (False, True)
        wait_for(lambda: sum(books(cloud, sim)) > 2000, what="closed-network traffic")
        assert internet_active(capsys, stub)


def test_deactivating_the_sim_ends_the_session_with_urcs_and_denies_reattach(
    cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = cloud.sim()
    with stub_for(cloud.url, sim) as stub:
        with serial.Serial(stub.device_path, timeout=0.05) as port:
            command(port, "ATE0")
            command(port, "AT+CMEE=1;+CGEREP=1;+CEREG=1")
            wait_for(lambda: b"+CEREG: 1,1" in command(port, "AT+CEREG?"), what="home")
            assert command(port, f'AT+CGDCONT=1,"IP","{APN}";+CGACT=1,1') == b"\r\nOK\r\n"
            cloud.deactivate(sim)
            urcs = read_until(port, b"+CEREG: 3\r\n", timeout=5)
            assert b"+CGEV: NW PDN DEACT 1\r\n" in urcs
            assert command(port, "AT+CGACT?") == b"\r\n+CGACT: 1,0\r\n\r\nOK\r\n"
            assert command(port, "AT+CGACT=1,1") == b"\r\n+CME ERROR: 30\r\n"
        assert registration(capsys, stub) == "denied"
        assert not internet_active(capsys, stub)
    assert ("REJECTED", "deactivated") in cloud.session_log(sim)


def test_a_data_call_ends_with_no_carrier_and_counts_the_hosts_bytes(cloud: Cloud) -> None:
    sim = cloud.sim()
    with stub_for(cloud.url, sim) as stub:
        with serial.Serial(stub.device_path, timeout=0.05) as port:
            command(port, "ATE0")
            wait_for(lambda: b"+CEREG: 0,1" in command(port, "AT+CEREG?"), what="home")
            assert command(port, "ATD*99#").startswith(b"\r\nCONNECT")
            port.write(b"x" * 50_000)
            wait_for(lambda: stub.traffic.total.up >= 50_000, what="the host's bytes")
            cloud.deactivate(sim)
            assert read_until(port, b"\r\nNO CARRIER\r\n", timeout=5)
        wait_for(lambda: settled(cloud, sim, stub), what="the books to match the stub's")


def test_heavy_traffic_cuts_the_session_and_a_new_one_can_start(
    cloud: Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    cloud.account(session_cut_bytes=3000)
    sim = cloud.sim()
    with stub_for(cloud.url, sim) as stub:
        wait_registration(capsys, stub, "home")
        internet_on(capsys, stub)
        wait_for(lambda: not internet_active(capsys, stub), what="the cut")
        assert cloud.session_log(sim)[-1][0] == "SESSION_CUT"
        assert registration(capsys, stub) == "home"  # a cut ends the session, not the attach
        first = stub.traffic.session
        internet_on(capsys, stub)
        assert stub.traffic.session == first + 1
        wait_for(lambda: not internet_active(capsys, stub), what="the second cut")
        wait_for(lambda: settled(cloud, sim, stub), what="the books to match the stub's")
        assert sum(books(cloud, sim)) > 6000  # both sessions counted, each over the limit
