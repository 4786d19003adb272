"""Everything the data plane creates is named after its instance and removed on stop, on
`/_emulator/reset`, and after a crash at the next start; two instances never collide;
without privileges `--data-plane` is refused (exit 2); without the flag nothing changes."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from emulator.dataplane import links
from emulator.dataplane.naming import instance_name
from tests.dataplane.device import PREFIX, gateway_counters, leftovers
from tests.dataplane.support import DataPlaneCloud, Plane, reachable, start_plane, start_process
from tests.emulator import live
from tests.integration.cloud import wait_for

PR_CAPBSET_DROP = 24


def test_dataplane_stop_removes_everything(db_path: Path) -> None:
    with start_plane(db_path) as plane:
        sim = plane.cloud.sim(switch=True)
        device, _ = plane.connect(sim)
        instance = plane.instance
        assert len(leftovers(instance)["namespaces"]) == 3  # internet, gateway, switch segment
        assert len(leftovers(instance)["processes"]) == 2  # their HTTP hosts
        assert live.stop(plane.proc) == 0
        assert leftovers(instance) == {"namespaces": [], "processes": []}
        assert not device.has_link()  # the pair went with the gateway's namespace
    with start_plane(db_path) as plane:
        log = plane.cloud.session_log(sim)
        assert ("DOWN", "data_plane_stopped") in log


def test_dataplane_reset_removes_what_was_built(dp: Plane) -> None:
    sim = dp.cloud.sim(switch=True)
    device, link = dp.connect(sim)
    assert link["namespace"] in links.namespaces(dp.instance)
    dp.cloud.reset()
    left = leftovers(dp.instance)
    assert left["namespaces"] == [f"{dp.instance}-inet"]  # built anew, as at start
    assert len(left["processes"]) == 1
    assert not device.has_link()
    assert dp.cloud.dataplane()["gateways"] == []


def test_dataplane_sigkill_then_restart_removes_the_leftovers(db_path: Path) -> None:
    proc, info = start_process(db_path)
    instance = info["data_plane"]["instance"]
    cloud = DataPlaneCloud(info)
    plane = Plane(proc, info, cloud)
    try:
        sim = cloud.sim(switch=True)
        device, link = plane.connect(sim)
        internet, _ = plane.urls()
        assert reachable(device, f"{internet}/bytes/1000")
        old = os.stat(f"/run/netns/{link['namespace']}").st_ino
        live.stop(proc, hard=True)
        cloud.close()
        # The hosts follow their emulator; the namespaces (and the pair) stay behind.
        wait_for(lambda: not leftovers(instance)["processes"], 5.0, "hosts to exit")
        assert len(leftovers(instance)["namespaces"]) == 3
        assert device.has_link()

        with start_plane(db_path) as again:
            assert again.instance == instance  # stable across restarts
            assert os.stat(f"/run/netns/{link['namespace']}").st_ino != old
            assert not device.has_link()
            assert gateway_counters(link["namespace"], instance) == {}
            assert ("DOWN", "data_plane_restarted") in again.cloud.session_log(sim)
            device2, _ = again.connect(sim, name="dev2")
            assert reachable(device2, f"{internet}/bytes/1000")
        assert leftovers(instance) == {"namespaces": [], "processes": []}
    finally:
        plane.remove_devices()
        cloud.close()
        live.stop(proc)


def test_dataplane_two_emulators_on_one_machine_never_collide(
    machine: None, tmp_path: Path
) -> None:
    assert instance_name(tmp_path / "a.db", PREFIX) != instance_name(tmp_path / "b.db", PREFIX)
    assert instance_name(tmp_path / "a.db", PREFIX) == instance_name(tmp_path / "a.db", PREFIX)
    with start_plane(tmp_path / "a.db") as a, start_plane(tmp_path / "b.db") as b:
        sim_a, sim_b = a.cloud.sim(switch=True), b.cloud.sim(switch=True)
        dev_a, _ = a.connect(sim_a, name="deva")
        dev_b, _ = b.connect(sim_b, name="devb")
        url_a, url_b = a.urls(), b.urls()
        for device, urls in ((dev_a, url_a), (dev_b, url_b)):
            assert all(reachable(device, f"{u}/bytes/1000") for u in urls)
        assert set(links.namespaces(a.instance)).isdisjoint(links.namespaces(b.instance))
        a_ns = leftovers(a.instance)["namespaces"]
        assert all(n.startswith(a.instance + "-") for n in a_ns)


def test_dataplane_needs_privileges_exit_2(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "simgate.cli", "emulator", "serve", "--data-plane"]
    cmd += ["--db", str(tmp_path / "e.db"), "--http", "127.0.0.1:0", "--mqtt", "embedded:0"]

    def drop() -> None:
        # Empty the capability bounding set: root then execs with no capabilities at all.
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        for cap in range(64):
            libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)

    probe = [sys.executable, "-c", "print(open('/proc/self/status').read())"]
    status = subprocess.run(
        probe, preexec_fn=drop, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert "CapEff:\t0000000000000000" in status, "could not drop the capabilities"
    done = subprocess.run(
        cmd, preexec_fn=drop, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, done.stderr
    assert "--data-plane needs root" in done.stderr
    assert "CAP_NET_ADMIN" in done.stderr
    assert "Traceback" not in done.stderr


def test_dataplane_bad_prefix_exit_2(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "simgate.cli", "emulator", "serve", "--data-plane"]
    cmd += ["--data-plane-prefix", "Bad-Prefix", "--db", str(tmp_path / "e.db")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "data plane prefix" in done.stderr


def test_dataplane_without_the_flag_nothing_changes(tmp_path: Path) -> None:
    before = links.namespaces(PREFIX)
    proc, info = live.start(tmp_path / "e.db")
    cloud = DataPlaneCloud(info)
    try:
        assert cloud.dataplane() == {"enabled": False, "internet": None, "gateways": []}
        sim = cloud.sim(switch=True)
        answer = cloud.attach(sim)
        assert answer["accepted"]
        assert answer["dataplane"] is None
        assert cloud.session(sim, "up") == {"accepted": True, "reason": None}
        body = {"iccid": sim.iccid, "up": 100, "down": 200}
        answer = cloud.ok(cloud.steer.post("/_emulator/network/traffic", json=body))
        assert answer["accepted"] is True
        assert cloud.traffic_status(sim) == (100, 200)
        assert links.namespaces(PREFIX) == before
    finally:
        cloud.close()
        live.stop(proc)


def test_dataplane_hosts_bound_their_answers(dp: Plane) -> None:
    sim = dp.cloud.sim(switch=True)
    device, _ = dp.connect(sim)
    internet, _ = dp.urls()
    status, body = device.get(f"{internet}/bytes/{(1 << 30) + 1}")
    assert status == 400
    assert b"at most" in body
    status, _ = device.get(f"{internet}/nothing")
    assert status == 404
    started = time.monotonic()
    status, body = device.get(f"{internet}/bytes/0")
    assert (status, body) == (200, b"")
    assert time.monotonic() - started < 1.0
    assert httpx.URL(internet).host == "198.18.0.1"
