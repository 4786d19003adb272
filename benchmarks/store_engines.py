"""Store engines: usage reports decided and committed per second, SQLite against PostgreSQL,
one ingest process against several.

No broker: each contender hands batches of `--batch` usage reports straight to the
ingest (`DeviceReports.ingest`, through the ingest worker's locking transaction on
PostgreSQL) for `--sims` registered SIMs, `-n` reports in all; every report is new, so
each one is an insert, a billing event and a commit share. The baseline is SQLite in one
process (WAL, `synchronous=FULL`), measured in the same run; PostgreSQL is run with 1 and
`--workers` processes (each its own connection and its own share of the SIMs, as ingest
workers on a shared subscription would get them). Medians of `--repeat` runs.

Usage: python benchmarks/store_engines.py [-n 20000] [--sims 200] [--batch 100]
       [--workers 2] [--repeat 3] [--pg-url postgresql://...]
Without --pg-url a throw-away PostgreSQL cluster is started (tests/postgres.py).
The table goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from emulator.backend import Backend
from emulator.clock import JST
from emulator.ingest_worker import LockingSink
from emulator.models.device_messages import Incoming
from simgate_common import wire
from simgate_common.wire import UsageReport


def prepare(target: str, sims: int) -> list[str]:
    """A fresh store with `sims` registered SIMs; their ICCIDs."""
    from datetime import datetime

    backend = Backend(target)
    try:
        backend.clock.set(datetime(2026, 3, 10, 9, 0, tzinfo=JST), frozen=True)
        iccids = []
        for _ in range(sims):
            card = backend.cards.manufacture()
            assert card.passcode is not None
            iccids.append(backend.sims.register(iccid=card.iccid, passcode=card.passcode).iccid)
        return iccids
    finally:
        backend.close()


def messages(iccids: list[str], per_sim: int) -> list[Incoming]:
    """`per_sim` new usage reports for each ICCID, interleaved as devices would send."""
    out = []
    for seq in range(1, per_sim + 1):
        for iccid in iccids:
            report = UsageReport(
                seq, iccid, None, "2026-03-10T00:00:00Z", "2026-03-10T00:05:00Z", 10, 20, "modem"
            )
            out.append(Incoming(wire.usage_topic(iccid), report.to_json()))
    return out


def ingest(target: str, iccids: list[str], per_sim: int, batch: int) -> tuple[int, float]:
    """Store every report of `iccids` in batches; (reports, seconds)."""
    backend = Backend(target)
    try:
        todo = messages(iccids, per_sim)
        sink = LockingSink(backend.store, backend.devices)
        start = time.perf_counter()
        for first in range(0, len(todo), batch):
            outcomes = sink.ingest(todo[first : first + batch])
            assert all(o.verdict.value == "stored" for o in outcomes), outcomes[:1]
        return len(todo), time.perf_counter() - start
    finally:
        backend.close()


def _child(args: tuple[str, list[str], int, int]) -> tuple[int, float]:
    return ingest(*args)


def run(target: str, workers: int, args: argparse.Namespace) -> float:
    """Reports per second for one fresh store and `workers` processes."""
    iccids = prepare(target, args.sims)
    per_sim = args.n // args.sims
    shares = [iccids[i::workers] for i in range(workers)]
    if workers == 1:
        count, seconds = ingest(target, iccids, per_sim, args.batch)
        return count / seconds
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        start = time.perf_counter()
        results = pool.map(_child, [(target, share, per_sim, args.batch) for share in shares])
        wall = time.perf_counter() - start
    return sum(count for count, _ in results) / wall


def main() -> int:
    """Run every contender `--repeat` times and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=20000, help="reports per run")
    parser.add_argument("--sims", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg-url", default=None, help="an empty database to use")
    args = parser.parse_args()
    server = None
    if args.pg_url is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.postgres import PgServer, bindir, clean_leftovers

        found = bindir()
        if found is None:
            print("no PostgreSQL binaries: pass --pg-url", file=sys.stderr)
            return 2
        clean_leftovers(found)
        server = PgServer(found)
        server.start()
    results: dict[str, list[float]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="sgpg-bench-") as work:
            for round_ in range(args.repeat):
                contenders = [("sqlite, 1 process", f"{work}/r{round_}.db", 1)]
                for workers in sorted({1, args.workers}):
                    url = _fresh_pg(server, args.pg_url, round_, workers)
                    contenders.append((f"postgresql, {workers} process(es)", url, workers))
                for name, target, workers in contenders:
                    rate = run(target, workers, args)
                    results.setdefault(name, []).append(rate)
                    print(f"round {round_ + 1}: {name}: {rate:,.0f} reports/s", file=sys.stderr)
    finally:
        if server is not None:
            server.stop()
    base = statistics.median(results["sqlite, 1 process"])
    print(
        f"| contender ({args.n} reports, {args.sims} SIMs, batches of {args.batch}) "
        "| median reports/s | ratio to SQLite |"
    )
    print("|---|---|---|")
    for name, rates in results.items():
        rate = statistics.median(rates)
        print(f"| {name} | {rate:,.0f} | {rate / base:.2f}x |")
    return 0


def _fresh_pg(server: object, url: str | None, round_: int, workers: int) -> str:
    """An empty schema for one contender."""
    if url is None:
        from tests.postgres import PgServer

        assert isinstance(server, PgServer)
        return server.new_schema()
    schema = f"sgpg_bench_{round_}_{workers}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-c%20search_path%3D{schema}"


if __name__ == "__main__":
    sys.exit(main())
