"""Emulator API throughput against bare SQLite writes on the same machine, same run.

Measures, through HTTP on 127.0.0.1 against `simgate emulator serve` (a subprocess):
- SIM creations per second (`POST /commonserviceitem`, cards manufactured beforehand);
- attach decisions per second (`POST /_emulator/network/attach`);
and, as the baseline, the same number of bare SQLite inserts (206-byte rows, WAL,
`synchronous=FULL`, one row per transaction). Every API write is one such transaction
plus HTTP, JSON and the rules, so the ratio says what the layers above SQLite cost.

Usage: python benchmarks/emulator_api.py [-n 500] [--clients 1]
Progress goes to stderr; the table to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

TOKEN, SECRET = "bench-token", "bench-secret"
IMEI = "353456789012345"


def progress(message: str) -> None:
    """One line of progress on stderr."""
    print(message, file=sys.stderr, flush=True)


def sqlite_baseline(path: Path, n: int) -> float:
    """Rows per second: one 206-byte row per transaction, WAL, synchronous=FULL."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
    payload = "x" * 206
    started = time.perf_counter()
    for _ in range(n):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t (payload) VALUES (?)", (payload,))
        db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return n / elapsed


def start_server(db: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """`simgate emulator serve` on free ports."""
    env = dict(os.environ, SIMGATE_ACCESS_TOKEN=TOKEN, SIMGATE_ACCESS_TOKEN_SECRET=SECRET)
    cmd = [sys.executable, "-m", "simgate.cli", "emulator", "serve", "--db", str(db)]
    cmd += ["--http", "127.0.0.1:0", "--mqtt", "embedded:0", "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    info: dict[str, Any] = json.loads(proc.stdout.readline())
    return proc, info


def timed(n: int, clients: int, one: Callable[[int], None]) -> float:
    """Calls per second of `one(i)` for i in range(n), on `clients` threads."""
    started = time.perf_counter()
    if clients == 1:
        for i in range(n):
            one(i)
    else:
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(one, range(n)))
    return n / (time.perf_counter() - started)


def run(n: int, clients: int) -> dict[str, float]:
    """Run the three measurements; returns operations per second."""
    with tempfile.TemporaryDirectory() as tmp:
        progress(f"baseline: {n} bare SQLite writes (WAL, synchronous=FULL)")
        baseline = sqlite_baseline(Path(tmp) / "bare.db", n)
        proc, info = start_server(Path(tmp) / "emulator.db")
        try:
            api = info["api_root"] + "/is1a/api/cloud/1.1"
            # TCP_NODELAY: httpx writes a POST's headers and body separately, and Nagle's
            # algorithm with delayed ACKs would add ~40 ms to every request.
            nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
            transport = httpx.HTTPTransport(
                socket_options=nodelay, limits=httpx.Limits(max_connections=clients + 2)
            )
            with httpx.Client(timeout=30, transport=transport, auth=(TOKEN, SECRET)) as http:
                progress(f"manufacturing {n} cards")
                cards = [
                    http.post(info["http"] + "/_emulator/sims", json={}).json() for _ in range(n)
                ]

                def create(i: int) -> None:
                    body = {
                        "CommonServiceItem": {
                            "Name": f"bench{i}",
                            "Status": {"ICCID": cards[i]["iccid"]},
                            "Remark": {"PassCode": cards[i]["passcode"]},
                            "Provider": {"Class": "sim"},
                        }
                    }
                    r = http.post(api + "/commonserviceitem", json=body, auth=(TOKEN, SECRET))
                    assert r.status_code == 201, r.text

                progress(f"creating {n} SIMs through HTTP ({clients} client(s))")
                creations = timed(n, clients, create)
                progress("setting up a gateway on a switch for the attaches")
                auth = (TOKEN, SECRET)
                sims = http.get(api + "/commonserviceitem", auth=auth).json()["CommonServiceItems"]
                gw_body = {"Appliance": {"Class": "mobilegateway", "Name": "bench"}}
                gw = http.post(api + "/appliance", json=gw_body, auth=auth).json()["Appliance"][
                    "ID"
                ]
                sw = http.post(
                    api + "/switch", json={"Switch": {"Name": "bench"}}, auth=auth
                ).json()["Switch"]["ID"]
                http.put(f"{api}/appliance/{gw}/interface/1/to/switch/{sw}", auth=auth)
                for sim in sims[:50]:
                    http.put(f"{api}/commonserviceitem/{sim['ID']}/sim/activate", auth=auth)
                    http.post(
                        f"{api}/appliance/{gw}/mobilegateway/sims",
                        json={"sim": {"resource_id": sim["ID"]}},
                        auth=auth,
                    )
                http.put(f"{api}/appliance/{gw}/power", auth=auth)
                attach_cards = [
                    c for c in cards if c["iccid"] in {s["Status"]["ICCID"] for s in sims[:50]}
                ]

                def attach(i: int) -> None:
                    card = attach_cards[i % len(attach_cards)]
                    body = {"iccid": card["iccid"], "imsi": card["imsi"], "imei": IMEI}
                    r = http.post(info["http"] + "/_emulator/network/attach", json=body)
                    assert r.json()["accepted"], r.text

                progress(f"{n} attach decisions through HTTP ({clients} client(s))")
                attaches = timed(n, clients, attach)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
            if proc.stdout is not None:
                proc.stdout.close()
    return {"sqlite": baseline, "create": creations, "attach": attaches}


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, measure, print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "-n", type=int, default=500, help="operations per measurement (default 500)"
    )
    parser.add_argument(
        "--clients", type=int, default=1, help="concurrent HTTP clients (default 1)"
    )
    args = parser.parse_args(argv)
    result = run(args.n, args.clients)
    base = result["sqlite"]
    print(f"{'measurement':<44} {'ops/s':>10} {'vs bare SQLite':>15}")
    rows = [
        ("bare SQLite insert, 1 row/tx, FULL", "sqlite"),
        (f"SIM creation via HTTP ({args.clients} client)", "create"),
        (f"attach decision via HTTP ({args.clients} client)", "attach"),
    ]
    for label, key in rows:
        print(f"{label:<44} {result[key]:>10.0f} {result[key] / base:>14.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
