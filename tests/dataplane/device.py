"""The device side of DATAPLANE.md §2, played by the tests: a device namespace, the veth
pair made in one netlink request (device end `wwan0` here, network end `peer_ifname` in
the gateway's namespace), the host's address and route, and HTTP fetches from inside."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pyroute2 import IPRoute

from emulator.dataplane import links, system
from emulator.dataplane.topology import host_processes

PREFIX = "sgdp"
RTNH_F_ONLINK = 4


def clean_prefix() -> None:
    """Remove every namespace and data-plane host process of this suite's prefix."""
    for name in links.namespaces(PREFIX):
        links.remove_namespace(name)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "emulator.dataplane.hostproc" in args and any(a.startswith(PREFIX) for a in args):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry), signal.SIGKILL)


def leftovers(instance: str) -> dict[str, Any]:
    """What of `instance` is still in the kernel: namespaces and host processes (and
    nothing of it may ever be in the root namespace: no table, no link of its names)."""
    nft = system.tool("nft") or "nft"
    tables = subprocess.run(
        [nft, "list", "tables"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    assert instance not in tables, tables
    with IPRoute() as ipr:
        names = {str(link.get("ifname")) for link in ipr.get_links()}
    assert not {"wan0", "cn0", "lan0"} & names, names
    assert not [n for n in names if n.startswith("s11")], names
    return {
        "namespaces": links.namespaces(instance + "-"),
        "processes": host_processes(instance),
    }


@dataclass
class Device:
    """A device namespace whose `wwan0` is the modem's network interface."""

    namespace: str
    ifname: str = "wwan0"

    @classmethod
    def create(cls, name: str) -> Device:
        """A fresh namespace `sgdp-<name>` with IPv6 off (no RS/DAD on the link)."""
        device = cls(f"{PREFIX}-{name}")
        links.create_namespace(device.namespace)
        return device

    def remove(self) -> None:
        """Delete the namespace (and the pair, wherever its other end is)."""
        links.remove_namespace(self.namespace)

    def plug(self, plane: dict[str, Any]) -> None:
        """The stub's move on data context activation: one request makes the pair."""

        def add(ipr: IPRoute) -> None:
            peer = {"ifname": plane["peer_ifname"], "net_ns_fd": f"/run/netns/{plane['namespace']}"}
            ipr.link("add", ifname=self.ifname, kind="veth", peer=peer)

        links.rtnl(self.namespace, "plug", add)

    def configure(self, plane: dict[str, Any]) -> None:
        """The host's move: address/32, link up, default route via the gateway."""

        def run(ipr: IPRoute) -> None:
            index = ipr.link_lookup(ifname=self.ifname)[0]
            ipr.addr("add", index=index, address=plane["address"], prefixlen=plane["prefix_len"])
            ipr.link("set", index=index, state="up", mtu=plane["mtu"])
            ipr.route(
                "replace",
                dst="0.0.0.0/0",
                gateway=plane["gateway"],
                oif=index,
                flags=RTNH_F_ONLINK,
            )

        links.rtnl(self.namespace, "configure", run)

    def unplug(self) -> None:
        """Delete the pair (tolerates it being gone)."""

        def run(ipr: IPRoute) -> None:
            found = ipr.link_lookup(ifname=self.ifname)
            if found:
                ipr.link("del", index=found[0])

        links.rtnl(self.namespace, "unplug", run)

    def has_link(self) -> bool:
        """True while `wwan0` exists."""
        return self.ifname in links.links(self.namespace)

    def _link(self) -> Any:
        def run(ipr: IPRoute) -> Any:
            found = ipr.link_lookup(ifname=self.ifname)
            return ipr.get_links(found[0])[0] if found else None

        return links.rtnl(self.namespace, "link", run)

    def counters(self) -> dict[str, int]:
        """The interface's OS counters (what the agent's meter reads)."""
        stats = self._link().get("stats64")
        return {k: int(stats[k]) for k in ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets")}

    def socket(self) -> socket.socket:
        """A TCP socket that lives in the device namespace."""
        made: list[socket.socket] = []
        links.in_namespace(
            self.namespace, lambda: made.append(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        )
        return made[0]

    def get(self, url: str, timeout: float = 2.0) -> tuple[int, bytes]:
        """`GET url` from inside the device: (status, body). OSError when unreachable."""
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or 80
        with self.socket() as sock:
            sock.settimeout(timeout)
            sock.connect((host, port))
            request = f"GET {parts.path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
            sock.sendall(request.encode())
            chunks = []
            while True:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
        data = b"".join(chunks)
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        return status, body


def gateway_counters(namespace: str, table: str) -> dict[str, int]:
    """The named counters in the gateway's table, read with nft (bytes by name)."""
    ip, nft = system.tool("ip") or "ip", system.tool("nft") or "nft"
    out = subprocess.run(
        [ip, "netns", "exec", namespace, nft, "-j", "list", "counters", "table", "ip", table],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout
    return {
        item["counter"]["name"]: int(item["counter"]["bytes"])
        for item in json.loads(out)["nftables"]
        if "counter" in item
    }
