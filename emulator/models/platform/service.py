"""`Platform`: the Mono Platform's aggregates over one store, plus its settings and the
incoming-webhook path (signature check and delivery in one transaction)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from emulator.clock import VirtualClock
from emulator.errors import BadRequest
from emulator.models.platform.adapters import Adapters
from emulator.models.platform.devices import Devices
from emulator.models.platform.files import MAX_LIMIT, Files
from emulator.models.platform.messages import Message, Messages, parse_body
from emulator.models.platform.outbox import Outbox
from emulator.models.platform.projects import Projects
from emulator.store import Store

MAX_INCOMING = 64 * 1024


@dataclass(frozen=True)
class PlatformSettings:
    """Emulator settings of the platform (`/_emulator/platform`)."""

    file_size_limit: int
    retry_initial: float
    retry_max: float


class Platform:
    """Projects, devices, messages, adapters, files and the outbox."""

    def __init__(self, store: Store, clock: VirtualClock) -> None:
        self._store = store
        self.outbox = Outbox(store, clock)
        self.projects = Projects(store, clock)
        self.devices = Devices(store, clock)
        self.adapters = Adapters(store, clock)
        self.messages = Messages(store, clock, self.outbox)
        self.files = Files(store, clock, self.outbox)

    def settings(self) -> PlatformSettings:
        """The current settings."""
        with self._store.transaction() as db:
            row = db.one(
                "SELECT file_size_limit, retry_initial, retry_max FROM platform_account "
                "WHERE id = 1"
            )
        assert row is not None
        return PlatformSettings(
            int(row["file_size_limit"]), float(row["retry_initial"]), float(row["retry_max"])
        )

    def configure(
        self,
        *,
        file_size_limit: int | None = None,
        retry_initial: float | None = None,
        retry_max: float | None = None,
    ) -> PlatformSettings:
        """Change settings; omitted ones stay."""
        if file_size_limit is not None and not 1 <= file_size_limit <= MAX_LIMIT:
            raise BadRequest(f"file_size_limit must be 1 to {MAX_LIMIT} bytes")
        if retry_initial is not None and not 0.01 <= retry_initial <= 3600:
            raise BadRequest("retry_initial must be 0.01 to 3600 seconds")
        if retry_max is not None and not 0.01 <= retry_max <= 86400:
            raise BadRequest("retry_max must be 0.01 to 86400 seconds")
        with self._store.transaction() as db:
            for column, value in (
                ("file_size_limit", file_size_limit),
                ("retry_initial", retry_initial),
                ("retry_max", retry_max),
            ):
                if value is not None:
                    db.execute(
                        f"UPDATE platform_account SET {column} = ? WHERE id = 1",  # noqa: S608
                        (value,),
                    )
        return self.settings()

    def incoming(
        self, project_id: str, adapter_id: str, body: bytes, signature: str | None
    ) -> tuple[Message, bool]:
        """An incoming webhook's POST: checked signature, then `{"device_id", "id"?,
        "objects"}` delivered to the device. A bad signature or body changes nothing."""
        if len(body) > MAX_INCOMING:
            raise BadRequest(f"the body is over {MAX_INCOMING} bytes", code="invalid_message")
        with self._store.transaction() as db:
            self.adapters.verify_incoming(db, project_id, adapter_id, body, signature)
            doc = _json_object(body)
            device_id = doc.pop("device_id", None)
            if not isinstance(device_id, str) or not device_id:
                raise BadRequest(
                    "device_id: a device ID string is required", code="invalid_message"
                )
            message = parse_body(doc)
            return self.messages.send_down_in(
                db, project_id, device_id, message, f"adapter:{adapter_id}"
            )


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise BadRequest("the body is not valid JSON", code="invalid_message") from None
    if not isinstance(doc, dict):
        raise BadRequest("the body must be a JSON object", code="invalid_message")
    return doc
