"""Reading PINs and PUKs from owner-only files or the environment (safety rule 2).

A secret file readable by anyone but its owner is refused: on a shared device another
user could read it. The secret's value never appears in an error message.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path


class SecretSourceError(Exception):
    """A secret could not be read safely; the message never holds the secret."""


class UnsafeSecretFile(SecretSourceError):
    """A secret file is readable or writable by others than its owner."""


def read_secret_file(path: Path, what: str) -> str:
    """The first line of `path`, refusing a file whose mode is not 0600 (or stricter).

    The mode is checked on the open descriptor that is then read, so the file checked is
    the file read, even if the path is swapped in between.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # NONBLOCK: a FIFO must not hang us
    except OSError as exc:
        raise SecretSourceError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SecretSourceError(f"the {what} file {path} is not a regular file")
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise UnsafeSecretFile(
                f"the {what} file {path} has mode {stat.S_IMODE(info.st_mode):04o}; "
                f"it must be readable by its owner only (chmod 600 {path})"
            )
        try:
            text = handle.read(4096).decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretSourceError(
                f"cannot read the {what} file {path}: {type(exc).__name__}"
            ) from None
    lines = text.splitlines()
    value = lines[0].strip() if lines else ""
    if not value:
        raise SecretSourceError(f"the {what} file {path} is empty")
    return value


def secret_from(file: Path | None, env_var: str | None, what: str) -> str:
    """The secret from `file` if given, else from the environment variable `env_var`."""
    if file is not None:
        return read_secret_file(file, what)
    if env_var and os.environ.get(env_var):
        return os.environ[env_var].strip()
    where = f"a file (--{what.lower().replace(' ', '-')}-file)"
    if env_var:
        where += f" or ${env_var}"
    raise SecretSourceError(f"no {what} given: pass it in {where}")


def check_pin_format(value: str, what: str, lengths: range) -> str:
    """`value` if it is ASCII digits of an allowed length; the error tells nothing of it."""
    if not re.fullmatch(f"[0-9]{{{lengths.start},{lengths.stop - 1}}}", value):
        raise SecretSourceError(
            f"the {what} must be {lengths.start} to {lengths.stop - 1} digits (0-9)"
        )
    return value
