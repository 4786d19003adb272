"""A real PostgreSQL server for tests: Debian's binaries, own cluster, own port on 127.0.0.1.

`initdb` and `pg_ctl` are found under `/usr/lib/postgresql/<version>/bin` (the newest
version there), else on PATH, else in `$SIMGATE_PG_BINDIR`. The cluster lives in a temp
folder named `sgpg-*`, is run by an unprivileged user (the `postgres` system user, else
`nobody`) when the tests run as root, listens on a free TCP port on 127.0.0.1 only (no
Unix socket), and asks for a password. Without the binaries the tests are skipped, except
in CI (`CI=true`), where they fail instead. Clusters left by a killed run are stopped and
removed when the next one starts.

Each test gets its own schema (`PgServer.new_schema()`): a URL whose `search_path` is an
empty schema, so tests share one server but never each other's tables.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from tests.mqtt_broker import HOST, free_port

PREFIX = "sgpg-"
SUPERUSER = "sgpg"


def bindir() -> Path | None:
    """The folder holding `initdb` and `pg_ctl`, or None."""
    explicit = os.environ.get("SIMGATE_PG_BINDIR")
    if explicit:
        return Path(explicit) if (Path(explicit) / "initdb").is_file() else None
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if found:
        newest = max(
            found, key=lambda p: [int(x) for x in Path(p).parts[4].split(".") if x.isdigit()]
        )
        return Path(newest).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def require_bindir() -> Path:
    """`bindir()`, or skip the test (fail it when `CI=true`) with a clear reason."""
    found = bindir()
    if found is not None:
        return found
    reason = "PostgreSQL is not installed (apt-get install postgresql, or set $SIMGATE_PG_BINDIR)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; tests that need a real database must not be skipped in CI")
    pytest.skip(reason)


def _run_as() -> tuple[int, int] | None:
    """The (uid, gid) to run the server as when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) exists")


def _alive(pid_file: Path) -> bool:
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_leftovers(bin_path: Path) -> None:
    """Stop and remove clusters of an earlier run that was killed before its teardown
    (a cluster whose test process still runs, another session's, is left alone)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        if not folder.is_dir() or _alive(folder / "owner.pid"):
            continue
        data = folder / "data"
        if (data / "postmaster.pid").exists():
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                _pg_ctl(bin_path, data, "stop", "-m", "immediate", "-w", "-t", "10")
        shutil.rmtree(folder, ignore_errors=True)


def _pg_ctl(bin_path: Path, data: Path, *args: str) -> None:
    ids = _run_as()
    subprocess.run(
        [str(bin_path / "pg_ctl"), "-D", str(data), *args],
        cwd=data.parent,  # the server's user may not enter the test's working directory
        check=True,
        capture_output=True,
        timeout=60,
        user=None if ids is None else ids[0],
        group=None if ids is None else ids[1],
    )


class PgServer:
    """One PostgreSQL cluster in `directory`, on `port`, with a password-protected superuser."""

    def __init__(self, bin_path: Path) -> None:
        self.bin = bin_path
        self.directory = Path(tempfile.mkdtemp(prefix=PREFIX))
        (self.directory / "owner.pid").write_text(f"{os.getpid()}\n")
        self.data = self.directory / "data"
        self.log_path = self.directory / "server.log"
        self.port = free_port()
        self.password = secrets.token_hex(16)
        self._names = itertools.count(1)
        self._ids = _run_as()

    def url(self, database: str = "postgres", schema: str | None = None) -> str:
        """A `postgresql://` URL for `database` (and `search_path` = `schema`)."""
        base = f"postgresql://{SUPERUSER}:{self.password}@{HOST}:{self.port}/{database}"
        if schema is None:
            return base
        return f"{base}?options={quote(f'-c search_path={schema}')}"

    def start(self) -> None:
        """initdb (once) and start; waits until the server accepts connections."""
        ids = self._ids
        if ids is not None:
            os.chown(self.directory, *ids)
        pwfile = self.directory / "pwfile"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(self.password + "\n")
        if ids is not None:
            os.chown(pwfile, *ids)
        initdb = subprocess.run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            cwd=self.directory,
            capture_output=True,
            text=True,
            timeout=120,
            user=None if ids is None else ids[0],
            group=None if ids is None else ids[1],
        )
        pwfile.unlink()
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed ({initdb.returncode}):\n{initdb.stderr}")
        options = (
            f"-p {self.port} -h {HOST} -k '' -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        _pg_ctl(
            self.bin, self.data, "start", "-w", "-t", "60", "-l", str(self.log_path), "-o", options
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PostgreSQL did not accept connections:\n{self.log_tail()}"
                    ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server at once (its data is thrown away) and remove its folder."""
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                _pg_ctl(self.bin, self.data, "stop", "-m", "immediate", "-w", "-t", "30")
        shutil.rmtree(self.directory, ignore_errors=True)

    def new_schema(self) -> str:
        """A URL on a new, empty schema of the `postgres` database."""
        schema = f"sgpg_t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        return self.url(schema=schema)

    def new_database(self) -> str:
        """A URL on a new, empty database (for processes that must not share a lock)."""
        name = f"sgpg_d{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log, for failure messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the whole session (skipped, or failed in CI, without one)."""
    bin_path = require_bindir()
    clean_leftovers(bin_path)
    server = PgServer(bin_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PgServer) -> str:
    """A `postgresql://` URL on a fresh, empty schema."""
    return postgres_server.new_schema()
