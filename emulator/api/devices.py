"""The steering API's view of devices (`/_emulator/sims/{iccid}`, `.../reports`) and of
the MQTT ingest (`/_emulator/mqtt`)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel

from emulator.api.common import BackendDep
from emulator.api.sakura_schemas import SakuraError
from emulator.errors import BadRequest, NotFound, ServiceUnavailable
from simgate_common import wire

Iccid = Annotated[str, Path(pattern=r"^\d{18,22}$", description="18 to 22 digits")]

router = APIRouter(
    prefix="/_emulator",
    tags=["emulator: devices"],
    responses={code: {"model": SakuraError} for code in (400, 404, 503)},
)


class DeviceOut(BaseModel):
    """What the emulator learnt from the device's reports (contracts §3)."""

    iccid: str
    msisdn: str | None
    registered: bool
    sim_id: str | None
    online: bool | None
    status_at: str | None
    sim_state: str | None
    pin_retries: int | None
    puk_retries: int | None
    pin_enabled: bool | None
    state_seq: int | None
    state_at: str | None
    state: dict[str, Any] | None
    updated_at: str | None
    reports: int
    last_seq: int | None
    bytes_up: int
    bytes_down: int


@router.get("/sims/{iccid}", response_model=DeviceOut)
async def device(iccid: Iccid, backend: BackendDep) -> DeviceOut:
    """The card's lock state (`sim_state`: `READY`, `SIM PIN`, `SIM PUK`, `BLOCKED`, ...;
    tries left) and online status as the device last reported them, its latest `state`
    report, the usage reports stored for it, and the card's number (`msisdn`)."""
    view = backend.devices.view(iccid)
    card = backend.cards.get(iccid)
    msisdn = card.msisdn if card is not None else None
    return DeviceOut(registered=view.sim_id is not None, msisdn=msisdn, **view.__dict__)


@router.get("/sims/{iccid}/reports", response_model=list[dict[str, Any]])
async def device_reports(iccid: Iccid, backend: BackendDep) -> list[dict[str, Any]]:
    """The `usage` payloads stored for the SIM, each once, in `seq` order."""
    return backend.devices.reports(iccid)


@router.post("/sims/{iccid}/commands", status_code=202, response_model=dict[str, Any])
async def send_command(
    iccid: Iccid, body: dict[str, Any], request: Request, backend: BackendDep
) -> dict[str, Any]:
    """Publish a command to the device on its `commands` topic (contracts §3, QoS 1):
    `{"op": "internet_on" | "internet_off" | "report_now", "id"?: ...}`; returns the
    command as sent (an `id` is made when none is given). 503 without a broker."""
    if backend.devices.view(iccid).sim_id is None:
        raise NotFound(f"SIM {iccid} is not registered", code="not_found")
    try:
        command = wire.Command.from_json(wire.encode({"id": secrets.token_hex(8), **body}))
    except wire.WireError as exc:
        raise BadRequest(f"bad command: {exc}", code="invalid_parameter") from None
    link = getattr(request.app.state, "mqtt", None)
    if link is None:
        raise ServiceUnavailable("no MQTT broker to publish to", code="service_unavailable")
    try:
        await link.publish(wire.commands_topic(iccid), command.to_json())
    except (ConnectionError, OSError) as exc:
        raise ServiceUnavailable(
            f"the broker did not take the command: {exc}", code="service_unavailable"
        ) from None
    return command.to_dict()


class MqttOut(BaseModel):
    """The MQTT side: broker URL, whether ingest is up, and what it decided so far."""

    url: str | None
    embedded: bool | None
    connected: bool
    ingest: dict[str, int]


@router.get("/mqtt", response_model=MqttOut)
async def mqtt(request: Request) -> MqttOut:
    """Ingest status (counts since the emulator started: `stored`, `duplicate`,
    `ignored`, `rejected`, `batches`, `failures`)."""
    source = getattr(request.app.state, "mqtt", None)
    if source is None:
        return MqttOut(url=None, embedded=None, connected=False, ingest={})
    status: dict[str, Any] = source.status()
    return MqttOut(**status)
