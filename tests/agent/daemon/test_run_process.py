"""`simgate agent run --config FILE` as a real process: SIGTERM ends it cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simgate_common import wire
from tests.agent.conftest import PIN
from tests.agent.daemon.conftest import TOKEN, Rig
from tests.agent.daemon.test_daemon import cloud, up_and_connected
from tests.agent.reporting.helpers import wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]
REPO = Path(__file__).resolve().parents[3]


async def test_sigterm_stops_the_daemon_within_seconds_with_status_offline(rig: Rig) -> None:
    rig.stub()
    rig.sysfs.set("wwan0", tx=4096, rx=8192)
    rig.config(usage={"interval_s": 0.3})
    log_path = rig.tmp / "daemon.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMGATE_")}
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: ASYNC220 (returns at once)
            [sys.executable, "-m", "simgate.cli", "agent", "run", "--config", "agent.toml"],
            cwd=rig.tmp,
            env={**env, "PYTHONPATH": str(REPO)},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    try:
        async with cloud(rig) as collector:
            await wait_until(lambda: up_and_connected(collector), 20, "READY and connected")
            await wait_until(lambda: bool(collector.usage_seqs()), 5, "a usage record")
            assert collector.statuses()[-1] == wire.ONLINE
            began = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(process.wait, 10)
            took = time.monotonic() - began
            await wait_until(lambda: collector.statuses()[-1:] == [wire.OFFLINE], 5, "offline")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log_path.read_text()
    assert code == 0, text
    assert took < 5, text
    assert "SIGTERM received; stopping" in text
    assert PIN not in text
    assert TOKEN not in text
    record = json.loads(collector.on("usage")[0].payload)
    assert (record["up"], record["down"]) == (4096, 8192)
    assert (rig.bench.state_dir / "outbox.sqlite3").exists()
