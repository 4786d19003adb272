"""The `simgate` dispatcher and the demo, through the console entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def simgate(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simgate.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env={**os.environ, "SIMGATE_STATE_DIR": str(cwd or Path.cwd())},
    )


def test_help_lists_every_command_group() -> None:
    done = simgate("--help")
    assert done.returncode == 0
    for group in ("demo", "agent", "stub", "emulator", "bill"):
        assert f"  {group}" in done.stdout


def test_unknown_command_is_bad_usage() -> None:
    done = simgate("frobnicate")
    assert done.returncode == 2
    assert "unknown command 'frobnicate'" in done.stderr


def test_agent_group_does_not_import_the_emulator_stack() -> None:
    code = (
        "import sys, simgate.cli; simgate.cli.main(['agent', '--help'])\n"
        "bad = [m for m in ('fastapi', 'uvicorn', 'emulator', 'pydantic') if m in sys.modules]\n"
        "print(bad)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_demo_unlocks_the_stub_sim_and_says_what_is_not_there_yet(tmp_path: Path) -> None:
    done = simgate("demo", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["before"]["state"] == "SIM PIN"
    assert result["after"]["state"] == "READY"
    assert result["after"]["iccid"] == result["before"]["iccid"]
    assert "not in this demo yet" in done.stderr
