"""`simgate agent`'s command line as contracts §1 has it: options, JSON, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from agent.cli import main
from tests.agent.cli.fake_modem import TableModem
from tests.agent.conftest import ICCID, PIN, Bench, secret_file

REPO = Path(__file__).resolve().parents[3]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def simgate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "SIMGATE_PORT"}
    return subprocess.run(
        [sys.executable, "-m", "simgate.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, "PYTHONPATH": str(REPO), **(env or {})},
        check=False,
    )


@pytest.fixture
def no_port_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIMGATE_PORT", raising=False)


@pytest.mark.parametrize(
    "argv",
    [
        ["--version"],
        ["agent", "--version"],
        ["agent", "sim", "status", "--version"],
        ["bill", "--version"],
        ["stub", "serve", "--version"],
    ],
)
def test_version_at_every_level(argv: list[str]) -> None:
    done = simgate(*argv)
    assert (done.returncode, done.stdout) == (0, f"simgate {version('simgate')}\n")


@pytest.mark.usefixtures("no_port_env")
def test_global_options_before_or_after_the_command_mean_the_same(
    bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    with bench.stub() as stub:
        port = stub.device_path
        shapes = [
            ["--json", "--port", port, "sim", "status"],
            ["sim", "status", "--json", "--port", port],
            [*["--port", port, "sim", "--json", "status"][:3], "status", "--json"],
            ["sim", "status", f"--port={port}", "--json"],
        ]
        answers = [run(capsys, *argv) for argv in shapes]
    for code, out, err in answers:
        assert code == 0, err
        assert json.loads(out)["iccid"] == ICCID


@pytest.mark.usefixtures("no_port_env")
def test_verbose_before_the_group_and_after_the_command(bench: Bench) -> None:
    with bench.stub() as stub:
        before = simgate("-vv", "agent", "--port", stub.device_path, "sim", "status")
        after = simgate("agent", "-v", "sim", "status", "--port", stub.device_path, "-v")
        quiet = simgate("agent", "sim", "status", "--port", stub.device_path)
    assert before.returncode == after.returncode == quiet.returncode == 0
    assert " DEBUG " in before.stderr
    assert " DEBUG " in after.stderr  # -v before the command and -v after it add up
    assert quiet.stderr == ""


def test_simgate_port_and_the_config_find_the_modem(
    bench: Bench,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with bench.stub() as stub:
        monkeypatch.setenv("SIMGATE_PORT", stub.device_path)
        code, out, err = run(capsys, "sim", "status", "--json")
        assert (code, json.loads(out)["iccid"]) == (0, ICCID), err

        monkeypatch.delenv("SIMGATE_PORT")
        state = tmp_path / "config-state"
        config = tmp_path / "agent.toml"
        config.write_text(
            f'[modem]\nport = "{stub.device_path}"\n[mqtt]\nhost = "localhost"\n'
            "[internet]\nenabled = false\n"
            f'[state]\ndir = "{state}"\n'
        )
        pin_file = secret_file(tmp_path / "wrong-pin", "9999")
        code, out, err = run(
            capsys, "--config", str(config), "sim", "unlock", "--pin-file", str(pin_file)
        )
        assert code == 4, err  # the card said no: the try is remembered in the config's state
        assert (state / "failed_pins.json").exists() or any(state.iterdir())
        code, out, err = run(capsys, "sim", "status", "--config", str(config), "--json")
        assert (code, json.loads(out)["pin_retries"]) == (0, 2), err
    assert PIN not in out + err


@pytest.mark.usefixtures("no_port_env")
def test_no_port_anywhere_is_bad_usage_naming_the_ways(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "sim", "status", "--json")
    assert code == 2
    assert "SIMGATE_PORT" in err
    assert "--config" in err
    assert json.loads(out)["exit_code"] == 2


def test_a_failure_with_json_is_one_error_object_on_stdout(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    gone = str(tmp_path / "no-such-tty")
    code, out, err = run(capsys, "--json", "--port", gone, "net", "status")
    assert code == 5
    document = json.loads(out)
    assert document == {"error": err.strip().removeprefix("simgate agent: "), "exit_code": 5}
    assert gone in document["error"]
    # bad usage, found by the parser, answers the same way
    code, out, err = run(capsys, "sim", "unlok", "--json")
    assert code == 2
    assert json.loads(out)["exit_code"] == 2
    assert "did you mean 'unlock'?" in err


def test_a_mistyped_command_gets_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "interent", "status")
    assert code == 2
    assert "did you mean 'internet'?" in err
    code, _, err = run(capsys, "xyzzy")
    assert code == 2
    assert "did you mean" not in err


def test_an_unknown_url_scheme_is_bad_usage_not_unreachable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "--port", "telnet://modem:23", "sim", "status")
    assert code == 2
    assert "unknown URL scheme 'telnet'" in err


@pytest.fixture
def nonsense_modem() -> Iterator[TableModem]:
    modem = TableModem({"AT+CPIN?": "+CPIN: BANANA\r\n\r\nOK"})
    try:
        yield modem
    finally:
        modem.close()


def test_a_leftover_parse_error_is_exit_4_with_the_modems_words(
    nonsense_modem: TableModem, tmp_path: Path
) -> None:
    done = simgate(
        "agent", "--port", nonsense_modem.path, "sim", "status", "--json",
        env={"SIMGATE_STATE_DIR": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 4, done.stderr
    assert "Traceback" not in done.stderr
    assert "+CPIN: BANANA" in done.stderr
    assert json.loads(done.stdout)["exit_code"] == 4


def test_the_repeated_pin_refusal_names_its_override(
    bench: Bench, capsys: pytest.CaptureFixture[str], no_port_env: None
) -> None:
    wrong = secret_file(bench.tmp / "wrong", "1111")
    with bench.stub() as stub:
        port = ["--port", stub.device_path]
        first = run(capsys, *port, "sim", "unlock", "--pin-file", str(wrong))
        again = run(capsys, *port, "sim", "unlock", "--pin-file", str(wrong), "--json")
    assert first[0] == 4
    code, out, err = again
    assert code == 3
    assert "sim forget-pin" in err
    assert "sim forget-pin" in json.loads(out)["error"]
    assert "1111" not in out + err


def test_help_is_exit_0_and_lists_the_groups(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for group in ("sim", "net", "internet", "usage", "discover", "run", "init"):
        assert group in out


def test_version_in_process_too(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert (code, out) == (0, f"simgate {version('simgate')}\n")
