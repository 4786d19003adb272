"""The console over plain HTTP: credentials, the form token, bad input, SQL paging and
sorting against the API's own view of the same SIMs, escaping, the event stream."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import httpx

from tests.console.support import Emulator
from tests.emulator import live


def _token(emulator: Emulator) -> str:
    page = emulator.http.get("/console/clock").text
    match = re.search(r'name="token" value="([0-9a-f]+)"', page)
    assert match is not None
    return match.group(1)


def test_console_needs_the_api_credentials(emulator: Emulator) -> None:
    for path in ("/", "/console/sims", "/console/static/console.js", "/console/stream"):
        anonymous = httpx.get(emulator.base + path, timeout=10)
        assert anonymous.status_code == 401, path
        assert anonymous.headers["www-authenticate"].startswith("Basic")
        wrong = httpx.get(emulator.base + path, auth=("test-token", "nope"), timeout=10)
        assert wrong.status_code == 401, path
    page = emulator.http.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_forms_without_the_console_token_change_nothing(emulator: Emulator) -> None:
    emulator.reset()
    sim = emulator.sim("guarded")
    for token in ("", "0" * 32):
        answer = emulator.http.post(
            f"/console/sims/{sim['id']}/activate", data={"token": token, "confirm": "yes"}
        )
        assert answer.status_code == 403
        assert "token" in answer.text
    assert emulator.sim_info(sim["id"])["activated"] is False
    done = emulator.http.post(
        f"/console/sims/{sim['id']}/activate", data={"token": _token(emulator), "confirm": "yes"}
    )
    assert done.status_code == 303
    assert emulator.sim_info(sim["id"])["activated"] is True


def test_bad_input_gets_a_4xx_page_naming_the_field(emulator: Emulator) -> None:
    emulator.reset()
    sim = emulator.sim("strict")
    token = _token(emulator)
    cases = [
        (f"/console/sims/{sim['id']}/imei-lock", {"imei": "12ab"}, 400, "IMEI"),
        ("/console/clock/advance", {"seconds": "soon"}, 400, "seconds"),
        ("/console/clock/advance", {"seconds": "-5"}, 400, "seconds"),
        ("/console/clock/set", {"now": "yesterday"}, 400, "now"),
        ("/console/sims/999999999999/activate", {}, 404, "not found"),
        (f"/console/sims/{sim['id']}/explode", {}, 404, "explode"),
        ("/console/gateways/999999999999/power-on", {}, 404, "not found"),
    ]
    before = emulator.clock()
    for url, fields, status, word in cases:
        answer = emulator.http.post(url, data={"token": token, "confirm": "yes", **fields})
        assert answer.status_code == status, (url, answer.text)
        assert word in answer.text, url
    assert emulator.sim_info(sim["id"])["imei_lock"] is False
    assert emulator.clock()["now"] == before["now"]
    assert emulator.http.get("/console/invoices/2026-13").status_code == 400
    assert emulator.http.get("/console/static/../app.py").status_code == 404
    big = emulator.http.post("/console/clock/advance", content=b"x" * 20_000)
    assert big.status_code == 413


def test_sim_list_pages_sorts_and_searches_like_the_api(emulator: Emulator) -> None:
    emulator.reset()
    sims = [emulator.sim(f"node-{(i * 37) % 90:02d}", [f"row-{i % 4}"]) for i in range(90)]
    api = emulator.ok("GET", f"{emulator.api}/commonserviceitem")["CommonServiceItems"]
    by_iccid = sorted(item["Status"]["ICCID"] for item in api)

    def iccids(query: str) -> list[str]:
        text = emulator.http.get(f"/console/sims?{query}").text
        return re.findall(r'<tr data-iccid="(\d+)"', text)

    pages = [iccids(f"size=25&page={n}") for n in range(1, 5)]
    assert [len(p) for p in pages] == [25, 25, 25, 15]
    assert [i for p in pages for i in p] == by_iccid
    assert iccids("size=25&page=99") == by_iccid[75:]  # past the end: the last page
    assert iccids("order=desc&size=100") == by_iccid[::-1]
    names = {s["iccid"]: f"node-{(i * 37) % 90:02d}" for i, s in enumerate(sims)}
    by_name = sorted(names, key=lambda iccid: names[iccid])
    assert iccids("sort=name&size=100") == by_name
    assert iccids("sort=name&order=desc&size=100") == by_name[::-1]
    assert set(iccids("q=ROW-2&size=100")) == {s["iccid"] for i, s in enumerate(sims) if i % 4 == 2}
    assert iccids(f"q={sims[5]['iccid']}") == [sims[5]["iccid"]]
    assert iccids("q=%25") == []  # a LIKE wildcard is searched for, not obeyed
    assert iccids("sort=bogus&order=sideways&size=7&page=x&filter=nope") == by_iccid[:50]


def test_names_are_escaped(emulator: Emulator) -> None:
    emulator.reset()
    sim = emulator.sim('<script>alert("x")</script>', ["<b>tag</b>"])
    for path in ("/console/sims", f"/console/sims/{sim['id']}"):
        text = emulator.http.get(path).text
        assert "<script>alert" not in text
        assert "&lt;script&gt;alert" in text
        assert "<b>tag</b>" not in text


def test_event_stream_says_change_when_the_books_move(emulator: Emulator) -> None:
    emulator.reset()
    version = re.search(r'data-version="([0-9a-f]+)"', emulator.http.get("/").text)
    assert version is not None
    with emulator.http.stream("GET", f"/console/stream?since={version.group(1)}") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines).startswith("retry:")
        emulator.sim("newcomer")
        seen = []
        for line in lines:
            seen.append(line)
            if line.startswith("event:"):
                break
        assert "event: change" in seen, seen


def test_s0_clock_page_counts_months_in_jst(emulator: Emulator) -> None:
    """Service rules §0: 2026-03-31T20:00Z is already April in Japan."""
    emulator.reset("2026-03-31T20:00:00Z")
    text = emulator.http.get("/console/clock").text
    month = re.search(r'id="clock-month">([^<]+)<', text)
    boundary = re.search(r'id="clock-boundary">([^<]+)<', text)
    assert month is not None
    assert boundary is not None
    assert month.group(1) == "2026-04" == emulator.clock()["month"]
    assert boundary.group(1).startswith("2026-05-01 00:00 JST (2026-05-01T00:00:00+09:00)")
    assert "2026-04-01 05:00:00 JST" in text


def test_an_open_page_does_not_hold_the_server_at_stop(tmp_path: Path) -> None:
    proc, info = live.start(tmp_path / "emulator.db")
    ended = threading.Event()

    def watch() -> None:
        auth = (info["access_token"], info["access_token_secret"])
        try:
            with httpx.stream("GET", info["http"] + "/console/stream", auth=auth, timeout=30) as r:
                for _ in r.iter_lines():
                    pass
        except httpx.HTTPError:
            pass
        ended.set()

    viewer = threading.Thread(target=watch, name="sgco-stream-viewer")
    viewer.start()
    try:
        time.sleep(0.5)
        started = time.monotonic()
        assert live.stop(proc) == 0
        assert time.monotonic() - started < live_stream_bound()
    finally:
        live.stop(proc)
        viewer.join(timeout=30)
    assert ended.is_set()


def live_stream_bound() -> float:
    """A stream ends by itself after STREAM_SECONDS; allow the shutdown a few more."""
    from emulator.console.live import STREAM_SECONDS

    return STREAM_SECONDS + 4.0
