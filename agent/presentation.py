"""What the agent's commands show a person: one renderer per status, in the manner of mmcli.

Shared by the one-shot commands, the daemon's `discover --watch` and the demo.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from agent.discovery.discover import DiscoveredModem
from agent.net.data_connection import ConnectionStatus
from agent.net.registration import NetStatus
from agent.sim.manager import SimStatus
from agent.usage.meter import Usage


def show(value: object) -> str:
    """A value for a person: `unknown` for None, yes/no for booleans."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def rows(pairs: Sequence[tuple[str, str]]) -> str:
    """`key: value` lines with the keys right-aligned."""
    width = max(len(key) for key, _ in pairs)
    return "\n".join(f"  {key:>{width}}: {value}" for key, value in pairs)


def render_status(status: SimStatus) -> str:
    """`sim status` for a person, in the manner of `mmcli -i`."""
    iccid = show(status.iccid)
    if status.iccid is not None and status.iccid_luhn_valid is False:
        iccid += " (fails the Luhn check)"
    return rows(
        [
            ("state", show(status.state)),
            ("iccid", iccid),
            ("imsi", show(status.imsi)),
            ("imei", show(status.imei)),
            ("pin lock", show(status.pin_enabled)),
            ("PIN tries left", show(status.pin_retries)),
            ("PUK tries left", show(status.puk_retries)),
        ]
    )


def render_net(status: NetStatus) -> str:
    """`net status` for a person."""
    signal = "unknown" if status.rssi_dbm is None else f"{status.rssi_dbm} dBm"
    return rows(
        [
            ("registration", status.registration.replace("_", " ")),
            ("access technology", show(status.rat)),
            ("operator", show(status.operator)),
            ("signal", signal),
        ]
    )


def render_connection(status: ConnectionStatus) -> str:
    """`internet status` for a person."""
    return rows(
        [
            ("connected", show(status.active)),
            ("context", show(status.cid)),
            ("APN", show(status.apn)),
            ("address", show(status.ip) if status.active else "none"),
        ]
    )


def render_usage(usage: Usage) -> str:
    """`usage` for a person."""
    return rows(
        [
            ("source", usage.source),
            ("sent", f"{usage.bytes_up:,} bytes"),
            ("received", f"{usage.bytes_down:,} bytes"),
        ]
    )


def render_modems(modems: Sequence[DiscoveredModem]) -> str:
    """`discover` for a person: one modem a line."""
    if not modems:
        return "no modems found"
    lines = []
    for modem in modems:
        at_port = modem.at_port or f"not known (ports: {', '.join(modem.ports) or 'none'})"
        lines.append(
            f"{modem.vendor} {modem.model} ({modem.usb_vendor_id}:{modem.usb_product_id}): "
            f"AT port {at_port}, network interface {modem.interface or 'none'}"
        )
    return "\n".join(lines)


T = TypeVar("T")


def _rebuild(cls: Callable[..., T], document: Mapping[str, Any]) -> T:
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in document.items() if k in names})


def render_document(kind: str, document: object) -> str:
    """A status document as received (from the daemon's control socket), for a person."""
    if not isinstance(document, Mapping):
        return str(document)
    if kind == "sim":
        return render_status(_rebuild(SimStatus, document))
    if kind == "net":
        return render_net(_rebuild(NetStatus, document))
    if kind == "internet":
        return render_connection(_rebuild(ConnectionStatus, document))
    if kind == "usage":
        return render_usage(_rebuild(Usage, document))
    return rows([(str(k), show(v)) for k, v in document.items()])
