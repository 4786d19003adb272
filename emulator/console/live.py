"""Live updates (server-sent events) and the console's static files.

`GET /console/stream?since=V` sends `event: change` whenever the console's version (a
digest of the event log, session log, device states, SIMs, gateways and clock; see
`queries.fingerprint`) differs from the one the page was drawn at; the page's script then
fetches itself and swaps the parts marked live, with no reload. A report stored by the
MQTT ingest (either broker) shows within a poll interval. Each stream ends after
`STREAM_SECONDS` and the browser reconnects (`retry:`), so stopping the server never
waits long for an open page.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from emulator.console import queries
from emulator.console.web import SECURITY_HEADERS, backend_of
from emulator.errors import NotFound

router = APIRouter(include_in_schema=False)
POLL_SECONDS = 0.25
STREAM_SECONDS = 3.0
RETRY_MS = 300
_STATIC = re.compile(r"[a-z0-9_-]+\.(css|js|svg)")
_TYPES = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml"}


def current_version(request: Request) -> str:
    """The console's version now."""
    backend = backend_of(request)
    with backend.store.transaction() as db:
        return queries.fingerprint(db)


@router.get("/console/stream")
async def stream(request: Request, since: str = "") -> StreamingResponse:
    """Server-sent events: `change` with the new version, as soon as it differs."""
    last = request.headers.get("last-event-id") or since[:64]

    async def events() -> AsyncIterator[str]:
        seen = last
        yield f"retry: {RETRY_MS}\n\n"
        deadline = time.monotonic() + STREAM_SECONDS
        while time.monotonic() < deadline:
            if await request.is_disconnected():
                return
            version = await asyncio.to_thread(current_version, request)
            if version != seen:
                seen = version
                yield f"id: {version}\nevent: change\ndata: {version}\n\n"
            await asyncio.sleep(POLL_SECONDS)
        yield f"id: {seen}\nevent: ping\ndata: {seen}\n\n"

    headers = {**SECURITY_HEADERS, "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


@router.get("/console/static/{name}")
def static(name: str) -> Response:
    """A file shipped in the package (styles, script, icon): nothing comes from a CDN."""
    match = _STATIC.fullmatch(name)
    if match is None:
        raise NotFound(f"no console file {name!r}")
    path = resources.files("emulator.console").joinpath("static", name)
    if not path.is_file():
        raise NotFound(f"no console file {name!r}")
    return Response(
        path.read_bytes(),
        media_type=_TYPES[match.group(1)],
        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
    )
