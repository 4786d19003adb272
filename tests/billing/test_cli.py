"""`simgate bill` through a real process (contracts §1): JSON, table, forecast, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.billing.builders import write_jsonl

ICCID = "8981100000000000001"
LOG: list[dict[str, Any]] = [
    {"at": "2026-03-10T10:00:00+09:00", "type": "sim_registered", "iccid": ICCID},
    {
        "at": "2026-03-11T01:00:00Z",
        "type": "traffic",
        "iccid": ICCID,
        "up": 1_500_000,
        "down": 2_000_000,
    },
    {"at": "2026-03-01T09:00:00+09:00", "type": "gateway_created", "gateway": "113000000001"},
    {"at": "2026-01-15T10:00:00+09:00", "type": "sim_registered", "iccid": "8981100000000000002"},
]


def bill(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run `simgate bill ARGS` in a new process."""
    return subprocess.run(
        [sys.executable, "-m", "simgate.cli", "bill", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """A small event log on disk."""
    return write_jsonl(tmp_path / "events.jsonl", LOG)


def test_cli_json_prints_exactly_one_invoice_document(log: Path) -> None:
    run = bill("--events", log, "--month", "2026-03", "--json")
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    document = json.loads(run.stdout)  # exactly one document: json.loads refuses trailing data
    assert list(document) == [
        "month",
        "currency",
        "lines",
        "subtotal",
        "tax",
        "total",
        "due_date",
        "contracts",
    ]
    assert (document["month"], document["currency"], document["due_date"]) == (
        "2026-03",
        "JPY",
        "2026-04-10",
    )
    assert document["lines"][0] == {
        "item": "data",
        "subject": ICCID,
        "quantity": 3_500_000,
        "unit_price": 5.5,
        "amount": 19,
        "clause": "001 §38.1",
        "reason": "3,500,000 bytes up + down measured by the network in 2026-03",
    }
    assert [line["item"] for line in document["lines"]] == ["data", "gateway", "sim_basic"]
    assert (document["subtotal"], document["tax"], document["total"]) == (3129, 312, 3441)
    assert document["contracts"][0]["service"] == "secure_mobile_connect"


def test_cli_table_shows_lines_totals_and_due_date(log: Path) -> None:
    run = bill("--events", log, "--month", "2026-03")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "Invoice 2026-03 (JPY), due 2026-04-10" in out
    assert "sim_basic" in out
    assert "communicated on 2026-03-11" in out
    for label, value in (("subtotal", "3,129"), ("tax 10 %", "312"), ("total", "3,441")):
        assert any(row.endswith(f"  {value}") and label in row for row in out.splitlines())
    assert "due date  2026-04-10" in out


def test_cli_tariff_option_changes_prices(log: Path, tmp_path: Path) -> None:
    default = (Path(__file__).parents[2] / "emulator/billing/default_tariff.toml").read_text()
    tariff = tmp_path / "t.toml"
    tariff.write_text(default.replace("gateway = 3000", "gateway = 1000"))
    run = bill("--events", log, "--month", "2026-03", "--tariff", tariff, "--json")
    assert json.loads(run.stdout)["subtotal"] == 1129


def test_cli_forecast_lists_line_maintenance_alerts(log: Path) -> None:
    run = bill("--events", log, "--from", "2026-10", "--to", "2026-11", "--json")
    assert run.returncode == 0, run.stderr
    document = json.loads(run.stdout)
    assert [inv["month"] for inv in document["invoices"]] == ["2026-10", "2026-11"]
    alerts = document["line_maintenance_alerts"]
    assert alerts["month"] == "2026-12"
    assert [sim["iccid"] for sim in alerts["sims"]] == ["8981100000000000002"]
    assert alerts["sims"][0]["due_date"] == "2027-01-10"
    table = bill("--events", log, "--from", "2026-10", "--to", "2026-11")
    assert "Line maintenance fees arising in 2026-12" in table.stdout
    assert "8981100000000000002" in table.stdout


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("{oops", "line 3: bad JSON"),
        ('{"at": "2026-03-11T01:00:00Z", "type": "warp"}', "line 3: unknown event type 'warp'"),
        (
            '{"at": "2026-03-11T01:00:00Z", "type": "sim_deleted"}',
            "line 3: sim_deleted: missing field 'iccid'",
        ),
        (
            '{"at": "2026-02-29T01:00:00Z", "type": "sim_deleted", "iccid": "1"}',
            "line 3: field 'at': impossible",
        ),
        (
            '{"at": "2026-03-11T01:00:00", "type": "sim_deleted", "iccid": "1"}',
            "line 3: field 'at': timestamp",
        ),
        (
            '{"at": "2026-03-11T01:00:00Z", "type": "traffic", "iccid": "1", "up": -5, "down": 0}',
            "line 3: traffic: field 'up' must not be negative",
        ),
    ],
)
def test_cli_bad_event_line_exits_2_naming_the_line(
    tmp_path: Path, bad_line: str, message: str
) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [LOG[0], LOG[1], bad_line, LOG[2]])
    for extra in ([], ["--json"]):
        run = bill("--events", path, "--month", "2026-03", *extra)
        assert run.returncode == 2
        assert message in run.stderr
        assert "no invoice printed" in run.stderr
        if extra:  # contracts §1: with --json, the failure as one object, no invoice
            failure = json.loads(run.stdout)
            assert failure["exit_code"] == 2
            assert message in failure["error"]
            assert set(failure) == {"error", "exit_code"}
        else:
            assert run.stdout == ""


def test_cli_tariff_missing_price_or_unknown_key_exits_2_naming_it(
    log: Path, tmp_path: Path
) -> None:
    default = (Path(__file__).parents[2] / "emulator/billing/default_tariff.toml").read_text()
    missing = tmp_path / "missing.toml"
    missing.write_text(default.replace("sms_a2p = 6", ""))
    run = bill("--events", log, "--month", "2026-03", "--tariff", missing, "--json")
    assert run.returncode == 2
    assert "prices.sms_a2p" in json.loads(run.stdout)["error"]
    assert "prices.sms_a2p" in run.stderr
    unknown = tmp_path / "unknown.toml"
    unknown.write_text(default + "\n[discounts]\nall = 1\n")
    run = bill("--events", log, "--month", "2026-03", "--tariff", unknown)
    assert (run.returncode, run.stdout) == (2, "")
    assert "discounts" in run.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--month", "2026-3"],
        [],
        ["--from", "2026-01"],
        ["--month", "2026-03", "--from", "2026-01", "--to", "2026-02"],
        ["--from", "2026-05", "--to", "2026-01"],
    ],
)
def test_cli_bad_usage_exits_2(log: Path, args: list[str]) -> None:
    run = bill("--events", log, *args)
    assert run.returncode == 2
    assert run.stdout == ""


def test_cli_missing_events_file_exits_2(tmp_path: Path) -> None:
    run = bill("--events", tmp_path / "absent.jsonl", "--month", "2026-03")
    assert run.returncode == 2
    assert "cannot read" in run.stderr


def test_cli_help_exits_0() -> None:
    run = bill("--help")
    assert run.returncode == 0
    assert "--events" in run.stdout
