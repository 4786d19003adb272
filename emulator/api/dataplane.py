"""`GET /_emulator/dataplane`: the gateway data plane's hosts and namespaces (contracts §4).

Without `--data-plane` the answer is `{"enabled": false, "internet": null, "gateways": []}`.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from emulator.api.common import require_auth
from emulator.api.sakura_schemas import SakuraError

router = APIRouter(
    prefix="/_emulator",
    tags=["emulator: data plane"],
    dependencies=[Depends(require_auth)],
    responses={401: {"model": SakuraError}},
)


class HostOut(BaseModel):
    """An HTTP host answering `GET /bytes/{n}` with n bytes."""

    address: str
    url: str


class GatewayPlaneOut(BaseModel):
    """A mobile gateway's namespace and the switch segment's host behind it."""

    id: str
    namespace: str
    closed_network: HostOut


class DataPlaneOut(BaseModel):
    """The data plane: whether it runs, the internet's host, each gateway's pieces."""

    enabled: bool
    internet: HostOut | None
    gateways: list[GatewayPlaneOut]


@router.get("/dataplane", response_model=DataPlaneOut)
async def dataplane(request: Request) -> DataPlaneOut:
    """The internet host and, per mobile gateway, its namespace and closed-network host."""
    plane = request.app.state.dataplane
    if plane is None:
        return DataPlaneOut(enabled=False, internet=None, gateways=[])
    return DataPlaneOut.model_validate(await asyncio.to_thread(plane.info))
