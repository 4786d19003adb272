"""Safety rule 3 under fire: 10,000 usage records through broker restarts (5), agent
`kill -9` (3), an emulator `kill -9` and restart (1) and the network cutting the stub's
data session (1), on the embedded broker and on mosquitto. Afterwards the emulator holds
every record exactly once (`seq` 1..N, no gaps, N = every number the outbox ever gave
out) and the bytes of the records add up to what the stub metered.

The pieces, each a separate process where a fault needs one:

- the emulator: `simgate emulator serve` (its embedded amqtt broker, or mosquitto run
  with the files `simgate emulator mosquitto-config` writes, persistence on);
- the agent: `tests/reliability/agent_process.py`, the daemon of `simgate agent run`
  (same config file, same `Daemon`) metering every 2 ms instead of every 50 ms at least;
- the stub modem (in the test's process, on a pty behind a symlink the agent opens),
  whose radio network is the emulator (`EmulatorNetwork`): the agent unlocks nothing
  (PIN off), turns the data connection on, and the stub reports the session's traffic
  to the emulator every 50 ms;
- a bridge thread that plays the kernel's `wwan0` counters (a sysfs tree the agent
  meters with `[usage] source = "os"`): it moves the bytes the stub metered onto the
  interface's `tx_bytes` / `rx_bytes`, a few at a time, so that the agent's meter sees
  them in many small readings and makes one record for almost every 2 ms pass.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest

from emulator.backend import Backend
from firmware_stubs import StubModem, TrafficProfile
from tests.emulator import live
from tests.integration.cloud import Cloud, Sim, stub_for
from tests.mqtt_broker import Mosquitto, free_port

Kind = Literal["embedded", "mosquitto"]
REPO = Path(__file__).resolve().parents[2]
RECORDS = 10_000
AGENT = (sys.executable, "-m", "tests.reliability.agent_process")
INTERVAL = 0.002  # the agent's metering interval, seconds
APN = "iot.example"
IFACE = "wwan0"
TRAFFIC = TrafficProfile(rate_up=20_000.0, rate_down=80_000.0, interval=0.05)
Fault = Literal["broker", "kill", "emulator", "cut"]
FAULTS: tuple[Fault, ...] = (
    "broker",
    "kill",
    "broker",
    "cut",
    "broker",
    "kill",
    "emulator",
    "broker",
    "kill",
    "broker",
)
"""5 broker restarts, 3 agent kills, 1 emulator restart, 1 session cut, interleaved."""
SPACING = 850
"""A fault each time the emulator has stored this many more records."""

pytestmark = pytest.mark.timeout(170)


def wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `check` every 10 ms; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.01)


# --- the cloud: `simgate emulator serve`, and mosquitto for the external variant --------


class GeneratedMosquitto(Mosquitto):
    """mosquitto run with the config `simgate emulator mosquitto-config` wrote (password
    file, ACL, `persistence true`, `autosave_interval 1`), plus the test's user and log
    lines. The config names the files `serve --mosquitto-dir` keeps up to date."""

    def __init__(self, directory: Path, generated: Path, port: int) -> None:
        self._generated = generated
        super().__init__(directory, port=port)

    def _write_config(self) -> None:
        extra = f"user {pwd.getpwuid(os.geteuid()).pw_name}\nlog_dest stderr\n"
        extra += "log_type error\nlog_type warning\nlog_type notice\n"
        self.config_path.write_text(self._generated.read_text() + extra)


class Emulator:
    """The emulator process on fixed ports (so it can restart under the same URLs), and
    for `mosquitto`, the broker it ingests from."""

    def __init__(self, kind: Kind, tmp: Path) -> None:
        self.kind = kind
        self.db = tmp / "emulator.db"
        self.log = tmp / "emulator.log"
        self.http_port = free_port()
        self.mqtt_port = free_port()
        self.proc: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}
        self.broker: GeneratedMosquitto | None = None
        self.extra = ["--http", f"127.0.0.1:{self.http_port}"]
        if kind == "embedded":
            self.extra += ["--mqtt", f"embedded:{self.mqtt_port}"]
            return
        files, self.pid_file = tmp / "mosquitto-files", tmp / "mosquitto.pid"
        Backend(self.db).close()  # mosquitto-config reads an existing database
        made = subprocess.run(
            [
                *(sys.executable, "-m", "simgate.cli", "emulator", "mosquitto-config"),
                *("--db", str(self.db), "--out", str(files), "--json"),
                *("--listen", f"127.0.0.1:{self.mqtt_port}"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        config = Path(json.loads(made.stdout)["config"])
        self.broker = GeneratedMosquitto(tmp / "mosquitto", config, self.mqtt_port)
        self.extra += ["--mqtt", f"mqtt://127.0.0.1:{self.mqtt_port}"]
        self.extra += ["--mosquitto-dir", str(files), "--mosquitto-pid-file", str(self.pid_file)]

    def start(self) -> None:
        """Start the broker (mosquitto) if it is not running, then the emulator."""
        if self.broker is not None and not self.broker.running:
            self.start_broker()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIMGATE_")}
        env["SIMGATE_ACCESS_TOKEN"], env["SIMGATE_ACCESS_TOKEN_SECRET"] = live.TOKEN, live.SECRET
        command = [sys.executable, "-m", "simgate.cli", "emulator", "serve", "--db", str(self.db)]
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(
                [*command, "--json", *self.extra],
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
                text=True,
                env=env,
                cwd=REPO,
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError(f"the emulator did not start:\n{self.log.read_text()[-3000:]}")
        self.info = json.loads(line)

    def stop(self, *, hard: bool = False) -> None:
        """SIGTERM (or SIGKILL) the emulator; the broker stays."""
        if self.proc is not None:
            code = live.stop(self.proc, hard=hard)
            assert code == (-signal.SIGKILL if hard else 0), f"emulator exit {code}"
            self.proc = None

    def start_broker(self) -> None:
        """mosquitto: start it and tell the emulator its pid (for the SIGHUP on changes)."""
        assert self.broker is not None
        self.broker.start()
        self.pid_file.write_text(f"{self.broker.pid}\n")

    def restart_broker(self, downtime: float) -> None:
        """The broker goes away for `downtime` seconds (embedded: with its emulator)."""
        if self.broker is None:
            self.stop()
            time.sleep(downtime)
            self.start()
        else:
            self.broker.stop()  # SIGTERM: mosquitto saves its persistence file
            time.sleep(downtime)
            self.start_broker()

    @contextlib.contextmanager
    def frozen_broker(self) -> Iterator[None]:
        """SIGSTOP the broker (embedded: the emulator) for the block: connections stay
        open, nothing is acknowledged."""
        process = self.broker if self.broker is not None else self.proc
        pid = None if process is None else process.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)

    def close(self) -> None:
        """Stop everything (after a failure too)."""
        with contextlib.suppress(Exception):
            if self.broker is not None:
                self.broker.resume()
        if self.proc is not None:
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.proc.pid, signal.SIGCONT)
            live.stop(self.proc)
            self.proc = None
        if self.broker is not None:
            self.broker.stop()


# --- the device: the interface counters, and the agent process --------------------------


class Interface(threading.Thread):
    """Plays `wwan0`'s kernel counters: moves the bytes the stub metered onto the fake
    sysfs files, `max(1, remaining // 8)` at a time every 2 ms, each file replaced
    atomically (a torn read would look like a counter reset to the agent's meter)."""

    def __init__(self, root: Path, stub: StubModem) -> None:
        super().__init__(name="reliability-interface", daemon=True)
        self.stub = stub
        self.stats = root / IFACE / "statistics"
        self.stats.mkdir(parents=True)
        (root / IFACE / "ifindex").write_text("3\n")
        self.up = self.down = 0
        self._write("tx_bytes", 0)
        self._write("rx_bytes", 0)
        self._lock = threading.Lock()
        self._moving = threading.Event()
        self._closing = threading.Event()

    def _write(self, name: str, value: int) -> None:
        tmp = self.stats / f".{name}.tmp"
        tmp.write_text(f"{value}\n")
        os.replace(tmp, self.stats / name)

    def target(self) -> tuple[int, int]:
        """What the stub metered: the bytes the emulator accepted, every session."""
        total = self.stub.traffic.total
        return total.up, total.down

    def run(self) -> None:
        while not self._closing.wait(0.002):
            if not self._moving.is_set():
                continue
            with self._lock:
                if not self._moving.is_set():
                    continue
                up, down = self.target()
                if up > self.up:
                    self.up += max(1, (up - self.up) // 8)
                    self._write("tx_bytes", self.up)
                if down > self.down:
                    self.down += max(1, (down - self.down) // 8)
                    self._write("rx_bytes", self.down)

    def move(self) -> None:
        """Let bytes flow onto the interface."""
        self._moving.set()

    def hold(self) -> None:
        """Stop moving bytes; returns once no write is under way."""
        with self._lock:
            self._moving.clear()

    def caught_up(self) -> bool:
        """The interface shows everything the stub metered."""
        return (self.up, self.down) == self.target()

    def close(self) -> None:
        """End the thread."""
        self._closing.set()
        self.join(5)


@dataclass
class Agent:
    """`tests/reliability/agent_process.py` on the test's config; killable."""

    config: Path
    state: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    kills: int = 0
    in_flight_at_kills: list[int] = field(default_factory=list)

    def start(self) -> None:
        """Start (again): it reopens the state dir's outbox and meter."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIMGATE_")}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [*AGENT, str(self.config), str(INTERVAL)],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """`kill -9`."""
        assert self.running, self.log_tail()
        assert self.proc is not None
        self.proc.kill()
        assert self.proc.wait(10) == -signal.SIGKILL
        self.kills += 1

    def terminate(self) -> int:
        """SIGTERM; the exit status."""
        assert self.proc is not None
        self.proc.terminate()
        return self.proc.wait(15)

    def close(self) -> None:
        """Kill it if it still runs (after a failure)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def meter(self) -> tuple[int, int] | None:
        """The last raw reading of `os:wwan0` the agent committed (in its outbox's db)."""
        path = self.state / "outbox.sqlite3"
        try:
            with contextlib.closing(sqlite3.connect(path, timeout=10)) as db:
                row = db.execute("SELECT state FROM meter WHERE name = 'daemon'").fetchone()
            tracker = json.loads(row[0])["sources"][f"os:{IFACE}"]
        except (sqlite3.Error, TypeError, ValueError, KeyError):
            return None
        return int(tracker["up"]["last"]), int(tracker["down"]["last"])

    def outbox(self) -> tuple[int, int]:
        """(numbers the outbox ever gave out, records still waiting), read beside it."""
        path = self.state / "outbox.sqlite3"
        with contextlib.closing(sqlite3.connect(path, timeout=10)) as db:
            last = db.execute("SELECT COALESCE(MAX(last), 0) FROM counters WHERE kind = 'usage'")
            waiting = db.execute("SELECT COUNT(*) FROM usage")
            return int(last.fetchone()[0]), int(waiting.fetchone()[0])

    def log_tail(self) -> str:
        """The end of its log, for failure messages."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])


# --- the run ----------------------------------------------------------------------------


@dataclass
class Run:
    """Everything one variant drives."""

    kind: Kind
    emulator: Emulator
    cloud: Cloud
    sim: Sim
    stub: StubModem
    interface: Interface
    agent: Agent
    stored: int = 0
    done: list[str] = field(default_factory=list)

    def view(self) -> dict[str, Any] | None:
        """`GET /_emulator/sims/{iccid}`, or None while the emulator is down."""
        try:
            response = self.cloud.steer.get(f"/_emulator/sims/{self.sim.iccid}", timeout=2)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        doc: dict[str, Any] = response.json()
        self.stored = int(doc["reports"])
        return doc

    def quiet_meter(self) -> None:
        """Hold the interface still until the agent has metered (and committed) all of it."""
        self.interface.hold()
        shown = (self.interface.up, self.interface.down)
        wait_for(lambda: self.agent.meter() == shown, 10, "the agent to meter the interface")

    def kill_agent(self) -> None:
        # The broker is frozen first, so that the agent has records out for which it has
        # no PUBACK when it dies (the broker may still take them after SIGCONT, and the
        # agent sends them again after its restart: the cloud must store them once).
        # Bytes keep flowing onto the interface, so the kill lands at any instant of a
        # metering pass, between the reading and the commit included: the meter's state
        # is committed with the record, so nothing read is lost or counted twice.
        with self.emulator.frozen_broker():
            time.sleep(0.3 + random.random() * 0.05)
            _, waiting = self.agent.outbox()
            self.agent.kill()
            self.agent.in_flight_at_kills.append(waiting)
        self.agent.start()

    def cut_session(self) -> None:
        """The network ends the data session (the emulator's per-session byte limit, 001
        §47.1(2)); the agent's daemon must bring the connection up again."""
        session = self.stub.traffic.session
        self.cloud.account(session_cut_bytes=1)
        try:
            wait_for(lambda: not self.stub.traffic.active, 10, "the session to be cut")
        finally:
            self.cloud.account(session_cut_bytes=None)
        wait_for(lambda: self.stub.traffic.session > session, 20, "a new data session")

    def fault(self, fault: Fault, rng: random.Random) -> None:
        if fault == "broker":
            self.emulator.restart_broker(rng.uniform(0.2, 1.0))
        elif fault == "kill":
            self.kill_agent()
        elif fault == "emulator":
            self.emulator.stop(hard=True)
            time.sleep(rng.uniform(0.2, 1.0))
            self.emulator.start()
        else:
            self.cut_session()
        self.done.append(fault)


def setup_agent(tmp: Path, emulator: Emulator, iccid: str, token: str, link: Path) -> Agent:
    state = tmp / "state"
    state.mkdir(mode=0o700)
    token_file = tmp / "token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    config = tmp / "agent.toml"
    config.write_text(
        f"""[modem]
port = "{link}"
check_interval_s = 0.2

[internet]
apn = "{APN}"

[usage]
source = "os"
iface = "{IFACE}"
interval_s = 0.05
sysfs_root = "{tmp / "sys-class-net"}"

[mqtt]
host = "127.0.0.1"
port = {emulator.mqtt_port}
token_file = "{token_file}"
keepalive_s = 5

[state]
dir = "{state}"
"""
    )
    return Agent(config, state, tmp / "agent.log")


@pytest.mark.parametrize("kind", ["embedded", "mosquitto"])
def test_rule3_10000_records_exactly_once_through_faults(kind: Kind, tmp_path: Path) -> None:
    rng = random.Random(5)
    emulator = Emulator(kind, tmp_path)
    # Everything started is stopped, in reverse order, even when a step fails or another
    # clean-up step raises (ExitStack runs every callback).
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(emulator.close)
        emulator.start()
        cloud = Cloud(emulator.info)
        cleanup.callback(cloud.close)
        sim = cloud.sim()
        token = cloud.ok(cloud.steer.get(f"/_emulator/sims/{sim.iccid}/token"))["token"]
        stub = stub_for(cloud.url, sim, traffic=TRAFFIC)
        cleanup.callback(stub.stop)
        stub.start()
        link = tmp_path / "modem"
        link.symlink_to(stub.device_path)
        interface = Interface(tmp_path / "sys-class-net", stub)
        interface.start()
        cleanup.callback(interface.close)
        agent = setup_agent(tmp_path, emulator, sim.iccid, token, link)
        cleanup.callback(agent.close)
        agent.start()
        run = Run(kind, emulator, cloud, sim, stub, interface, agent)
        # The meter counts a source's first reading from 0: let bytes onto the interface
        # only once the agent has read it at 0, or those bytes would never be metered.
        wait_for(lambda: agent.meter() == (0, 0), 30, "the agent's first reading")
        interface.move()

        began = time.monotonic()
        faults = list(FAULTS)
        while True:
            view = run.view()
            if faults and view is not None and run.stored >= SPACING * (len(run.done) + 1):
                run.fault(faults.pop(0), rng)
                continue
            if not faults and agent.outbox()[0] >= RECORDS:
                break
            assert agent.running, agent.log_tail()
            assert time.monotonic() - began < 120, (
                f"too slow: {run.stored} stored, faults done {run.done}\n{agent.log_tail()}"
            )
            time.sleep(0.05)
        flowing = time.monotonic() - began

        # The end: the stub powers off (its session ends after a last traffic report), the
        # interface catches up with it, the agent meters the rest and delivers everything,
        # then stops cleanly (SIGTERM).
        stub.stop()
        wait_for(interface.caught_up, 10, "the interface to show all the stub metered")
        run.quiet_meter()
        wait_for(lambda: agent.outbox()[1] == 0, 30, "the outbox to drain")
        assert agent.terminate() == 0, agent.log_tail()
        assigned, waiting = agent.outbox()
        wait_for(
            lambda: (view := run.view()) is not None and view["last_seq"] == assigned,
            30,
            f"the emulator to hold seq {assigned}",
        )
        reports: list[dict[str, Any]] = cloud.ok(
            cloud.steer.get(f"/_emulator/sims/{sim.iccid}/reports")
        )
        metered = stub.traffic.total
        unconfirmed = stub.traffic.unconfirmed.total
        network_up, network_down = cloud.month_bytes(sim)

    print(
        f"\n{kind}: {assigned} records in {flowing:.1f} s, faults {run.done}, "
        f"waiting in the outbox at each kill {agent.in_flight_at_kills}, "
        f"{metered.up} + {metered.down} bytes metered"
    )
    assert run.done == list(FAULTS)
    assert agent.kills == FAULTS.count("kill")
    assert waiting == 0
    assert assigned >= RECORDS
    # Exactly once: every number the outbox gave out is stored, once, and nothing else.
    seqs = [int(report["seq"]) for report in reports]
    assert seqs == list(range(1, assigned + 1))
    assert {report["iccid"] for report in reports} == {sim.iccid}
    # The bytes. Compared: the sum of `up` and of `down` over the stored usage reports
    # (what the device told the emulator's books over MQTT) with `stub.traffic.total`, the
    # stub's own books: the bytes of its data sessions that the emulator's network
    # endpoint *accepted* (refused and unanswered reports are not in it). They must be
    # equal because the agent's only input is the interface, and the interface ends
    # showing exactly `stub.traffic.total` (it started at 0, was read at 0 first, and only
    # ever moved towards that total); the agent's meter turns readings into deltas that
    # add up to the last reading, every delta goes into exactly one record (the outbox
    # gives it a seq in the same transaction), and the cloud stores each seq once. A lost
    # record, a duplicate, a delta counted twice after a kill, or a record lost between
    # the meter and the outbox, would each make the sums differ.
    assert sum(int(r["up"]) for r in reports) == metered.up
    assert sum(int(r["down"]) for r in reports) == metered.down
    # And the network's own books agree with the stub's, when no traffic report was left
    # without an answer (the emulator killed while answering one) that might be in them.
    if unconfirmed == 0:
        assert (network_up, network_down) == (metered.up, metered.down)
