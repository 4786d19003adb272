"""`discover`: group a host's USB ttys and network interfaces into modems, and name them.

Discovery is split in two. `records_from_udev` asks udev (pyudev) for every tty and
network interface that hangs off a USB interface, and flattens each into a `PortRecord`.
`classify` is pure: it groups records by their USB device, keeps the devices whose
vendor makes modems (or whose id is in `KNOWN_MODEMS`), and picks the AT port by the
interface number the table gives. Tests feed `classify` records; only the adapter
touches udev.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from agent.discovery.known_modems import VENDORS, known_modem

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PortRecord:
    """One tty or network interface of a USB device, as udev describes it."""

    subsystem: str  # "tty" or "net"
    name: str  # ttyUSB2, ttyACM0, wwan0
    usb_device: str  # the USB device's sysfs path: groups the ports of one modem
    vendor_id: str  # "2c7c"
    product_id: str  # "0125"
    interface_number: int | None = None
    device_node: str | None = None  # /dev/ttyUSB2 (ttys only)
    manufacturer: str | None = None  # the USB descriptor strings
    product: str | None = None
    driver: str | None = None  # option, cdc_acm, qmi_wwan, cdc_ether, ...


@dataclass(frozen=True, slots=True)
class DiscoveredModem:
    """A modem found on the bus; `at_port` None when the table does not say which tty."""

    vendor: str
    model: str
    usb_vendor_id: str
    usb_product_id: str
    at_port: str | None
    interface: str | None
    ports: list[str] = field(default_factory=list)
    known: bool = False  # the USB id is in the table (not only the vendor)

    def to_json(self) -> dict[str, object]:
        """The JSON object of `discover --json`."""
        return asdict(self)


def classify(records: Iterable[PortRecord]) -> list[DiscoveredModem]:
    """The modems among `records`, in a stable order (by USB device path)."""
    by_device: dict[str, list[PortRecord]] = defaultdict(list)
    for record in records:
        by_device[record.usb_device].append(record)
    modems = []
    for device in sorted(by_device):
        modem = _modem(by_device[device])
        if modem is not None:
            modems.append(modem)
    return modems


def _modem(records: list[PortRecord]) -> DiscoveredModem | None:
    first = records[0]
    vendor_id, product_id = first.vendor_id.lower(), first.product_id.lower()
    entry = known_modem(vendor_id, product_id)
    if entry is None and vendor_id not in VENDORS:
        return None
    ttys = sorted(
        (r for r in records if r.subsystem == "tty" and r.device_node),
        key=lambda r: (r.interface_number is None, r.interface_number or 0, r.name),
    )
    nets = sorted(r.name for r in records if r.subsystem == "net")
    at_port = None
    if entry is not None and entry.at_interface is not None:
        at_port = next(
            (r.device_node for r in ttys if r.interface_number == entry.at_interface), None
        )
    model = entry.model if entry is not None else (first.product or "unknown model")
    return DiscoveredModem(
        vendor=entry.vendor if entry is not None else VENDORS[vendor_id],
        model=model,
        usb_vendor_id=vendor_id,
        usb_product_id=product_id,
        at_port=at_port,
        interface=nets[0] if nets else None,
        ports=[r.device_node for r in ttys if r.device_node],
        known=entry is not None,
    )


def _attribute(device: Any, name: str) -> str | None:
    try:
        value = device.attributes.asstring(name)
    except (KeyError, UnicodeDecodeError):
        return None
    return str(value).strip() or None


def _record(device: Any, subsystem: str) -> PortRecord | None:
    """A `PortRecord` for a pyudev device, or None when it is not on a USB interface."""
    interface = device.find_parent("usb", "usb_interface")
    usb = device.find_parent("usb", "usb_device")
    if interface is None or usb is None:
        return None
    vendor_id, product_id = _attribute(usb, "idVendor"), _attribute(usb, "idProduct")
    if vendor_id is None or product_id is None:
        return None
    number = _attribute(interface, "bInterfaceNumber")
    return PortRecord(
        subsystem=subsystem,
        name=str(device.sys_name),
        usb_device=str(usb.sys_path),
        vendor_id=vendor_id,
        product_id=product_id,
        interface_number=int(number, 16) if number else None,
        device_node=str(device.device_node) if device.device_node else None,
        manufacturer=_attribute(usb, "manufacturer"),
        product=_attribute(usb, "product"),
        driver=str(interface.driver) if interface.driver else None,
    )


def records_from_udev() -> list[PortRecord]:
    """Every tty and network interface on a USB interface, read from udev."""
    import pyudev  # the one import that needs libudev: kept out of `classify`'s way

    context = pyudev.Context()
    records = []
    for subsystem in ("tty", "net"):
        for device in context.list_devices(subsystem=subsystem):
            record = _record(device, subsystem)
            if record is not None:
                records.append(record)
    log.debug("udev: %d USB ttys and network interfaces", len(records))
    return records


def discover() -> list[DiscoveredModem]:
    """The modems on this host's USB bus."""
    return classify(records_from_udev())
