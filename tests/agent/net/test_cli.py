"""`simgate agent … net|internet`: the contract's JSON and exit codes."""

from __future__ import annotations

import json

import pytest

from agent.cli import main
from firmware_stubs import AttachOutcome
from tests.agent.net.conftest import StubFactory
from tests.agent.sim.test_cli import simgate

NET_KEYS = {"registration", "rat", "operator", "rssi_dbm"}
INTERNET_KEYS = {"active", "cid", "apn", "ip", "interface", "address", "gateway", "dns",
                 "reachable"}  # fmt: skip
NO_HOST: dict[str, object] = {
    "interface": None,
    "address": None,
    "gateway": None,
    "dns": [],
    "reachable": False,
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_net_status_json_through_the_console_script(make_stub: StubFactory) -> None:
    with make_stub() as stub:
        done = simgate("agent", "--port", stub.device_path, "net", "status", "--json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert set(status) == NET_KEYS
    assert status == {"registration": "home", "rat": "lte", "operator": "NTT DOCOMO",
                      "rssi_dbm": -73}  # fmt: skip


def test_internet_on_status_off(make_stub: StubFactory, capsys: pytest.CaptureFixture[str]) -> None:
    with make_stub() as stub:
        port = ["--port", stub.device_path]
        code, out, err = run(capsys, *port, "internet", "on", "--apn", "iot.example", "--json")
        assert code == 0, err
        doc = json.loads(out)
        assert {k: doc[k] for k in INTERNET_KEYS} == {
            "active": True, "cid": 1, "apn": "iot.example", "ip": "10.64.0.2", **NO_HOST
        }  # fmt: skip
        assert doc["problems"] == [
            "the host interface was not configured: no interface 'wwan0': the modem's "
            "network device is not up"
        ]
        assert "warning: the host interface was not configured" in err
        code, out, _ = run(capsys, *port, "internet", "status", "--json")
        assert set(json.loads(out)) == INTERNET_KEYS
        assert json.loads(out)["active"] is True
        code, out, _ = run(capsys, *port, "internet", "status")
        assert "address: 10.64.0.2" in out
        code, out, _ = run(capsys, *port, "internet", "off", "--json")
        assert (code, json.loads(out)["active"], json.loads(out)["ip"]) == (0, False, None)
        code, out, _ = run(capsys, *port, "net", "status")
        assert "registration: home" in out
        assert "operator: NTT DOCOMO" in out


@pytest.mark.parametrize(
    ("argv", "setup", "code", "message"),
    [
        (["internet", "on", "--apn", 'a"b'], {}, 2, "not a valid APN"),
        (["internet", "on"], {}, 2, ""),
        (["internet", "on", "--apn", "x", "--cid", "0"], {}, 2, ""),
        (["internet", "on", "--apn", "iot"], {"pin_enabled": True}, 4, "SIM is not ready"),
        (
            ["internet", "on", "--apn", "iot", "--register-timeout", "0.2"],
            {"outcome": AttachOutcome.DENIED},
            4,
            "registration: denied",
        ),
    ],
)
def test_internet_on_refusals(
    make_stub: StubFactory,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    setup: dict[str, object],
    code: int,
    message: str,
) -> None:
    with make_stub(**setup) as stub:
        got, out, err = run(capsys, "--port", stub.device_path, *argv)
    assert got == code
    assert out == ""
    assert message in err


def test_port_missing_and_port_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "net", "status")
    assert code == 2
    assert "--port URL is required for `net` commands" in err
    code, _, err = run(capsys, "--port", "/dev/no-such-modem", "internet", "status")
    assert code == 5
    assert "no-such-modem" in err


def test_netlink_stays_out_of_the_import_path_until_a_link_is_touched() -> None:
    import subprocess
    import sys

    code = (
        "import sys, agent.cli, agent.cli.network, agent.daemon.supervisor, agent.net.datapath\n"
        "print('pyroute2' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
