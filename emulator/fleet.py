"""`simgate emulator fleet create N`: make and register N SIMs through the HTTP API.

Three requests whatever N is: the SIM factory makes N cards (`POST /_emulator/sims
{"count": N}`, JSON Lines), the Sakura API's batch path registers them all in one
transaction (and adds them to a gateway), and `POST /_emulator/tokens` gives their device
tokens. One JSON line per SIM goes to `--out FILE` (mode 0600: it holds PASSCODEs and
tokens) or stdout; a progress bar is drawn on stderr only when it is a terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from emulator.models.fleet import MAX_BATCH
from simgate_common.exit_codes import ExitCode

log = logging.getLogger(__name__)

DEFAULT_URL: Final = "http://127.0.0.1:8080"
DEFAULT_ZONE: Final = "is1a"
_TIMEOUT: Final = httpx.Timeout(300.0, connect=10.0)


class FleetError(Exception):
    """A failure with the exit code it maps to; the message never holds a secret."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


@dataclass(frozen=True)
class Target:
    """The emulator's base URL (without user info) and the API credentials."""

    base: str
    auth: tuple[str, str] | None


def target(url: str, environ: dict[str, str] | None = None) -> Target:
    """Split the URL's user info off; credentials from it, else from the environment."""
    env = os.environ if environ is None else environ
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FleetError(f"--url must be http(s)://HOST[:PORT], not {url!r}", ExitCode.BAD_INPUT)
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    try:
        port = parts.port
    except ValueError:
        raise FleetError("--url has a bad port", ExitCode.BAD_INPUT) from None
    if port is not None:
        netloc += f":{port}"
    base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    if parts.username is not None:
        return Target(base, (unquote(parts.username), unquote(parts.password or "")))
    token = env.get("SIMGATE_ACCESS_TOKEN")
    secret = env.get("SIMGATE_ACCESS_TOKEN_SECRET")
    if bool(token) != bool(secret):
        raise FleetError(
            "set both SIMGATE_ACCESS_TOKEN and SIMGATE_ACCESS_TOKEN_SECRET, or neither",
            ExitCode.BAD_INPUT,
        )
    return Target(base, (token, secret) if token and secret else None)


def add_parser(sub: Any) -> None:
    """Add `fleet create` to `simgate emulator`'s subcommands."""
    fleet = sub.add_parser("fleet", help="make many SIMs at once")
    commands = fleet.add_subparsers(dest="fleet_command", required=True)
    create = commands.add_parser(
        "create",
        help="make and register N SIMs, with their device tokens",
        description="Make N cards, register them (in one transaction) and fetch their device "
        "tokens; write one JSON line per SIM {iccid, imsi, msisdn, passcode, sim_id, token}. "
        "Credentials: SIMGATE_ACCESS_TOKEN / SIMGATE_ACCESS_TOKEN_SECRET, or the URL's user info.",
    )
    create.add_argument("count", metavar="N", type=_count, help=f"1 to {MAX_BATCH}")
    create.add_argument(
        "--url", default=DEFAULT_URL, help=f"the emulator's base URL (default {DEFAULT_URL})"
    )
    create.add_argument("--gateway", metavar="ID", help="add every SIM to this mobile gateway")
    create.add_argument(
        "--zone", default=DEFAULT_ZONE, help=f"the gateway's zone (default {DEFAULT_ZONE})"
    )
    create.add_argument(
        "--out", type=Path, metavar="FILE", help="write the JSON lines here (mode 0600)"
    )
    create.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    create.add_argument(
        "--json",
        action="store_true",
        help="with --out: print {created, out, seconds} as JSON; a failure prints "
        "{error, exit_code}",
    )


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"N must be an integer, not {text!r}") from None
    if not 1 <= value <= MAX_BATCH:
        raise argparse.ArgumentTypeError(f"N must be from 1 to {MAX_BATCH}, not {value}")
    return value


def main(args: argparse.Namespace) -> int:
    """Run `fleet create`; the exit code."""
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    started = time.perf_counter()
    try:
        where = target(args.url)
        with _output(args.out) as out, _Progress(args.count) as progress:
            made = create(where, args.count, args.gateway, args.zone, out, progress)
    except FleetError as exc:
        print(f"simgate emulator fleet: {exc.message}", file=sys.stderr)
        if args.json:
            print(json.dumps({"error": exc.message, "exit_code": int(exc.exit_code)}))
        return exc.exit_code
    elapsed = time.perf_counter() - started
    log.info("made and registered %d SIM(s) in %.2f s", made, elapsed)
    if args.out is not None and args.json:
        print(json.dumps({"created": made, "out": str(args.out), "seconds": round(elapsed, 3)}))
    elif args.out is not None:
        print(f"{made} SIMs made and registered in {elapsed:.1f} s; written to {args.out}")
    return ExitCode.OK


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise FleetError(f"cannot write {path}: {exc.strerror}", ExitCode.BAD_INPUT) from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        yield handle


def create(
    where: Target,
    count: int,
    gateway: str | None,
    zone: str,
    out: IO[str],
    progress: _Progress | None = None,
) -> int:
    """Make, register and write `count` SIMs; how many were written."""
    bar = progress or _Progress(count, enabled=False)
    try:
        with httpx.Client(base_url=where.base, auth=where.auth, timeout=_TIMEOUT) as client:
            cards = []
            for card in _lines(client, "/_emulator/sims", {"count": count}):
                cards.append(card)
                bar.advance("cards")
            body: dict[str, Any] = {
                "CommonServiceItems": [
                    {
                        "Provider": {"Class": "sim"},
                        "Status": {"ICCID": card["iccid"]},
                        "Remark": {"PassCode": card["passcode"]},
                    }
                    for card in cards
                ]
            }
            if gateway is not None:
                body["MobileGateway"] = {"ID": gateway}
            answer = _check(
                client.post(f"/cloud/zone/{zone}/api/cloud/1.1/commonserviceitem/batch", json=body)
            ).json()
            bar.advance("registered", len(cards))
            sim_ids = {item["Status"]["ICCID"]: item["ID"] for item in answer["CommonServiceItems"]}
            iccids = [card["iccid"] for card in cards]
            written = 0
            for token, card in zip(
                _lines(client, "/_emulator/tokens", {"iccids": iccids}), cards, strict=True
            ):
                row = {
                    "iccid": card["iccid"],
                    "imsi": card["imsi"],
                    "msisdn": card.get("msisdn"),
                    "passcode": card["passcode"],
                    "sim_id": sim_ids[card["iccid"]],
                    "token": token["token"],
                }
                out.write(json.dumps(row, separators=(",", ":")) + "\n")
                written += 1
                bar.advance("tokens")
            out.flush()
            return written
    except httpx.TransportError as exc:
        raise FleetError(
            f"cannot reach the emulator at {where.base}: {exc}", ExitCode.UNREACHABLE
        ) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise FleetError(
            f"the emulator's answer was not understood ({exc})", ExitCode.UNREACHABLE
        ) from None


def _lines(client: httpx.Client, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    with client.stream("POST", path, json=body) as response:
        if response.status_code >= 300:
            response.read()
            _check(response)
        for line in response.iter_lines():
            if line:
                row: dict[str, Any] = json.loads(line)
                yield row


def _check(response: httpx.Response) -> httpx.Response:
    """The response, or a FleetError with the emulator's own message."""
    if response.status_code < 300:
        return response
    try:
        message = str(response.json().get("error_msg") or response.reason_phrase)
    except ValueError:
        message = response.reason_phrase
    where = f"{response.request.method} {response.request.url.path}"
    if response.status_code == 401:
        message += (
            " (set SIMGATE_ACCESS_TOKEN and SIMGATE_ACCESS_TOKEN_SECRET, or user:pass@ in --url)"
        )
    code = ExitCode.BAD_INPUT if response.status_code < 500 else ExitCode.UNREACHABLE
    raise FleetError(f"{where}: {response.status_code} {message}", code)


class _Progress:
    """A progress bar on stderr, drawn only when stderr is a terminal."""

    _PHASES: Final = {"cards": "making cards", "registered": "registering", "tokens": "tokens"}

    def __init__(self, total: int, *, enabled: bool | None = None) -> None:
        self.total = total
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import Progress

            self._bar = Progress(console=Console(stderr=True), transient=False)
            self._bar.start()
            for key, label in self._PHASES.items():
                self._tasks[key] = self._bar.add_task(label, total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, phase: str, steps: int = 1) -> None:
        """Count `steps` more done in `phase`."""
        if self._bar is not None:
            self._bar.advance(self._tasks[phase], steps)
