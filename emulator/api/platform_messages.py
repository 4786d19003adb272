"""Mono Platform REST: messages to devices, service adapters (webhooks) and the
WebSocket stream of a project's device messages."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, WebSocket
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketDisconnect

from emulator.api.common import BackendDep, require_auth
from emulator.api.platform_projects import PREFIX, DeviceId, ProjectId
from emulator.api.platform_schemas import (
    AdapterIn,
    AdapterOut,
    AdapterPatch,
    MessageIn,
    MessageOut,
    errors,
)
from emulator.backend import Backend
from emulator.errors import BadRequest, EmulatorError
from emulator.models.credentials import ApiCredentials
from emulator.models.platform.adapters import SIGNATURE_HEADER, Adapter
from emulator.models.platform.messages import Message, parse_body
from emulator.models.platform.service import MAX_INCOMING

AdapterId = Annotated[str, Path(max_length=32, description="an adapter id (12 digits)")]
STREAM_POLL = 0.02

unsigned = APIRouter(prefix=PREFIX, tags=["Mono Platform: messages and adapters"])
"""Routes that check their own credentials (webhook signature, WebSocket handshake)."""
authed = APIRouter(
    prefix=PREFIX,
    tags=["Mono Platform: messages and adapters"],
    dependencies=[Depends(require_auth)],
    responses=errors(400, 401, 404, 409),
)


def _message(message: Message) -> MessageOut:
    return MessageOut(**message.to_json())


def _adapter(adapter: Adapter, secret: str | None = None) -> AdapterOut:
    incoming = (
        f"{PREFIX}/projects/{adapter.project_id}/adapters/{adapter.id}/incoming"
        if adapter.kind == "incoming_webhook"
        else None
    )
    return AdapterOut(**adapter.__dict__, incoming_path=incoming, secret=secret)


@authed.post(
    "/projects/{project_id}/devices/{device_id}/messages",
    status_code=202,
    response_model=MessageOut,
    responses={200: {"model": MessageOut, "description": "the same id was sent before"}},
)
async def send_message(
    project_id: ProjectId, device_id: DeviceId, body: MessageIn, backend: BackendDep
) -> Any:
    """Send typed objects to a device (its `platform/down` topic, through the outbox).
    202: accepted and queued; 200: a repeat of an `id` already sent (not sent again)."""
    doc = {"id": body.id, "objects": [o.model_dump() for o in body.objects]}
    message, created = backend.platform.messages.send_down(project_id, device_id, doc)
    if created:
        return _message(message)
    return JSONResponse(_message(message).model_dump(), status_code=200)


@authed.get("/projects/{project_id}/messages", response_model=list[MessageOut])
async def list_messages(
    project_id: ProjectId,
    backend: BackendDep,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    direction: Annotated[str | None, Query(pattern="^(up|down)$")] = None,
    device_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[MessageOut]:
    """The project's messages with `seq > after`, oldest first."""
    found = backend.platform.messages.list_project(
        project_id, after=after, limit=limit, direction=direction, device_id=device_id
    )
    return [_message(m) for m in found]


@authed.get("/projects/{project_id}/adapters", response_model=list[AdapterOut])
async def list_adapters(project_id: ProjectId, backend: BackendDep) -> list[AdapterOut]:
    """The project's service adapters."""
    return [_adapter(a) for a in backend.platform.adapters.list_project(project_id)]


@authed.post("/projects/{project_id}/adapters", status_code=201, response_model=AdapterOut)
async def create_adapter(project_id: ProjectId, body: AdapterIn, backend: BackendDep) -> AdapterOut:
    """Create a service adapter; the answer shows its signing secret (only this once)."""
    adapter, secret = backend.platform.adapters.create(
        project_id, kind=body.kind, name=body.name, url=body.url, secret=body.secret
    )
    return _adapter(adapter, secret)


@authed.get("/projects/{project_id}/adapters/{adapter_id}", response_model=AdapterOut)
async def get_adapter(
    project_id: ProjectId, adapter_id: AdapterId, backend: BackendDep
) -> AdapterOut:
    """One adapter (without its secret)."""
    return _adapter(backend.platform.adapters.get(project_id, adapter_id))


@authed.patch("/projects/{project_id}/adapters/{adapter_id}", response_model=AdapterOut)
async def update_adapter(
    project_id: ProjectId, adapter_id: AdapterId, body: AdapterPatch, backend: BackendDep
) -> AdapterOut:
    """Rename an adapter or change an outgoing webhook's URL."""
    adapter = backend.platform.adapters.update(project_id, adapter_id, name=body.name, url=body.url)
    return _adapter(adapter)


@authed.delete("/projects/{project_id}/adapters/{adapter_id}", response_model=AdapterOut)
async def delete_adapter(
    project_id: ProjectId, adapter_id: AdapterId, backend: BackendDep
) -> AdapterOut:
    """Delete an adapter (its undelivered deliveries are dropped)."""
    return _adapter(backend.platform.adapters.delete(project_id, adapter_id))


@unsigned.post(
    "/projects/{project_id}/adapters/{adapter_id}/incoming",
    status_code=202,
    response_model=MessageOut,
    responses={200: {"model": MessageOut}, **errors(400, 401, 404)},
    openapi_extra={
        "parameters": [
            {
                "name": SIGNATURE_HEADER,
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": "sha256=<hex HMAC-SHA256 of the raw body under the secret>",
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["device_id", "objects"],
                        "properties": {
                            "device_id": {"type": "string"},
                            "id": {"type": "string"},
                            "objects": {"type": "array", "items": {"type": "object"}},
                        },
                    }
                }
            },
        },
    },
)
async def incoming(
    project_id: ProjectId, adapter_id: AdapterId, request: Request, backend: BackendDep
) -> Any:
    """An outside system sends `{"device_id", "id"?, "objects"}` to a device, signed with
    the incoming webhook's secret (no Basic auth). A bad signature: 401, nothing sent."""
    body = await _read_limited(request, MAX_INCOMING)
    signature = request.headers.get(SIGNATURE_HEADER)
    message, created = backend.platform.incoming(project_id, adapter_id, body, signature)
    return JSONResponse(_message(message).model_dump(), status_code=202 if created else 200)


async def _read_limited(request: Request, limit: int) -> bytes:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise BadRequest(f"the body is over {limit} bytes", code="invalid_message")
    return bytes(data)


# --- the WebSocket stream ----------------------------------------------------------------


def _ws_authorised(websocket: WebSocket) -> bool:
    guard = getattr(websocket.app.state, "guard", None)
    if guard is not None and not guard.auth_required:
        return True
    credentials: ApiCredentials = websocket.app.state.credentials
    header = websocket.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return credentials.matches(user, password)


@unsigned.websocket("/projects/{project_id}/stream")
async def stream(websocket: WebSocket, project_id: str, after: int | None = None) -> None:
    """Device messages of the project as they arrive (`{"type": "message", ...}`), from
    `seq > after` (default: only new ones); the client may send `{"type": "send",
    "device_id", "id"?, "objects"}` and gets `{"type": "ack", ...}` or `{"type": "error"}`.
    HTTP Basic auth on the handshake; a refused handshake is closed with 1008."""
    backend: Backend = websocket.app.state.backend
    if not _ws_authorised(websocket):
        await websocket.close(code=1008, reason="authentication failed")
        return
    try:
        cursor = backend.platform.messages.latest_seq(project_id) if after is None else after
    except EmulatorError as exc:
        await websocket.close(code=1008, reason=exc.message[:120])
        return
    await websocket.accept()
    lock = asyncio.Lock()
    pusher = asyncio.create_task(_push(websocket, backend, project_id, cursor, lock))
    try:
        await _receive(websocket, backend, project_id, lock)
    except WebSocketDisconnect:
        pass
    finally:
        pusher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pusher


async def _push(
    websocket: WebSocket, backend: Backend, project_id: str, cursor: int, lock: asyncio.Lock
) -> None:
    signal = backend.platform.messages.signal
    seen = -1
    while True:
        if signal.version != seen:
            seen = signal.version
            found = backend.platform.messages.list_project(
                project_id, after=cursor, limit=1000, direction="up"
            )
            for message in found:
                async with lock:
                    await websocket.send_json({"type": "message", **message.to_json()})
                cursor = message.seq
            if len(found) == 1000:
                seen = -1
                continue
        await asyncio.sleep(STREAM_POLL)


async def _receive(
    websocket: WebSocket, backend: Backend, project_id: str, lock: asyncio.Lock
) -> None:
    while True:
        frame = await websocket.receive()
        if frame["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(frame.get("code", 1000))
        text = frame.get("text") or frame.get("bytes") or b""
        reply: dict[str, Any]
        try:
            doc = json.loads(text)
            if not isinstance(doc, dict) or doc.get("type") != "send":
                raise BadRequest('send {"type": "send", "device_id", "id"?, "objects"}')
            device_id = doc.get("device_id")
            if not isinstance(device_id, str):
                raise BadRequest("device_id: a device ID string is required")
            message = parse_body({k: v for k, v in doc.items() if k in ("id", "objects")})
            with backend.store.transaction() as db:
                stored, created = backend.platform.messages.send_down_in(
                    db, project_id, device_id, message, "stream"
                )
            reply = {"type": "ack", "created": created, **stored.to_json()}
        except EmulatorError as exc:
            reply = {"type": "error", "error_code": exc.code, "error": exc.message}
        except (ValueError, RecursionError):
            reply = {"type": "error", "error_code": "invalid_message", "error": "not UTF-8 JSON"}
        async with lock:
            await websocket.send_json(reply)


router = APIRouter()
router.include_router(authed)
router.include_router(unsigned)
