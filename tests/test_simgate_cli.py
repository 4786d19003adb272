"""The `simgate` dispatcher and the demo, through the console entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def simgate(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simgate.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env={**os.environ, "SIMGATE_STATE_DIR": str(cwd or Path.cwd()), **(env or {})},
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


def test_demo_runs_card_to_invoice_and_leaves_nothing_behind(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    done = simgate(
        "demo", "--json", "--traffic-seconds", "2", cwd=tmp_path, env={"TMPDIR": str(temp)}
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # one JSON document and nothing else
    iccid = result["iccid"]
    assert result["sim"]["before"]["state"] == "SIM PIN"
    assert result["sim"]["after"]["state"] == "READY"
    assert result["sim"]["after"]["iccid"] == iccid
    assert result["status"]["sim"]["iccid"] == iccid
    assert result["status"]["device"]["sim_state"] == "READY"
    assert set(result["safety"]) == {"first", "again"}
    assert result["internet"]["active"] is True

    reports = result["reports"]
    assert reports["count"] > 0
    assert reports["count"] == reports["sent"]  # each record the agent metered, stored once
    assert reports["bytes_up"] + reports["bytes_down"] > 0
    network = result["traffic"]["network"]
    # the device reports the bytes its link carried, each once; the network counted at
    # least those (more only if a traffic report's answer was lost)
    assert 0 < reports["bytes_up"] <= network["up"]
    assert 0 < reports["bytes_down"] <= network["down"]

    invoice = result["invoice"]
    assert invoice["month"] == "2026-03"
    lines = {line["item"]: line for line in invoice["lines"]}
    assert {"sim_basic", "gateway", "data"} <= set(lines)
    assert lines["sim_basic"]["subject"] == iccid
    assert lines["data"]["quantity"] == network["up"] + network["down"]
    assert all(line["clause"] for line in invoice["lines"])
    assert invoice["total"] > 0

    assert not Path(f"/proc/{result['emulator_pid']}").exists(), "the emulator still runs"
    assert list(temp.iterdir()) == [], "the demo left its temporary folder"
    assert "[13/13]" in done.stderr


def test_demo_refuses_bad_options() -> None:
    done = simgate("demo", "--traffic-seconds", "0")
    assert done.returncode == 2
    assert "--traffic-seconds" in done.stderr
