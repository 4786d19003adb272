"""Fleets over HTTP: the Sakura API's batch registration, N cards from the SIM factory
(streamed as NDJSON), and the device tokens of many SIMs at once.

- `POST /cloud/zone/{zone}/api/cloud/1.1/commonserviceitem/batch`
  `{"CommonServiceItems": [{"Provider": {"Class": "sim"}, "Status": {"ICCID"},
  "Remark": {"PassCode"}, "Name"?, "Description"?, "Tags"?}, ...], "MobileGateway"?:
  {"ID"}}` → 201 `{"Total", "Count", "CommonServiceItems": [...], "is_ok", "Success"}`:
  every SIM registered (and added to the gateway) in one transaction, or none.
- `POST /_emulator/sims {"count": N}` (see `control.manufacture`) → N cards as JSON Lines.
- `POST /_emulator/tokens {"iccids": [...]}` → `{"iccid", "sim_id", "token"}` lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, Final

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from emulator.api import sakura_views as views
from emulator.api.common import BackendDep, Zone, require_auth
from emulator.api.sakura_schemas import SakuraError, SimIn
from emulator.backend import Backend
from emulator.errors import BadRequest, NotFound
from emulator.models.cards import Card, check_iccid
from emulator.models.common import MAX_DESCRIPTION, MAX_NAME, check_tags, check_text
from emulator.models.fleet import MAX_BATCH, BatchItem, manufacture_many, register_many
from emulator.models.sims import find_by_iccid

NDJSON: Final = "application/x-ndjson"
_CHUNK: Final = 500
"""Lines per chunk of a streamed answer."""

API = "/cloud/zone/{zone}/api/cloud/1.1"
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": SakuraError} for code in (400, 401, 403, 404, 409)
}

sakura_router = APIRouter(
    prefix=API, tags=["Sakura: SIM"], dependencies=[Depends(require_auth)], responses=ERRORS
)
control_router = APIRouter(prefix="/_emulator", tags=["emulator: control"], responses=ERRORS)


class GatewayRef(BaseModel):
    """The mobile gateway every SIM of the batch joins."""

    model_config = ConfigDict(extra="forbid")
    ID: str | int


class SimBatchIn(BaseModel):
    """SIMs to register at once (each like `POST /commonserviceitem`'s `CommonServiceItem`)."""

    model_config = ConfigDict(extra="forbid")
    CommonServiceItems: list[SimIn] = Field(min_length=1, max_length=MAX_BATCH)
    MobileGateway: GatewayRef | None = None


def batch_items(items: Sequence[SimIn]) -> list[BatchItem]:
    """The batch's SIMs, checked field by field (errors name `CommonServiceItems[i]`)."""
    result = []
    for index, item in enumerate(items):
        where = f"CommonServiceItems[{index}]"
        if item.Provider is None or item.Provider.Class != "sim":
            raise BadRequest(f'{where}.Provider.Class must be "sim"', code="invalid_parameter")
        iccid = item.Status.ICCID if item.Status else None
        passcode = item.Remark.PassCode if item.Remark else None
        if not iccid:
            raise BadRequest(f"{where}.Status.ICCID is required", code="invalid_parameter")
        if not passcode:
            raise BadRequest(f"{where}.Remark.PassCode is required", code="invalid_parameter")
        try:
            check_iccid(iccid)
            name = check_text("Name", item.Name or "", MAX_NAME)
            description = check_text("Description", item.Description or "", MAX_DESCRIPTION)
            tags = check_tags(list(item.Tags or []))
        except BadRequest as exc:
            raise BadRequest(f"{where}: {exc.message}", code=exc.code) from None
        result.append(BatchItem(iccid, passcode, name, description, tuple(tags), where))
    return result


@sakura_router.post("/commonserviceitem/batch", status_code=201, response_class=JSONResponse)
async def register_batch(zone: Zone, body: SimBatchIn, backend: BackendDep) -> JSONResponse:
    """Register many shipped cards in one transaction (an emulator addition to the API):
    a bad item anywhere (unknown card, wrong PASSCODE, an ICCID registered already or
    twice in the batch) refuses the whole batch, naming the item."""
    items = batch_items(body.CommonServiceItems)
    gateway = None if body.MobileGateway is None else str(body.MobileGateway.ID)
    sims = register_many(backend.store, backend.clock, items, zone=zone, gateway_id=gateway)
    backend.sims.notify()
    # JSONResponse directly: FastAPI's jsonable_encoder took 3.6 s over 10,000 SIMs
    content = {
        "Total": len(sims),
        "Count": len(sims),
        "CommonServiceItems": [views.sim(sim) for sim in sims],
        **views.OK,
    }
    return JSONResponse(content, status_code=201)


def _lines(rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    """JSON Lines, a chunk of `_CHUNK` lines at a time."""
    chunk: list[str] = []
    for row in rows:
        chunk.append(json.dumps(row, separators=(",", ":")))
        if len(chunk) >= _CHUNK:
            yield ("\n".join(chunk) + "\n").encode()
            chunk.clear()
    if chunk:
        yield ("\n".join(chunk) + "\n").encode()


def card_line(card: Card) -> dict[str, Any]:
    """A new card as a JSON Lines row: what is printed on its sleeve."""
    return {
        "iccid": card.iccid,
        "imsi": card.imsi,
        "msisdn": card.msisdn,
        "passcode": card.passcode,
    }


def manufacture_stream(backend: Backend, count: int) -> StreamingResponse:
    """`POST /_emulator/sims {"count": N}`: N cards made in one transaction, then
    streamed as JSON Lines (201; a bad count is refused before anything is made)."""
    cards = manufacture_many(backend.store, backend.clock, count)
    return StreamingResponse(
        _lines(card_line(card) for card in cards), status_code=201, media_type=NDJSON
    )


class TokensIn(BaseModel):
    """The ICCIDs whose device tokens are wanted."""

    model_config = ConfigDict(extra="forbid")
    iccids: list[str] = Field(min_length=1, max_length=MAX_BATCH)


@control_router.post(
    "/tokens",
    response_class=StreamingResponse,
    responses={200: {"content": {NDJSON: {}}, "description": "JSON Lines"}},
)
async def device_tokens(body: TokensIn, backend: BackendDep) -> StreamingResponse:
    """The device token of each registered SIM, as `{"iccid", "sim_id", "token"}` lines in
    the order asked; 404 naming the first ICCID that is not registered."""
    rows = []
    with backend.store.transaction() as db:
        for index, iccid in enumerate(body.iccids):
            try:
                check_iccid(iccid)
            except BadRequest as exc:
                raise BadRequest(f"iccids[{index}]: {exc.message}", code=exc.code) from None
            sim = find_by_iccid(db, iccid)
            if sim is None:
                raise NotFound(
                    f"iccids[{index}]: no registered SIM has ICCID {iccid}", code="not_registered"
                )
            rows.append(
                {"iccid": iccid, "sim_id": sim.id, "token": backend.device_tokens.token_for(sim)}
            )
    return StreamingResponse(_lines(iter(rows)), media_type=NDJSON)
