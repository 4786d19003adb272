"""SMS REST (`/sms/v1/`, 001 §67-§77): send 2FA and A2P messages, read them, and the
contracts of both kinds (cancellation timing, §74)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from emulator.api.common import BackendDep, require_auth
from emulator.api.platform_schemas import SmsContractOut, SmsIn, SmsOut, errors

Kind = Annotated[str, Path(pattern="^(2fa|a2p)$", description="2fa or a2p")]

router = APIRouter(
    prefix="/sms/v1",
    tags=["SMS"],
    dependencies=[Depends(require_auth)],
    responses=errors(400, 401, 403, 404, 409, 429),
)


@router.post("/messages", status_code=201, response_model=SmsOut)
async def send(body: SmsIn, backend: BackendDep) -> SmsOut:
    """Send one message; the answer says whether it was delivered (simulated). Billed
    either way (001 §70). 403: A2P for an end user without approval (§71) or the
    contract ended (§74); 429: the spam-rate limit restricted the account (§72)."""
    sent = backend.sms.send(body.kind, body.to, body.text, body.end_user)
    return SmsOut(**sent.__dict__)


@router.get("/messages", response_model=list[SmsOut])
async def recent(
    backend: BackendDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[SmsOut]:
    """The latest messages sent, newest first."""
    return [SmsOut(**m.__dict__) for m in backend.sms.list_recent(limit)]


@router.get("/messages/{sms_id}", response_model=SmsOut)
async def one(sms_id: Annotated[str, Path(max_length=64)], backend: BackendDep) -> SmsOut:
    """One message."""
    return SmsOut(**backend.sms.get(sms_id).__dict__)


@router.get("/contracts", response_model=list[SmsContractOut])
async def contracts(backend: BackendDep) -> list[SmsContractOut]:
    """Both kinds' contracts (each forms at its first message, 001 §68)."""
    return [SmsContractOut(**c.__dict__) for c in backend.sms.contracts()]


@router.post("/contracts/{kind}", response_model=SmsContractOut)
async def apply(kind: Kind, backend: BackendDep) -> SmsContractOut:
    """Apply again after a contract ended: the next message forms a new one."""
    return SmsContractOut(**backend.sms.apply(kind).__dict__)


@router.post("/contracts/{kind}/cancel", response_model=SmsContractOut)
async def cancel(kind: Kind, backend: BackendDep) -> SmsContractOut:
    """Give notice (001 §74): on the 1st-20th (JST) the contract ends at the end of this
    month, on the 21st or later at the end of the next month; sends are refused after."""
    return SmsContractOut(**backend.sms.cancel(kind).__dict__)
