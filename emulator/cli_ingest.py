"""`simgate emulator ingest`: run one ingest worker against an external broker.

    simgate emulator ingest --broker mqtt://HOST:PORT --db postgresql://... [--name NAME]
        [--group GROUP] [--json] [-v]

Runs until SIGTERM or SIGINT, then stores and acknowledges what it read and exits 0.
Exit 2 on bad arguments or a database that cannot be used (nothing is changed), 5 when
the PostgreSQL server cannot be reached (try again later). An unreachable broker is
retried for as long as the worker runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

import psycopg

from emulator.errors import EmulatorError
from simgate_common.exit_codes import ExitCode


def add_parser(sub: Any, db_type: Any) -> None:
    """Add `ingest` to the `simgate emulator` subcommands."""
    from emulator.ingest_worker import DEFAULT_GROUP

    ingest = sub.add_parser(
        "ingest",
        help="run one ingest worker: store device reports from an external broker",
        description="Subscribe to the device topics of an external broker through a shared "
        "subscription ($share/GROUP/...) and store what arrives in the emulator's database; "
        "run several (on one or more machines, same --db and --group, each its own --name) "
        "to share the load. A report is stored once whatever worker gets it: the database's "
        "(iccid, seq) key decides, and a message is acknowledged only once committed.",
    )
    ingest.add_argument(
        "--broker", required=True, metavar="mqtt://HOST:PORT", help="the external broker"
    )
    ingest.add_argument(
        "--db",
        type=db_type,
        default=None,
        help="postgresql://... URL or SQLite file (default: $SIMGATE_EMULATOR_DB, else "
        "$SIMGATE_STATE_DIR/emulator.db); keep the password out of it: libpq reads "
        "PGPASSWORD or ~/.pgpass",
    )
    ingest.add_argument(
        "--group",
        default=DEFAULT_GROUP,
        help=f"the shared-subscription group (default {DEFAULT_GROUP})",
    )
    ingest.add_argument(
        "--name",
        default=None,
        help="this worker's name, stable across restarts (default: the host name); its "
        "broker session keeps what was in flight to it while it is down",
    )
    ingest.add_argument(
        "--max-batch", type=int, default=1000, help="messages per transaction (default 1000)"
    )
    ingest.add_argument("--json", action="store_true", help="print one JSON line once connected")
    ingest.add_argument("-v", "--verbose", action="store_true", help="log to stderr")


def run(args: argparse.Namespace, db: Path | str) -> int:
    """Run the worker until SIGTERM/SIGINT."""
    from emulator.ingest_worker import IngestWorker, check_name, client_id
    from emulator.mqtt_broker import parse_mqtt

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    try:
        broker = parse_mqtt(args.broker)
        if broker.embedded:
            raise EmulatorError("--broker must be mqtt://HOST:PORT (an external broker)")
        group = check_name(args.group, "--group")
        name = check_name(args.name or socket.gethostname(), "--name")
        if not 0 < args.max_batch <= 100_000:
            raise EmulatorError(f"--max-batch must be 1 to 100000, not {args.max_batch}")
    except (EmulatorError, ValueError) as exc:
        message = exc.message if isinstance(exc, EmulatorError) else str(exc)
        print(f"simgate emulator: {message.replace('--mqtt', '--broker')}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    try:
        worker = IngestWorker.open(db, broker, group=group, name=name, max_batch=args.max_batch)
    except Exception as exc:  # psycopg.Error, sqlite3.Error, OSError
        print(f"simgate emulator: cannot open the database: {exc}", file=sys.stderr)
        # A server that does not answer may answer later (a supervisor retries); a bad
        # URL, file or schema will not.
        unreachable = isinstance(exc, psycopg.OperationalError)
        return ExitCode.UNREACHABLE if unreachable else ExitCode.BAD_INPUT
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    worker.start()
    try:
        while not worker.client.wait_connected(0.2):
            if stopping.is_set():
                return ExitCode.OK
        info = {
            "worker": name,
            "group": group,
            "client_id": client_id(group, name),
            "broker": broker.url,
            "db": worker.backend.store.display,
        }
        if args.json:
            print(json.dumps(info), flush=True)
        else:
            print(
                f"ingest worker {name} of group {group}: {broker.url} -> {info['db']}", flush=True
            )
        stopping.wait()
        return ExitCode.OK
    finally:
        worker.stop()
