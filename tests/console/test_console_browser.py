"""The web console in a real browser: every page, every action (through its confirmation
when it costs money or locks a SIM), live updates, downloads; results checked through
the API. Screenshots land in artifacts/console/<test>/."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

from selenium.webdriver.support.select import Select

from tests.console.conftest import Ui
from tests.console.support import IMEI, Emulator


def _rows(ui: Ui, table: str = "sim-table") -> list[Any]:
    return ui.all(f"#{table} tbody tr[data-iccid]")


def test_every_page_loads_and_agrees_with_the_api(ui: Ui, emulator: Emulator) -> None:
    emulator.reset()
    sims = [
        emulator.sim(f"unit-{i:03d}", ["fleet", "rack-a" if i % 3 else "rack-b"]) for i in range(60)
    ]
    for sim in sims[:3]:
        emulator.activate(sim["id"])
    gw = emulator.gateway("edge-gw", sims[:3])
    emulator.traffic(sims[0], 1_500_000, 3_500_000)
    emulator.state_report(sims[1]["iccid"], 1, "SIM PUK", 0, 9)
    emulator.usage_report(sims[0]["iccid"], 1, 1000, 2000)
    ui.wait(lambda: emulator.ok("GET", f"/_emulator/sims/{sims[0]['iccid']}/reports"))

    ui.open("/")
    assert ui.text("count-sims") == "60"
    assert ui.text("count-sim-locked") == "1"
    ui.shot("overview")

    ui.open("/console/sims?size=25")
    assert "60 SIM(s)" in ui.text("sim-count")
    assert ui.text("page-of") == "page 1 of 3"
    assert len(_rows(ui)) == 25
    ui.shot("sims")
    ui.click("page-last")
    assert ui.text("page-of") == "page 3 of 3"
    assert len(_rows(ui)) == 10

    ui.open("/console/sims")
    ui.el("search-q").send_keys("rack-b")
    ui.click("search-go")
    expected = {s["iccid"] for i, s in enumerate(sims) if i % 3 == 0}
    assert {r.get_attribute("data-iccid") for r in _rows(ui)} == expected
    ui.shot("sims-search-tag")

    ui.open(f"/console/sims?q={sims[42]['iccid'][-9:]}")
    assert [r.get_attribute("data-iccid") for r in _rows(ui)] == [sims[42]["iccid"]]
    ui.open("/console/sims?q=UNIT-007")
    assert [r.get_attribute("data-iccid") for r in _rows(ui)] == [sims[7]["iccid"]]

    ui.open("/console/sims")
    ui.click("sort-name")
    ui.click("sort-name")
    first = _rows(ui)[0]
    assert first.get_attribute("data-iccid") == sims[59]["iccid"]
    ui.click("sort-traffic")
    ui.click("sort-traffic")
    assert _rows(ui)[0].get_attribute("data-iccid") == sims[0]["iccid"]

    ui.open("/console/sims?filter=sim_locked")
    rows = _rows(ui)
    assert [r.get_attribute("data-iccid") for r in rows] == [sims[1]["iccid"]]
    assert "SIM PUK" in rows[0].text
    ui.shot("sims-locked")

    ui.open(f"/console/sims/{sims[0]['id']}")
    assert ui.text("sim-iccid") == sims[0]["iccid"]
    assert "active" in ui.text("sim-state")
    assert ui.text("device-reports") == "1"
    api = emulator.sim_info(sims[0]["id"])
    month_bars = ui.all("#sim-months g.bar")
    assert int(month_bars[-1].get_attribute("data-bytes")) == int(
        api["traffic_bytes_of_current_month"]["uplink_bytes"]
    ) + int(api["traffic_bytes_of_current_month"]["downlink_bytes"])
    day_bars = ui.all("#sim-days g.bar")
    assert day_bars[-1].get_attribute("data-label") == "2026-03-10"
    assert int(day_bars[-1].get_attribute("data-bytes")) == 5_000_000
    ui.shot("sim")

    ui.open("/console/gateways")
    row = ui.all(f"#gateway-table tr[data-gateway='{gw}']")[0]
    assert "edge-gw" in row.text
    assert "on" in row.text
    ui.shot("gateways")
    ui.open(f"/console/gateways/{gw}")
    assert {r.get_attribute("data-iccid") for r in _rows(ui)} == {s["iccid"] for s in sims[:3]}
    assert int(ui.all("#gateway-months g.bar")[-1].get_attribute("data-bytes")) == 5_000_000
    ui.shot("gateway")

    ui.open("/console/clock")
    clock = emulator.clock()
    assert ui.text("clock-month") == clock["month"] == "2026-03"
    assert ui.text("clock-boundary").startswith("2026-04-01 00:00 JST")
    ui.shot("clock")

    ui.open("/console/invoices")
    invoice = emulator.ok("GET", "/_emulator/invoices/2026-03")
    lines = ui.all("#invoice-lines tbody tr[data-item]")
    assert [r.get_attribute("data-item") for r in lines] == [x["item"] for x in invoice["lines"]]
    assert ui.text("invoice-total") == f"¥{invoice['total']:,}"
    assert all(x["clause"] in r.text for r, x in zip(lines, invoice["lines"], strict=True))
    ui.shot("invoice")

    ui.open("/console/alerts")
    assert ui.text("alert-count") == "0 fee(s) ahead."  # 2026-03 to 2026-05 by default
    Select(ui.el("horizon")).select_by_value("13")
    ui.click("horizon-go")
    # Registered in 2026-03: silent SIMs owe the line maintenance fee in 2027-02 (the 12th
    # month), the one that communicated in March owes it in 2027-03 (001 §37).
    assert ui.text("alert-count") == "60 fee(s) ahead."
    feb = {r.get_attribute("data-iccid") for r in ui.all("#alert-table tr[data-month='2027-02']")}
    api_feb = emulator.ok("GET", "/_emulator/invoices/2027-02")["lines"]
    assert feb == {x["subject"] for x in api_feb if x["item"] == "line_maintenance"}
    assert len(feb) == 59
    ui.shot("alerts")


def test_sim_actions_ask_first_and_act_through_the_models(ui: Ui, emulator: Emulator) -> None:
    emulator.reset()
    sim = emulator.sim("actor")
    page = f"/console/sims/{sim['id']}"
    ui.open(page)

    ui.click("act-activate")
    ui.shot("confirm-activate")
    assert not emulator.sim_info(sim["id"])["activated"]
    ui.click("cancel")
    assert not emulator.sim_info(sim["id"])["activated"], "cancel must change nothing"

    ui.click("act-activate")
    assert "Activate SIM actor" in ui.confirm()
    assert ui.text("notice") == "The SIM is activated."
    assert emulator.sim_info(sim["id"])["activated"]

    ui.click("act-deactivate")
    assert "Deactivate SIM actor" in ui.confirm()
    assert not emulator.sim_info(sim["id"])["activated"]

    ui.el("imei").clear()
    ui.el("imei").send_keys(IMEI)
    ui.click("act-imei-lock")
    assert ui.text("confirm-question").endswith(f"to IMEI {IMEI}?")
    assert "device lock option costs" in ui.text("confirm-box")
    ui.shot("confirm-imei-lock")
    ui.confirm()
    assert emulator.sim_info(sim["id"])["imei_lock"] is True
    assert ui.text("sim-imei-lock") == IMEI
    ui.shot("sim-imei-locked")

    ui.click("act-imei-unlock")  # frees the SIM and costs nothing: no question
    assert ui.text("notice") == "The IMEI lock is removed."
    assert emulator.sim_info(sim["id"])["imei_lock"] is False

    ui.el("imei").clear()
    ui.el("imei").send_keys("12345")
    ui.driver.execute_script("document.getElementById('imei').removeAttribute('pattern')")
    ui.expect_error(
        "/imei-lock - Failed to load resource: the server responded with a status of 400"
    )
    ui.click("act-imei-lock")
    assert "IMEI" in ui.text("error")
    assert emulator.sim_info(sim["id"])["imei_lock"] is False


def test_gateway_actions_ask_first_and_act_through_the_models(ui: Ui, emulator: Emulator) -> None:
    emulator.reset()
    sims = [emulator.sim(f"gw-sim-{i}") for i in range(2)]
    gw = emulator.gateway("site-gw", sims, power=False)
    ui.open(f"/console/gateways/{gw}")

    ui.click("act-power-on")
    assert "Power on gateway site-gw" in ui.text("confirm-question")
    assert "2 SIM(s)" in ui.text("confirm-box")
    ui.shot("confirm-power-on")
    assert emulator.gateway_info(gw)["Instance"]["Status"] == "down"
    ui.confirm()
    assert emulator.gateway_info(gw)["Instance"]["Status"] == "up"

    ui.click("act-internet-on")
    ui.confirm()
    settings = emulator.gateway_info(gw)["Settings"]["MobileGateway"]
    assert settings["InternetConnection"]["Enabled"] == "True"
    assert ui.text("gw-internet") == "on"

    ui.click("act-internet-off")  # takes nothing that costs: no question
    assert ui.text("notice") == "The gateway's internet setting is off."
    settings = emulator.gateway_info(gw)["Settings"]["MobileGateway"]
    assert settings["InternetConnection"]["Enabled"] == "False"

    ui.click("act-power-off")
    assert "sessions of its 2 SIM(s) end now" in ui.text("confirm-box")
    ui.confirm()
    assert emulator.gateway_info(gw)["Instance"]["Status"] == "down"
    ui.shot("gateway-after")


def test_clock_moves_only_after_confirmation(ui: Ui, emulator: Emulator) -> None:
    emulator.reset("2026-03-10T09:00:00+09:00")
    ui.open("/console/clock")

    ui.click("act-advance-day")
    ui.shot("confirm-advance")
    assert emulator.clock()["now_jst"].startswith("2026-03-10T09:00")
    ui.confirm()
    assert emulator.clock()["now_jst"].startswith("2026-03-11T09:00")

    ui.click("act-advance-month")
    assert "month boundary" in ui.text("confirm-box")
    assert "2026-04" in ui.text("confirm-box")
    ui.confirm()
    clock = emulator.clock()
    assert clock["month"] == "2026-04"
    assert clock["now_jst"].startswith("2026-04-01T00:00:00")
    assert ui.text("clock-month") == "2026-04"

    ui.el("advance-seconds").send_keys("3600")
    ui.click("act-advance-seconds")
    ui.confirm()
    assert emulator.clock()["now_jst"].startswith("2026-04-01T01:00:00")

    ui.driver.execute_script("document.getElementById('set-now').value = '2026-05-02T10:30:00'")
    ui.click("act-set")
    assert "2026-05-02 10:30 JST" in ui.text("confirm-question")
    ui.confirm()
    clock = emulator.clock()
    assert clock["now_jst"].startswith("2026-05-02T10:30:00+09:00")
    assert clock["frozen"] is True
    ui.shot("clock-after")


def test_invoice_downloads_match_the_api(ui: Ui, emulator: Emulator, tmp_path: Path) -> None:
    emulator.reset()
    sims = [emulator.sim(f"bill-{i}") for i in range(2)]
    for sim in sims:
        emulator.activate(sim["id"])
    emulator.gateway("bill-gw", sims)
    emulator.traffic(sims[0], 2_000_000, 8_000_000)
    emulator.ok("POST", "/_emulator/clock/advance", {"seconds": 30 * 86400})
    api = emulator.ok("GET", "/_emulator/invoices/2026-03")

    ui.driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)}
    )
    ui.open("/console/invoices/2026-03")
    ui.shot("invoice")
    ui.el("download-json").click()
    ui.el("download-csv").click()
    json_file = ui.wait(lambda: _downloaded(tmp_path / "invoice-2026-03.json"))
    csv_file = ui.wait(lambda: _downloaded(tmp_path / "invoice-2026-03.csv"))
    assert json.loads(json_file.read_text(encoding="utf-8")) == api
    csv_text = csv_file.read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    lines = [r for r in rows if r["item"] not in ("subtotal", "tax", "total")]
    assert [(r["item"], r["subject"], int(r["amount"]), r["clause"]) for r in lines] == [
        (x["item"], x["subject"], x["amount"], x["clause"]) for x in api["lines"]
    ]
    assert int(next(r for r in rows if r["item"] == "total")["amount"]) == api["total"]
    assert {x["item"] for x in api["lines"]} >= {"sim_basic", "gateway", "data"}

    ui.driver.execute_script(
        "const s = document.getElementById('month-select'); s.value = '2026-04';"
        "s.dispatchEvent(new Event('change'));"
    )
    ui.wait(lambda: ui.driver.current_url.endswith("/console/invoices/2026-04"))


def _downloaded(path: Path) -> Path | None:
    """The file once the browser has finished writing it."""
    partial = path.with_name(path.name + ".crdownload")
    if path.exists() and path.stat().st_size > 0 and not partial.exists():
        return path
    return None


def test_001_s37_alerts_show_the_month_the_line_fee_arises(ui: Ui, emulator: Emulator) -> None:
    emulator.reset("2026-01-15T10:00:00+09:00")
    silent = emulator.sim("never-used")
    used = emulator.sim("used-once")
    emulator.activate(used["id"])
    emulator.gateway("alert-gw", [used])
    emulator.ok("PUT", "/_emulator/clock", {"now": "2026-02-03T10:00:00+09:00", "frozen": True})
    emulator.traffic(used, 100, 100)
    emulator.ok("PUT", "/_emulator/clock", {"now": "2026-11-20T10:00:00+09:00", "frozen": True})

    ui.open("/console/alerts")
    soon = [r.get_attribute("data-month") for r in ui.all("#alert-table tbody tr[data-iccid]")]
    assert soon == ["2026-12"]  # the next three months: 2026-11 to 2027-01
    ui.open("/console/alerts?months=6")
    ui.shot("alerts")
    rows = {
        (r.get_attribute("data-iccid"), r.get_attribute("data-month"))
        for r in ui.all("#alert-table tbody tr[data-iccid]")
    }
    # worked example 2: registered 2026-01, never used -> 2026-12; example 3: last used
    # 2026-02 -> 2027-02. Both also priced by the API's invoices of those months.
    assert rows == {(silent["iccid"], "2026-12"), (used["iccid"], "2027-02")}
    for iccid, month in rows:
        invoice = emulator.ok("GET", f"/_emulator/invoices/{month}")
        charged = {x["subject"] for x in invoice["lines"] if x["item"] == "line_maintenance"}
        assert iccid in charged
    assert "2027-01-10" in ui.text("alert-table")  # due the 10th of the month after


def test_pages_update_live_as_reports_arrive(ui: Ui, emulator: Emulator) -> None:
    emulator.reset()
    sim = emulator.sim("live-one")
    emulator.activate(sim["id"])
    emulator.gateway("live-gw", [sim])
    ui.open(f"/console/sims/{sim['id']}")
    ui.wait(lambda: "on" in ui.el("live").get_attribute("class"))
    ui.driver.execute_script("window.sgcoSamePage = true")
    assert "no report" in ui.text("device-sim-state")

    emulator.state_report(sim["iccid"], 1, "SIM PIN", 2, 10)
    ui.wait(lambda: "SIM PIN" in ui.text("device-sim-state"))
    emulator.usage_report(sim["iccid"], 1, 10, 20)
    ui.wait(lambda: ui.text("device-reports") == "1")
    emulator.traffic(sim, 700_000, 300_000)
    ui.wait(lambda: ui.all("#sim-days g.bar")[-1].get_attribute("data-bytes") == "1000000")
    assert ui.driver.execute_script("return window.sgcoSamePage === true"), "the page reloaded"
    ui.shot("sim-live")

    ui.open("/console/sims")
    ui.driver.execute_script("window.sgcoSamePage = true")
    ui.wait(lambda: "on" in ui.el("live").get_attribute("class"))
    started = time.monotonic()
    emulator.sim("arrived-later")
    ui.wait(lambda: "2 SIM(s)" in ui.text("sim-count"))
    assert time.monotonic() - started < 10
    assert ui.driver.execute_script("return window.sgcoSamePage === true"), "the page reloaded"
