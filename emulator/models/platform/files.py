"""File send/receive (001 §50.3(2)): the platform receives a file from a device or an
outside system, stores it, and hands it to the chosen device or outside system.

- The uploader gives the file's SHA-256; the platform computes it and refuses a mismatch
  (400, nothing stored). Downloads carry the digest again (`X-Simgate-Sha256`).
- Size limit: `file_size_limit` bytes (default 1 MiB; `PUT /_emulator/platform`); a larger
  upload is refused with 413 naming the limit.
- The file is stored in the database (a BLOB, in the same transaction as its record).
- Handing over goes through the outbox: to a device, a `simgate_common.wire.FileNotice` on its
  `platform/files` topic (the device downloads it over HTTP with its own login); to an
  outgoing webhook, a `{"type": "file"}` delivery with the download path.
- It is a sub-option the customer chooses (§50.3, fee §56): uploads need the project's
  `file_transfer` setting on (409 `file_transfer_not_enabled` otherwise). Files accepted
  while it was on stay downloadable after it is turned off.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import Any

from emulator.clock import VirtualClock, iso_utc
from emulator.errors import BadRequest, Conflict, NotFound, PayloadTooLarge
from emulator.models.platform import adapters, devices, projects
from emulator.models.platform.outbox import Outbox
from emulator.store import Store, Tx
from simgate_common import wire

_NAME = re.compile(r"[^/\\\x00-\x1f\x7f]{1,255}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    """A file's record (its bytes are read separately)."""

    id: str
    project_id: str
    name: str
    size: int
    sha256: str
    source: str
    target: str
    created_at: str

    def to_json(self) -> dict[str, Any]:
        """The JSON view."""
        return dict(self.__dict__)


def _file(row: Any) -> StoredFile:
    return StoredFile(
        row["id"],
        row["project_id"],
        row["name"],
        int(row["size"]),
        row["sha256"],
        row["source"],
        row["target"],
        row["created_at"],
    )


def device_path(file_id: str) -> str:
    """Where a device downloads a file handed to it."""
    return f"/platform/v1/device/files/{file_id}"


def api_path(project_id: str, file_id: str) -> str:
    """Where an outside system downloads a file (API credentials)."""
    return f"/platform/v1/projects/{project_id}/files/{file_id}"


def size_limit(db: Tx) -> int:
    """The configured upload limit in bytes."""
    row = db.one("SELECT file_size_limit FROM platform_account WHERE id = 1")
    return 1024 * 1024 if row is None else int(row["file_size_limit"])


def too_large(limit: int, size: int | None = None) -> PayloadTooLarge:
    """The 413 error, naming the limit."""
    got = "" if size is None else f" ({size} bytes)"
    return PayloadTooLarge(
        f"the file{got} is over the platform's file size limit of {limit} bytes "
        "(file_size_limit, PUT /_emulator/platform)",
        code="file_too_large",
    )


class Files:
    """Upload, hand over, list and download files."""

    def __init__(self, store: Store, clock: VirtualClock, outbox: Outbox) -> None:
        self._store = store
        self._clock = clock
        self._outbox = outbox

    def size_limit(self) -> int:
        """The upload limit in bytes."""
        with self._store.transaction() as db:
            return size_limit(db)

    def upload(
        self,
        project_id: str,
        *,
        name: str,
        data: bytes,
        sha256: str,
        to: str,
        source: str = "api",
    ) -> StoredFile:
        """Check and store a file, and queue its hand-over to `to` (`device:DEVICE_ID` or
        `adapter:ADAPTER_ID`, an outgoing webhook of the project)."""
        if not _NAME.fullmatch(name):
            raise BadRequest(
                "name must be 1 to 255 characters without '/', '\\' or control characters",
                code="invalid_name",
            )
        if not _SHA256.fullmatch(sha256):
            raise BadRequest("sha256 must be 64 lower-case hex digits", code="invalid_sha256")
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise BadRequest(
                f"sha256 mismatch: the uploader said {sha256}, the received {len(data)} "
                f"bytes hash to {actual}: nothing stored",
                code="sha256_mismatch",
            )
        kind, _, target_id = to.partition(":")
        now = self._clock.now()
        with self._store.transaction() as db:
            limit = size_limit(db)
            if len(data) > limit:
                raise too_large(limit, len(data))
            if not projects.load(db, project_id).file_transfer:
                raise Conflict(
                    f"file send/receive is not enabled for project {project_id} (a sub-option, "
                    f"001 §50.3): PATCH /platform/v1/projects/{project_id} "
                    '{"file_transfer": true} first',
                    code="file_transfer_not_enabled",
                )
            file_id = f"file-{uuid.uuid4().hex}"
            if kind == "device":
                device = devices.in_project(db, project_id, target_id)
                notice = wire.FileNotice(file_id, name, len(data), actual, device_path(file_id))
                topic = wire.platform_topic(device.iccid, wire.PLATFORM_FILES)
                deliver = (f"device:{device.iccid}", {"topic": topic, **notice.to_dict()})
            elif kind == "adapter":
                adapter = adapters.load(db, project_id, target_id)
                if adapter.kind != "outgoing_webhook":
                    raise BadRequest(
                        f"adapter {target_id} is not an outgoing_webhook", code="invalid_target"
                    )
                meta = {"id": file_id, "name": name, "size": len(data), "sha256": actual}
                body = {
                    "id": None,
                    "type": "file",
                    "adapter": adapter.id,
                    "project_id": project_id,
                    "source": source,
                    "file": meta,
                    "path": api_path(project_id, file_id),
                }
                deliver = (f"adapter:{adapter.id}", body)
            else:
                raise BadRequest(
                    "to must be device:DEVICE_ID or adapter:ADAPTER_ID", code="invalid_target"
                )
            db.execute(
                "INSERT INTO platform_files (id, project_id, name, size, sha256, source, "
                "target, data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (file_id, project_id, name, len(data), actual, source, to, data, iso_utc(now)),
            )
            self._outbox.enqueue(db, now, deliver[0], "file", deliver[1])
            row = db.one("SELECT * FROM platform_files WHERE id = ?", (file_id,))
            assert row is not None
            return _file(row)

    def list_project(self, project_id: str) -> list[StoredFile]:
        """The project's files, oldest first."""
        with self._store.transaction() as db:
            projects.load(db, project_id)
            rows = db.all(
                "SELECT id, project_id, name, size, sha256, source, target, created_at "
                "FROM platform_files WHERE project_id = ? ORDER BY created_at, id",
                (project_id,),
            )
        return [_file(r) for r in rows]

    def download(self, project_id: str, file_id: str) -> tuple[StoredFile, bytes]:
        """A file of the project and its bytes."""
        with self._store.transaction() as db:
            projects.load(db, project_id)
            row = db.one(
                "SELECT * FROM platform_files WHERE id = ? AND project_id = ?",
                (file_id, project_id),
            )
        if row is None:
            raise NotFound(f"file {file_id!r} is not found", code="file_not_found")
        return _file(row), bytes(row["data"])

    def device_download(self, iccid: str, file_id: str) -> tuple[StoredFile, bytes]:
        """A file handed to (or sent by) this device, for the device itself."""
        with self._store.transaction() as db:
            device = devices.membership(db, iccid)
            row = db.one("SELECT * FROM platform_files WHERE id = ?", (file_id,))
        allowed = (
            device is not None
            and row is not None
            and (
                row["target"] == f"device:{device.device_id}"
                or row["source"] == f"device:{device.device_id}"
            )
        )
        if row is None or not allowed:
            raise NotFound(f"file {file_id!r} is not found for this device", code="file_not_found")
        return _file(row), bytes(row["data"])

    def device_project(self, iccid: str) -> devices.Device:
        """The device's registration, for its uploads (NotFound outside a project)."""
        with self._store.transaction() as db:
            device = devices.membership(db, iccid)
        if device is None:
            raise NotFound(
                f"the SIM resource {iccid} is not registered to a project",
                code="device_not_found",
            )
        return device
