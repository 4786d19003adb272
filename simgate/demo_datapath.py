"""The demo's real packets: where root may build namespaces, the device gets one of its own.

The emulator then runs with `--data-plane`, the stub puts the modem's `wwan0` into the
device's namespace when the data call starts, the agent configures it there from
`+CGCONTRDP`, and the device fetches from the emulated internet's host through it. The
agent meters `wwan0`'s kernel counters, and the bill is what the gateway forwarded.
Without root (or without the kernel's tools) the demo says so and keeps the stub's
simulated counter.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from agent.usage.counters import CounterReading
from emulator.dataplane import links, system
from simgate_common.netns import run_in_namespace

IFACE = "wwan0"
CHUNK = 64 * 1024


def unavailable() -> str | None:
    """Why real packets cannot move here (in words), or None when they can."""
    if os.geteuid() != 0:
        return "not root"
    return system.missing_requirements()


@dataclass
class DeviceNamespace:
    """The device's own network namespace: made for the demo, removed after it."""

    name: str

    @classmethod
    def create(cls) -> DeviceNamespace:
        """A fresh namespace named after this process."""
        device = cls(f"sgdemo-{os.getpid()}")
        links.create_namespace(device.name)
        return device

    def remove(self) -> None:
        """Delete the namespace (and what is left of the modem's link)."""
        links.remove_namespace(self.name)

    def fetch_for(self, url: str, seconds: float, rate: float) -> int:
        """GET `url`/bytes/N from inside the namespace for `seconds`, about `rate` bytes a
        second; the bytes that arrived."""

        if not url.startswith("http://"):
            raise ValueError(f"the internet host's URL is not http://: {url!r}")

        def run() -> int:
            got = 0
            began = time.monotonic()
            size = max(1, min(CHUNK, int(rate / 4)))
            while (elapsed := time.monotonic() - began) < seconds:
                if got > rate * elapsed:
                    time.sleep(0.05)
                    continue
                try:
                    target = f"{url}/bytes/{size}"
                    with urllib.request.urlopen(target, timeout=2) as answer:  # noqa: S310
                        got += len(answer.read())
                except (OSError, urllib.error.URLError):
                    time.sleep(0.1)  # the path is not there (yet): the bill will say so
            return got

        return run_in_namespace(self.name, run)


class NamespaceCounters:
    """`wwan0`'s kernel counters inside the device's namespace, as the agent's meter
    reads an interface (`os:wwan0`)."""

    def __init__(self, namespace: str, interface: str = IFACE) -> None:
        self.namespace = namespace
        self.interface = interface

    @property
    def name(self) -> str:
        """`os:<interface>`."""
        return f"os:{self.interface}"

    async def read(self) -> CounterReading:
        """The counters now (0 while the link does not exist yet)."""

        def run() -> tuple[int, int, int]:
            from pyroute2 import IPRoute

            with IPRoute() as ipr:
                found = ipr.link_lookup(ifname=self.interface)
                if not found:
                    return 0, 0, 0
                stats = ipr.get_links(found[0])[0].get_attr("IFLA_STATS64") or {}
                return int(stats.get("tx_bytes", 0)), int(stats.get("rx_bytes", 0)), found[0]

        up, down, index = run_in_namespace(self.namespace, run)
        return CounterReading(up, down, f"{self.namespace}/{index}")
