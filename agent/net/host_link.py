"""The host side of the data call: the modem's interface configured over netlink (pyroute2).

`configure` brings the interface up, gives it the address the network assigned, a host
route to the gateway (the gateway is outside a /32) and a default route through it with
metric 700 (the WWAN metric NetworkManager and ModemManager use, so a wired default
route with a lower metric still wins). It returns a `HostRecord` naming exactly what it
added; `unconfigure(record)` removes exactly that, and puts the link back down if it was
down before. Anything that was already there is not recorded and so never removed.

pyroute2 is imported inside the functions: commands that do not touch the host never
load it (the agent's footprint).
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from simgate_common.netns import run_in_namespace

log = logging.getLogger(__name__)

DEFAULT_METRIC = 700
MAIN_TABLE = 254
IFF_UP = 0x1
SYSFS_NET = Path("/sys/class/net")
GONE = (errno.ENOENT, errno.ESRCH, errno.ENODEV, errno.EADDRNOTAVAIL)
T = TypeVar("T")


class HostLinkError(OSError):
    """The host interface could not be configured: no such interface, no privilege, or no
    netlink (the message says which)."""


@dataclass(frozen=True)
class Route:
    """A route the agent added: `dst` (`default` or `a.b.c.d/32`) via `gateway`."""

    dst: str
    gateway: str | None
    metric: int | None = None


@dataclass
class HostRecord:
    """What `configure` changed on the host, so that `unconfigure` undoes exactly that."""

    interface: str
    address: str
    prefix_len: int
    gateway: str | None
    was_up: bool
    added_address: bool = False
    routes: list[Route] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (the state file)."""
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> HostRecord:
        """The record saved by `to_json`; `ValueError` when it is not one."""
        try:
            routes = [Route(**r) for r in doc.get("routes", [])]
            return cls(
                interface=str(doc["interface"]),
                address=str(ipaddress.IPv4Address(doc["address"])),
                prefix_len=int(doc["prefix_len"]),
                gateway=None if doc.get("gateway") is None else str(doc["gateway"]),
                was_up=bool(doc["was_up"]),
                added_address=bool(doc.get("added_address", False)),
                routes=routes,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a host record: {exc}") from exc


@dataclass(frozen=True)
class HostView:
    """What the host shows for the interface now."""

    interface: str
    exists: bool
    up: bool = False
    address: str | None = None
    gateway: str | None = None  # of a default route through this interface


def interface_exists(interface: str, sysfs_root: Path = SYSFS_NET) -> bool:
    """True when the kernel has `interface` (a sysfs look-up: no netlink needed)."""
    return (sysfs_root / interface).exists()


def _explain(exc: BaseException, what: str) -> HostLinkError:
    code = getattr(exc, "code", None) or getattr(exc, "errno", None)
    if code == errno.EPERM:
        return HostLinkError(f"{what}: not permitted (needs root or CAP_NET_ADMIN)")
    return HostLinkError(f"{what}: {exc}")


@contextmanager
def _netlink() -> Iterator[Any]:
    """Netlink in the calling thread's namespace."""
    try:
        from pyroute2 import IPRoute
    except ImportError as exc:
        raise HostLinkError(f"no netlink library (pyroute2): {exc}") from exc
    try:
        ipr = IPRoute()
    except Exception as exc:
        raise _explain(exc, "cannot open netlink") from exc
    try:
        yield ipr
    finally:
        ipr.close()


def _joined(netns: str, call: Callable[[], T]) -> T:
    """`call()` inside the named namespace (`netns`: tests, tools, the demo), in a thread
    that joined it: no fork, unlike pyroute2's NetNS."""
    try:
        return run_in_namespace(netns, call)
    except HostLinkError:
        raise
    except OSError as exc:
        raise _explain(exc, f"cannot work in namespace {netns!r}") from exc


def _index(ipr: Any, interface: str) -> int:
    found = ipr.link_lookup(ifname=interface)
    if not found:
        raise HostLinkError(f"no interface {interface!r}: the modem's network device is not up")
    return int(found[0])


def _ipv4_addresses(ipr: Any, index: int) -> list[tuple[str, int]]:
    return [
        (str(a.get("address")), int(a["prefixlen"]))
        for a in ipr.addr("dump", index=index, family=2)
        if a.get("address")
    ]


def _default_gateway(ipr: Any, index: int) -> str | None:
    for route in ipr.route("dump", family=2, table=MAIN_TABLE):
        if route["dst_len"] == 0 and route.get("oif") == index and route.get("gateway"):
            return str(route.get("gateway"))
    return None


def observe(interface: str, netns: str | None = None) -> HostView:
    """The interface's state, address and default gateway (`HostLinkError`: no netlink)."""
    if netns is not None:
        return _joined(netns, functools.partial(observe, interface))
    with _netlink() as ipr:
        found = ipr.link_lookup(ifname=interface)
        if not found:
            return HostView(interface, exists=False)
        index = int(found[0])
        link = ipr.link("get", index=index)[0]
        addresses = _ipv4_addresses(ipr, index)
        return HostView(
            interface,
            exists=True,
            up=bool(link["flags"] & IFF_UP),
            address=addresses[0][0] if addresses else None,
            gateway=_default_gateway(ipr, index),
        )


def configure(
    interface: str,
    address: str,
    prefix_len: int,
    gateway: str | None,
    *,
    mtu: int | None = None,
    netns: str | None = None,
) -> HostRecord:
    """Up, address, gateway host route, default route; returns what was added."""
    if netns is not None:
        again = functools.partial(configure, interface, address, prefix_len, gateway, mtu=mtu)
        return _joined(netns, again)
    with _netlink() as ipr:
        index = _index(ipr, interface)
        link = ipr.link("get", index=index)[0]
        record = HostRecord(interface, address, prefix_len, gateway, bool(link["flags"] & IFF_UP))
        try:
            if not record.was_up:
                ipr.link("set", index=index, state="up")
            if mtu is not None:
                ipr.link("set", index=index, mtu=mtu)
            if (address, prefix_len) not in _ipv4_addresses(ipr, index):
                ipr.addr("add", index=index, address=address, prefixlen=prefix_len)
                record.added_address = True
            if gateway is not None:
                network = ipaddress.IPv4Network(f"{address}/{prefix_len}", strict=False)
                if ipaddress.IPv4Address(gateway) not in network:
                    _add_route(ipr, record, Route(f"{gateway}/32", None), index)
                _add_route(ipr, record, Route("default", gateway, DEFAULT_METRIC), index)
        except Exception as exc:
            _roll_back(record)
            if isinstance(exc, HostLinkError):
                raise
            raise _explain(exc, f"cannot configure {interface}") from exc
    log.info("host: %s up with %s/%d via %s", interface, address, prefix_len, gateway)
    return record


def _roll_back(record: HostRecord) -> None:
    """Undo a half-done `configure`; its own failure is logged, never raised over the
    error that made it necessary."""
    try:
        unconfigure(record)  # in the namespace configure runs in
    except HostLinkError as exc:
        log.warning("host: could not undo a half-done configuration: %s", exc)


def _route_args(route: Route, index: int) -> dict[str, Any]:
    args: dict[str, Any] = {"dst": route.dst, "oif": index, "table": MAIN_TABLE}
    if route.gateway is None:
        args["scope"] = "link"
    else:
        args["gateway"] = route.gateway
    if route.metric is not None:
        args["priority"] = route.metric
    return args


def _add_route(ipr: Any, record: HostRecord, route: Route, index: int) -> None:
    """Add `route`; one that is there already is not ours to remove later, except the
    default route at our metric: another gateway there (a stolen route) is replaced."""
    try:
        ipr.route("add", **_route_args(route, index))
    except Exception as exc:
        if getattr(exc, "code", None) != errno.EEXIST:
            raise
        if route.dst != "default":
            return
        ipr.route("replace", **_route_args(route, index))
    record.routes.append(route)


def unconfigure(record: HostRecord, *, netns: str | None = None) -> list[str]:
    """Remove what `record` says was added (gone already is fine); what was undone."""
    if netns is not None:
        return _joined(netns, functools.partial(unconfigure, record))
    undone: list[str] = []
    with _netlink() as ipr:
        found = ipr.link_lookup(ifname=record.interface)
        if not found:
            return [f"{record.interface} is gone (nothing left to undo)"]
        index = int(found[0])
        for route in reversed(record.routes):
            try:
                ipr.route("del", **_route_args(route, index))
                undone.append(f"route {route.dst}")
            except Exception as exc:
                if getattr(exc, "code", None) not in GONE:
                    raise _explain(exc, f"cannot remove route {route.dst}") from exc
        if record.added_address:
            try:
                ipr.addr("del", index=index, address=record.address, prefixlen=record.prefix_len)
                undone.append(f"address {record.address}/{record.prefix_len}")
            except Exception as exc:
                if getattr(exc, "code", None) not in GONE:
                    raise _explain(exc, f"cannot remove {record.address}") from exc
        if not record.was_up:
            try:
                ipr.link("set", index=index, state="down")
                undone.append("link down")
            except Exception as exc:
                if getattr(exc, "code", None) not in GONE:
                    raise _explain(exc, f"cannot set {record.interface} down") from exc
    return undone


def missing(record: HostRecord, *, netns: str | None = None) -> list[str]:
    """What of `record` the host lacks now: `link down`, `address`, `route default`, ..."""
    if netns is not None:
        return _joined(netns, functools.partial(missing, record))
    with _netlink() as ipr:
        found = ipr.link_lookup(ifname=record.interface)
        if not found:
            return ["interface"]
        index = int(found[0])
        lacks = []
        if not ipr.link("get", index=index)[0]["flags"] & IFF_UP:
            lacks.append("link down")
        if (record.address, record.prefix_len) not in _ipv4_addresses(ipr, index):
            lacks.append("address")
        if record.gateway is not None and _default_gateway(ipr, index) != record.gateway:
            lacks.append("route default")
        return lacks
