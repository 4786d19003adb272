"""The data call's network side in the sans-I/O interpreter: `+CGCONTRDP` (27.007
§10.1.23) and the vendors' network-device start commands, per dialect."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_stubs import Interpreter, LocalNetwork, NetworkProfile
from firmware_stubs.cli import main as stub_main
from firmware_stubs.dataplane import Bearer, BearerSource, DataPlaneNetwork, bearer_from_answer
from firmware_stubs.dialects import DIALECTS
from firmware_stubs.testing import ManualClock, exchange
from tests.stub.test_stub_interpreter import card

PLANE = {"namespace": "sgdv-gw", "peer_ifname": "sgdvp1", "address": "10.77.0.2",
         "prefix_len": 32, "gateway": "10.77.0.1", "dns": ["10.77.0.53", "10.77.0.54"],
         "mtu": 1500}  # fmt: skip


class PlaneNetwork(LocalNetwork):
    """A local network whose sessions come with a data plane's facts."""

    def bearer(self, iccid: str) -> Bearer | None:
        return bearer_from_answer({"dataplane": PLANE})


def ready(dialect: str = "generic", carrier: LocalNetwork | None = None) -> Interpreter:
    interp = Interpreter(
        card(pin_enabled=False), dialect, network=NetworkProfile(register_delay=0.0),
        carrier=carrier, clock=ManualClock(), imei=None,
    )  # fmt: skip
    exchange(interp, "ATE0")
    exchange(interp, "AT+CMEE=1")
    assert exchange(interp, 'AT+CGDCONT=1,"IP","sakura"') == "\r\nOK\r\n"
    return interp


def test_cgcontrdp_answers_the_data_planes_facts() -> None:
    carrier = PlaneNetwork()
    assert isinstance(carrier, BearerSource)
    interp = ready(carrier=carrier)
    assert exchange(interp, "AT+CGCONTRDP=1") == "\r\n+CME ERROR: 3\r\n"  # not active yet
    assert exchange(interp, "AT+CGACT=1,1") == "\r\nOK\r\n"
    line = ('+CGCONTRDP: 1,5,"sakura","10.77.0.2.255.255.255.255","10.77.0.1","10.77.0.53",'
            '"10.77.0.54"')  # fmt: skip
    assert exchange(interp, "AT+CGCONTRDP=1") == f"\r\n{line}\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+CGCONTRDP") == f"\r\n{line}\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+CGCONTRDP=?") == "\r\n+CGCONTRDP: (1)\r\n\r\nOK\r\n"


def test_cgcontrdp_without_a_data_plane_uses_the_pdp_address() -> None:
    interp = ready()
    exchange(interp, "AT+CGACT=1,1")
    assert exchange(interp, "AT+CGCONTRDP=1") == (
        '\r\n+CGCONTRDP: 1,5,"sakura","10.64.0.2.255.255.255.255","10.64.0.254","",""\r\n\r\nOK\r\n'
    )
    assert exchange(interp, "AT+CGCONTRDP?").endswith("ERROR\r\n")


def test_quectel_qnetdevctl_starts_and_stops_the_call() -> None:
    interp = ready("quectel")
    assert exchange(interp, "AT+QNETDEVCTL?") == "\r\n+QNETDEVCTL: 0,1,0,0\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+QNETDEVCTL=1,1,1") == "\r\nOK\r\n"
    assert exchange(interp, "AT+CGACT?") == "\r\n+CGACT: 1,1\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+QNETDEVCTL?") == "\r\n+QNETDEVCTL: 1,1,0,1\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+QNETDEVCTL=1,1,0") == "\r\nOK\r\n"  # already up: fine
    assert exchange(interp, "AT+QNETDEVCTL=0,1,0") == "\r\nOK\r\n"
    assert exchange(interp, "AT+CGACT?") == "\r\n+CGACT: 1,0\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+QNETDEVCTL=1,2,0") == "\r\n+CME ERROR: 3\r\n"  # undefined
    assert exchange(interp, "AT+QNETDEVCTL=2,1") == "\r\nERROR\r\n"


def test_simcom_qcrmcall_starts_and_stops_the_call() -> None:
    interp = ready("simcom")
    assert exchange(interp, "AT$QCRMCALL?") == "\r\nOK\r\n"
    assert exchange(interp, "AT$QCRMCALL=1,1") == "\r\n$QCRMCALL: 1,V4\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+CGACT?") == "\r\n+CGACT: 1,1\r\n\r\nOK\r\n"
    assert exchange(interp, "AT$QCRMCALL?") == "\r\n$QCRMCALL: 1,V4\r\n\r\nOK\r\n"
    assert exchange(interp, "AT$QCRMCALL=1,1,2") == "\r\n+CME ERROR: 4\r\n"  # IPv6 only
    assert exchange(interp, "AT$QCRMCALL=0,1,1,2,1") == "\r\nOK\r\n"
    assert exchange(interp, "AT+CGACT?") == "\r\n+CGACT: 1,0\r\n\r\nOK\r\n"


def test_ublox_is_in_bridge_mode_and_has_no_start_command() -> None:
    interp = ready("ublox")
    assert exchange(interp, "AT+UBMCONF?") == "\r\n+UBMCONF: 2\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+UBMCONF=1") == "\r\n+CME ERROR: 4\r\n"  # no DHCP server
    assert exchange(interp, "AT+QNETDEVCTL=1,1") == "\r\nERROR\r\n"


def test_start_commands_belong_to_their_dialects_only() -> None:
    interp = ready("generic")
    for line in ("AT+QNETDEVCTL=1,1", "AT$QCRMCALL=1,1", "AT+UBMCONF?"):
        assert exchange(interp, line) == "\r\nERROR\r\n", line


def test_the_dialects_name_their_interfaces() -> None:
    assert {name: d.netdev for name, d in DIALECTS.items()} == {
        "generic": "wwan0", "quectel": "usb0", "simcom": "wwan0", "ublox": "usb0"
    }  # fmt: skip


def test_a_malformed_dataplane_answer_is_no_data_plane() -> None:
    assert bearer_from_answer({"dataplane": None}) is None
    assert bearer_from_answer({"dataplane": {**PLANE, "address": "nope"}}) is None
    assert bearer_from_answer({"dataplane": {**PLANE, "peer_ifname": "x" * 16}}) is None
    bearer = bearer_from_answer({"dataplane": {**PLANE, "prefix_len": 24}})
    assert bearer is not None
    assert bearer.mask == "255.255.255.0"


def test_data_plane_network_passes_sessions_through_without_a_plane() -> None:
    inner = AnswersNetwork(None)
    network = DataPlaneNetwork(inner)
    assert network.open_session("8981").accepted
    assert network.report_traffic("8981", 1, 2).accepted
    assert network.close_session("8981").accepted
    assert inner.sessions == [("8981", True), ("8981", False)]
    assert inner.reports == [("8981", 1, 2)]


def test_a_session_whose_interface_cannot_be_made_is_refused_and_not_posted() -> None:
    absent = {**PLANE, "namespace": "sgdv-no-such-namespace"}
    inner = AnswersNetwork({"dataplane": absent})
    network = DataPlaneNetwork(inner, ifname="sgdvx0")
    answer = network.open_session("8981")
    assert (answer.accepted, answer.reason) == (False, "no_link")
    assert inner.sessions == []


class AnswersNetwork(LocalNetwork):
    """A local network that keeps an attach answer, like the emulator's."""

    def __init__(self, answer: dict[str, object] | None) -> None:
        super().__init__()
        self.answer = answer

    def attach_answer(self, iccid: str) -> dict[str, object] | None:
        return self.answer


def test_start_commands_fed_byte_by_byte_answer_the_same() -> None:
    for dialect, line, answer in (
        ("simcom", "AT$QCRMCALL=1,1", "\r\n$QCRMCALL: 1,V4\r\n\r\nOK\r\n"),
        ("quectel", "AT+QNETDEVCTL=1,1,0", "\r\nOK\r\n"),
        ("generic", "AT+CGCONTRDP=1", '\r\n+CGCONTRDP: 1,5,"sakura","10.64.0.2.255.255.255.255"'),
    ):
        interp = ready(dialect)
        if dialect == "generic":
            exchange(interp, "AT+CGACT=1,1")
        out = b"".join(interp.receive_data(bytes([b])) for b in (line + "\r").encode())
        assert out.decode().startswith(answer), (dialect, out)


def test_netns_must_exist_and_needs_the_emulator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = str(tmp_path / "modem")
    args = ["serve", "--link", link, "--card", str(tmp_path / "card.json")]
    assert stub_main([*args, "--netns", "sgdv-none"]) == 2
    assert "--netns needs --emulator" in capsys.readouterr().err
    assert stub_main([*args, "--netns", "sgdv-none", "--emulator", "http://127.0.0.1:9"]) == 2
    assert "no network namespace 'sgdv-none'" in capsys.readouterr().err
    assert stub_main([*args, "--netns", "../x", "--emulator", "http://127.0.0.1:9"]) == 2
    assert "not a network namespace name" in capsys.readouterr().err
    assert not (tmp_path / "modem").exists()
