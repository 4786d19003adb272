"""Steering of the platform and SMS (`/_emulator/platform`, `/_emulator/sms`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from emulator.api.common import BackendDep
from emulator.api.platform_schemas import (
    DeliveryOut,
    PlatformSettingsIO,
    SmsSettingsIn,
    SmsSettingsOut,
    errors,
)

router = APIRouter(prefix="/_emulator", tags=["emulator: platform and SMS"], responses=errors(400))


def _platform(backend: BackendDep) -> PlatformSettingsIO:
    return PlatformSettingsIO(**backend.platform.settings().__dict__)


@router.get("/platform", response_model=PlatformSettingsIO)
async def get_platform(backend: BackendDep) -> PlatformSettingsIO:
    """`file_size_limit` (bytes), `retry_initial` and `retry_max` (seconds of the
    outbox's exponential backoff)."""
    return _platform(backend)


@router.put("/platform", response_model=PlatformSettingsIO)
async def set_platform(body: PlatformSettingsIO, backend: BackendDep) -> PlatformSettingsIO:
    """Change platform settings; omitted ones stay."""
    backend.platform.configure(
        file_size_limit=body.file_size_limit,
        retry_initial=body.retry_initial,
        retry_max=body.retry_max,
    )
    return _platform(backend)


@router.get("/platform/outbox", response_model=list[DeliveryOut])
async def outbox(
    backend: BackendDep, pending: Annotated[bool, Query()] = False
) -> list[DeliveryOut]:
    """Outgoing deliveries (webhooks, device messages, file notices), oldest first:
    attempts, last error, when delivered."""
    items = backend.platform.outbox.entries(pending_only=pending)
    return [DeliveryOut(**d.to_json()) for d in items]


@router.post("/platform/outbox/retry", response_model=dict[str, int])
async def retry_now(backend: BackendDep) -> dict[str, int]:
    """Make every pending delivery due now (skip the backoff wait)."""
    return {"pending": backend.platform.outbox.retry_now()}


def _sms(backend: BackendDep) -> SmsSettingsOut:
    return SmsSettingsOut(**backend.sms.settings().__dict__)


@router.get("/sms", response_model=SmsSettingsOut)
async def get_sms(backend: BackendDep) -> SmsSettingsOut:
    """The account's SMS state (A2P approval, restriction) and the delivery simulation
    (`failure_rate`, `seed`, `fail_numbers`), and the spam-rate limit."""
    return _sms(backend)


@router.put("/sms", response_model=SmsSettingsOut)
async def set_sms(body: SmsSettingsIn, backend: BackendDep) -> SmsSettingsOut:
    """Change SMS settings; `restricted: false` lifts a restriction (001 §72)."""
    backend.sms.configure(**body.model_dump())
    return _sms(backend)
