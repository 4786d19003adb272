"""Data plane throughput: device namespace → emulated gateway → internet host, against a
bare veth pair between two namespaces, same run, same sender and receiver (iperf3).

    sudo .venv/bin/python benchmarks/dataplane.py [--repeats 11] [--seconds 1] [--json]

The emulated path is the one a SIM's packets take when `simgate emulator serve
--data-plane` runs: the device's veth end, the gateway namespace (forwarding, the nftables
sets, per-SIM counters, NAT), its WAN veth, the internet namespace. The baseline is one
veth pair between two namespaces. Each repeat runs one single-stream TCP iperf3 test of
`--seconds` on each, in both directions (upload: the device sends; download: `-R`),
alternating so machine noise falls on both; the medians of the per-repeat ratios are
reported. Needs root, iperf3, nft and ip; every namespace made is named `sgbm*` and
removed at the end (also after a failure).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from emulator.dataplane import links, system

PREFIX = "sgbm"
TOKEN, SECRET = "bench-token", "bench-secret"
BARE = ("sgbm-a", "sgbm-b", "198.18.255.1", "198.18.255.2")
PORT = 5201


def iperf(client_ns: str, server_ns: str, address: str, seconds: float, reverse: bool) -> float:
    """Bits per second received in one single-stream iperf3 TCP test."""
    ip = system.tool("ip") or "ip"
    server = subprocess.Popen(
        [ip, "netns", "exec", server_ns, "iperf3", "-s", "-1", "-B", address, "-p", str(PORT)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        cmd = [ip, "netns", "exec", client_ns, "iperf3", "-c", address, "-p", str(PORT)]
        cmd += ["-t", str(seconds), "-J", "--connect-timeout", "2000"]
        for _ in range(50):  # the server needs a moment to listen
            done = subprocess.run(
                cmd + (["-R"] if reverse else []),
                capture_output=True,
                text=True,
                timeout=seconds + 30,
                check=False,
            )
            if done.returncode == 0 and "sum_received" in json.loads(done.stdout).get("end", {}):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"iperf3 failed: {done.stdout[-500:]} {done.stderr[-500:]}")
        result = json.loads(done.stdout)
        return float(result["end"]["sum_received"]["bits_per_second"])
    finally:
        server.kill()
        server.wait(timeout=10)


def bare_pair() -> None:
    """Two namespaces joined by one veth pair."""
    a, b, addr_a, addr_b = BARE
    links.create_namespace(a)
    links.create_namespace(b)
    links.veth(a, "eth0", b, "eth0")
    links.configure(a, "eth0", [(addr_a, 30)], [])
    links.configure(b, "eth0", [(addr_b, 30)], [])


def clean() -> None:
    """Remove every namespace of the benchmark's prefix (and what runs in them)."""
    for name in links.namespaces(PREFIX):
        links.remove_namespace(name)


@contextlib.contextmanager
def emulated_path(workdir: Path) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """An emulator with `--data-plane`, a SIM on a gateway, a device with its session up:
    (device namespace, internet namespace, internet address, the emulator's info)."""
    env = dict(os.environ, SIMGATE_ACCESS_TOKEN=TOKEN, SIMGATE_ACCESS_TOKEN_SECRET=SECRET)
    cmd = [sys.executable, "-m", "simgate.cli", "emulator", "serve", "--db"]
    cmd += [str(workdir / "e.db"), "--http", "127.0.0.1:0", "--mqtt", "embedded:0", "--json"]
    cmd += ["--data-plane", "--data-plane-prefix", PREFIX]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    try:
        info: dict[str, Any] = json.loads(proc.stdout.readline())
        with httpx.Client(base_url=info["http"], auth=(TOKEN, SECRET), timeout=30) as http:
            device = connect(http, info)
            doc = http.get("/_emulator/dataplane").json()
            internet_ns = f"{info['data_plane']['instance']}-inet"
            yield device, internet_ns, doc["internet"]["address"], info
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def connect(http: httpx.Client, info: dict[str, Any]) -> str:
    """Register a SIM on a powered gateway with internet; attach; plug the device."""
    api = "/cloud/zone/is1a/api/cloud/1.1"

    def ok(response: httpx.Response) -> Any:
        response.raise_for_status()
        return response.json()

    card = ok(http.post("/_emulator/sims", json={}))
    sim = {"Name": "bench", "Provider": {"Class": "sim"}, "Status": {"ICCID": card["iccid"]}}
    sim["Remark"] = {"PassCode": card["passcode"]}
    sim_id = ok(http.post(f"{api}/commonserviceitem", json={"CommonServiceItem": sim}))
    sim_id = sim_id["CommonServiceItem"]["ID"]
    ok(http.put(f"{api}/commonserviceitem/{sim_id}/sim/activate"))
    settings = {"MobileGateway": {"InternetConnection": {"Enabled": "True"}}}
    gateway = {"Class": "mobilegateway", "Name": "bench", "Plan": {"ID": 2}}
    gateway |= {"Remark": {"Switch": {"Scope": "shared"}}, "Settings": settings}
    gw_id = ok(http.post(f"{api}/appliance", json={"Appliance": gateway}))["Appliance"]["ID"]
    ok(
        http.post(
            f"{api}/appliance/{gw_id}/mobilegateway/sims", json={"sim": {"resource_id": sim_id}}
        )
    )
    ok(http.put(f"{api}/appliance/{gw_id}/power"))
    body = {"iccid": card["iccid"], "imsi": card["imsi"], "imei": "353456789012345"}
    plane = ok(http.post("/_emulator/network/attach", json=body))["dataplane"]
    device = f"{PREFIX}-dev"
    links.create_namespace(device)
    links.veth(device, "wwan0", plane["namespace"], plane["peer_ifname"])
    links.configure(
        device,
        "wwan0",
        [(plane["address"], 32)],
        [{"dst": "0.0.0.0/0", "gateway": plane["gateway"], "flags": 4}],
    )
    answer = ok(
        http.post("/_emulator/network/session", json={"iccid": card["iccid"], "state": "up"})
    )
    if not answer["accepted"]:
        raise RuntimeError(f"session refused: {answer}")
    info["gateway_id"] = gw_id
    return device


def main() -> int:
    """Run the comparison and print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.repeats <= 50 or not 0.5 <= args.seconds <= 30:
        parser.error("--repeats 1..50 and --seconds 0.5..30")
    missing = system.missing_requirements() or (
        None if system.tool("iperf3") else "iperf3 is not installed (Debian package iperf3)"
    )
    if missing:
        print(f"benchmarks/dataplane.py: {missing}", file=sys.stderr)
        return 2
    clean()
    results: dict[str, dict[str, list[float]]] = {
        d: {"bare": [], "emulated": []} for d in ("upload", "download")
    }
    billed = None
    try:
        bare_pair()
        with tempfile.TemporaryDirectory() as tmp, emulated_path(Path(tmp)) as path:
            device, internet_ns, address, info = path
            a, b, _, addr_b = BARE
            contenders = {"bare": (a, b, addr_b), "emulated": (device, internet_ns, address)}
            for repeat in range(args.repeats):
                for direction, reverse in (("upload", False), ("download", True)):
                    # ABBA order: a drift in the machine's load falls on both alike.
                    order = ["bare", "emulated"] if repeat % 2 == 0 else ["emulated", "bare"]
                    for name in order:
                        client, server, target = contenders[name]
                        results[direction][name].append(
                            iperf(client, server, target, args.seconds, reverse)
                        )
            with httpx.Client(base_url=info["http"], auth=(TOKEN, SECRET), timeout=30) as http:
                status = http.get(
                    f"/cloud/zone/is1a/api/cloud/1.1/appliance/{info['gateway_id']}"
                    "/mobilegateway/traffic_status"
                ).json()["traffic_status"]
                billed = int(status["uplink_bytes"]) + int(status["downlink_bytes"])
    finally:
        clean()
    report: dict[str, Any] = {"repeats": args.repeats, "seconds": args.seconds, "billed": billed}
    for direction, runs in results.items():
        ratios = [e / b for e, b in zip(runs["emulated"], runs["bare"], strict=True)]
        report[direction] = {
            "bare_gbps": statistics.median(runs["bare"]) / 1e9,
            "emulated_gbps": statistics.median(runs["emulated"]) / 1e9,
            "median_ratio": statistics.median(ratios),
            "ratios": ratios,
        }
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{args.repeats} repeats of {args.seconds} s single-stream TCP (iperf3), medians")
    print(f"{'direction':10} {'bare veth':>12} {'emulated':>12} {'ratio':>7}  per repeat")
    for direction in ("upload", "download"):
        r = report[direction]
        per = " ".join(f"{x:.2f}" for x in r["ratios"])
        print(
            f"{direction:10} {r['bare_gbps']:9.2f} Gb/s {r['emulated_gbps']:9.2f} Gb/s "
            f"{r['median_ratio']:6.2f}x  {per}"
        )
    print(f"bytes the gateway counted and traffic_status reports: {billed:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
