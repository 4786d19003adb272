"""Life under systemd: readiness, the watchdog, journal lines, and the shipped unit."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.cli.init import CONFIG_NAME, UNIT_NAME, shipped, unit_text
from agent.daemon import service
from agent.daemon.systemd import JournalFormatter, under_journal, watchdog_interval
from tests.agent.daemon.conftest import Rig
from tests.agent.reporting.helpers import wait_until

REPO = Path(__file__).resolve().parents[3]


class NotifySocket:
    """A real unix datagram socket standing in for systemd's `$NOTIFY_SOCKET`."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.received: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="sgao-notify", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.received.append((time.monotonic(), data.decode()))

    def times(self, field: str) -> list[float]:
        return [at for at, text in list(self.received) if field in text.splitlines()]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def notify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NotifySocket]:
    path = tmp_path / "notify.sock"
    listener = NotifySocket(path)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")  # WatchdogSec=1s: a pet every 0.5 s
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    monkeypatch.setenv("SIMGATE_RUNTIME_DIR", str(tmp_path / "run"))
    try:
        yield listener
    finally:
        listener.close()


@pytest.mark.asyncio
@pytest.mark.timeout(60)
async def test_ready_after_the_first_check_then_a_hung_loop_stops_the_watchdog(
    rig: Rig, notify: NotifySocket
) -> None:
    rig.stub()
    config = rig.config()
    task = asyncio.create_task(service.serve(config, rig.bench.state_dir))
    try:
        await wait_until(lambda: bool(notify.times("READY=1")), 20, "READY=1")
        ready = next(text for _, text in notify.received if "READY=1" in text)
        assert "STATUS=SIM READY" in ready  # the SIM's state was known when ready was said
        await wait_until(lambda: len(notify.times("WATCHDOG=1")) >= 5, 10, "watchdog pets")
        pets = notify.times("WATCHDOG=1")
        assert max(b - a for a, b in zip(pets[-5:], pets[-4:], strict=False)) < 1.0

        # The daemon's event loop hangs (a blocking call in it) for 2.5 s. A pet sent just
        # before is read within the first 0.5 s; in the 2 s after, none may come.
        time.sleep(0.5)  # noqa: ASYNC251 (the hang, on purpose)
        before = len(notify.times("WATCHDOG=1"))
        time.sleep(2.0)  # noqa: ASYNC251 (still hung: four watchdog intervals)
        during = len(notify.times("WATCHDOG=1")) - before
        resumed_at = time.monotonic()
        assert during == 0  # no pet while hung: systemd would kill and restart it
        await wait_until(
            lambda: any(t > resumed_at for t in notify.times("WATCHDOG=1")), 3, "pets again"
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_watchdog_interval_is_half_watchdog_sec_and_only_for_its_pid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "60000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert watchdog_interval() is None
    monkeypatch.delenv("WATCHDOG_USEC")
    assert watchdog_interval() is None


def test_journal_lines_carry_a_priority_and_no_time_stamp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = logging.LogRecord("agent.x", logging.WARNING, __file__, 1, "port %s", ("gone",), None)
    assert JournalFormatter().format(record) == "<4>WARNING agent.x: port gone"
    record.levelno, record.levelname = logging.ERROR, "ERROR"
    assert JournalFormatter().format(record).startswith("<3>")
    # $JOURNAL_STREAM counts only when it names our stderr (not a child's inherited one)
    stat = os.fstat(sys.stderr.fileno())
    monkeypatch.setenv("JOURNAL_STREAM", f"{stat.st_dev}:{stat.st_ino}")
    assert under_journal()
    monkeypatch.setenv("JOURNAL_STREAM", f"{stat.st_dev}:{stat.st_ino + 1}")
    assert not under_journal()


def test_daemon_logs_under_journald_without_time_stamps(tmp_path: Path) -> None:
    code = (
        "import logging, os, sys\n"
        "st = os.fstat(2); os.environ['JOURNAL_STREAM'] = f'{st.st_dev}:{st.st_ino}'\n"
        "from agent.daemon.service import configure_logging\n"
        "configure_logging(0)\n"
        "logging.getLogger('agent.daemon').info('starting')\n"
        "logging.getLogger('agent.daemon').error('giving up')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.stderr.splitlines() == [
        "<6>INFO agent.daemon: starting",
        "<3>ERROR agent.daemon: giving up",
    ]


def test_shipped_unit_is_notify_with_a_watchdog_and_the_devices_of_a_pi() -> None:
    unit = shipped(UNIT_NAME)
    lines = set(unit.splitlines())
    assert {"Type=notify", "NotifyAccess=main", "WatchdogSec=60s"} <= lines
    for device in ("ttyUSB", "ttyACM", "ttyAMA", "ttyS", "usbmisc", "wwan_port"):
        assert f"DeviceAllow=char-{device} rw" in lines
    assert "After=network-online.target" not in lines  # the modem may be the only uplink
    assert "Wants=network-online.target" not in lines
    assert "RuntimeDirectory=simgate" in lines
    # the docs' copies are the shipped files themselves
    assert (REPO / "docs" / "systemd" / UNIT_NAME).read_text() == unit
    assert (REPO / "docs" / "agent-config.example.toml").read_text() == shipped(CONFIG_NAME)


@pytest.mark.timeout(60)
def test_systemd_analyze_verifies_the_unit_agent_init_writes(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is missing in CI (scripts/test installs systemd)")
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    unit = tmp_path / UNIT_NAME
    simgate = Path(sys.executable).parent / "simgate"
    unit.write_text(unit_text("simgate", str(simgate) if simgate.exists() else "/bin/true"))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    problems = [line for line in done.stderr.splitlines() if UNIT_NAME in line]
    assert done.returncode == 0, done.stderr
    assert problems == [], done.stderr
