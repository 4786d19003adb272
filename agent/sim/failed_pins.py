"""Memory of PINs that failed on a card, kept across restarts (safety rule 1).

The agent must never send a PIN that already failed on that card. The PINs themselves
are never stored: each entry is a salted scrypt digest of (ICCID, PIN), so the file tells
which attempts to refuse without telling what they were (scrypt makes trying all 10^4
four-digit PINs take minutes, and the file is owner-only).

Every look-up and change re-reads the file under an exclusive `flock`, so two processes
(the daemon and an operator's command) never miss or overwrite each other's entries.
Writes are atomic (temporary file, fsync, rename, fsync of the directory). A file that
cannot be read or validated is an error, never an empty memory: forgetting silently could
let a failed PIN be sent again.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from simgate_common.files import write_private_file

log = logging.getLogger(__name__)

FILE_NAME = "failed-pins.json"
LOCK_NAME = "failed-pins.lock"
SALT_BYTES = 16
_SCRYPT = {"n": 2**12, "r": 8, "p": 1, "dklen": 32}


class FailedPinMemoryError(OSError):
    """The memory file cannot be read, validated or written."""


class FailedPinMemory:
    """Which PINs failed on which card, as digests in an owner-only JSON file."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME
        self._lock_path = directory / LOCK_NAME

    @contextlib.contextmanager
    def _locked(self) -> Iterator[tuple[bytes, set[str]]]:
        try:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise FailedPinMemoryError(
                f"cannot open the failed-PIN memory lock {self._lock_path}: {exc.strerror}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self._load()
        finally:
            os.close(fd)

    def _load(self) -> tuple[bytes, set[str]]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return secrets.token_bytes(SALT_BYTES), set()
        except (OSError, ValueError) as exc:
            raise self._unusable(exc) from None
        try:
            if not isinstance(doc, dict):
                raise TypeError("not a JSON object")
            salt = base64.b64decode(doc["salt"], validate=True)
            digests = doc["digests"]
            if len(salt) != SALT_BYTES:
                raise ValueError("salt of the wrong length")
            if not isinstance(digests, list) or not all(isinstance(d, str) for d in digests):
                raise TypeError("digests is not a list of strings")
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise self._unusable(exc) from None
        return salt, set(digests)

    def _unusable(self, exc: Exception) -> FailedPinMemoryError:
        return FailedPinMemoryError(
            f"failed-PIN memory {self.path} is unusable ({type(exc).__name__}: {exc}); "
            "no PIN is sent until it is fixed or removed by hand"
        )

    @staticmethod
    def _digest(salt: bytes, key: str, pin: str) -> str:
        raw = hashlib.scrypt(f"{key}\0{pin}".encode(), salt=salt, **_SCRYPT)
        return base64.b64encode(raw).decode()

    def has_failed(self, key: str, pin: str) -> bool:
        """True when `pin` was refused (or its outcome lost) on card `key` before."""
        with self._locked() as (salt, digests):
            digest = self._digest(salt, key, pin)
            return any(hmac.compare_digest(digest, d) for d in digests)

    def remember_failure(self, key: str, pin: str) -> None:
        """Record `pin` as failed on card `key`; raises when that cannot be made durable."""
        with self._locked() as (salt, digests):
            digests.add(self._digest(salt, key, pin))
            self._save(salt, digests)

    def forget(self, key: str, pin: str) -> None:
        """`pin` is right on card `key` (accepted, or set by unblock/change): allow it."""
        with self._locked() as (salt, digests):
            digest = self._digest(salt, key, pin)
            if digest in digests:
                digests.discard(digest)
                self._save(salt, digests)

    def _save(self, salt: bytes, digests: set[str]) -> None:
        doc = {"salt": base64.b64encode(salt).decode(), "digests": sorted(digests)}
        try:
            write_private_file(self.path, json.dumps(doc))
        except OSError as exc:
            raise FailedPinMemoryError(
                f"cannot write the failed-PIN memory {self.path}: {exc.strerror}"
            ) from None
        log.debug("failed-PIN memory now holds %d entr(y/ies)", len(digests))
