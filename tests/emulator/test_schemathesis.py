"""Property-based run of schemathesis against the live server's `/openapi.json`: no
input, however odd, may produce a 5xx. Bounded (8 examples per operation, fixed seed)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from . import live


def _schemathesis() -> str | None:
    candidate = Path(sys.executable).with_name("schemathesis")
    return str(candidate) if candidate.exists() else shutil.which("schemathesis")


@pytest.mark.timeout(120)
def test_no_5xx_on_any_generated_request(tmp_path: Path) -> None:
    exe = _schemathesis()
    if exe is None:
        pytest.skip("schemathesis is not installed")
    with live.serving(tmp_path / "emulator.db") as info:
        result = subprocess.run(
            [
                exe,
                "run",
                info["openapi"],
                "--auth",
                f"{live.TOKEN}:{live.SECRET}",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                "8",
                "--seed",
                "1",
                "--phases",
                "examples,fuzzing",
                "--generation-database",
                "none",
                "--workers",
                "2",
                "--no-color",
                "--request-timeout",
                "10",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=100,
            check=False,
        )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
