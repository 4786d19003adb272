"""Memory of PINs that failed on a card, kept across restarts (safety rule 1).

The agent must never send a PIN that already failed on that card. The PINs themselves
are never stored: each entry is a salted scrypt digest of (ICCID, PIN), so the file tells
which attempts to refuse without telling what they were (scrypt makes trying all 10^4
four-digit PINs take minutes, and the file is owner-only). Writes are atomic.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

FILE_NAME = "failed-pins.json"
_SCRYPT = {"n": 2**12, "r": 8, "p": 1, "dklen": 32}


class FailedPinMemory:
    """Which PINs failed on which card, as digests in an owner-only JSON file."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME
        self._salt, self._digests = self._load()

    def _load(self) -> tuple[bytes, set[str]]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            salt = base64.b64decode(doc["salt"])
            digests = {str(d) for d in doc["digests"]}
            return salt, digests
        except FileNotFoundError:
            return secrets.token_bytes(16), set()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # Refuse to forget silently: a lost memory could let a failed PIN be re-sent.
            raise OSError(
                f"failed-PIN memory {self.path} is unreadable ({exc}); fix or remove it by hand"
            ) from None

    def _digest(self, iccid: str, pin: str) -> str:
        raw = hashlib.scrypt(f"{iccid}\0{pin}".encode(), salt=self._salt, **_SCRYPT)
        return base64.b64encode(raw).decode()

    def has_failed(self, iccid: str, pin: str) -> bool:
        """True when `pin` was refused by card `iccid` before."""
        digest = self._digest(iccid, pin)
        return any(hmac.compare_digest(digest, d) for d in self._digests)

    def remember_failure(self, iccid: str, pin: str) -> None:
        """Record that card `iccid` refused `pin`."""
        self._digests.add(self._digest(iccid, pin))
        self._save()

    def forget(self, iccid: str, pin: str) -> None:
        """`pin` is now right on card `iccid` (set by unblock or change): stop refusing it."""
        digest = self._digest(iccid, pin)
        if digest in self._digests:
            self._digests.discard(digest)
            self._save()

    def _save(self) -> None:
        doc = {
            "salt": base64.b64encode(self._salt).decode(),
            "digests": sorted(self._digests),
        }
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(doc, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        log.debug("failed-PIN memory now holds %d entr(y/ies)", len(self._digests))
