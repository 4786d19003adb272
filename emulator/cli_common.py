"""What the `simgate emulator` subcommands share: the database target and HOST:PORT."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from emulator.errors import EmulatorError


def default_db() -> Path | str:
    """`$SIMGATE_EMULATOR_DB` (a file or URL), else `emulator.db` in the state folder."""
    named = os.environ.get("SIMGATE_EMULATOR_DB")
    if named:
        return db_target(named)
    state = os.environ.get("SIMGATE_STATE_DIR")
    if state:
        return Path(state) / "emulator.db"
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "simgate" / "emulator.db"


def db_target(value: str) -> Path | str:
    """`--db`: a `postgresql://` URL as given, anything else an SQLite file path."""
    if value.startswith(("postgresql://", "postgres://")):
        return value
    return Path(value)


def display(db: Path | str) -> str:
    """`--db` for messages, without a password."""
    from emulator.storage.postgres import is_postgres_url, redact

    return redact(str(db)) if is_postgres_url(db) else str(db)


@dataclass(frozen=True)
class HttpAddress:
    """`--http HOST:PORT`."""

    host: str
    port: int


def parse_http(value: str) -> HttpAddress:
    """Parse `HOST:PORT`."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise EmulatorError(f"--http must be HOST:PORT, not {value!r}")
    return HttpAddress(host.strip("[]"), int(port))
