"""Names and addresses of everything an emulator instance creates in the kernel.

Every name starts with the instance name, `<prefix><hash of the database path>`, so two
emulators on one machine never collide, and a restarted emulator finds what a crashed run
of the same database left behind. All addresses come from 198.18.0.0/15 (RFC 2544,
benchmarking: never routed on real networks), except the SIMs' own (100.64.0.0/10 or the
fixed IP set through the Sakura API).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PREFIX = "sg"
PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9]{0,5}$")

INTERNET_HOST = "198.18.0.1"  # the internet's HTTP host (internet namespace)
SIM_GATEWAY = "198.18.1.1"  # what every SIM link's network end answers (the device's gateway)
HOST_PORT = 80
MTU = 1500
_WAN_BASE = int(ipaddress.IPv4Address("198.19.0.0"))  # gateway i's WAN address: base + i
_CLOSED_BASE = int(ipaddress.IPv4Address("198.18.128.0"))  # gateway i's /30: base + 4 i
MAX_GATEWAYS = 8191

# Link names inside the instance's namespaces (they never reach the root namespace).
GW_WAN_IF = "wan0"  # gateway namespace, towards the internet namespace
GW_LAN_IF = "cn0"  # gateway namespace, interface 1: towards the switch's segment
CLOSED_IF = "lan0"  # closed-network namespace, the switch's segment


def check_prefix(prefix: str) -> str:
    """A name prefix: a lower-case letter then up to five letters or digits."""
    if not PREFIX_PATTERN.match(prefix):
        raise ValueError(
            f"data plane prefix must be a lower-case letter and up to 5 letters or digits, "
            f"not {prefix!r}"
        )
    return prefix


def instance_name(db_path: Path | str, prefix: str = DEFAULT_PREFIX) -> str:
    """The instance's name: the prefix and 6 hex digits of the database's absolute path
    (or of its URL, for a database server)."""
    is_url = isinstance(db_path, str) and "://" in db_path
    key = str(db_path) if is_url else str(Path(db_path).resolve())
    digest = hashlib.sha256(key.encode()).hexdigest()[:6]
    return check_prefix(prefix) + digest


@dataclass(frozen=True)
class Names:
    """The names of one instance's namespaces, links and nftables table."""

    instance: str

    @property
    def internet_ns(self) -> str:
        """The internet namespace."""
        return f"{self.instance}-inet"

    def gateway_ns(self, gateway_id: str) -> str:
        """The mobile gateway's namespace."""
        return f"{self.instance}-gw{gateway_id}"

    def closed_ns(self, gateway_id: str) -> str:
        """The namespace of the switch segment behind the gateway's interface 1."""
        return f"{self.instance}-cn{gateway_id}"

    @property
    def table(self) -> str:
        """The nftables table in each gateway namespace."""
        return self.instance

    def owns(self, namespace: str) -> bool:
        """True for a namespace this instance made."""
        return namespace.startswith(self.instance + "-")


def peer_ifname(sim_id: str) -> str:
    """The name the SIM link's network end has in the gateway namespace (<= 15 chars)."""
    name = f"s{sim_id}"
    if len(name) <= 15 and re.fullmatch(r"[A-Za-z0-9]+", name):
        return name
    return "s" + hashlib.sha256(sim_id.encode()).hexdigest()[:14]


def internet_side_ifname(index: int) -> str:
    """The name, in the internet namespace, of gateway `index`'s WAN link."""
    return f"gw{index}"


def wan_address(index: int) -> str:
    """Gateway `index`'s address on the internet side (SIM traffic is NAT'ed to it)."""
    _check_index(index)
    return str(ipaddress.IPv4Address(_WAN_BASE + index))


def closed_segment(index: int) -> tuple[str, str]:
    """Gateway `index`'s switch segment (a /30): (gateway interface 1, closed host)."""
    _check_index(index)
    base = _CLOSED_BASE + 4 * index
    return str(ipaddress.IPv4Address(base + 1)), str(ipaddress.IPv4Address(base + 2))


CLOSED_PREFIX_LEN = 30


def host_url(address: str) -> str:
    """The base URL of an HTTP host."""
    return f"http://{address}" if HOST_PORT == 80 else f"http://{address}:{HOST_PORT}"


def _check_index(index: int) -> None:
    if not 1 <= index <= MAX_GATEWAYS:
        raise ValueError(f"gateway index {index} is outside 1..{MAX_GATEWAYS}")
