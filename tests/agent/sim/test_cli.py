"""`simgate agent … sim` through the real console entry point, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.agent.conftest import ICCID, PIN, PUK, Bench, secret_file

CONTRACT_KEYS = {"state", "iccid", "imsi", "imei", "pin_retries", "puk_retries", "pin_enabled"}


def simgate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simgate.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_status_json_is_one_document_with_the_contract_keys(bench: Bench) -> None:
    with bench.stub() as stub:
        done = simgate("agent", "--port", stub.device_path, "sim", "status", "--json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status.keys() >= CONTRACT_KEYS
    assert status["state"] == "SIM PIN"
    assert status["iccid"] == ICCID


def test_status_for_a_person(bench: Bench) -> None:
    with bench.stub() as stub:
        done = simgate("agent", "--port", stub.device_path, "sim", "status")
    assert done.returncode == 0, done.stderr
    assert "state: SIM PIN" in done.stdout
    assert ICCID in done.stdout


def test_unlock_from_a_0600_file(bench: Bench) -> None:
    pin_file = secret_file(bench.tmp / "pin", PIN)
    with bench.stub() as stub:
        done = simgate(
            "agent",
            "--port",
            stub.device_path,
            "sim",
            "unlock",
            "--pin-file",
            str(pin_file),
            "--json",
        )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["state"] == "READY"


def test_safety_rule_2_secret_file_readable_by_others_is_refused(bench: Bench) -> None:
    pin_file = secret_file(bench.tmp / "pin", PIN, mode=0o644)
    with bench.stub() as stub:
        done = simgate(
            "agent", "--port", stub.device_path, "sim", "unlock", "--pin-file", str(pin_file)
        )
    assert done.returncode == 3
    assert "chmod 600" in done.stderr
    assert PIN not in done.stderr
    assert bench.card()["pin_retries"] == 3


def test_wrong_pin_from_the_environment_exits_4_and_logs_no_secret(bench: Bench) -> None:
    with bench.stub() as stub:
        done = simgate(
            "agent", "-vv", "--port", stub.device_path, "sim", "unlock", env={"SIMGATE_PIN": "8642"}
        )
    assert done.returncode == 4
    assert "2 PIN tries left" in done.stderr
    assert 'AT+CPIN="****"' in done.stderr  # -vv shows the AT traffic, masked
    assert "8642" not in done.stderr + done.stdout


def test_last_try_refusal_exits_3_and_names_the_override(bench: Bench) -> None:
    bench.write_card(pin_retries=1)
    with bench.stub() as stub:
        done = simgate(
            "agent", "--port", stub.device_path, "sim", "unlock", env={"SIMGATE_PIN": PIN}
        )
    assert done.returncode == 3
    assert "--allow-last-attempt" in done.stderr
    assert bench.card()["pin_retries"] == 1


def test_unblock_through_the_cli(bench: Bench) -> None:
    bench.write_card(pin_retries=0)
    puk = secret_file(bench.tmp / "puk", PUK)
    new_pin = secret_file(bench.tmp / "new-pin", "1122")
    with bench.stub() as stub:
        done = simgate(
            "agent",
            "--port",
            stub.device_path,
            "sim",
            "unblock",
            "--puk-file",
            str(puk),
            "--new-pin-file",
            str(new_pin),
            "--json",
        )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["state"] == "READY"


def test_pin_given_nowhere_is_bad_input(bench: Bench) -> None:
    with bench.stub() as stub:
        done = simgate(
            "agent", "--port", stub.device_path, "sim", "unlock", env={"SIMGATE_PIN": ""}
        )
    assert done.returncode == 2
    assert "no PIN given" in done.stderr


def test_unreachable_port_exits_5(tmp_path: Path) -> None:
    done = simgate("agent", "--port", str(tmp_path / "no-such-tty"), "sim", "status")
    assert done.returncode == 5
    assert "cannot open modem port" in done.stderr


def test_missing_port_and_bad_usage_exit_2() -> None:
    assert simgate("agent", "sim", "status").returncode == 2
    assert simgate("agent", "--port", "loop://", "sim", "frobnicate").returncode == 2


def test_forget_pin_allows_a_pin_the_memory_listed_and_sends_nothing(bench: Bench) -> None:
    with bench.stub() as stub:
        wrong = simgate(
            "agent", "--port", stub.device_path, "sim", "unlock", env={"SIMGATE_PIN": PIN + "9"}
        )
        assert wrong.returncode == 4
        refused = simgate(
            "agent", "--port", stub.device_path, "sim", "unlock", env={"SIMGATE_PIN": PIN + "9"}
        )
        assert refused.returncode == 3
        pin_file = secret_file(bench.tmp / "pin", PIN + "9")
        forgot = simgate(
            "agent", "--port", stub.device_path, "sim", "forget-pin", "--pin-file", str(pin_file)
        )
        assert forgot.returncode == 0, forgot.stderr
        assert bench.card()["pin_retries"] == 2
        again = simgate(
            "agent", "--port", stub.device_path, "sim", "unlock", env={"SIMGATE_PIN": PIN + "9"}
        )
    assert again.returncode == 4  # sent again, as the operator asked: the card says no
    assert bench.card()["pin_retries"] == 1
