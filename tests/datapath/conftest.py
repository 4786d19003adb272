"""Real packets between a device namespace and a gateway namespace (root; CI never skips).

Until the emulator's own data plane is merged, `FakeRadioNetwork` plays its radio-network
endpoints over real HTTP on 127.0.0.1 (DATAPLANE.md §1-§3): an attach answered with a
`dataplane`, `session up` configuring the network end of the stub's veth inside a
`sgdv-gw-…` namespace (up, the gateway address, a route to the SIM's address), `session
down` removing it. The gateway namespace also holds a small HTTP host (`bytes_host.py`)
on an address of its own. Every namespace, link, file and process is named `sgdv…`;
leftovers of the prefix are removed before and after each test, also after a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

PREFIX = "sgdv"
HOST_PROCESS = "sgdv-bytes-host"
NETNS_ETC = Path("/etc/netns")
BYTES_HOST = Path(__file__).with_name("bytes_host.py")


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `ip ARGS` (the fixture's own plumbing; the code under test uses netlink)."""
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=10)


def need_root() -> None:
    """Skip (fail when CI=true) unless this can make namespaces and veth pairs."""
    reason = None
    if os.geteuid() != 0:
        reason = "needs root (network namespaces and veth pairs)"
    elif shutil.which("ip") is None:
        reason = "needs iproute2's `ip`"
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; data-path tests must not be skipped in CI")
        pytest.skip(reason)


def netns_names() -> list[str]:
    """The namespaces `ip netns` knows."""
    out = ip("-j", "netns", "list", check=False).stdout.strip()
    return [entry["name"] for entry in json.loads(out or "[]")]


def clean_prefix() -> list[str]:
    """Remove every namespace, link, /etc/netns folder and host process of the prefix."""
    removed = []
    for pid_dir in Path("/proc").glob("[0-9]*"):
        try:
            argv0 = (pid_dir / "cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if argv0 == HOST_PROCESS.encode():
            with contextlib.suppress(OSError):
                os.kill(int(pid_dir.name), signal.SIGKILL)
                removed.append(f"process {pid_dir.name}")
    for name in netns_names():
        if name.startswith(PREFIX):
            ip("netns", "del", name, check=False)
            removed.append(f"netns {name}")
    links = json.loads(ip("-j", "link", "show", check=False).stdout or "[]")
    for link in links:
        if str(link.get("ifname", "")).startswith(PREFIX):
            ip("link", "del", link["ifname"], check=False)
            removed.append(f"link {link['ifname']}")
    for folder in NETNS_ETC.glob(f"{PREFIX}*"):
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(f"folder {folder}")
    return removed


def leftovers() -> list[str]:
    """What of the prefix still exists."""
    found = [f"netns {n}" for n in netns_names() if n.startswith(PREFIX)]
    links = json.loads(ip("-j", "link", "show", check=False).stdout or "[]")
    found += [f"link {lk['ifname']}" for lk in links if str(lk["ifname"]).startswith(PREFIX)]
    found += [f"folder {f}" for f in NETNS_ETC.glob(f"{PREFIX}*")]
    return found


@dataclass
class FakeRadioNetwork:
    """The emulator's radio network and one gateway, as DATAPLANE.md describes them."""

    suffix: str
    address: str = "10.77.0.2"
    gateway: str = "10.77.0.1"
    dns: tuple[str, str] = ("10.77.0.53", "10.77.0.54")
    host_address: str = "198.18.0.80"
    host_port: int = 8080
    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refuse_session: str | None = None  # a reason: session up is refused with it
    url: str = ""
    _server: ThreadingHTTPServer | None = None
    _host: subprocess.Popen[str] | None = None

    @property
    def gateway_ns(self) -> str:
        """The gateway's namespace."""
        return f"{PREFIX}-gw-{self.suffix}"

    @property
    def device_ns(self) -> str:
        """The device's namespace (the stub's --netns)."""
        return f"{PREFIX}-dev-{self.suffix}"

    @property
    def peer_ifname(self) -> str:
        """The network end's name."""
        return f"{PREFIX}p{self.suffix}"

    @property
    def host_url(self) -> str:
        """The HTTP host behind the gateway."""
        return f"http://{self.host_address}:{self.host_port}"

    def answer(self, what: str, body: dict[str, Any]) -> dict[str, Any]:
        """The network's answer to a POST (DATAPLANE.md §1-§3)."""
        self.posts.append((what, body))
        if what == "attach":
            plane = {
                "namespace": self.gateway_ns,
                "peer_ifname": self.peer_ifname,
                "address": self.address,
                "prefix_len": 32,
                "gateway": self.gateway,
                "dns": list(self.dns),
                "mtu": 1500,
            }
            return {"accepted": True, "reason": None, "closed_network": True,
                    "internet": True, "ip": self.address, "dataplane": plane}  # fmt: skip
        if what == "session" and body.get("state") == "up":
            if self.refuse_session is not None:
                return {"accepted": False, "reason": self.refuse_session}
            ns, peer = self.gateway_ns, self.peer_ifname
            if ip("-n", ns, "link", "show", peer, check=False).returncode != 0:
                return {"accepted": False, "reason": "no_link"}
            ip("-n", ns, "link", "set", peer, "up")
            ip("-n", ns, "addr", "add", f"{self.gateway}/32", "dev", peer)
            ip("-n", ns, "route", "add", f"{self.address}/32", "dev", peer)
            return {"accepted": True, "reason": None}
        if what == "session":
            ip("-n", self.gateway_ns, "link", "del", self.peer_ifname, check=False)
            return {"accepted": True, "reason": None}
        return {"accepted": False, "reason": "measured_by_gateway"}

    def sessions(self) -> list[str]:
        """The session states POSTed, in order."""
        return [str(body.get("state")) for what, body in self.posts if what == "session"]

    def start(self) -> None:
        """Namespaces, the HTTP host, and the radio network's HTTP endpoints."""
        for ns in (self.gateway_ns, self.device_ns):
            ip("netns", "add", ns)
            ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", self.gateway_ns, "addr", "add", f"{self.host_address}/32", "dev", "lo")
        script = f'exec -a {HOST_PROCESS} "$0" "$@"'
        self._host = subprocess.Popen(
            ["ip", "netns", "exec", self.gateway_ns, "bash", "-c", script, sys.executable,
             str(BYTES_HOST), self.host_address, str(self.host_port)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self._host.stdout is not None
        assert self._host.stdout.readline().strip() == "ready"
        network = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                what = self.path.rsplit("/", 1)[-1]
                data = json.dumps(network.answer(what, body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        """Stop the endpoints and the host."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._host is not None:
            self._host.kill()
            self._host.wait(timeout=10)


@pytest.fixture
def radio_network() -> Iterator[FakeRadioNetwork]:
    """A fake radio network with a gateway namespace; all of the prefix removed after."""
    need_root()
    clean_prefix()
    network = FakeRadioNetwork(secrets.token_hex(3))
    try:
        network.start()
        yield network
    finally:
        network.stop()
        clean_prefix()
    assert leftovers() == []  # nothing of the prefix outlives the test
