"""One owner per port: a running daemon answers one-shot status commands, refuses the rest.

A real `simgate agent run` process and real `simgate agent ...` processes on one stub
port (contracts §1: "a held port answered through the daemon or refused with exit 5").
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import serial

from tests.agent.conftest import ICCID, PIN
from tests.agent.daemon.conftest import TOKEN, Rig
from tests.agent.reporting.helpers import wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(90)]
REPO = Path(__file__).resolve().parents[3]


def _env(rig: Rig) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMGATE_")}
    return {
        **env,
        "PYTHONPATH": str(REPO),
        "SIMGATE_RUNTIME_DIR": str(rig.tmp / "run"),
        "SIMGATE_STATE_DIR": str(rig.tmp / "cli-state"),
    }


def agent(rig: Rig, *args: str) -> subprocess.CompletedProcess[str]:
    """`simgate agent ARGS` as a separate process, as a person would run it."""
    return subprocess.run(
        [sys.executable, "-m", "simgate.cli", "agent", *args],
        cwd=rig.tmp,
        env=_env(rig),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@contextmanager
def daemon_process(rig: Rig) -> Iterator[subprocess.Popen[bytes]]:
    """`simgate agent run --config agent.toml` until the block ends (SIGTERM, bounded)."""
    log = (rig.tmp / "daemon.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "simgate.cli", "agent", "run", "--config", "agent.toml"],
        cwd=rig.tmp,
        env=_env(rig),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr + done.stdout, done.stderr


async def test_one_shot_status_commands_are_answered_by_the_daemon_holding_the_port(
    rig: Rig,
) -> None:
    rig.stub()
    rig.sysfs.set("wwan0", tx=100, rx=200)
    rig.config()
    port = str(rig.link)
    with daemon_process(rig) as process:

        def ready() -> bool:
            done = agent(rig, "--port", port, "sim", "status", "--json")
            return done.returncode == 0 and json.loads(done.stdout)["state"] == "READY"

        await wait_until(ready, 30, "the daemon to answer READY")
        sim = agent(rig, "sim", "status", "--json", "--port", port)
        net = agent(rig, "--json", "net", "status", "--port", port)
        internet = agent(rig, "internet", "status", "--port", port, "--json")
        text = agent(rig, "-v", "sim", "status", "--port", port)

        def metered() -> bool:
            done = agent(rig, "usage", "--port", port, "--json")
            return done.returncode == 0 and json.loads(done.stdout)["bytes_up"] == 100

        await wait_until(metered, 10, "the daemon's usage totals")
        usage = agent(rig, "usage", "--port", port, "--json")
        for done in (sim, net, internet, text, usage):
            assert done.returncode == 0, done.stderr
            no_traceback(done)
        assert json.loads(sim.stdout)["iccid"] == ICCID
        assert json.loads(net.stdout)["registration"] in ("home", "roaming", "searching")
        assert set(json.loads(internet.stdout)) >= {"active", "cid", "apn", "ip"}
        assert "answered by the daemon" in text.stderr
        assert ICCID in text.stdout
        assert json.loads(usage.stdout) == {
            "bytes_up": 100,
            "bytes_down": 200,
            "source": "os:wwan0",
        }

        # a command that would talk to the card is refused, naming the daemon
        unlock = agent(rig, "--port", port, "sim", "unlock", "--json")
        assert unlock.returncode == 5, unlock.stderr
        no_traceback(unlock)
        message = f"port busy: {port} is held by simgate-agent (pid {process.pid})"
        assert message in unlock.stderr
        assert json.loads(unlock.stdout) == {"error": message, "exit_code": 5}

        # SIMGATE_PORT finds the port as well as --port does
        env_port = subprocess.run(  # noqa: ASYNC221 (a person's command; the daemon is apart)
            [sys.executable, "-m", "simgate.cli", "agent", "sim", "status", "--json"],
            env={**_env(rig), "SIMGATE_PORT": port},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert json.loads(env_port.stdout)["iccid"] == ICCID, env_port.stderr

        # a second daemon on the same port is refused too
        second = agent(rig, "run", "--config", "agent.toml", "--json")
        assert second.returncode == 5
        assert f"held by simgate-agent (pid {process.pid})" in second.stderr
        assert json.loads(second.stdout)["exit_code"] == 5
        assert process.poll() is None  # the first one runs on
    log = (rig.tmp / "daemon.log").read_text()
    assert "Traceback" not in log
    assert PIN not in log
    assert TOKEN not in log


async def test_a_port_opened_exclusively_elsewhere_is_busy_not_a_traceback(rig: Rig) -> None:
    stub = rig.stub()
    holder = serial.Serial(stub.device_path, exclusive=True, timeout=0)
    try:
        done = await asyncio.to_thread(agent, rig, "--port", str(rig.link), "sim", "status")
    finally:
        holder.close()
    assert done.returncode == 5, done.stderr
    no_traceback(done)
    assert f"port busy: {rig.link} is held by" in done.stderr
    assert f"(pid {os.getpid()})" in done.stderr  # found by who has the device open
    after = await asyncio.to_thread(agent, rig, "--port", str(rig.link), "sim", "status")
    assert after.returncode == 0, after.stderr
