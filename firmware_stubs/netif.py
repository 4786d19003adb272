"""The modem's network function as a real interface: a veth pair made over netlink.

A USB modem shows the host a network interface (`wwan0` for QMI/RMNET, `usb0` for
ECM/RNDIS) once its data call is up. The stub plays it with a veth pair: the *device
end* carries the module's name in the device's namespace (the stub's own, or
`--netns NAME`), the *network end* is created directly inside the gateway namespace the
emulator named, under the name it asked for (DATAPLANE.md §2). The device end stays
DOWN with no address: configuring it is the host's job (the agent's `internet on`).
Deleting either end deletes both.

pyroute2 is imported only here and only when a link is made, so a stub without a data
plane never loads it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from simgate_common.netns import run_in_namespace

if TYPE_CHECKING:
    from pyroute2 import IPRoute

logger = logging.getLogger(__name__)
T = TypeVar("T")

NETNS_DIR = Path("/run/netns")
MAX_IFNAME = 15


class LinkError(OSError):
    """The interface could not be made or removed (no root, no such namespace, ...)."""


def check_ifname(name: str) -> str:
    """`name` if the kernel would take it as an interface name; `ValueError` otherwise."""
    if not name or len(name) > MAX_IFNAME or "/" in name or name in (".", "..") or " " in name:
        raise ValueError(f"not a network interface name: {name!r}")
    return name


def check_netns(name: str) -> str:
    """`name` if it names an existing network namespace (`ip netns add`)."""
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"not a network namespace name: {name!r}")
    if not (NETNS_DIR / name).exists():
        raise ValueError(f"no network namespace {name!r} ({NETNS_DIR / name} does not exist)")
    return name


def _off_loop(work: Callable[[], T], netns: str | None = None) -> T:
    """Run `work` inside `netns` (a thread that joined it: no fork), else here, or in a
    worker thread when this thread runs an event loop (pyroute2's synchronous API runs a
    loop of its own)."""
    if netns is not None:
        try:
            return run_in_namespace(netns, work)
        except LinkError:
            raise
        except OSError as exc:
            raise LinkError(f"cannot work in namespace {netns}: {exc}") from exc
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


def _netlink() -> IPRoute:
    """Netlink in the calling thread's namespace."""
    try:
        from pyroute2 import IPRoute
    except ImportError as exc:  # pragma: no cover - pyroute2 is a base dependency
        raise LinkError(f"pyroute2 is not installed: {exc}") from exc
    try:
        return IPRoute()
    except OSError as exc:
        raise LinkError(f"cannot open netlink: {exc}") from exc


def create_veth(
    ifname: str, *, netns: str | None, peer_ifname: str, peer_netns: str, mtu: int = 1500
) -> None:
    """One netlink request: `ifname` in `netns` (None: the own), its peer `peer_ifname`
    inside `peer_netns`; both DOWN, no addresses. `LinkError` when it cannot be made."""
    _off_loop(lambda: _create_veth(ifname, netns, peer_ifname, peer_netns, mtu), netns)


def _create_veth(
    ifname: str, netns: str | None, peer_ifname: str, peer_netns: str, mtu: int
) -> None:
    peer: dict[str, Any] = {"ifname": peer_ifname, "net_ns_fd": peer_netns}
    with _netlink() as ipr:
        try:
            ipr.link("add", ifname=ifname, kind="veth", mtu=mtu, peer=peer)
        except Exception as exc:  # pyroute2 raises NetlinkError (an OSError) and others
            raise LinkError(
                f"cannot create {ifname} (peer {peer_ifname} in {peer_netns}): {exc}"
            ) from exc
    logger.info("network function up: %s in %s, peer %s in %s", ifname,
                netns or "the stub's namespace", peer_ifname, peer_netns)  # fmt: skip


def delete_link(ifname: str, *, netns: str | None) -> bool:
    """Delete `ifname` in `netns` (and so its peer); False when it was already gone."""
    return _off_loop(lambda: _delete_link(ifname, netns), netns)


def _delete_link(ifname: str, netns: str | None) -> bool:
    try:
        ipr = _netlink()
    except LinkError as exc:
        logger.warning("cannot remove %s: %s", ifname, exc)
        return False
    with ipr:
        found = ipr.link_lookup(ifname=ifname)
        if not found:
            return False
        try:
            ipr.link("del", index=found[0])
        except Exception as exc:
            logger.warning("cannot remove %s: %s", ifname, exc)
            return False
    logger.info("network function down: %s removed", ifname)
    return True


def link_exists(ifname: str, *, netns: str | None) -> bool:
    """True when `ifname` exists in `netns`; `LinkError` when that cannot be known."""
    return _off_loop(lambda: _link_exists(ifname, netns), netns)


def _link_exists(ifname: str, netns: str | None) -> bool:
    with _netlink() as ipr:
        return bool(ipr.link_lookup(ifname=ifname))
