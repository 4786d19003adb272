"""`simgate agent usage`: the contract's JSON, sources, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main
from tests.agent.conftest import Bench
from tests.agent.usage.test_meter import FakeSysfs

KEYS = {"bytes_up", "bytes_down", "source"}


def usage(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def sysfs(tmp_path: Path) -> FakeSysfs:
    return FakeSysfs(tmp_path)


def test_os_counters_are_metered_across_runs(
    bench: Bench, sysfs: FakeSysfs, capsys: pytest.CaptureFixture[str]
) -> None:
    root = ["--sysfs-root", str(sysfs.root)]
    sysfs.set("wwan0", tx=100, rx=2000)
    code, out, err = usage(capsys, "usage", *root, "--json")
    assert code == 0, err
    assert json.loads(out) == {"bytes_up": 100, "bytes_down": 2000, "source": "os:wwan0"}
    sysfs.set("wwan0", tx=40, rx=2500)  # the interface's counter reset
    code, out, _ = usage(capsys, "usage", *root, "--json")
    document = json.loads(out)
    assert set(document) == KEYS
    assert (document["bytes_up"], document["bytes_down"]) == (140, 2500)
    assert (bench.state_dir / "usage-counters.json").exists()
    sysfs.set("usb0", tx=7, rx=8)
    code, out, _ = usage(capsys, "usage", *root, "--iface", "usb0")
    assert "source: os:usb0" in out
    assert "sent: 7 bytes" in out


def test_auto_falls_back_to_the_os_when_the_modem_has_no_counters(
    bench: Bench, sysfs: FakeSysfs, capsys: pytest.CaptureFixture[str]
) -> None:
    sysfs.set("wwan0", tx=5, rx=6)
    root = ["--sysfs-root", str(sysfs.root)]
    with bench.stub() as stub:
        port = ["--port", stub.device_path]
        code, out, _ = usage(capsys, *port, "usage", *root, "--json")
        assert (code, json.loads(out)["source"]) == (0, "os:wwan0")
        code, out, err = usage(capsys, *port, "usage", "--source", "modem", "--json")
    assert code == 4
    assert json.loads(out) == {"error": err.strip().removeprefix("simgate agent: "), "exit_code": 4}
    assert "no data counter command for this modem (manufacturer 'simgate')" in err


def test_failures_and_their_exit_codes(
    bench: Bench, sysfs: FakeSysfs, capsys: pytest.CaptureFixture[str]
) -> None:
    root = ["--sysfs-root", str(sysfs.root)]
    code, _, err = usage(capsys, "usage", *root, "--iface", "wwan9")
    assert code == 5
    assert "no network interface 'wwan9'" in err
    assert usage(capsys, "usage", "--iface", "../x")[0] == 2
    assert usage(capsys, "usage", "--source", "modem")[0] == 2  # no --port
    sysfs.set("wwan0", tx=1, rx=1)
    bench.state_dir.mkdir(parents=True, exist_ok=True)
    (bench.state_dir / "usage-counters.json").write_text("{broken")
    code, _, err = usage(capsys, "usage", *root)
    assert code == 2
    assert "usage-counters.json is unreadable" in err
