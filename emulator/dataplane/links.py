"""Network namespaces, veth links, addresses and routes, through netlink (pyroute2).

Every link is created directly between two of the instance's namespaces (one netlink
request names the peer's namespace), so nothing ever appears in the root namespace.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pyroute2 import IPRoute, netns
from pyroute2.netlink.exceptions import NetlinkError

from simgate_common.netns import run_in_namespace

log = logging.getLogger(__name__)

T = TypeVar("T")
NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000


class LinkError(Exception):
    """A netlink operation failed; the message says which."""


def namespaces(prefix: str) -> list[str]:
    """Named network namespaces whose name starts with `prefix`."""
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.startswith(prefix))


def create_namespace(name: str) -> None:
    """Create a named network namespace with its loopback up and IPv6 off (no router
    solicitations or DAD chatter on the links); an old one of the same name goes first.

    A short-lived thread unshares its own network namespace and pyroute2 binds it to
    /run/netns/NAME. No process is forked: a fork of the emulator (pyroute2's way)
    shares the event loop's signal wake-up pipe, and a signal to the child would stop
    the server."""
    if (NETNS_DIR / name).exists():
        remove_namespace(name)

    def make() -> None:
        libc = _libc()
        if libc.unshare(CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"unshare: {os.strerror(err)}")
        netns.attach(name, "thread-self")
        _quiet_ipv6()
        with IPRoute() as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")

    _in_thread(name, make)


def _quiet_ipv6() -> None:
    for key in ("all", "default"):
        _write_sysctl(f"net/ipv6/conf/{key}/disable_ipv6", "1")


def _write_sysctl(key: str, value: str) -> None:
    with contextlib.suppress(FileNotFoundError), open(f"/proc/sys/{key}", "w") as f:
        f.write(value)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def enable_forwarding(name: str) -> None:
    """Let the namespace route IPv4 between its links."""
    in_namespace(name, lambda: _write_sysctl("net/ipv4/ip_forward", "1"))


def processes_in(name: str) -> list[int]:
    """The processes whose network namespace is the named one."""
    try:
        target = os.stat(NETNS_DIR / name)
    except FileNotFoundError:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:
            continue
        if (st.st_ino, st.st_dev) == (target.st_ino, target.st_dev):
            pids.append(int(entry))
    return pids


def remove_namespace(name: str) -> None:
    """Stop every process inside the namespace, then delete it (its links and nftables
    tables go with it; a veth's other end, wherever it is, is deleted too)."""
    pids = processes_in(name)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while pids and time.monotonic() < deadline:
        pids = [p for p in pids if _alive(p)]
        time.sleep(0.01)
    with contextlib.suppress(FileNotFoundError):
        netns.remove(name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as f:
        if f.read().rsplit(")", 1)[-1].split()[0] == "Z":
            return False
    return True


def in_namespace(name: str, action: Callable[[], T]) -> T:
    """Run `action` in a short-lived thread that has joined the named namespace
    (simgate_common.netns): sockets it opens, pyroute2's among them, live there."""
    try:
        return run_in_namespace(name, action)
    except LinkError:
        raise
    except Exception as exc:
        raise LinkError(f"in namespace {name}: {exc}") from exc


def _in_thread(name: str, action: Callable[[], T]) -> T:
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(action())
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"netns-{name}")
    thread.start()
    thread.join()
    if failure:
        if isinstance(failure[0], LinkError):
            raise failure[0]
        raise LinkError(f"in namespace {name}: {failure[0]}") from failure[0]
    return result[0]


def rtnl(ns: str, what: str, action: Callable[[IPRoute], T]) -> T:
    """Run `action` with an RTNL socket in the namespace; netlink errors name `what`."""

    def run() -> T:
        with IPRoute() as ipr:
            return action(ipr)

    try:
        return in_namespace(ns, run)
    except LinkError as exc:
        raise LinkError(f"{what}: {exc.__cause__ or exc}") from exc


def veth(ns_a: str, name_a: str, ns_b: str, name_b: str, *, mtu: int = 1500) -> None:
    """A veth pair made in one request: `name_a` in `ns_a`, `name_b` in `ns_b`, both down."""

    def add(ipr: IPRoute) -> None:
        peer = {"ifname": name_b, "net_ns_fd": str(NETNS_DIR / ns_b), "mtu": mtu}
        ipr.link("add", ifname=name_a, kind="veth", mtu=mtu, peer=peer)

    rtnl(ns_a, f"veth {ns_a}/{name_a} <-> {ns_b}/{name_b}", add)


def _index(ipr: IPRoute, ifname: str) -> int | None:
    found = ipr.link_lookup(ifname=ifname)
    return int(found[0]) if found else None


def configure(
    ns: str,
    ifname: str,
    addresses: list[tuple[str, int]],
    routes: list[dict[str, object]],
) -> None:
    """Bring `ifname` up with `addresses` ((address, prefix length)), then add `routes`
    (pyroute2 route arguments; `oif` is filled in)."""

    def run(ipr: IPRoute) -> None:
        index = _index(ipr, ifname)
        if index is None:
            raise LinkError(f"no link {ifname} in {ns}")
        for address, prefix_len in addresses:
            ipr.addr("add", index=index, address=address, prefixlen=prefix_len)
        ipr.link("set", index=index, state="up")
        for route in routes:
            ipr.route("replace", oif=index, **route)

    rtnl(ns, f"configuring {ns}/{ifname}", run)


def link_exists(ns: str, ifname: str) -> bool:
    """True when the namespace has a link of that name."""
    try:
        return rtnl(ns, "lookup", lambda ipr: _index(ipr, ifname) is not None)
    except LinkError:
        return False


def links(ns: str) -> set[str]:
    """The names of the namespace's links."""
    return rtnl(ns, "links", lambda ipr: {str(link.get("ifname")) for link in ipr.get_links()})


def bind_sim(ns: str, ifname: str, gateway: str, address: str) -> bool:
    """Bring the SIM link's network end up, answering `gateway`/32, with a route to the
    SIM's `address`/32 through it; False when the link is not there."""

    def run(ipr: IPRoute) -> bool:
        index = _index(ipr, ifname)
        if index is None:
            return False
        try:
            ipr.addr("add", index=index, address=gateway, prefixlen=32)
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                raise
        ipr.link("set", index=index, state="up")
        ipr.route("replace", dst=f"{address}/32", oif=index)
        return True

    return rtnl(ns, f"binding {ns}/{ifname} to {address}", run)


def unbind_sim(ns: str, ifname: str, address: str, *, delete: bool) -> None:
    """Withdraw the SIM's route and take its link down, or `delete` the pair (the
    network ended the context, or the device closed it). Tolerates every piece being
    gone already."""

    def run(ipr: IPRoute) -> None:
        index = _index(ipr, ifname)
        with contextlib.suppress(NetlinkError):
            ipr.route("del", dst=f"{address}/32", **({} if index is None else {"oif": index}))
        if index is None:
            return
        with contextlib.suppress(NetlinkError):
            if delete:
                ipr.link("del", index=index)
            else:
                ipr.link("set", index=index, state="down")

    try:
        rtnl(ns, f"unbinding {ns}/{ifname}", run)
    except LinkError as exc:
        log.warning("%s", exc)
