"""The daemon's data-path keeper repairs the host side (link down, address lost, route
deleted or stolen) and undoes it when the data connection drops; real netlink in a
device namespace, the stub in-process on a pty."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.daemon.datapath import DataPathKeeper
from agent.modem.client import Modem
from agent.net.data_connection import DataConnection
from firmware_stubs import NetworkProfile, StubModem
from firmware_stubs.dataplane import DataPlaneNetwork
from firmware_stubs.emulator_network import EmulatorNetwork
from tests.datapath.conftest import FakeRadioNetwork, ip

USER_RESOLV = "nameserver 192.0.2.1\n"
FETCH = (
    "import sys, urllib.request\n"
    "with urllib.request.urlopen(sys.argv[1], timeout=5) as r: print(len(r.read()))\n"
)


def host_of(net: FakeRadioNetwork) -> tuple[list[str], list[str], bool]:
    """(addresses of wwan0, default routes' gateways, link up) in the device namespace."""
    addrs = json.loads(ip("-n", net.device_ns, "-j", "addr", "show", "dev", "wwan0").stdout)
    routes = json.loads(ip("-n", net.device_ns, "-j", "route", "show", "default").stdout)
    up = "UP" in addrs[0]["flags"]
    return ([a["local"] for a in addrs[0]["addr_info"] if a["family"] == "inet"],
            [r.get("gateway") for r in routes], up)  # fmt: skip


def fetch(net: FakeRadioNetwork, n: int) -> str:
    done = subprocess.run(
        ["ip", "netns", "exec", net.device_ns, sys.executable, "-c", FETCH,
         f"{net.host_url}/bytes/{n}"],
        capture_output=True, text=True, timeout=30, check=False, env=dict(os.environ),
    )  # fmt: skip
    return done.stdout.strip()


@pytest.mark.asyncio
async def test_keeper_repairs_the_path_and_undoes_it_when_the_context_drops(
    radio_network: FakeRadioNetwork, tmp_path: Path
) -> None:
    net = radio_network
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(USER_RESOLV)
    carrier = DataPlaneNetwork(EmulatorNetwork(net.url), ifname="wwan0", netns=net.device_ns)
    card = tmp_path / "card.json"
    card.write_text(json.dumps({"iccid": "8981100000000000026", "imsi": "440101234567891",
                                "pin": "0000", "puk": "12345678", "pin_enabled": False,
                                "pin_retries": 3, "puk_retries": 10}))  # fmt: skip
    stub = StubModem(card, "simcom", network=NetworkProfile(register_delay=0.0), carrier=carrier)
    keeper = DataPathKeeper(
        enabled=True, interface="wwan0", state_dir=tmp_path, dns_file=resolv, netns=net.device_ns
    )
    with stub:
        async with await Modem.open(stub.device_path) as modem:
            connection = DataConnection(modem)
            status = await connection.connect("sakura", register_timeout=10)
            await keeper.keep(modem, "simcom", status)
            assert keeper.configured
            assert host_of(net) == ([net.address], [net.gateway], True)
            assert f"nameserver {net.dns[0]}" in resolv.read_text()
            assert fetch(net, 5000) == "5000"

            for sabotage in (
                ["link", "set", "wwan0", "down"],
                ["addr", "flush", "dev", "wwan0"],
                ["route", "del", "default"],
                ["route", "replace", "default", "via", "10.77.0.99", "dev", "wwan0",
                 "metric", "700", "onlink"],
            ):  # fmt: skip
                ip("-n", net.device_ns, *sabotage)
                assert host_of(net) != ([net.address], [net.gateway], True), sabotage
                await keeper.keep(modem, "simcom", await connection.status())
                assert host_of(net) == ([net.address], [net.gateway], True), sabotage
            assert keeper.repairs == 4
            assert fetch(net, 7000) == "7000"

            await keeper.keep(modem, "simcom", await connection.status())
            assert keeper.repairs == 4  # intact: nothing done

            status = await connection.disconnect()
            await keeper.keep(modem, "simcom", status)
            assert not keeper.configured
            assert resolv.read_text() == USER_RESOLV
            assert not (tmp_path / "datapath.json").exists()
            assert ip("-n", net.device_ns, "link", "show", "wwan0", check=False).returncode != 0
