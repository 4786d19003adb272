"""The stub's side of DATAPLANE.md §2 with real links: the pair appears with a session,
goes with it, and never outlives a refused one."""

from __future__ import annotations

from firmware_stubs import Interpreter, NetworkProfile
from firmware_stubs.dataplane import DataPlaneNetwork
from firmware_stubs.emulator_network import EmulatorNetwork
from firmware_stubs.testing import ManualClock, exchange
from tests.datapath.conftest import FakeRadioNetwork, ip
from tests.stub.test_stub_interpreter import card


def modem(net: FakeRadioNetwork, dialect: str = "quectel") -> Interpreter:
    carrier = DataPlaneNetwork(
        EmulatorNetwork(net.url), ifname="usb0" if dialect == "quectel" else "wwan0",
        netns=net.device_ns,
    )  # fmt: skip
    interp = Interpreter(
        card(pin_enabled=False), dialect, network=NetworkProfile(register_delay=0.0),
        carrier=carrier, clock=ManualClock(), imei=None,
    )  # fmt: skip
    exchange(interp, "ATE0")
    exchange(interp, "AT+CMEE=1")
    exchange(interp, 'AT+CGDCONT=1,"IP","sakura"')
    return interp


def has(ns: str, name: str) -> bool:
    return ip("-n", ns, "link", "show", name, check=False).returncode == 0


def test_the_start_command_makes_the_link_down_and_bare_and_the_stop_removes_it(
    radio_network: FakeRadioNetwork,
) -> None:
    net = radio_network
    interp = modem(net)
    assert exchange(interp, "AT+QNETDEVCTL=1,1,0") == "\r\nOK\r\n"
    shown = ip("-n", net.device_ns, "-o", "addr", "show", "dev", "usb0").stdout
    assert "inet " not in shown  # the host configures it, not the modem
    assert "state DOWN" in ip("-n", net.device_ns, "link", "show", "usb0").stdout
    assert has(net.gateway_ns, net.peer_ifname)
    assert exchange(interp, "AT+CGCONTRDP=1").startswith(
        f'\r\n+CGCONTRDP: 1,5,"sakura","{net.address}.255.255.255.255","{net.gateway}"'
    )
    assert exchange(interp, "AT+QNETDEVCTL=0,1,0") == "\r\nOK\r\n"
    assert not has(net.device_ns, "usb0")
    assert not has(net.gateway_ns, net.peer_ifname)
    assert net.sessions() == ["up", "down"]


def test_a_refused_session_leaves_no_link(radio_network: FakeRadioNetwork) -> None:
    net = radio_network
    net.refuse_session = "deactivated"
    interp = modem(net, "generic")
    assert exchange(interp, "AT+CGACT=1,1") == "\r\n+CME ERROR: 133\r\n"
    assert not has(net.device_ns, "wwan0")
    assert not has(net.gateway_ns, net.peer_ifname)
    assert net.sessions() == ["up"]


def test_a_link_the_network_removed_ends_the_session_with_a_cgev(
    radio_network: FakeRadioNetwork,
) -> None:
    net = radio_network
    interp = modem(net, "generic")
    exchange(interp, "AT+CGEREP=2,0")
    assert exchange(interp, "AT+CGACT=1,1") == "\r\nOK\r\n"
    carrier = interp.state.carrier
    report = interp.take_traffic()
    assert report is not None
    iccid = interp.state.card.iccid
    assert interp.settle_traffic(report, carrier.report_traffic(iccid, 0, 0)) == b""
    ip("-n", net.gateway_ns, "link", "del", net.peer_ifname)  # the gateway ends it
    report = interp.take_traffic()
    assert report is not None
    out = interp.settle_traffic(report, carrier.report_traffic(iccid, 0, 0))
    assert b"+CGEV: NW PDN DEACT 1" in out
    assert exchange(interp, "AT+CGACT?") == "\r\n+CGACT: 1,0\r\n\r\nOK\r\n"
    assert [what for what, _ in net.posts if what == "traffic"] == []
