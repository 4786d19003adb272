"""`internet on` gives the device namespace a working IP path through the stub's interface.

The stub serves on a pty with `--emulator` (the fake radio network) and `--netns` (the
device namespace); the agent runs inside that namespace (`ip netns exec`), brings the
data call up, configures `wwan0` from `+CGCONTRDP` over netlink and writes DNS to the
namespace's resolv.conf; a real HTTP fetch then crosses the veth to the gateway's host.
`internet off` leaves the namespace exactly as before, and the stub's exit removes the
link.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.datapath.conftest import NETNS_ETC, FakeRadioNetwork, ip

REPO = Path(__file__).resolve().parents[2]
USER_RESOLV = "# the user's own resolver settings\nnameserver 192.0.2.53\n"
FETCH = (
    "import sys, urllib.request\n"
    "with urllib.request.urlopen(sys.argv[1], timeout=5) as r: print(len(r.read()))\n"
)


def in_ns(
    ns: str, *argv: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `argv` inside namespace `ns`."""
    return subprocess.run(
        ["ip", "netns", "exec", ns, *argv],
        capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO, check=False,
    )  # fmt: skip


def agent(ns: str, link: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`simgate agent --port LINK ARGS` inside `ns`."""
    return in_ns(ns, sys.executable, "-m", "simgate.cli", "agent", "--port", str(link), *args,
                 env=env)  # fmt: skip


def namespace_state(ns: str) -> dict[str, Any]:
    """Links, addresses and routes of `ns` (what `internet off` must give back)."""
    addrs = json.loads(ip("-n", ns, "-j", "addr", "show").stdout or "[]")
    routes = json.loads(ip("-n", ns, "-j", "route", "show", "table", "all").stdout or "[]")
    return {
        "links": sorted(a["ifname"] for a in addrs),
        "addresses": sorted(
            f"{a['ifname']} {i['local']}/{i['prefixlen']}" for a in addrs for i in a["addr_info"]
        ),
        "routes": sorted(json.dumps(r, sort_keys=True) for r in routes),
    }


def wait_line(proc: subprocess.Popen[str], timeout: float = 15.0) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        pytest.fail(f"no line from the stub within {timeout} s")
    return proc.stdout.readline()


def link_in(ns: str, name: str) -> bool:
    return ip("-n", ns, "link", "show", name, check=False).returncode == 0


def test_internet_on_fetches_through_the_modem_and_off_restores_the_namespace(
    radio_network: FakeRadioNetwork, tmp_path: Path
) -> None:
    net = radio_network
    card = tmp_path / "card.json"
    card.write_text(json.dumps({"iccid": "8981100000000000018", "imsi": "440101234567890",
                                "pin": "0000", "puk": "12345678", "pin_enabled": False,
                                "pin_retries": 3, "puk_retries": 10}))  # fmt: skip
    resolv_dir = NETNS_ETC / net.device_ns
    resolv_dir.mkdir(parents=True)
    (resolv_dir / "resolv.conf").write_text(USER_RESOLV)
    link = tmp_path / "modem"
    env = {**os.environ, "SIMGATE_STATE_DIR": str(tmp_path / "state"), "PYTHONPATH": str(REPO)}
    before = namespace_state(net.device_ns)
    stub = subprocess.Popen(
        [sys.executable, "-m", "simgate.cli", "stub", "serve", "--link", str(link),
         "--dialect", "simcom", "--card", str(card), "--emulator", net.url,
         "--netns", net.device_ns],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert "serving" in wait_line(stub)

        on = agent(net.device_ns, link, env, "internet", "on", "--apn", "sakura", "--dns-file",
                   "/etc/resolv.conf", "--register-timeout", "20", "--json")  # fmt: skip
        assert on.returncode == 0, on.stderr
        doc = json.loads(on.stdout)
        assert doc["active"] is True
        assert doc["problems"] == []
        assert (doc["interface"], doc["address"], doc["gateway"]) == ("wwan0", net.address,
                                                                      net.gateway)  # fmt: skip
        assert net.sessions() == ["up"]

        fetched = in_ns(net.device_ns, sys.executable, "-c", FETCH,
                        f"{net.host_url}/bytes/200000", env=env)  # fmt: skip
        assert fetched.returncode == 0, fetched.stderr
        assert fetched.stdout.strip() == "200000"

        status = agent(net.device_ns, link, env, "internet", "status", "--json")
        assert status.returncode == 0, status.stderr
        shown = json.loads(status.stdout)
        assert {k: shown[k] for k in ("active", "interface", "address", "gateway", "dns",
                                      "reachable")} == {
            "active": True, "interface": "wwan0", "address": net.address,
            "gateway": net.gateway, "dns": list(net.dns), "reachable": True,
        }  # fmt: skip
        probed = agent(net.device_ns, link, env, "internet", "status", "--json",
                       "--probe-url", f"{net.host_url}/bytes/10")  # fmt: skip
        assert json.loads(probed.stdout)["reachable"] is True
        written = (resolv_dir / "resolv.conf").read_text()
        assert f"nameserver {net.dns[0]}" in written
        assert "192.0.2.53" not in written

        off = agent(net.device_ns, link, env, "internet", "off", "--json")
        assert off.returncode == 0, off.stderr
        assert json.loads(off.stdout)["active"] is False
        assert namespace_state(net.device_ns) == before
        assert (resolv_dir / "resolv.conf").read_text() == USER_RESOLV
        assert not link_in(net.gateway_ns, net.peer_ifname)
        assert net.sessions() == ["up", "down"]
        after_off = json.loads(agent(net.device_ns, link, env, "internet", "status",
                                     "--json").stdout)  # fmt: skip
        assert (after_off["interface"], after_off["reachable"]) == (None, False)

        on_again = agent(net.device_ns, link, env, "internet", "on", "--apn", "sakura", "--json")
        assert on_again.returncode == 0, on_again.stderr
        assert link_in(net.device_ns, "wwan0")
        stub.send_signal(signal.SIGTERM)
        stub.wait(timeout=15)
        assert stub.returncode == 0
        assert not link_in(net.device_ns, "wwan0")
        assert not link_in(net.gateway_ns, net.peer_ifname)
        assert net.sessions() == ["up", "down", "up", "down"]
        assert [what for what, _ in net.posts if what == "traffic"] == []
    finally:
        if stub.poll() is None:
            stub.kill()
        stub.communicate(timeout=10)


def test_without_cap_net_admin_the_context_comes_up_and_the_host_step_is_named(
    radio_network: FakeRadioNetwork, tmp_path: Path
) -> None:
    net = radio_network
    card = tmp_path / "card.json"
    card.write_text(json.dumps({"iccid": "8981100000000000034", "imsi": "440101234567892",
                                "pin": "0000", "puk": "12345678", "pin_enabled": False,
                                "pin_retries": 3, "puk_retries": 10}))  # fmt: skip
    link = tmp_path / "modem"
    env = {**os.environ, "SIMGATE_STATE_DIR": str(tmp_path / "state"), "PYTHONPATH": str(REPO)}
    before = namespace_state(net.device_ns)
    stub = subprocess.Popen(
        [sys.executable, "-m", "simgate.cli", "stub", "serve", "--link", str(link),
         "--dialect", "simcom", "--card", str(card), "--emulator", net.url,
         "--netns", net.device_ns],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    drop = ["setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin", "--"]
    try:
        assert "serving" in wait_line(stub)
        on = in_ns(net.device_ns, *drop, sys.executable, "-m", "simgate.cli", "agent", "--port",
                   str(link), "internet", "on", "--apn", "sakura", "--json", env=env)  # fmt: skip
        assert on.returncode == 0, on.stderr
        doc = json.loads(on.stdout)
        assert doc["active"] is True
        assert doc["interface"] == "wwan0"  # the modem's interface is there...
        assert doc["address"] is None  # ...but could not be configured, and it says why
        assert doc["problems"] == [
            "the host interface was not configured: cannot configure wwan0: not permitted "
            "(needs root or CAP_NET_ADMIN)"
        ]
        assert "warning: the host interface was not configured" in on.stderr
        off = in_ns(net.device_ns, *drop, sys.executable, "-m", "simgate.cli", "agent",
                    "--port", str(link), "internet", "off", "--json", env=env)  # fmt: skip
        assert off.returncode == 0, off.stderr
        assert namespace_state(net.device_ns) == before
    finally:
        if stub.poll() is None:
            stub.send_signal(signal.SIGTERM)
        stub.communicate(timeout=15)
