"""The radio network's SMS endpoints (`/_emulator/network/sms/*`): the stub holding a
card fetches the messages sent to the card's number and reports each one's outcome; and
`GET /_emulator/sims/{iccid}/sms`, the messages the device reported on MQTT (`sms`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from emulator.api.common import BackendDep
from emulator.api.sakura_schemas import SakuraError
from emulator.errors import NotFound
from emulator.models.device_sms import received_sms
from emulator.models.sims import find_by_iccid

router = APIRouter(
    prefix="/_emulator",
    tags=["emulator: radio network"],
    responses={400: {"model": SakuraError}},
)


class FetchIn(BaseModel):
    """The card whose messages the modem asks for."""

    model_config = ConfigDict(extra="forbid")
    iccid: str = Field(min_length=1, max_length=32)


class MessageOut(BaseModel):
    """A message for the card: who sent it (the network's sender id), the text, when."""

    id: str
    sender: str
    text: str
    sent_at: str


class FetchOut(BaseModel):
    """The card's number (the network's, which wins over the card file's) and its
    pending messages, oldest first (at most 50 per fetch)."""

    accepted: bool
    msisdn: str | None
    messages: list[MessageOut]


class ReportIn(BaseModel):
    """The modem's outcome for one message: stored on the card, or refused and why."""

    model_config = ConfigDict(extra="forbid")
    iccid: str = Field(min_length=1, max_length=32)
    id: str = Field(min_length=1, max_length=64)
    outcome: Literal["delivered", "failed"]
    reason: str | None = Field(default=None, max_length=200)


class ReportOut(BaseModel):
    """`accepted` false with a reason for an unknown message or a contrary repeat."""

    accepted: bool
    reason: str | None


@router.post("/network/sms/fetch", response_model=FetchOut)
async def fetch(body: FetchIn, backend: BackendDep) -> FetchOut:
    """The messages waiting for the card; they stay pending until reported."""
    pending = backend.sms_radio.fetch(body.iccid)
    return FetchOut(
        accepted=True,
        msisdn=pending.msisdn,
        messages=[MessageOut(**m.__dict__) for m in pending.messages],
    )


@router.post("/network/sms/report", response_model=ReportOut)
async def report(body: ReportIn, backend: BackendDep) -> ReportOut:
    """Book a message delivered or failed; its SMS API record shows it from then on."""
    accepted, reason = backend.sms_radio.report(
        body.iccid, body.id, body.outcome == "delivered", body.reason
    )
    return ReportOut(accepted=accepted, reason=reason)


Iccid = Annotated[str, Path(pattern=r"^[0-9A-F]{18,22}$", description="18 to 22 digits")]


@router.get("/sims/{iccid}/sms", response_model=list[dict[str, Any]])
async def device_sms(iccid: Iccid, backend: BackendDep) -> list[dict[str, Any]]:
    """The `sms` payloads the device published, each stored once, in `seq` order."""
    with backend.store.transaction() as db:
        found = received_sms(db, iccid)
        if not found and find_by_iccid(db, iccid) is None:
            raise NotFound(f"no registered SIM has ICCID {iccid}", code="not_registered")
    return found
