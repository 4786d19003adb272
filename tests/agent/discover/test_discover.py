"""Modem discovery: classification of udev records, and the real pyudev enumeration."""

from __future__ import annotations

import json

import pytest

from agent.cli import main
from agent.discovery.discover import DiscoveredModem, PortRecord, classify, records_from_udev
from agent.discovery.known_modems import KNOWN_MODEMS, VENDORS, known_modem


def usb_ports(
    device: str, vid: str, pid: str, ttys: dict[int, str], nets: dict[int, str] | None = None,
    product: str | None = None,
) -> list[PortRecord]:  # fmt: skip
    """The records udev gives for one USB device's ttys and network interfaces."""
    records = [
        PortRecord("tty", name, device, vid, pid, number, f"/dev/{name}", product=product)
        for number, name in ttys.items()
    ]
    records += [
        PortRecord("net", name, device, vid, pid, number, None, product=product)
        for number, name in (nets or {}).items()
    ]
    return records


EC25 = usb_ports(
    "/sys/devices/usb1/1-1.3", "2c7c", "0125",
    {0: "ttyUSB0", 1: "ttyUSB1", 2: "ttyUSB2", 3: "ttyUSB3"}, {4: "wwan0"},
)  # fmt: skip


def test_quectel_ec25_at_port_is_interface_2_and_the_interface_is_wwan0() -> None:
    assert classify(reversed(EC25)) == [
        DiscoveredModem(
            vendor="Quectel",
            model="EC25/EG25-G",
            usb_vendor_id="2c7c",
            usb_product_id="0125",
            at_port="/dev/ttyUSB2",
            interface="wwan0",
            ports=["/dev/ttyUSB0", "/dev/ttyUSB1", "/dev/ttyUSB2", "/dev/ttyUSB3"],
            known=True,
        )
    ]


@pytest.mark.parametrize(
    ("vid", "pid", "ttys", "vendor", "model", "at_port"),
    [
        ("1e0e", "9001", {0: "ttyUSB0", 2: "ttyUSB2", 3: "ttyUSB3"}, "SIMCom",
         "SIM7000/SIM7100/SIM7600", "/dev/ttyUSB2"),
        ("1E0E", "9205", {0: "ttyUSB0", 2: "ttyUSB1", 3: "ttyUSB2"}, "SIMCom",
         "SIM7070/SIM7080/SIM7090", "/dev/ttyUSB1"),
        ("1546", "1107", {0: "ttyACM0", 2: "ttyACM1"}, "u-blox", "TOBY-R2", "/dev/ttyACM0"),
        ("1199", "9091", {0: "ttyUSB0", 2: "ttyUSB1", 3: "ttyUSB2"}, "Sierra Wireless",
         "EM7565", "/dev/ttyUSB2"),
        ("1bc7", "1201", {0: "ttyUSB0", 4: "ttyUSB1", 5: "ttyUSB2"}, "Telit", "LE910C1",
         "/dev/ttyUSB1"),
        ("05c6", "90b2", {0: "ttyUSB0", 2: "ttyUSB1"}, "u-blox", "SARA-R410M", None),
    ],
)  # fmt: skip
def test_known_modules(
    vid: str, pid: str, ttys: dict[int, str], vendor: str, model: str, at_port: str | None
) -> None:
    (found,) = classify(usb_ports("/sys/devices/usb2/2-1", vid, pid, ttys))
    assert (found.vendor, found.model, found.at_port, found.known) == (vendor, model, at_port, True)
    assert found.interface is None


def test_unknown_product_of_a_modem_maker_is_reported_without_an_at_port() -> None:
    records = usb_ports("/sys/d/1", "2c7c", "9999", {0: "ttyUSB0"}, product="EG800Q")
    (found,) = classify(records)
    assert (found.vendor, found.model, found.at_port, found.known) == (
        "Quectel", "EG800Q", None, False
    )  # fmt: skip


def test_other_usb_serial_devices_are_not_modems() -> None:
    ftdi = usb_ports("/sys/d/2", "0403", "6001", {0: "ttyUSB5"})
    qualcomm_other = usb_ports("/sys/d/3", "05c6", "9008", {0: "ttyUSB6"})
    assert classify([*ftdi, *qualcomm_other]) == []


def test_two_modems_are_kept_apart_in_a_stable_order() -> None:
    second = usb_ports("/sys/devices/usb1/1-1.4", "1e0e", "9001", {2: "ttyUSB6"}, {5: "wwan1"})
    found = classify([*second, *EC25])
    assert [(m.model, m.at_port, m.interface) for m in found] == [
        ("EC25/EG25-G", "/dev/ttyUSB2", "wwan0"),
        ("SIM7000/SIM7100/SIM7600", "/dev/ttyUSB6", "wwan1"),
    ]


def test_table_is_consistent() -> None:
    for (vid, pid), entry in KNOWN_MODEMS.items():
        assert vid == vid.lower()
        assert pid == pid.lower()
        assert len(pid) == 4
        assert known_modem(vid.upper(), pid.upper()) is entry
        assert vid == "05c6" or VENDORS[vid] == entry.vendor


def test_real_udev_enumeration_returns_a_list() -> None:
    records = records_from_udev()
    assert isinstance(records, list)
    assert all(isinstance(r, PortRecord) for r in records)
    assert isinstance(classify(records), list)


def test_discover_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["discover", "--json"]) == 0
    assert isinstance(json.loads(capsys.readouterr().out), list)
    assert main(["discover"]) == 0
    assert capsys.readouterr().out.strip()
