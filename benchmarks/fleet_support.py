"""What `benchmarks/fleet.py` drives: the emulator (and mosquitto) as processes, the device
processes (`fleet_devices.py`), and /proc readings of their CPU and memory."""

from __future__ import annotations

import json
import os
import pwd
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import httpx

from emulator.backend import Backend

TOKEN: Final = "bench-token"  # noqa: S105 - a throwaway emulator's credentials
SECRET: Final = "bench-secret"  # noqa: S105
PER_PROCESS: Final = 10_000
DEVICES_SCRIPT: Final = Path(__file__).with_name("fleet_devices.py")
MiB: Final = 1024 * 1024


def progress(message: str) -> None:
    """One line of progress on stderr."""
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def raise_fd_limit(wanted: int = 200_000) -> int:
    """Raise this process's descriptor limit (children inherit it); the limit now."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss(pid: int) -> int:
    """Resident set size in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu(pid: int) -> float:
    """CPU seconds (user + system) the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_port(port: int, process: subprocess.Popen[Any], what: str) -> None:
    """Until something listens on `port` (10 s)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.05)


def percentile(values: Sequence[float], share: float) -> float:
    """The `share` quantile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def env() -> dict[str, str]:
    return {**os.environ, "SIMGATE_ACCESS_TOKEN": TOKEN, "SIMGATE_ACCESS_TOKEN_SECRET": SECRET}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "simgate.cli", *args]


class Cloud:
    """`simgate emulator serve` (and mosquitto in mosquitto mode) in `work`."""

    def __init__(self, kind: str, work: Path) -> None:
        self.kind = kind
        self.work = work
        self.db = work / "emulator.db"
        self.mqtt_port = free_port()
        self.http_port = free_port()
        self.broker: subprocess.Popen[bytes] | None = None
        mqtt = f"embedded:{self.mqtt_port}"
        extra: list[str] = []
        if kind == "mosquitto":
            mqtt = f"mqtt://127.0.0.1:{self.mqtt_port}"
            extra = ["--mosquitto-dir", str(self.write_mosquitto_files())]
        self.server: subprocess.Popen[bytes] = subprocess.Popen(
            cli(
                *("emulator", "serve", "--db", str(self.db), "--json"),
                *("--http", f"127.0.0.1:{self.http_port}", "--mqtt", mqtt, *extra),
            ),
            stdout=subprocess.PIPE,
            stderr=(work / "emulator.log").open("wb"),
            env=env(),
        )
        assert self.server.stdout is not None
        if not self.server.stdout.readline():
            raise RuntimeError(f"the emulator did not start: {(work / 'emulator.log').read_text()}")
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.api = httpx.Client(base_url=self.base, auth=(TOKEN, SECRET), timeout=120)

    def write_mosquitto_files(self) -> Path:
        """`mosquitto-config --dynamic-security`: the broker's store of the SIMs now."""
        files = self.work / "dynsec"
        Backend(self.db).close()  # mosquitto-config reads an existing database
        subprocess.run(
            [
                *cli("emulator", "mosquitto-config", "--db", str(self.db)),
                *("--dynamic-security", "--out", str(files), "--json"),
                *("--listen", f"127.0.0.1:{self.mqtt_port}"),
            ],
            check=True,
            capture_output=True,
            env=env(),
            timeout=60,
        )
        return files

    def start_mosquitto(self) -> None:
        """mosquitto on the store written last; wait until the emulator's ingest is in."""
        files = self.work / "dynsec"
        config = files / "mosquitto.conf"
        user = pwd.getpwuid(os.geteuid()).pw_name
        config.write_text(config.read_text() + f"user {user}\nlog_type error\nlog_type warning\n")
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.broker = subprocess.Popen(
            [binary, "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=(self.work / "mosquitto.log").open("wb"),
        )
        wait_port(self.mqtt_port, self.broker, "mosquitto")
        deadline = time.monotonic() + 60
        while not self.api.get("/_emulator/mqtt").json().get("connected"):
            if time.monotonic() > deadline:
                raise RuntimeError("the emulator's ingest did not connect to mosquitto")
            time.sleep(0.1)

    def pids(self) -> dict[str, int]:
        """The processes whose CPU and memory are measured."""
        found = {"emulator": self.server.pid}
        if self.broker is not None:
            found["mosquitto"] = self.broker.pid
        return found

    def metrics(self) -> dict[str, float]:
        """`/metrics` samples by name."""
        values: dict[str, float] = {}
        for line in self.api.get("/metrics").text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    def stop(self) -> None:
        """Stop the emulator (SIGTERM) and mosquitto."""
        self.api.close()
        for process in (self.server, self.broker):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)


def provision(cloud: Cloud, count: int) -> tuple[list[tuple[str, str]], float]:
    """`fleet create N`: the devices' logins and the seconds it took."""
    out = cloud.work / f"fleet-{count}.jsonl"
    started = time.perf_counter()
    subprocess.run(
        cli("emulator", "fleet", "create", str(count), "--url", cloud.base, "--out", str(out)),
        check=True,
        capture_output=True,
        env=env(),
        timeout=300,
    )
    seconds = time.perf_counter() - started
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return [(row["iccid"], row["token"]) for row in rows], seconds


class Devices:
    """The device processes, connected, waiting for `go`."""

    def __init__(self, port: int, devices: list[tuple[str, str]], job: dict[str, Any]) -> None:
        self.processes: list[subprocess.Popen[str]] = []
        chunks = [devices[i : i + PER_PROCESS] for i in range(0, len(devices), PER_PROCESS)]
        for index, chunk in enumerate(chunks):
            process = subprocess.Popen(
                [sys.executable, str(DEVICES_SCRIPT)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert process.stdin is not None
            bind = [f"127.0.0.{index + 1}"]
            rate = job.get("connect_rate", 0) / len(chunks)
            body = {**job, "port": port, "devices": chunk, "bind": bind, "connect_rate": rate}
            process.stdin.write(json.dumps(body) + "\n")
            process.stdin.flush()
            self.processes.append(process)

    def connected(self) -> float:
        """Wait until every device is connected; the longest connect phase (s)."""
        seconds = 0.0
        for process in self.processes:
            assert process.stdout is not None
            line = process.stdout.readline()
            if not line:
                raise RuntimeError("a device process ended before connecting")
            seconds = max(seconds, json.loads(line)["seconds"])
        return seconds

    def go(self) -> dict[str, Any]:
        """Start reporting; the merged results once done."""
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        merged: dict[str, Any] = {
            "latencies": [],
            "acked": 0,
            "drops": 0,
            "refusals": 0,
            "idle_drops": 0,
            "cpu_seconds": 0.0,
        }
        for process in self.processes:
            assert process.stdout is not None
            line = process.stdout.readline()
            if not line:
                raise RuntimeError("a device process ended before reporting")
            result = json.loads(line)
            merged["latencies"] += result["latencies"]
            for key in ("acked", "drops", "refusals", "idle_drops", "cpu_seconds"):
                merged[key] += result[key]
            merged["seconds"] = max(merged.get("seconds", 0.0), result["seconds"])
        for process in self.processes:
            process.wait(30)
        return merged

    def pids(self) -> dict[str, int]:
        """The device processes, for CPU sampling."""
        return {f"devices{i}": p.pid for i, p in enumerate(self.processes)}

    def stop(self) -> None:
        """End every device process."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)


@contextmanager
def sampling(cloud: Cloud, extra: dict[str, int] | None = None) -> Iterator[dict[str, float]]:
    """CPU share (of one core) of each process over the block, and the largest ingest lag
    seen in `/metrics` meanwhile (sampled every second)."""
    result: dict[str, float] = {"max_lag": 0.0}
    pids = {**cloud.pids(), **(extra or {})}
    before = {name: cpu(pid) for name, pid in pids.items()}
    stop = threading.Event()

    def watch() -> None:
        with httpx.Client(base_url=cloud.base, auth=(TOKEN, SECRET), timeout=30) as api:
            while not stop.wait(1.0):
                try:
                    text = api.get("/metrics").text
                except httpx.HTTPError:
                    continue
                for line in text.splitlines():
                    if line.startswith("simgate_ingest_lag_seconds "):
                        result["max_lag"] = max(result["max_lag"], float(line.split()[1]))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.perf_counter()
    try:
        yield result
    finally:
        stop.set()
        watcher.join(5)
        elapsed = time.perf_counter() - started
        for name, pid in pids.items():
            try:
                result[f"cpu_{name}"] = 100 * (cpu(pid) - before[name]) / elapsed
            except FileNotFoundError:  # a device process that has finished: it says itself
                continue


def wait_stored(cloud: Cloud, target: float, seconds: float = 120) -> float:
    """Poll `/metrics` until `simgate_reports_stored_total` reaches `target`; the time."""
    deadline = time.monotonic() + seconds
    while True:
        stored = cloud.metrics()["simgate_reports_stored_total"]
        if stored >= target or time.monotonic() > deadline:
            return time.perf_counter()
        time.sleep(0.1)
