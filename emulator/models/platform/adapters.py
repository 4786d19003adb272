"""Service adapters (001 §50.3(1)): exchange device data with outside systems.

- `outgoing_webhook`: every message a device of the project sends (and every file handed
  to the adapter) is POSTed as JSON to `url`, through the outbox (durable, retried).
- `incoming_webhook`: the outside system POSTs messages for the project's devices to
  `/platform/v1/projects/{project}/adapters/{adapter}/incoming`.

Both are signed: header `X-Simgate-Signature: sha256=<hex HMAC-SHA256 of the raw body>`
under the adapter's secret (made at creation unless given; shown only then).

The sub-option is billed per project (§56): the project's first adapter, of either kind,
logs `option_set service_adapter`; deleting its last one logs `option_cleared`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from emulator.clock import VirtualClock, iso_utc
from emulator.errors import BadRequest, NotFound, Unauthorized
from emulator.models.common import MAX_NAME, check_text
from emulator.models.platform import projects
from emulator.store import Store, Tx

AdapterKind = Literal["outgoing_webhook", "incoming_webhook"]
KINDS: tuple[AdapterKind, ...] = ("outgoing_webhook", "incoming_webhook")
SIGNATURE_HEADER = "X-Simgate-Signature"
DELIVERY_HEADER = "X-Simgate-Delivery"
MAX_URL = 2048
MIN_SECRET = 16


@dataclass(frozen=True)
class Adapter:
    """A service adapter of a project (its secret is kept apart)."""

    id: str
    project_id: str
    kind: str
    name: str
    url: str | None
    created_at: str


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: `sha256=<hex HMAC-SHA256(secret, body)>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _adapter(row: Any) -> Adapter:
    return Adapter(
        row["id"], row["project_id"], row["kind"], row["name"], row["url"], row["created_at"]
    )


def check_url(url: str) -> str:
    """An absolute http(s) URL."""
    parts = urlsplit(url)
    if len(url) > MAX_URL or parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(
            f"url must be an absolute http:// or https:// URL of at most {MAX_URL} characters",
            code="invalid_url",
        )
    return url


def load(db: Tx, project_id: str, adapter_id: str) -> Adapter:
    """The project's adapter; NotFound otherwise."""
    projects.load(db, project_id)
    row = db.one("SELECT * FROM adapters WHERE id = ? AND project_id = ?", (adapter_id, project_id))
    if row is None:
        raise NotFound(
            f"adapter {adapter_id!r} is not found in project {project_id}",
            code="adapter_not_found",
        )
    return _adapter(row)


def outgoing(db: Tx, project_id: str) -> list[Adapter]:
    """The project's outgoing webhooks."""
    rows = db.all(
        "SELECT * FROM adapters WHERE project_id = ? AND kind = 'outgoing_webhook' ORDER BY id",
        (project_id,),
    )
    return [_adapter(r) for r in rows]


def secret_of(db: Tx, adapter_id: str) -> str | None:
    """The adapter's secret (for signing), or None when it is gone."""
    row = db.one("SELECT secret FROM adapters WHERE id = ?", (adapter_id,))
    return None if row is None else str(row["secret"])


class Adapters:
    """CRUD of adapters and the check of incoming signatures."""

    def __init__(self, store: Store, clock: VirtualClock) -> None:
        self._store = store
        self._clock = clock

    def create(
        self,
        project_id: str,
        *,
        kind: str,
        name: str = "",
        url: str | None = None,
        secret: str | None = None,
    ) -> tuple[Adapter, str]:
        """A new adapter and its secret (returned only here)."""
        if kind not in KINDS:
            raise BadRequest(f"kind must be one of {', '.join(KINDS)}", code="invalid_kind")
        check_text("name", name, MAX_NAME)
        if kind == "outgoing_webhook":
            if url is None:
                raise BadRequest("an outgoing_webhook needs a url", code="invalid_url")
            check_url(url)
        elif url is not None:
            raise BadRequest("only an outgoing_webhook has a url", code="invalid_url")
        if secret is not None and not MIN_SECRET <= len(secret) <= 256:
            raise BadRequest(
                f"secret must be {MIN_SECRET} to 256 characters", code="invalid_secret"
            )
        key = secret or secrets.token_urlsafe(32)
        now = self._clock.now()
        with self._store.transaction() as db:
            if projects.load(db, project_id).adapters == 0:
                projects.option_event(db, now, "service_adapter", project_id, on=True)
            adapter_id = db.new_id("adapters")
            db.execute(
                "INSERT INTO adapters (id, project_id, kind, name, url, secret, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (adapter_id, project_id, kind, name or kind, url, key, iso_utc(now)),
            )
            return load(db, project_id, adapter_id), key

    def list_project(self, project_id: str) -> list[Adapter]:
        """The project's adapters."""
        with self._store.transaction() as db:
            projects.load(db, project_id)
            rows = db.all("SELECT * FROM adapters WHERE project_id = ? ORDER BY id", (project_id,))
        return [_adapter(r) for r in rows]

    def get(self, project_id: str, adapter_id: str) -> Adapter:
        """One adapter."""
        with self._store.transaction() as db:
            return load(db, project_id, adapter_id)

    def update(
        self, project_id: str, adapter_id: str, *, name: str | None = None, url: str | None = None
    ) -> Adapter:
        """Rename an adapter or point an outgoing webhook elsewhere (pending deliveries
        go to the new URL)."""
        with self._store.transaction() as db:
            adapter = load(db, project_id, adapter_id)
            if url is not None:
                if adapter.kind != "outgoing_webhook":
                    raise BadRequest("only an outgoing_webhook has a url", code="invalid_url")
                check_url(url)
            db.execute(
                "UPDATE adapters SET name = ?, url = ? WHERE id = ?",
                (
                    check_text("name", name, MAX_NAME) if name else adapter.name,
                    url if url is not None else adapter.url,
                    adapter_id,
                ),
            )
            return load(db, project_id, adapter_id)

    def delete(self, project_id: str, adapter_id: str) -> Adapter:
        """Delete an adapter; its undelivered deliveries are dropped. The project's last
        adapter clears the sub-option (`option_cleared`)."""
        now = self._clock.now()
        with self._store.transaction() as db:
            adapter = load(db, project_id, adapter_id)
            db.execute(
                "DELETE FROM outbox WHERE target = ? AND delivered_at IS NULL",
                (f"adapter:{adapter_id}",),
            )
            db.execute("DELETE FROM adapters WHERE id = ?", (adapter_id,))
            if projects.load(db, project_id).adapters == 0:
                projects.option_event(db, now, "service_adapter", project_id, on=False)
            return adapter

    def endpoint(self, adapter_id: str) -> tuple[str, str] | None:
        """`(url, secret)` of an outgoing webhook, or None when it is gone."""
        with self._store.transaction() as db:
            row = db.one(
                "SELECT url, secret FROM adapters WHERE id = ? AND kind = 'outgoing_webhook'",
                (adapter_id,),
            )
        return None if row is None else (str(row["url"]), str(row["secret"]))

    def verify_incoming(
        self, db: Tx, project_id: str, adapter_id: str, body: bytes, signature: str | None
    ) -> Adapter:
        """The incoming webhook, if `signature` is right for `body`; Unauthorized if not."""
        adapter = load(db, project_id, adapter_id)
        if adapter.kind != "incoming_webhook":
            raise BadRequest(
                f"adapter {adapter_id} is an {adapter.kind}, not an incoming_webhook",
                code="not_incoming",
            )
        secret = secret_of(db, adapter_id) or ""
        if not signature or not hmac.compare_digest(sign(secret, body), signature.strip()):
            raise Unauthorized(
                f"bad or missing {SIGNATURE_HEADER} (sha256=<hex HMAC-SHA256 of the body "
                "under the adapter's secret>): nothing delivered",
                code="bad_signature",
            )
        return adapter
