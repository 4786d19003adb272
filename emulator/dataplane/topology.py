"""Build and remove one instance's pieces: the internet namespace with its HTTP host, and
per mobile gateway its namespace (WAN link to the internet, interface 1 to the switch
segment, the nftables table) and the switch segment's namespace with its HTTP host.

```
 <inst>-inet                 <inst>-gw<ID>                        <inst>-cn<ID>
 lo 198.18.0.1 (HTTP) ─ gw<i> ══ wan0 198.19.x.y  [nft]  cn0 198.18.a.b/30 ══ lan0 (HTTP)
                               s<SIM id> 198.18.1.1 ══ (device end: the stub's wwan0)
```
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
from dataclasses import dataclass

from emulator.dataplane import links, naming, nft
from emulator.dataplane.hosts import Host

log = logging.getLogger(__name__)
RTNH_F_ONLINK = 4


@dataclass
class GatewayPieces:
    """What one mobile gateway has in the kernel."""

    gateway_id: str
    index: int
    namespace: str
    closed_namespace: str
    wan_address: str
    closed_gateway: str
    closed_host: str
    host: Host


class Topology:
    """The instance's namespaces, links, tables and hosts."""

    def __init__(self, names: naming.Names) -> None:
        self.names = names
        self.internet_host: Host | None = None
        self.gateways: dict[str, GatewayPieces] = {}

    def clean_leftovers(self) -> list[str]:
        """Remove whatever an earlier run of this instance left (after a crash): its
        namespaces (with their links, tables and processes) and stray host processes.
        Returns the namespaces removed."""
        removed = links.namespaces(self.names.instance + "-")
        for name in removed:
            links.remove_namespace(name)
        for pid in host_processes(self.names.instance):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return removed

    def build_internet(self) -> None:
        """The internet namespace and its HTTP host."""
        ns = self.names.internet_ns
        links.create_namespace(ns)
        links.configure(ns, "lo", [(naming.INTERNET_HOST, 32)], [])
        self.internet_host = Host(ns, naming.INTERNET_HOST, self.names.instance)

    def build_gateway(self, gateway_id: str) -> GatewayPieces:
        """A gateway's namespace, its switch segment, their links, table and host."""
        index = self._free_index()
        ns = self.names.gateway_ns(gateway_id)
        closed_ns = self.names.closed_ns(gateway_id)
        wan = naming.wan_address(index)
        closed_gw, closed_host = naming.closed_segment(index)
        inet_if = naming.internet_side_ifname(index)
        host: Host | None = None
        try:
            links.create_namespace(ns)
            links.create_namespace(closed_ns)
            links.enable_forwarding(ns)
            links.veth(ns, naming.GW_WAN_IF, self.names.internet_ns, inet_if)
            links.configure(self.names.internet_ns, inet_if, [], [{"dst": f"{wan}/32"}])
            links.configure(
                ns,
                naming.GW_WAN_IF,
                [(wan, 32)],
                [{"dst": "0.0.0.0/0", "gateway": naming.INTERNET_HOST, "flags": RTNH_F_ONLINK}],
            )
            links.veth(ns, naming.GW_LAN_IF, closed_ns, naming.CLOSED_IF)
            links.configure(ns, naming.GW_LAN_IF, [(closed_gw, naming.CLOSED_PREFIX_LEN)], [])
            links.configure(
                closed_ns,
                naming.CLOSED_IF,
                [(closed_host, naming.CLOSED_PREFIX_LEN)],
                [{"dst": "0.0.0.0/0", "gateway": closed_gw}],
            )
            nft.apply(ns, nft.ruleset(self.names.table))
            host = Host(closed_ns, closed_host, self.names.instance)
        except Exception:
            links.remove_namespace(ns)
            links.remove_namespace(closed_ns)
            raise
        pieces = GatewayPieces(gateway_id, index, ns, closed_ns, wan, closed_gw, closed_host, host)
        self.gateways[gateway_id] = pieces
        log.info("data plane: built gateway %s in %s", gateway_id, ns)
        return pieces

    def remove_gateway(self, gateway_id: str) -> None:
        """Remove a gateway's pieces (its WAN link's internet end goes with them)."""
        pieces = self.gateways.pop(gateway_id, None)
        if pieces is None:
            return
        pieces.host.stop()
        links.remove_namespace(pieces.namespace)
        links.remove_namespace(pieces.closed_namespace)
        log.info("data plane: removed gateway %s", gateway_id)

    def remove_all(self) -> None:
        """Remove everything the instance built."""
        for gateway_id in list(self.gateways):
            self.remove_gateway(gateway_id)
        if self.internet_host is not None:
            self.internet_host.stop()
            self.internet_host = None
        links.remove_namespace(self.names.internet_ns)
        self.clean_leftovers()

    def _free_index(self) -> int:
        used = {p.index for p in self.gateways.values()}
        for index in range(1, naming.MAX_GATEWAYS + 1):
            if index not in used:
                return index
        raise RuntimeError(f"more than {naming.MAX_GATEWAYS} gateways in one data plane")


def host_processes(instance: str) -> list[int]:
    """Host processes started for `instance` (found by their command line)."""
    marker = ["emulator.dataplane.hostproc", "--instance", instance]
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if marker[0] in args and _has_pair(args, marker[1], marker[2]):
            found.append(int(entry))
    return found


def _has_pair(args: list[str], key: str, value: str) -> bool:
    return any(a == key and b == value for a, b in itertools.pairwise(args))
