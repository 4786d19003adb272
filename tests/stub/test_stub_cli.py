"""`simgate stub serve`: in a subprocess for the real thing, in-process for refusals."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import serial

from firmware_stubs.cli import main, state_dir
from simgate.cli import main as simgate_main

REPO = Path(__file__).resolve().parents[2]


def read_line(proc: subprocess.Popen[str], timeout: float = 10.0) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        pytest.fail(f"no line from the stub within {timeout} s")
    return proc.stdout.readline()


@contextmanager
def serving(args: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "simgate.cli", "stub", "serve", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def at(link: Path) -> bytes:
    with serial.Serial(str(link), timeout=0.05) as port:
        port.write(b"AT\r")
        deadline = time.monotonic() + 5
        data = b""
        while not data.endswith(b"OK\r\n") and time.monotonic() < deadline:
            data += port.read(max(1, port.in_waiting))
    return data


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_answers_at_and_removes_the_link_when_stopped(
    tmp_path: Path, sig: signal.Signals
) -> None:
    link = tmp_path / "modem"
    card = tmp_path / "card.json"
    with serving(["--link", str(link), "--card", str(card)]) as proc:
        line = read_line(proc)
        assert str(link) in line
        assert os.readlink(link) in line
        assert at(link) == b"AT\r\r\nOK\r\n"
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
    assert not link.is_symlink()
    assert json.loads(card.read_text())["pin_retries"] == 3


def test_serve_replaces_a_stale_symlink_and_uses_the_state_dir(tmp_path: Path) -> None:
    link = tmp_path / "modem"
    link.symlink_to("/dev/pts/does-not-exist")
    state = tmp_path / "state"
    env = {"SIMGATE_STATE_DIR": str(state)}
    with serving(["--link", str(link), "--dialect", "quectel"], env) as proc:
        read_line(proc)
        assert os.readlink(link).startswith("/dev/")
        with serial.Serial(str(link), timeout=0.05) as port:
            port.write(b"AT+CGMI\r")
            deadline = time.monotonic() + 5
            data = b""
            while not data.endswith(b"OK\r\n") and time.monotonic() < deadline:
                data += port.read(max(1, port.in_waiting))
        assert b"Quectel" in data
    assert (state / "stub-card.json").is_file()


def test_refuses_to_replace_a_regular_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = tmp_path / "modem"
    link.write_text("keep me")
    assert main(["serve", "--link", str(link), "--card", str(tmp_path / "c.json")]) == 2
    assert link.read_text() == "keep me"
    assert "not a symlink" in capsys.readouterr().err


def test_bad_card_file_exits_2_and_is_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card = tmp_path / "card.json"
    card.write_text('{"iccid": "8981"}')
    assert main(["serve", "--link", str(tmp_path / "m"), "--card", str(card)]) == 2
    assert "'iccid'" in capsys.readouterr().err
    assert card.read_text() == '{"iccid": "8981"}'
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["serve"],
        ["serve", "--link", "x", "--dialect", "nokia"],
        ["serve", "--link", "x", "--drop", "1.5"],
        ["serve", "--link", "x", "--drop", "0.6", "--garble", "0.6"],
        ["serve", "--link", "x", "--delay", "-1"],
        ["serve", "--link", "x", "--imei", "12345"],
        ["serve", "--link", "x", "--emulator", "ftp://localhost"],
        ["serve", "--link", "x", "--emulator", "http://u:p@localhost:99999"],
        ["serve", "--link", "x", "--emulator", "http://localhost", "--attach", "home"],
        ["serve", "--link", "x", "--traffic-rate", "-5"],
        ["serve", "--link", "x", "--traffic-rate", "1/2/3"],
        ["serve", "--link", "x", "--traffic-interval", "0"],
    ],
)
def test_bad_arguments_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err
    assert "u:p@" not in err  # credentials in an --emulator URL are never echoed


def test_help_through_the_simgate_dispatcher(capsys: pytest.CaptureFixture[str]) -> None:
    assert simgate_main(["stub", "serve", "--help"]) == 0
    assert "--busy-after-unlock" in capsys.readouterr().out


def test_state_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMGATE_STATE_DIR", "/tmp/a")
    assert state_dir() == Path("/tmp/a")
    monkeypatch.delenv("SIMGATE_STATE_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", "/tmp/xdg")
    assert state_dir() == Path("/tmp/xdg/simgate")
    monkeypatch.delenv("XDG_STATE_HOME")
    assert state_dir() == Path.home() / ".local" / "state" / "simgate"
