"""A fleet against one `simgate emulator serve`: provisioning, connections, reports, ceiling.

For each broker mode (`embedded`: amqtt in the emulator; `mosquitto`: mosquitto 2 with the
dynamic-security store `mosquitto-config --dynamic-security` writes, the emulator's
ingest subscribed to it) and each fleet size N, on 127.0.0.1 only:

1. **provisioning**: `simgate emulator fleet create N` (factory, one batch registration,
   tokens; in mosquitto mode the broker learns every client over `$CONTROL` before the
   registration answers): seconds and SIMs/s.
2. **connections**: N devices, each its own MQTT connection (`fleet_devices.py`: one
   process per 10,000 devices, source addresses 127.0.0.x so ports last), connecting
   `--connect-rate` a second: how long, the emulator's CPU meanwhile, and RSS before and
   after (memory per connection; in mosquitto mode the broker's too).
3. **reporting**: each device sends `--reports` usage reports, one per `--period` seconds
   (a compressed minute), the devices spread evenly over the period: PUBACK latency
   p50/p99/max (embedded: the PUBACK is sent once the report is committed; mosquitto: the
   broker's PUBACK, the emulator commits after, see the ingest lag), CPU of each process,
   and then every report counted in the database: stored exactly once, lost, duplicates.
4. **ceiling** (`--ceiling-devices`, default 1,000): those devices publish
   `--ceiling-reports` each, the next as soon as the last is acknowledged: reports stored
   per second (go to last commit), as a ratio of mosquitto's raw QoS 1 rate measured right
   after each run (the same number of devices through a plain mosquitto to a subscriber
   that stores nothing): the median of the `--repeat` pairs' ratios.

Usage: python benchmarks/fleet.py [--sizes 1000,10000] [--brokers embedded,mosquitto]
       [--period 10] [--reports 2] [--connect-rate 2000] [--json FILE]
Progress on stderr, the tables on stdout. Every phase is bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from fleet_support import (
    Cloud,
    Devices,
    MiB,
    free_port,
    percentile,
    progress,
    provision,
    raise_fd_limit,
    rss,
    sampling,
    wait_port,
    wait_stored,
)
from paho.mqtt.enums import CallbackAPIVersion


def fleet_run(cloud: Cloud, size: int, args: argparse.Namespace) -> dict[str, Any]:
    """Provision, connect and report with `size` devices."""
    row: dict[str, Any] = {"broker": cloud.kind, "devices": size}
    logins, seconds = provision(cloud, size)
    if cloud.kind == "mosquitto":  # mosquitto 2.0 saves its store per command: see docs
        started = time.perf_counter()
        cloud.write_mosquitto_files()
        seconds += time.perf_counter() - started
        cloud.start_mosquitto()
    row["provision_s"] = seconds
    row["provision_per_s"] = size / seconds
    progress(f"  provisioned {size} SIMs in {seconds:.2f} s")
    memory_before = {name: rss(pid) for name, pid in cloud.pids().items()}
    job = {
        "mode": "schedule",
        "period": args.period,
        "reports": args.reports,
        "first_seq": 1,
        "connect_rate": args.connect_rate,
        "session": args.session,
    }
    devices = Devices(cloud.mqtt_port, logins, job)
    try:
        with sampling(cloud) as burst:
            row["connect_s"] = devices.connected()
        progress(f"  {size} connected in {row['connect_s']:.1f} s")
        if args.session == "agent":  # each device's "online" and first state, stored
            wait_stored(cloud, 2 * size)
        time.sleep(2)  # settle
        for name, pid in cloud.pids().items():
            after = rss(pid)
            row[f"rss_{name}_mib"] = after / MiB
            row[f"per_conn_{name}_kib"] = (after - memory_before[name]) / size / 1024
        row["cpu_connect"] = {k: v for k, v in burst.items() if k.startswith("cpu_")}
        before = cloud.metrics()
        with sampling(cloud) as steady:
            result = devices.go()
            expected = size * args.reports
            wait_stored(cloud, before["simgate_reports_stored_total"] + expected)
        after_metrics = cloud.metrics()
    finally:
        devices.stop()
    latencies = result["latencies"]
    row.update(
        expected=expected,
        acked=result["acked"],
        drops=result["drops"],
        idle_drops=result["idle_drops"],
        refusals=result["refusals"],
        p50_ms=1000 * statistics.median(latencies),
        p99_ms=1000 * percentile(latencies, 0.99),
        max_ms=1000 * max(latencies),
        max_ingest_lag_ms=1000 * steady["max_lag"],
        cpu_reporting={
            **{k: v for k, v in steady.items() if k.startswith("cpu_")},
            "cpu_devices": 100 * result["cpu_seconds"] / result["seconds"],
        },
        stored=after_metrics["simgate_reports_stored_total"]
        - before["simgate_reports_stored_total"],
        duplicate=after_metrics["simgate_reports_duplicate_total"]
        - before["simgate_reports_duplicate_total"],
        rejected=after_metrics["simgate_reports_rejected_total"]
        - before["simgate_reports_rejected_total"],
    )
    row["lost"] = expected - row["stored"]
    row["load_average"] = os.getloadavg()[0]
    progress(
        f"  reports: {row['stored']:.0f}/{expected} stored, p50 {row['p50_ms']:.1f} ms, "
        f"p99 {row['p99_ms']:.1f} ms, max {row['max_ms']:.0f} ms"
    )
    return row


def ceiling(
    cloud: Cloud, logins: list[tuple[str, str]], args: argparse.Namespace, first: int
) -> dict[str, float]:
    """Reports stored per second with the devices publishing as fast as acks allow; the
    ingest batches it took and the CPU share of each process."""
    job = {
        "mode": "flood",
        "reports": args.ceiling_reports,
        "first_seq": first,
        "session": args.session,
    }
    devices = Devices(cloud.mqtt_port, logins, job)
    try:
        devices.connected()
        before = cloud.metrics()
        target = before["simgate_reports_stored_total"] + len(logins) * args.ceiling_reports
        with sampling(cloud) as load:
            started = time.perf_counter()
            flooded = devices.go()
            done = wait_stored(cloud, target)
    finally:
        devices.stop()
    after = cloud.metrics()
    if after["simgate_reports_stored_total"] < target:
        raise RuntimeError("the ceiling run did not store every report")
    result = {k: v for k, v in load.items() if k.startswith("cpu_")}
    result["cpu_devices"] = 100 * flooded["cpu_seconds"] / (done - started)
    result["rate"] = len(logins) * args.ceiling_reports / (done - started)
    result["load_average"] = os.getloadavg()[0]
    # CPU per stored report: what the rate would be with a core to itself
    result["emulator_cpu_ms_per_report"] = 10 * result.get("cpu_emulator", 0.0) / result["rate"]
    result["batches"] = (
        after["simgate_ingest_batches_total"] - before["simgate_ingest_batches_total"]
    )
    return result


def raw_mosquitto_rate(
    work: Path, logins: list[tuple[str, str]], args: argparse.Namespace
) -> float:
    """Messages per second through a plain mosquitto (anonymous, `set_tcp_nodelay true`)
    to one QoS 1 subscriber that stores nothing, from the same devices."""
    port = free_port()
    config = work / "raw-mosquitto.conf"
    user = pwd.getpwuid(os.geteuid()).pw_name
    config.write_text(
        f"listener {port} 127.0.0.1\nset_tcp_nodelay true\nallow_anonymous true\n"
        f"persistence false\nmax_queued_messages 100000\nmax_inflight_messages 1000\nuser {user}\n"
    )
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    broker = subprocess.Popen([binary, "-c", str(config)], stderr=subprocess.DEVNULL)
    total = len(logins) * args.ceiling_reports
    received = 0
    all_in = threading.Event()
    subscribed = threading.Event()

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        nonlocal received
        received += 1
        if received >= total:
            all_in.set()

    subscriber = paho.Client(
        CallbackAPIVersion.VERSION2, client_id="bench-raw", protocol=paho.MQTTv311
    )
    subscriber.on_message = on_message
    subscriber.on_subscribe = lambda *a: subscribed.set()
    try:
        wait_port(port, broker, "mosquitto")
        subscriber.connect("127.0.0.1", port)
        subscriber.loop_start()
        subscriber.subscribe("simgate/v1/devices/+/usage", qos=1)
        if not subscribed.wait(10):
            raise RuntimeError("the raw subscriber did not subscribe")
        job = {
            "mode": "flood",
            "reports": args.ceiling_reports,
            "first_seq": 1,
            "session": args.session,
        }
        devices = Devices(port, logins, job)
        try:
            devices.connected()
            started = time.perf_counter()
            devices.go()
            if not all_in.wait(120):
                raise RuntimeError(f"the raw subscriber got {received} of {total}")
            return float(total / (time.perf_counter() - started))
        finally:
            devices.stop()
    finally:
        subscriber.disconnect()
        subscriber.loop_stop()
        broker.terminate()
        broker.wait(10)


def online_dynsec(work: Path, counts: Sequence[int]) -> list[tuple[int, float]]:
    """`fleet create N` against a running mosquitto in dynamic-security mode: the request
    answers once mosquitto has every new client (one `createClient` each over `$CONTROL`).
    (seconds for each N, each on a fresh broker)"""
    results = []
    for count in counts:
        folder = work / f"online-{count}"
        folder.mkdir()
        cloud = Cloud("mosquitto", folder)
        try:
            cloud.start_mosquitto()
            logins, _ = provision(cloud, 1)
            deadline = time.monotonic() + 30
            while not _logs_in(cloud.mqtt_port, *logins[0]):  # the controller is in step
                if time.monotonic() > deadline:
                    raise RuntimeError("the dynamic-security controller never synced")
                time.sleep(0.2)
            _, seconds = provision(cloud, count)
            results.append((count, seconds))
            progress(f"  online: {count} SIMs into a running mosquitto in {seconds:.1f} s")
        finally:
            cloud.stop()
    return results


def _logs_in(port: int, iccid: str, token: str) -> bool:
    answered = threading.Event()
    accepted: list[bool] = []

    def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        accepted.append(not reason.is_failure)
        answered.set()

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=iccid, protocol=paho.MQTTv311)
    client.username_pw_set(iccid, token)
    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        return answered.wait(5) and accepted[0]
    finally:
        client.disconnect()
        client.loop_stop()


def check_database(db: Path, expected_per_device: dict[str, int]) -> tuple[int, int]:
    """After the emulator stopped: (devices with a wrong number of reports, rows)."""
    import sqlite3

    with sqlite3.connect(db) as connection:
        counts = dict(
            connection.execute("SELECT iccid, count(*) FROM device_reports GROUP BY iccid")
        )
        rows = int(connection.execute("SELECT count(*) FROM device_reports").fetchone()[0])
    wrong = sum(1 for iccid, want in expected_per_device.items() if counts.get(iccid, 0) != want)
    return wrong, rows


def bench_broker(kind: str, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Every size on one fresh emulator per size, then the ceiling."""
    rows: list[dict[str, Any]] = []
    ceiling_rate = 0.0
    ceiling_runs: list[dict[str, float]] = []
    for size in args.sizes:
        folder = work / f"{kind}-{size}"
        folder.mkdir()
        progress(f"{kind}: {size} devices")
        cloud = Cloud(kind, folder)
        try:
            row = fleet_run(cloud, size, args)
            rows.append(row)
            if size == args.ceiling_devices:
                logins = [
                    (json.loads(line)["iccid"], json.loads(line)["token"])
                    for line in (folder / f"fleet-{size}.jsonl").read_text().splitlines()
                ]
                progress(f"{kind}: ceiling with {size} devices, each run paired with a raw one")
                # the same number of devices, anonymous: the broker without any emulator
                raw_logins = [(f"8981999{i:012d}", "x") for i in range(size)]
                for run in range(args.repeat):
                    first = args.reports + 1 + run * args.ceiling_reports
                    measured = ceiling(cloud, logins, args, first)
                    measured["raw"] = raw_mosquitto_rate(work, raw_logins, args)
                    measured["ratio"] = measured["rate"] / measured["raw"]
                    ceiling_runs.append(measured)
                    progress(
                        f"  load {measured['load_average']:.1f}: "
                        f"stored {measured['rate']:,.0f} reports/s in "
                        f"{measured['batches']:.0f} batches (raw {measured['raw']:,.0f}: "
                        f"{measured['ratio']:.2f}x); CPU % "
                        + ", ".join(
                            f"{k[4:]} {v:.0f}" for k, v in measured.items() if k.startswith("cpu_")
                        )
                    )
                ceiling_rate = statistics.median(run["rate"] for run in ceiling_runs)
        finally:
            cloud.stop()
        extra = args.ceiling_reports * args.repeat if size == args.ceiling_devices else 0
        per_device = args.reports + extra
        lines = (folder / f"fleet-{size}.jsonl").read_text().splitlines()
        wrong, stored_rows = check_database(
            folder / "emulator.db", {json.loads(line)["iccid"]: per_device for line in lines}
        )
        row["db_rows"] = stored_rows
        row["db_devices_wrong"] = wrong
    return {
        "rows": rows,
        "ceiling": ceiling_rate,
        "ceiling_raw": statistics.median(run["raw"] for run in ceiling_runs) if ceiling_runs else 0,
        "ceiling_ratio": statistics.median(run["ratio"] for run in ceiling_runs)
        if ceiling_runs
        else 0,
        "ceiling_runs": ceiling_runs,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000", help="fleet sizes, comma-separated")
    parser.add_argument("--brokers", default="embedded,mosquitto")
    parser.add_argument("--period", type=float, default=10.0, help="seconds per 'minute'")
    parser.add_argument("--reports", type=int, default=2, help="reports per device")
    parser.add_argument("--connect-rate", type=float, default=2000.0, help="connects per second")
    parser.add_argument(
        "--session",
        choices=("agent", "bare"),
        default="agent",
        help="agent: persistent session, will, two subscriptions, retained status and "
        "state on connect, as the agent does; bare: connect and publish only",
    )
    parser.add_argument("--ceiling-devices", type=int, default=1000)
    parser.add_argument("--ceiling-reports", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="ceiling runs (median)")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument(
        "--dynsec-online",
        default="",
        help="also time 'fleet create N' into a running mosquitto, for these N (e.g. 1000,3000)",
    )
    args = parser.parse_args(argv)
    args.sizes = [int(size) for size in args.sizes.split(",") if size]
    if any(size > 40_000 for size in args.sizes) or args.reports > 20 or args.period > 120:
        parser.error("bounded: at most 40,000 devices, 20 reports, a 120 s period")
    limit = raise_fd_limit()
    progress(f"descriptor limit {limit}")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sgfl-bench-") as tmp:
        work = Path(tmp)
        if args.dynsec_online:
            counts = [int(n) for n in args.dynsec_online.split(",")]
            results["online_dynsec"] = online_dynsec(work, counts)
        for kind in (k for k in args.brokers.split(",") if k and args.sizes):
            results[kind] = bench_broker(kind, work, args)
    print_tables(results, args)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


def print_tables(results: dict[str, Any], args: argparse.Namespace) -> None:
    """The figures as Markdown tables."""
    for count, seconds in results.get("online_dynsec", []):
        print(f"fleet create {count} into a running mosquitto (dynamic security): {seconds:.1f} s")
    print(
        f"Fleet: {args.reports} reports per device, one per {args.period:g} s (compressed minute)"
    )
    print(
        "| broker | devices | provision s (SIMs/s) | connect s | p50 ms | p99 ms | max ms | "
        "stored/expected | lost | dup | DB devices wrong | CPU % connect | CPU % reporting | "
        "RSS MiB | KiB/conn |"
    )
    print("|" + "---|" * 15)
    for kind in (k for k in args.brokers.split(",") if k in results):
        for row in results[kind]["rows"]:
            cpu_c = ", ".join(f"{k[4:]} {v:.0f}" for k, v in row["cpu_connect"].items())
            cpu_r = ", ".join(f"{k[4:]} {v:.0f}" for k, v in row["cpu_reporting"].items())
            mem = ", ".join(f"{k[4:-4]} {v:.0f}" for k, v in row.items() if k.startswith("rss_"))
            per = ", ".join(
                f"{k[9:-4]} {v:.1f}" for k, v in row.items() if k.startswith("per_conn_")
            )
            print(
                f"| {kind} | {row['devices']:,} | {row['provision_s']:.2f} "
                f"({row['provision_per_s']:,.0f}) | {row['connect_s']:.1f} | {row['p50_ms']:.1f} "
                f"| {row['p99_ms']:.1f} | {row['max_ms']:.0f} "
                f"| {row['stored']:.0f}/{row['expected']} | {row['lost']:.0f} "
                f"| {row['duplicate']:.0f} | {row['db_devices_wrong']} | {cpu_c} "
                f"| {cpu_r} | {mem} | {per} |"
            )
    kinds = [k for k in args.brokers.split(",") if k in results and results[k]["ceiling"]]
    if kinds:
        print()
        print(
            f"Ceiling: {args.ceiling_devices} devices, {args.ceiling_reports} reports each, "
            "as fast as acks allow; each stored run paired with a raw mosquitto run right after"
        )
        print(
            "| broker | stored reports/s (runs) | raw QoS 1 msg/s (runs) | ratio: median of pairs |"
        )
        print("|---|---|---|---|")
        for kind in kinds:
            runs = results[kind]["ceiling_runs"]
            stored = " / ".join(f"{run['rate']:,.0f}" for run in runs)
            raws = " / ".join(f"{run['raw']:,.0f}" for run in runs)
            print(
                f"| {kind} | {results[kind]['ceiling']:,.0f} ({stored}) "
                f"| {results[kind]['ceiling_raw']:,.0f} ({raws}) "
                f"| **{results[kind]['ceiling_ratio']:.2f}×** |"
            )


if __name__ == "__main__":
    raise SystemExit(main())
