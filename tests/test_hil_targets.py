"""The HIL suite's bench mode, run for real against a stub served as if it were a bench modem."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_stubs.testing import stub_process

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def bench_modem(tmp_path: Path) -> Iterator[Path]:
    """`simgate stub serve` in its own process, reached through a symlink like a udev name."""
    card = {
        "iccid": "89811000000000000004",
        "imsi": "440101234567890",
        "pin": "5678",
        "puk": "11223344",
        "pin_enabled": True,
        "pin_retries": 3,
        "puk_retries": 10,
    }
    with stub_process(tmp_path, card) as link:
        yield link


def run_hil(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rs",
            str(ROOT / "hil_tests"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def secret(path: Path, value: str) -> Path:
    path.write_text(value)
    path.chmod(0o600)
    return path


def test_bench_run_skips_what_spends_tries_without_sacrificial_sim(
    bench_modem: Path, tmp_path: Path
) -> None:
    pin = secret(tmp_path / "pin", "5678")
    done = run_hil("--port", str(bench_modem), "--pin-file", str(pin))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed, 2 skipped" in done.stdout
    assert "bench runs need --sacrificial-sim" in done.stdout


def test_bench_run_with_a_sacrificial_sim_runs_everything(
    bench_modem: Path, tmp_path: Path
) -> None:
    pin = secret(tmp_path / "pin", "5678")
    puk = secret(tmp_path / "puk", "11223344")
    done = run_hil(
        "--port",
        str(bench_modem),
        "--pin-file",
        str(pin),
        "--puk-file",
        str(puk),
        "--sacrificial-sim",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 passed" in done.stdout
