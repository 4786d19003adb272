"""One owner per modem port: the daemon's lock, and who holds a busy port.

Two AT conversations on one port interleave and corrupt each other, so a port is opened
exclusively (pyserial's `exclusive=True`: `flock` on the device) and the daemon also holds
a lock file for its whole run (also while the modem is away), which names it. A second
opener is told who holds the port ("port busy: held by simgate-agent (pid N)"); one-shot
status commands instead ask the daemon over its control socket, which lives beside the
lock.

Where: `$SIMGATE_RUNTIME_DIR`, else systemd's `$RUNTIME_DIRECTORY` (the unit's
`RuntimeDirectory=simgate`), else `/run/simgate` when it exists, else
`$XDG_RUNTIME_DIR/simgate`, else the state directory's `run/`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Final

from agent.at.errors import ModemUnavailable
from agent.state_dir import state_dir

RUNTIME_ENV: Final = "SIMGATE_RUNTIME_DIR"
SYSTEM_RUNTIME: Final = Path("/run/simgate")
DAEMON_NAME: Final = "simgate-agent"


class PortBusy(ModemUnavailable):
    """Another program holds the port; the message names it (contracts §1, exit 5)."""

    def __init__(self, url: str, holder: str | None) -> None:
        who = holder or "another program"
        super().__init__(f"port busy: {url} is held by {who}")
        self.url = url
        self.holder = holder

    def __str__(self) -> str:
        return str(self.args[0])


class BadPortUrl(ValueError):
    """A port URL pyserial cannot open by its scheme (bad usage, exit 2)."""


def runtime_dir() -> Path:
    """Where the daemon's lock and control socket are (see the module's docstring)."""
    for name in (RUNTIME_ENV, "RUNTIME_DIRECTORY"):
        value = os.environ.get(name, "").split(":")[0]
        if value:
            return Path(value)
    if SYSTEM_RUNTIME.is_dir():
        return SYSTEM_RUNTIME
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "simgate"
    return state_dir() / "run"


def port_key(url: str, *, resolve: bool = False) -> str:
    """A short name for the port: a device path made absolute (its links followed with
    `resolve`), any other URL as it is."""
    local = os.path.realpath if resolve else os.path.abspath
    target = url if "://" in url else local(url)
    return hashlib.sha256(target.encode()).hexdigest()[:16]


def socket_paths(url: str, directory: Path | None = None) -> list[Path]:
    """Where a daemon holding `url` may listen: by the name given, then by the device."""
    base = directory or runtime_dir()
    names = dict.fromkeys(port_key(url, resolve=r) for r in (False, True))
    return [base / f"port-{name}.sock" for name in names]


def lock_path(url: str, directory: Path | None = None) -> Path:
    """The daemon's lock file for the port at `url`."""
    return (directory or runtime_dir()) / f"port-{port_key(url)}.lock"


def socket_path(url: str, directory: Path | None = None) -> Path:
    """The daemon's control socket for the port at `url`."""
    return (directory or runtime_dir()) / f"port-{port_key(url)}.sock"


class PortLock:
    """The daemon's claim on a port for its whole run: an `flock`ed file with its pid."""

    def __init__(self, url: str, directory: Path | None = None) -> None:
        self.url = url
        self.path = lock_path(url, directory)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise `PortBusy` naming the holder."""
        self.path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise PortBusy(self.url, daemon_holding(self.url, self.path.parent)) from None
        except BaseException:
            os.close(fd)
            raise
        record = {"pid": os.getpid(), "program": DAEMON_NAME, "port": self.url}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode() + b"\n", 0)
        os.fchmod(fd, 0o644)
        self._fd = fd

    def release(self) -> None:
        """Give the lock up (the file stays; a lock, not the file, says held)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> PortLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def daemon_holding(url: str, directory: Path | None = None) -> str | None:
    """`simgate-agent (pid N)` while a daemon holds the port's lock, else None."""
    path = lock_path(url, directory)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # held: read who holds it
        except OSError:
            return None
        else:
            return None  # nobody holds it: a leftover file
        try:
            record = json.loads(os.pread(fd, 4096, 0) or b"{}")
            return f"{record.get('program', DAEMON_NAME)} (pid {int(record['pid'])})"
        except (ValueError, KeyError, TypeError, AttributeError):
            return DAEMON_NAME
    finally:
        os.close(fd)


def holder_of(url: str) -> str | None:
    """Who holds the port: a daemon by its lock, else a process with it open (by /proc)."""
    named = daemon_holding(url)
    if named is not None:
        return named
    return _process_with_open(url)


def _process_with_open(url: str) -> str | None:
    if "://" in url:
        return None
    try:
        wanted = os.stat(url)
    except OSError:
        return None
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    found = fd.stat()
                    if (found.st_dev, found.st_ino) == (wanted.st_dev, wanted.st_ino) or (
                        wanted.st_rdev and found.st_rdev == wanted.st_rdev
                    ):
                        return f"{_program(entry)} (pid {entry.name})"
    return None


def _program(proc: Path) -> str:
    try:
        argv = (proc / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "another program"
    words = [a.decode(errors="replace") for a in argv]
    if "agent" in words and "run" in words:
        return DAEMON_NAME
    try:
        return (proc / "comm").read_text().strip() or "another program"
    except OSError:
        return "another program"
