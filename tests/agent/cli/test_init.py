"""`simgate agent init --dir DIR [--user NAME] [--force]`: the shipped config and unit."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from agent.cli import main
from agent.cli.init import CONFIG_NAME, UNIT_NAME, shipped
from agent.daemon.config import load_config

REPO = Path(__file__).resolve().parents[3]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_init_writes_the_example_config_and_the_unit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "etc"
    code, out, err = run(capsys, "init", "--dir", str(target), "--user", "pi-agent", "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "written": [str(target / CONFIG_NAME), str(target / UNIT_NAME)],
        "user": "pi-agent",
    }
    config = (target / CONFIG_NAME).read_text()
    assert config == shipped(CONFIG_NAME)
    tomllib.loads(config)
    load_config(target / CONFIG_NAME, secrets=False)  # the daemon takes it as it is
    unit = (target / UNIT_NAME).read_text().splitlines()
    assert "User=pi-agent" in unit
    assert "Group=pi-agent" in unit
    assert "Type=notify" in unit
    assert any(line.startswith("WatchdogSec=") for line in unit)
    exec_start = next(line for line in unit if line.startswith("ExecStart="))
    assert exec_start.endswith("simgate agent run --config /etc/simgate/agent.toml")
    assert (target / UNIT_NAME).stat().st_mode & 0o777 == 0o644


def test_init_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / UNIT_NAME).write_text("mine\n")
    code, out, err = run(capsys, "init", "--dir", str(tmp_path), "--json")
    assert code == 2
    assert "--force" in err
    assert json.loads(out)["exit_code"] == 2
    assert (tmp_path / UNIT_NAME).read_text() == "mine\n"
    assert not (tmp_path / CONFIG_NAME).exists()
    code, _, err = run(capsys, "init", "--dir", str(tmp_path), "--force")
    assert code == 0, err
    assert "User=simgate" in (tmp_path / UNIT_NAME).read_text()


def test_init_refuses_a_user_name_that_would_rewrite_the_unit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "init", "--dir", str(tmp_path), "--user", "x\nExecStartPre=/bin/sh")
    assert code == 2
    assert "not a valid user name" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.timeout(300)
def test_both_files_ship_in_the_wheel(tmp_path: Path) -> None:
    source = tmp_path / "src"  # a copy: building leaves build/ and egg-info behind
    for name in ("pyproject.toml", "README.md"):
        source.mkdir(exist_ok=True)
        shutil.copy(REPO / name, source / name)
    for package in ("agent", "emulator", "firmware_stubs", "simgate", "simgate_common"):
        shutil.copytree(
            REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path), str(source)],
        capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    wheel = next(tmp_path.glob("simgate-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"agent/daemon/{CONFIG_NAME}", f"agent/daemon/{UNIT_NAME}"} <= names
    assert "License" not in done.stderr  # the SPDX licence string: no setuptools warning
