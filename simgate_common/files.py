"""Owner-only files replaced atomically: the agent's state and the stub's card file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


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
