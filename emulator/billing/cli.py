"""`simgate bill`: price a month (or forecast a range) from an event log, with no server.

    simgate bill --events FILE --month YYYY-MM [--tariff FILE] [--json|--csv] [--summary]
    simgate bill --events FILE --from YYYY-MM --to YYYY-MM [--tariff FILE] [--json|--csv]

Exit 0 with the invoice; exit 2 on bad usage, a bad event line (named by number) or a bad
tariff (named by key), and then nothing is printed on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from emulator.billing.engine import price_month, price_range
from emulator.billing.errors import EventLogError, TariffError
from emulator.billing.events import parse_event_lines
from emulator.billing.months import parse_month
from emulator.billing.render import forecast_table, invoice_csv, invoice_table
from emulator.billing.tariff import load_tariff
from simgate_common.exit_codes import ExitCode


def _month(text: str) -> str:
    try:
        parse_month(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    """The command's argument parser."""
    parser = argparse.ArgumentParser(
        prog="simgate bill",
        description="Price one JST month of a billing event log (JSON Lines, contracts §2), "
        "or a range of months with next month's line maintenance alerts.",
    )
    parser.add_argument("--events", required=True, metavar="FILE", help="event log ('-' = stdin)")
    parser.add_argument("--month", type=_month, metavar="YYYY-MM", help="the month to price")
    parser.add_argument(
        "--from", dest="first", type=_month, metavar="YYYY-MM", help="forecast from"
    )
    parser.add_argument("--to", dest="last", type=_month, metavar="YYYY-MM", help="forecast to")
    parser.add_argument(
        "--tariff", type=Path, metavar="FILE", help="tariff TOML (default: shipped example prices)"
    )
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print one JSON document")
    shape.add_argument(
        "--csv", action="store_true", help="print the lines as CSV (one row per line, totals)"
    )
    parser.add_argument(
        "--summary", action="store_true", help="add a table per item (for fleets of SIMs)"
    )
    return parser


@contextmanager
def _open_events(name: str) -> Iterator[TextIO]:
    if name == "-":
        yield sys.stdin
        return
    with open(name, encoding="utf-8") as handle:
        yield handle


_as_json = False  # set from --json: a failure then also prints its JSON object on stdout


def _fail(message: str) -> int:
    print(f"simgate bill: {message}", file=sys.stderr)
    if _as_json:  # contracts §1: with --json, one {"error","exit_code"} object on stdout
        print(json.dumps({"error": message, "exit_code": int(ExitCode.BAD_INPUT)}))
    return ExitCode.BAD_INPUT


def main(argv: list[str]) -> int:
    """Run `simgate bill`; returns the exit status."""
    global _as_json
    _as_json = "--json" in argv
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or bad usage (2)
        if exc.code == 0:
            return ExitCode.OK
        return _fail("bad usage (see the message above)") if _as_json else ExitCode.BAD_INPUT
    if (args.month is None) == (args.first is None and args.last is None):
        parser.print_usage(sys.stderr)
        return _fail("give either --month, or --from and --to")
    if args.month is None and (args.first is None or args.last is None):
        return _fail("a forecast needs both --from and --to")
    try:
        tariff = load_tariff(args.tariff)
    except TariffError as exc:
        return _fail(f"bad tariff: {exc}")
    try:
        with _open_events(args.events) as handle:
            events = parse_event_lines(handle)
            if args.month is not None:
                invoice = price_month(events, args.month, tariff)
                document = invoice.to_json()
                text = invoice_table(invoice, summary=args.summary)
                table = invoice_csv(document)
            else:
                forecast = price_range(events, args.first, args.last, tariff)
                document, text = forecast.to_json(), forecast_table(forecast)
                table = invoice_csv(*(inv.to_json() for inv in forecast.invoices))
    except EventLogError as exc:
        return _fail(f"{args.events}: {exc}; no invoice printed")
    except TariffError as exc:  # a price the log needs is absent (optional keys)
        return _fail(f"bad tariff: {exc}; no invoice printed")
    except UnicodeDecodeError:
        return _fail(f"{args.events}: not UTF-8 text; no invoice printed")
    except OSError as exc:
        return _fail(f"cannot read {args.events}: {exc.strerror}")
    except ValueError as exc:
        return _fail(str(exc))
    output = json.dumps(document, ensure_ascii=False, indent=2) if args.json else text
    if args.csv:
        output = table.removesuffix("\n")
    try:
        sys.stdout.write(output + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `simgate bill ... | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return ExitCode.OK
