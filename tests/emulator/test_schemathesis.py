"""Schemathesis against the live server's `/openapi.json`, phase by phase: no input, however
odd, may produce a 5xx or an answer its schema does not describe (issue 13).

Each phase starts from a reset emulator, so the stateful phase walks the happy paths the
document's links describe (a factory card registered as a SIM, a switch, a gateway, a
project: created, then read, changed and deleted) rather than the leftovers of the
fuzzer. Bounded in time (about 80 s in all, fixed seed, one worker) for a suite that runs
in CI on 2 cores. Fault injection (its 503s are on purpose) and reset (it would wipe the
walk) are left out.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from . import live

PHASES: list[tuple[str, list[str]]] = [
    ("examples,coverage", ["--max-time", "20"]),
    ("fuzzing", ["--max-examples", "5", "--max-time", "20"]),
    ("stateful", ["--mode", "positive", "--max-time", "25"]),
]
CHECKS = "not_a_server_error,response_schema_conformance"
EXCLUDED = "^/_emulator/(faults|reset)$"


def _schemathesis() -> str:
    candidate = Path(sys.executable).with_name("schemathesis")
    found = str(candidate) if candidate.exists() else shutil.which("schemathesis")
    assert found is not None, "schemathesis is in the test extra"
    return found


def _run(exe: str, info: dict[str, str], phase: str, extra: list[str], cwd: Path) -> str:
    command = [exe, "run", info["openapi"], "--auth", f"{live.TOKEN}:{live.SECRET}"]
    command += ["--checks", CHECKS, "--phases", phase, *extra, "--seed", "1"]
    command += ["--generation-database", "none", "--workers", "1", "--no-color"]
    command += ["--request-timeout", "10", "--exclude-path-regex", EXCLUDED]
    result = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{phase}:\n{output[-6000:]}"
    assert "passed" in result.stdout, output[-2000:]
    return result.stdout


@pytest.mark.timeout(240)
def test_no_5xx_and_no_schema_violation_in_any_phase_from_a_reset_emulator(
    tmp_path: Path,
) -> None:
    exe = _schemathesis()
    with (
        live.serving(tmp_path / "emulator.db") as info,
        httpx.Client(base_url=info["http"], auth=live.AUTH, timeout=10) as steer,
    ):
        for phase, extra in PHASES:
            assert steer.post("/_emulator/reset").status_code == 200
            output = _run(exe, info, phase, extra, tmp_path)
        # the stateful phase followed links from creates to what they made
        covered = re.search(r"API Links:\s+(\d+) covered", output)
        assert covered is not None, output[-2000:]
        assert int(covered.group(1)) > 0
        lines = steer.get("/_emulator/events").text.splitlines()
        kinds = {json.loads(line)["type"] for line in lines}
        assert {"sim_registered", "project_created"} <= kinds  # happy paths, not only 4xx
        assert steer.get("/_emulator/clock").status_code == 200  # and it still answers
