"""Mono Platform REST: file send/receive (001 §50.3(2)).

Uploads are the raw bytes (`application/octet-stream`) with `name`, `sha256` (of the
bytes, hex) and `to` (`device:DEVICE_ID` or `adapter:ADAPTER_ID`) in the query. Outside
systems use the API credentials under `/projects/{id}/files`; devices use their own login
(HTTP Basic: ICCID and device token) under `/device/files`.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from emulator.api.common import BackendDep, require_auth
from emulator.api.platform_projects import PREFIX, ProjectId
from emulator.api.platform_schemas import FileOut, errors
from emulator.backend import Backend
from emulator.errors import Unauthorized
from emulator.models.platform.files import StoredFile, too_large
from emulator.models.sims import find_by_iccid

FileId = Annotated[str, Path(max_length=64, description="a file id (file-...)")]
Name = Annotated[str, Query(min_length=1, max_length=255, description="the file's name")]
Sha256 = Annotated[
    str, Query(pattern="^[0-9a-f]{64}$", description="SHA-256 of the bytes, lower-case hex")
]
To = Annotated[
    str,
    Query(
        pattern="^(device|adapter):[A-Za-z0-9_-]{1,64}$",
        description="device:DEVICE_ID or adapter:ADAPTER_ID (an outgoing webhook)",
    ),
]
HASH_HEADER = "X-Simgate-Sha256"
UPLOAD: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
BYTES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {}}, "description": "the file's bytes"}
}

authed = APIRouter(
    prefix=PREFIX,
    tags=["Mono Platform: files"],
    dependencies=[Depends(require_auth)],
    responses=errors(400, 401, 404, 409, 413),
)
device_routes = APIRouter(
    prefix=f"{PREFIX}/device",
    tags=["Mono Platform: files (device side)"],
    responses=errors(400, 401, 404, 409, 413),
)
_basic = HTTPBasic(auto_error=False, realm="simgate-device")


def device_login(
    request: Request, credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)]
) -> str:
    """HTTP Basic with a registered SIM's ICCID and its device token; the ICCID."""
    backend: Backend = request.app.state.backend
    if credentials is not None and credentials.username.isdigit():
        with backend.store.transaction() as db:
            sim = find_by_iccid(db, credentials.username)
        if sim is not None and backend.device_tokens.verify(sim, credentials.password):
            return sim.iccid
    raise Unauthorized("device authentication failed: ICCID and device token expected")


DeviceLogin = Annotated[str, Depends(device_login)]


async def _body(request: Request, backend: Backend) -> bytes:
    """The upload, refused with 413 as soon as it passes the limit."""
    limit = backend.platform.files.size_limit()
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit, int(declared))
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise too_large(limit)
    return bytes(data)


def _download(stored: StoredFile, data: bytes) -> Response:
    headers = {
        HASH_HEADER: stored.sha256,
        "ETag": f'"{stored.sha256}"',
        "Content-Disposition": f"attachment; filename*=UTF-8''{_quote(stored.name)}",
    }
    return Response(data, media_type="application/octet-stream", headers=headers)


def _quote(name: str) -> str:
    return quote(name, safe="")


@authed.post(
    "/projects/{project_id}/files", status_code=201, response_model=FileOut, openapi_extra=UPLOAD
)
async def upload(
    project_id: ProjectId, name: Name, sha256: Sha256, to: To, request: Request, backend: BackendDep
) -> FileOut:
    """Upload a file for a device or an outgoing webhook of the project; a wrong
    `sha256` is refused (400), a file over the size limit too (413), and any file while
    the project's `file_transfer` sub-option is off (409)."""
    data = await _body(request, backend)
    stored = backend.platform.files.upload(project_id, name=name, data=data, sha256=sha256, to=to)
    return FileOut(**stored.to_json())


@authed.get("/projects/{project_id}/files", response_model=list[FileOut])
async def list_files(project_id: ProjectId, backend: BackendDep) -> list[FileOut]:
    """The project's files."""
    return [FileOut(**f.to_json()) for f in backend.platform.files.list_project(project_id)]


@authed.get("/projects/{project_id}/files/{file_id}", response_class=Response, responses=BYTES)
async def download(project_id: ProjectId, file_id: FileId, backend: BackendDep) -> Response:
    """The file's bytes; `X-Simgate-Sha256` (and the ETag) carry its SHA-256."""
    return _download(*backend.platform.files.download(project_id, file_id))


@device_routes.post("/files", status_code=201, response_model=FileOut, openapi_extra=UPLOAD)
async def device_upload(
    iccid: DeviceLogin, name: Name, sha256: Sha256, to: To, request: Request, backend: BackendDep
) -> FileOut:
    """A device uploads a file for an outgoing webhook or another device of its project."""
    device = backend.platform.files.device_project(iccid)
    data = await _body(request, backend)
    stored = backend.platform.files.upload(
        device.project_id,
        name=name,
        data=data,
        sha256=sha256,
        to=to,
        source=f"device:{device.device_id}",
    )
    return FileOut(**stored.to_json())


@device_routes.get("/files/{file_id}", response_class=Response, responses=BYTES)
async def device_download(iccid: DeviceLogin, file_id: FileId, backend: BackendDep) -> Response:
    """A device downloads a file handed to it (announced on its `platform/files` topic)."""
    return _download(*backend.platform.files.device_download(iccid, file_id))


router = APIRouter()
router.include_router(authed)
router.include_router(device_routes)
