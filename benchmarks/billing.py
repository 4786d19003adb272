"""Benchmark: price one month from a year of daily traffic, against a SQLite baseline.

    .venv/bin/python benchmarks/billing.py [--sims 10000] [--days 365] [--month 2026-06]

Generates one traffic event per SIM per day (10,000 SIMs x 365 days = 3.65M events) into a
JSON Lines file in a temporary folder, then, each in a fresh child process so that each
peak RSS is its own:

(a) engine: stream the file through ``parse_event_lines`` + ``price_month``;
(b) baseline: load the same rows into SQLite (``json.loads`` + ``executemany`` in one
    transaction) and run a GROUP BY (ICCID, JST month) over them;
(c) baseline, SQLite parsing the JSON itself: raw lines in, ``json_extract`` in the query.

Progress goes to stderr; a results table and the ratio go to stdout.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

START = datetime(2025, 12, 31, 15, 0, tzinfo=UTC)  # 2026-01-01 00:00 JST
BATCH = 10_000


def log(message: str) -> None:
    """Progress on stderr."""
    print(message, file=sys.stderr, flush=True)


def iccid_of(index: int) -> str:
    """A 19-digit test ICCID."""
    return f"8981100{index:012d}"


def generate(path: Path, sims: int, days: int, seed: int = 7) -> int:
    """Write the event log; returns the number of lines."""
    rng = random.Random(seed)
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for index in range(sims):
            stamp = (START - timedelta(days=30 + index % 300)).strftime("%Y-%m-%dT%H:%M:%SZ")
            out.write(
                f'{{"at": "{stamp}", "type": "sim_registered", "iccid": "{iccid_of(index)}"}}\n'
            )
            count += 1
        for day in range(days):
            base = START + timedelta(days=day)
            prefix = [(base + timedelta(hours=h)).strftime("%Y-%m-%dT%H") for h in range(24)]
            lines = []
            for index in range(sims):
                if index % 50 == 0 and day % 30 < 3:
                    continue  # some SIMs stay silent now and then
                second = rng.randrange(86_400)
                hour, rest = divmod(second, 3600)
                up, down = rng.randrange(1, 200_000), rng.randrange(1, 2_000_000)
                lines.append(
                    f'{{"at": "{prefix[hour]}:{rest // 60:02d}:{rest % 60:02d}Z", '
                    f'"type": "traffic", "iccid": "{iccid_of(index)}", '
                    f'"up": {up}, "down": {down}}}\n'
                )
            out.writelines(lines)
            count += len(lines)
            if day % 30 == 0 or day == days - 1:
                log(f"  generated day {day + 1}/{days} ({count:,} events)")
    return count


def peak_rss_mib() -> float:
    """Peak resident set size of this process, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_engine(path: Path, month: str) -> dict[str, Any]:
    """(a): stream the log through the engine."""
    from emulator.billing import load_tariff, parse_event_lines, price_month

    tariff = load_tariff()
    started = time.perf_counter()
    with path.open(encoding="utf-8") as handle:
        invoice = price_month(parse_event_lines(handle), month, tariff)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rss": peak_rss_mib(), "lines": len(invoice.lines)}


def run_sqlite(path: Path, month: str, db: Path) -> dict[str, Any]:
    """(b): json.loads each line, load rows into SQLite, GROUP BY (ICCID, JST month)."""
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("CREATE TABLE events (at TEXT, type TEXT, iccid TEXT, up INT, down INT)")
    started = time.perf_counter()
    loads = json.loads
    with path.open(encoding="utf-8") as handle, connection:
        batch: list[tuple[Any, ...]] = []
        insert = "INSERT INTO events VALUES (?, ?, ?, ?, ?)"
        for line in handle:
            row = loads(line)
            batch.append((row["at"], row["type"], row["iccid"], row.get("up"), row.get("down")))
            if len(batch) >= BATCH:
                connection.executemany(insert, batch)
                batch = []
        connection.executemany(insert, batch)
    loaded = time.perf_counter()
    rows = connection.execute(
        "SELECT iccid, strftime('%Y-%m', at, '+9 hours') AS month, SUM(up + down), COUNT(*) "
        "FROM events WHERE type = 'traffic' GROUP BY iccid, month"
    ).fetchall()
    wanted = [row for row in rows if row[1] == month]
    done = time.perf_counter()
    connection.close()
    return {
        "seconds": done - started,
        "load": loaded - started,
        "query": done - loaded,
        "rss": peak_rss_mib(),
        "lines": len(wanted),
    }


def run_sqlite_json(path: Path, month: str, db: Path) -> dict[str, Any]:
    """(c): raw lines into SQLite, which parses them with json_extract in the GROUP BY."""
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("CREATE TABLE raw (line TEXT)")
    started = time.perf_counter()
    with path.open(encoding="utf-8") as handle, connection:
        while True:
            chunk = [(line,) for _, line in zip(range(BATCH), handle, strict=False)]
            if not chunk:
                break
            connection.executemany("INSERT INTO raw VALUES (?)", chunk)
    loaded = time.perf_counter()
    rows = connection.execute(
        "SELECT j ->> 'iccid' AS iccid, strftime('%Y-%m', j ->> 'at', '+9 hours') AS month, "
        "SUM((j ->> 'up') + (j ->> 'down')), COUNT(*) "
        "FROM (SELECT json(line) AS j FROM raw) WHERE j ->> 'type' = 'traffic' "
        "GROUP BY iccid, month"
    ).fetchall()
    wanted = [row for row in rows if row[1] == month]
    done = time.perf_counter()
    connection.close()
    return {
        "seconds": done - started,
        "load": loaded - started,
        "query": done - loaded,
        "rss": peak_rss_mib(),
        "lines": len(wanted),
    }


def child(phase: str, path: Path, month: str) -> dict[str, Any]:
    """Run one phase in a fresh interpreter; returns its JSON result."""
    command = [sys.executable, __file__, "--phase", phase, "--file", str(path), "--month", month]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(output)
    return result


def main() -> int:
    """Parse options; generate, measure, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--month", default="2026-06", help="the month priced (YYYY-MM)")
    parser.add_argument("--phase", choices=("engine", "sqlite", "sqlite-json"), help="internal")
    parser.add_argument("--file", type=Path, help="internal: the log of a --phase run")
    args = parser.parse_args()
    if args.phase:
        db = args.file.with_suffix(f".{args.phase}.db")
        phases = {
            "engine": lambda: run_engine(args.file, args.month),
            "sqlite": lambda: run_sqlite(args.file, args.month, db),
            "sqlite-json": lambda: run_sqlite_json(args.file, args.month, db),
        }
        print(json.dumps(phases[args.phase]()))
        return 0
    sqlite_has_json = sqlite3.sqlite_version_info >= (3, 38, 0)
    with tempfile.TemporaryDirectory(prefix="simgate-bench-") as folder:
        path = Path(folder) / "events.jsonl"
        log(f"generating {args.sims:,} SIMs x {args.days} days into {path}")
        started = time.perf_counter()
        events = generate(path, args.sims, args.days)
        log(
            f"  {events:,} events, {path.stat().st_size / 2**20:,.0f} MiB, "
            f"{time.perf_counter() - started:.1f} s"
        )
        log("(a) engine: parse_event_lines + price_month ...")
        engine = child("engine", path, args.month)
        log(f"  {engine['seconds']:.1f} s")
        log("(b) baseline: json.loads + SQLite load + GROUP BY ...")
        sqlite = child("sqlite", path, args.month)
        log(f"  {sqlite['seconds']:.1f} s")
        rows = [("(a) engine: stream + price one month", engine, "", "")]
        rows.append(
            (
                "(b) SQLite: load rows + GROUP BY",
                sqlite,
                f"{sqlite['load']:.1f}",
                f"{sqlite['query']:.1f}",
            )
        )
        if sqlite_has_json:
            log("(c) baseline: raw lines into SQLite + json_extract GROUP BY ...")
            raw = child("sqlite-json", path, args.month)
            log(f"  {raw['seconds']:.1f} s")
            rows.append(
                (
                    "(c) SQLite: raw lines + json GROUP BY",
                    raw,
                    f"{raw['load']:.1f}",
                    f"{raw['query']:.1f}",
                )
            )
    print(f"\n{events:,} events ({args.sims:,} SIMs x {args.days} days), month {args.month}\n")
    print(
        f"{'run':<40} {'seconds':>8} {'load s':>7} {'query s':>8} {'events/s':>10} {'peak RSS':>9}"
    )
    for name, result, load, query in rows:
        rate = events / result["seconds"]
        print(
            f"{name:<40} {result['seconds']:>8.1f} {load:>7} {query:>8} {rate:>10,.0f} "
            f"{result['rss']:>6.0f} MiB"
        )
    ratio = engine["seconds"] / sqlite["seconds"]
    print(f"\nratio engine / baseline (b) = {ratio:.2f} (target <= 2)")
    if len(rows) > 2:
        print(f"ratio engine / baseline (c) = {engine['seconds'] / rows[2][1]['seconds']:.2f}")
    print(
        f"engine invoice lines: {engine['lines']:,}; baseline groups in month: {sqlite['lines']:,}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
