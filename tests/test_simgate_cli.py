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
    if result["traffic"]["packets"] == "simulated":
        # the device reports the bytes its link carried, each once; the network counted at
        # least those (more only if a traffic report's answer was lost)
        assert result["traffic"]["fetched"] is None
        assert 0 < reports["bytes_up"] <= network["up"]
        assert 0 < reports["bytes_down"] <= network["down"]
    else:
        # root: real packets. The agent meters wwan0's frames, the gateway their IP bytes:
        # each frame adds a 14-byte Ethernet header to at least 40 bytes of IPv4 and TCP
        # (at most 35 % more), plus a few ARP frames.
        assert result["traffic"]["fetched"] > 0
        for way in ("up", "down"):
            assert 0 < network[way] <= reports[f"bytes_{way}"]
            assert reports[f"bytes_{way}"] <= network[way] * 54 // 40 + 1024

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


def test_version_is_simgate_and_the_distributions_version() -> None:
    from importlib.metadata import version

    for args in (["--version"], ["agent", "--version"], ["-v", "agent", "--version"]):
        done = simgate(*args)
        assert (done.returncode, done.stdout) == (0, f"simgate {version('simgate')}\n")


def test_a_mistyped_group_gets_a_suggestion_and_json_gets_an_error_object() -> None:
    done = simgate("--json", "agnet")
    assert done.returncode == 2
    assert "did you mean 'agent'?" in done.stderr
    assert json.loads(done.stdout) == {
        "error": "unknown command 'agnet'; did you mean 'agent'?",
        "exit_code": 2,
    }


def test_a_missing_extra_is_bad_usage_exit_2() -> None:
    # what an agent-only install (no `emulator` extra) looks like to `simgate emulator`/`demo`
    refused = []
    for group in ("emulator", "demo", "bill"):
        code = (
            "import sys\n"
            "for name in ('fastapi', 'uvicorn', 'amqtt', 'pydantic', 'starlette', 'httpx'):\n"
            "    sys.modules[name] = None\n"
            "import simgate.cli\n"
            f"sys.exit(simgate.cli.main([{group!r}, '--help']))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode == 0:
            continue  # this group's help needs none of them (bill is pure Python)
        assert done.returncode == 2, (group, done.stderr)
        assert "pip install 'simgate[emulator]'" in done.stderr
        assert "Traceback" not in done.stderr
        refused.append(group)
    assert "emulator" in refused


def test_completion_prints_and_installs_a_script_for_every_group(tmp_path: Path) -> None:
    done = simgate("completion", "bash")
    assert done.returncode == 0, done.stderr
    for word in ("agent", "stub", "bill", "forget-pin", "--allow-last-attempt"):
        assert word in done.stdout
    zsh = simgate("completion", "zsh")
    assert zsh.returncode == 0
    assert "#compdef simgate" in zsh.stdout
    home = tmp_path / "home"
    installed = simgate("completion", "bash", "--install", env={"HOME": str(home)})
    assert installed.returncode == 0, installed.stderr
    script = home / ".local" / "share" / "bash-completion" / "completions" / "simgate"
    assert script.read_text() == done.stdout
    assert str(script) in installed.stdout
    bad = simgate("completion", "fish")
    assert bad.returncode == 2


def test_stub_serve_json_says_its_link_pty_and_card_in_one_document(tmp_path: Path) -> None:
    link, card = tmp_path / "modem", tmp_path / "card.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "simgate.cli", "stub", "serve", "--link", str(link),
         "--card", str(card), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        document = json.loads(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(10)
    assert process.returncode == 0
    assert document["link"] == str(link)
    assert document["pty"].startswith("/dev/pts/")
    saved = json.loads(card.read_text())
    assert document["card"] == {"path": str(card), "iccid": saved["iccid"], "imsi": saved["imsi"]}
    assert document["dialect"] == "generic"
    assert saved["pin"] not in json.dumps(document)
    assert saved["puk"] not in json.dumps(document)

    card.write_text("{not json")
    bad = simgate("stub", "serve", "--link", str(link), "--card", str(card), "--json")
    assert bad.returncode == 2
    error = json.loads(bad.stdout)
    assert error["exit_code"] == 2
    assert str(card) in error["error"]
