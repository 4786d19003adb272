"""The agent daemon's footprint: resident memory and CPU, idle and reporting every second.

`simgate agent run --config` runs as a child process against a stub modem (on a pty, in
this process) and a real mosquitto on 127.0.0.1 (anonymous, `set_tcp_nodelay true`); it
meters a fake `wwan0` (a sysfs tree this script writes) with `[usage] interval_s = 1`.

- **idle**: the daemon is up (SIM ready, data connection on, MQTT connected) and the
  interface moves nothing: each second a metering pass reads the counters and makes no
  record; every `check_interval_s` (30 s, the default) a modem check.
- **reporting**: the interface moves bytes every 0.5 s, so every 1 s pass makes a
  record that goes through the outbox (SQLite, fsync) to the broker (QoS 1).
- **baseline**: `python -c "import serial, paho.mqtt.client, asyncio; sleep"`, the
  floor any Python agent with these libraries pays (field notes: ~24 MiB).

Sampled every 0.5 s from /proc/<pid>/status (VmRSS) and /proc/<pid>/stat (utime +
stime); CPU % = CPU seconds / wall seconds of the phase (100 % = one core). Each phase
starts after a settling time that is not measured. Afterwards the daemon's imports are
listed (`python -X importtime`, a separate short run) to show what it loads, and whether
any of the emulator's stack (FastAPI, pydantic, uvicorn, amqtt, ...) is among them.

Targets (issue 5): RSS <= 40 MB, idle CPU < 1 %.

Usage: python benchmarks/agent_footprint.py [--seconds 60] [--settle 5]
Progress goes to stderr; the table to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from firmware_stubs import NetworkProfile, SimCard, StubModem

REPO = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1_000_000
MIB = 1 << 20
RSS_TARGET_MB = 40.0
IDLE_CPU_TARGET = 1.0
EMULATOR_STACK = (
    "fastapi",
    "starlette",
    "pydantic",
    "uvicorn",
    "amqtt",
    "httpx",
    "emulator",
    "sqlalchemy",
)
"""Top-level packages that belong to the cloud side, not on a device."""


def progress(message: str) -> None:
    """One line of progress on stderr."""
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- measuring a process ----------------------------------------------------------------


def rss_bytes(pid: int) -> int:
    """VmRSS of `pid`, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` (its threads included), in seconds."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()  # the name may hold spaces
    return (int(fields[11]) + int(fields[12])) / TICK  # fields 14 and 15 of proc(5)


@dataclass(frozen=True)
class Sample:
    """One phase's numbers."""

    name: str
    seconds: float
    rss_max: int
    rss_end: int
    cpu_percent: float


def measure(name: str, pid: int, seconds: float) -> Sample:
    """Sample `pid` every 0.5 s for `seconds`."""
    progress(f"{name}: measuring for {seconds:.0f} s")
    began, cpu_began = time.monotonic(), cpu_seconds(pid)
    peak = rss = rss_bytes(pid)
    next_report = began + 10
    while (now := time.monotonic()) - began < seconds:
        time.sleep(min(0.5, seconds - (now - began)))
        rss = rss_bytes(pid)
        peak = max(peak, rss)
        if time.monotonic() >= next_report:
            next_report += 10
            progress(f"  {name}: {time.monotonic() - began:.0f} s, RSS {rss / MIB:.1f} MiB")
    wall = time.monotonic() - began
    cpu = cpu_seconds(pid) - cpu_began
    return Sample(name, wall, peak, rss, 100.0 * cpu / wall)


# --- the rig: mosquitto, the stub, the interface, the daemon ----------------------------


@contextlib.contextmanager
def mosquitto(directory: Path) -> Iterator[int]:
    """An anonymous mosquitto on a free port."""
    binary = os.environ.get("SIMGATE_MOSQUITTO") or shutil.which("mosquitto")
    binary = binary or "/usr/sbin/mosquitto"
    port = free_port()
    config = directory / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nset_tcp_nodelay true\nallow_anonymous true\n"
        f"persistence false\nuser {pwd.getpwuid(os.geteuid()).pw_name}\n"
    )
    with (directory / "mosquitto.log").open("wb") as log:
        process = subprocess.Popen([binary, "-c", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 5
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("mosquitto did not start")
            time.sleep(0.02)
        yield port
    finally:
        process.terminate()
        process.wait(10)


class Interface:
    """A fake `wwan0` under `root`; `moving` makes it count bytes every 0.5 s."""

    def __init__(self, root: Path) -> None:
        self.stats = root / "wwan0" / "statistics"
        self.stats.mkdir(parents=True)
        (root / "wwan0" / "ifindex").write_text("3\n")
        self.up = self.down = 0
        self.write()
        self.moving = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="interface", daemon=True)
        self._thread.start()

    def write(self) -> None:
        """Replace both counter files atomically."""
        for name, value in (("tx_bytes", self.up), ("rx_bytes", self.down)):
            tmp = self.stats / f".{name}"
            tmp.write_text(f"{value}\n")
            os.replace(tmp, self.stats / name)

    def _run(self) -> None:
        while not self._closing.wait(0.5):
            if self.moving.is_set():
                self.up += 600
                self.down += 2400
                self.write()

    def close(self) -> None:
        """Stop the thread."""
        self._closing.set()
        self._thread.join(5)


def write_config(tmp: Path, link: Path, port: int, sysfs: Path) -> Path:
    """The daemon's TOML: the stub behind `link`, metering `wwan0` every second."""
    state = tmp / "state"
    state.mkdir(mode=0o700)
    config = tmp / "agent.toml"
    config.write_text(
        f'[modem]\nport = "{link}"\n\n[internet]\napn = "iot.example"\n\n'
        f'[usage]\nsource = "os"\niface = "wwan0"\ninterval_s = 1\nsysfs_root = "{sysfs}"\n\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\n\n[state]\ndir = "{state}"\n'
    )
    return config


def start_daemon(config: Path, log: Path, *python_options: str) -> subprocess.Popen[bytes]:
    """`python [options] -m simgate.cli agent run --config CONFIG` (what the
    `simgate` console script runs), its output to `log`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMGATE_")}
    env["PYTHONPATH"] = str(REPO)
    command = [sys.executable, *python_options, "-m", "simgate.cli", "agent", "run"]
    with log.open("ab") as out:
        return subprocess.Popen(
            [*command, "--config", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env=env,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def wait_for_log(log: Path, pattern: str, seconds: float) -> None:
    """Wait until the daemon's log has a line matching `pattern`."""
    deadline = time.monotonic() + seconds
    while not re.search(pattern, log.read_text(errors="replace")):
        if time.monotonic() > deadline:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise RuntimeError(f"the daemon never logged {pattern!r}:\n{tail}")
        time.sleep(0.1)


def records(log: Path) -> int:
    """How many usage records the daemon logged."""
    return len(re.findall(r"usage: record \d+", log.read_text(errors="replace")))


# --- what the daemon imports ------------------------------------------------------------


def import_report(config: Path, tmp: Path) -> tuple[list[str], list[tuple[int, str]]]:
    """Run the daemon under `-X importtime` until it is connected; the emulator-stack
    packages it imported, and its ten slowest top-level imports (cumulative µs)."""
    log = tmp / "importtime.log"
    process = start_daemon(config, log, "-X", "importtime")
    try:
        wait_for_log(log, r"MQTT: connected", 30)
    finally:
        stop(process)
    tops: dict[str, int] = {}
    for line in log.read_text(errors="replace").splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)$", line)
        if match and len(match.group(2)) == 1:  # a top-level import
            name = match.group(3)
            tops[name] = max(tops.get(name, 0), int(match.group(1)))
    heavy = sorted(
        {n for n in tops if n.split(".")[0] in EMULATOR_STACK}
        | {
            m.group(1).split(".")[0]
            for m in re.finditer(r"\|\s+(\S+)$", log.read_text(errors="replace"), re.M)
            if m.group(1).split(".")[0] in EMULATOR_STACK
        }
    )
    slowest = sorted(((us, name) for name, us in tops.items()), reverse=True)[:10]
    return heavy, slowest


# --- the run ----------------------------------------------------------------------------


def baseline(seconds: float, settle: float) -> Sample:
    """A bare interpreter with the agent's I/O libraries imported, sleeping."""
    code = "import serial, paho.mqtt.client, asyncio, time; time.sleep(86400)"
    process = subprocess.Popen([sys.executable, "-c", code])
    try:
        time.sleep(settle)
        return measure("baseline", process.pid, seconds)
    finally:
        process.kill()
        process.wait(5)


def main() -> int:
    """Measure, print the table; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="per phase (default 60)")
    parser.add_argument("--settle", type=float, default=5.0, help="unmeasured, before each")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="simgate-footprint-") as name:
        tmp = Path(name)
        (tmp / "broker").mkdir()
        interface = Interface(tmp / "sys-class-net")
        card = SimCard(
            iccid="89811000000000000004",
            imsi="440101234567890",
            pin="0000",
            puk="12345678",
            pin_enabled=False,
            pin_retries=3,
            puk_retries=10,
        )
        stub = StubModem(card=card, network=NetworkProfile(register_delay=0.0))
        try:
            stub.start()
            link = tmp / "modem"
            link.symlink_to(stub.device_path)
            with mosquitto(tmp / "broker") as port:
                config = write_config(tmp, link, port, tmp / "sys-class-net")
                log = tmp / "daemon.log"
                progress("starting the daemon")
                daemon = start_daemon(config, log)
                try:
                    wait_for_log(log, r"MQTT: connected", 30)
                    wait_for_log(log, r"internet: .*->", 30)
                    time.sleep(args.settle)
                    idle = measure("idle", daemon.pid, args.seconds)
                    made_idle = records(log)
                    interface.moving.set()
                    time.sleep(args.settle)
                    before = records(log)
                    reporting = measure("reporting", daemon.pid, args.seconds)
                    made = records(log) - before
                finally:
                    stop(daemon)
                code = daemon.returncode
                progress("listing the daemon's imports (-X importtime)")
                heavy, slowest = import_report(config, tmp)
            base = baseline(args.seconds, args.settle)
        finally:
            interface.close()
            stub.stop()

    rows = [base, idle, reporting]
    print(f"\nagent daemon footprint ({args.seconds:.0f} s per phase, {os.cpu_count()} CPUs)\n")
    print(
        "| phase | RSS max (MB) | RSS max (MiB) | RSS end (MiB) | CPU % (one core) "
        "| RSS vs baseline |"
    )
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row.name} | {row.rss_max / MB:.1f} | {row.rss_max / MIB:.1f} | "
            f"{row.rss_end / MIB:.1f} | {row.cpu_percent:.2f} | "
            f"{row.rss_max / base.rss_max:.2f}x |"
        )
    print(
        f"\nrecords made: idle {made_idle} (expected 0), reporting {made} in "
        f"{reporting.seconds:.0f} s; daemon exit status {code}"
    )
    print(f"emulator-stack packages imported by the daemon: {', '.join(heavy) or 'none'}")
    print(
        "slowest top-level imports (cumulative ms): "
        + ", ".join(f"{name} {us / 1000:.0f}" for us, name in slowest)
    )
    worst = max(idle.rss_max, reporting.rss_max) / MB
    verdicts = [
        ("RSS <= 40 MB", worst <= RSS_TARGET_MB, f"{worst:.1f} MB"),
        ("idle CPU < 1 %", idle.cpu_percent < IDLE_CPU_TARGET, f"{idle.cpu_percent:.2f} %"),
    ]
    for target, ok, value in verdicts:
        print(f"target {target}: {'met' if ok else 'MISSED'} ({value})")
    return 0 if all(ok for _, ok, _ in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
