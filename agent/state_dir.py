"""Where the agent keeps what must outlive a run (contracts §1)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def state_dir() -> Path:
    """`$SIMGATE_STATE_DIR`, else `$XDG_STATE_HOME/simgate`, else `~/.local/state/simgate`.

    Created on first use, readable by its owner only.
    """
    explicit = os.environ.get("SIMGATE_STATE_DIR")
    if explicit:
        path = Path(explicit)
    else:
        xdg = os.environ.get("XDG_STATE_HOME")
        base = Path(xdg) if xdg else Path.home() / ".local" / "state"
        path = base / "simgate"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def write_private_file(path: Path, text: str, *, durable: bool = True) -> None:
    """Replace `path` with `text` atomically, owner-only (mode 0600).

    A temporary file in the same folder (made 0600 by `mkstemp`, whatever lies about) is
    renamed over `path`, so a reader sees the old content or the new, never half. With
    `durable` the data and the rename are fsynced too, so a power cut keeps one of them.
    Raises `OSError`; the temporary file is removed.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
