"""Request and response shapes of `/platform/v1/` and `/sms/v1/` (and their steering)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    """Refuses unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Error(BaseModel):
    """The error body (the same as the Sakura API's)."""

    is_fatal: bool
    serial: str
    status: str
    error_code: str
    error_msg: str


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses."""
    return {code: {"model": Error} for code in codes}


# --- projects and devices ---------------------------------------------------------------


class ContractOut(BaseModel):
    """The Mono Platform contract (001 §53, §60)."""

    status: Literal["none", "active", "ending", "ended"]
    formed_at: str | None
    ends_on: str | None
    projects: int


FILE_TRANSFER = (
    "the file send/receive sub-option (001 §50.3(2)), billed per project per month (§56)"
)


class ProjectIn(Strict):
    """A new project."""

    name: str = Field(default="", max_length=64)
    description: str = Field(default="", max_length=512)
    file_transfer: bool = Field(default=False, description=FILE_TRANSFER)


class ProjectPatch(Strict):
    """Project fields to change."""

    name: str | None = Field(default=None, max_length=64)
    description: str | None = Field(default=None, max_length=512)
    file_transfer: bool | None = Field(default=None, description=FILE_TRANSFER)


class ProjectOut(BaseModel):
    """A project."""

    id: str
    name: str
    description: str
    created_at: str
    devices: int
    file_transfer: bool = Field(description=FILE_TRANSFER)
    adapters: int = Field(
        description="service adapters (001 §50.3(1)); one or more = the sub-option is set"
    )


class SimResourceOut(BaseModel):
    """A SIM resource (a registered SIM, 001 §52.2)."""

    iccid: str
    sim_id: str
    created_at: str
    device_id: str | None
    project_id: str | None


class DeviceIn(Strict):
    """Register a SIM resource to the project."""

    iccid: str = Field(min_length=1, max_length=32)


class DeviceOut(BaseModel):
    """A device: a SIM resource registered to a project, with its device ID."""

    device_id: str
    iccid: str
    project_id: str
    registered_at: str


# --- messages and adapters --------------------------------------------------------------


class TypedObjectIn(BaseModel):
    """`{"tag": 0-255, "type": "int8"|...|"string", "value": ...}` (checked strictly)."""

    model_config = ConfigDict(extra="forbid")

    tag: Any
    type: Any
    value: Any


class MessageIn(Strict):
    """A message for a device: up to 32 typed objects; `id` (optional) makes repeats
    harmless: the same id from the same sender is sent once."""

    id: str | None = Field(default=None, max_length=64)
    objects: list[TypedObjectIn] = Field(max_length=32)


class MessageOut(BaseModel):
    """A stored message."""

    seq: int
    id: str
    project_id: str
    device_id: str
    iccid: str
    direction: Literal["up", "down"]
    source: str
    objects: list[dict[str, Any]]
    at: str


class AdapterIn(Strict):
    """A service adapter: an outgoing webhook needs `url`; `secret` is made when omitted."""

    kind: Literal["outgoing_webhook", "incoming_webhook"]
    name: str = Field(default="", max_length=64)
    url: str | None = Field(default=None, max_length=2048)
    secret: str | None = Field(default=None, min_length=16, max_length=256)


class AdapterPatch(Strict):
    """Adapter fields to change."""

    name: str | None = Field(default=None, max_length=64)
    url: str | None = Field(default=None, max_length=2048)


class AdapterOut(BaseModel):
    """An adapter (its secret is shown only when it is created)."""

    id: str
    project_id: str
    kind: str
    name: str
    url: str | None
    created_at: str
    incoming_path: str | None
    secret: str | None = None


class FileOut(BaseModel):
    """A stored file."""

    id: str
    project_id: str
    name: str
    size: int
    sha256: str
    source: str
    target: str
    created_at: str


# --- steering ---------------------------------------------------------------------------


class PlatformSettingsIO(Strict):
    """Platform settings of the emulator."""

    file_size_limit: int | None = Field(default=None, ge=1, le=64 * 1024 * 1024)
    retry_initial: float | None = Field(default=None, ge=0.01, le=3600)
    retry_max: float | None = Field(default=None, ge=0.01, le=86400)


class DeliveryOut(BaseModel):
    """One outbox delivery."""

    seq: int
    delivery_id: str
    target: str
    kind: str
    created_at: str
    attempts: int
    last_error: str | None
    delivered_at: str | None


# --- SMS --------------------------------------------------------------------------------


class SmsIn(Strict):
    """A message to send: `to` is E.164 or a Japanese mobile number (0X0-XXXX-XXXX);
    `end_user` marks a send made on behalf of an end user (A2P needs approval, §71)."""

    kind: Literal["2fa", "a2p"]
    to: str = Field(max_length=32)
    text: str = Field(max_length=670)
    end_user: str | None = Field(default=None, max_length=128)


class SmsOut(BaseModel):
    """A message sent (and billed), delivered or not."""

    id: str
    kind: str
    to: str
    text: str
    end_user: str | None
    delivered: bool
    status: Literal["delivered", "failed", "pending"]
    failure_reason: str | None
    sent_at: str


class SmsContractOut(BaseModel):
    """One SMS kind's contract (001 §68, §74)."""

    kind: str
    status: Literal["none", "active", "ending", "ended"]
    formed_at: str | None
    notice_at: str | None
    ends_on: str | None


class SmsSettingsIn(Strict):
    """SMS steering: approval (§71), restriction (§72), the spam-rate limit and the
    delivery simulation."""

    a2p_approved: bool | None = None
    restricted: bool | None = None
    rate_limit: int | None = Field(default=None, ge=1, le=10**9)
    rate_window: float | None = Field(default=None, gt=0, le=366 * 86400)
    failure_rate: float | None = Field(default=None, ge=0, le=1)
    seed: int | None = Field(default=None, ge=0, le=2**53)
    fail_numbers: list[str] | None = Field(default=None, max_length=1000)


class SmsSettingsOut(BaseModel):
    """The account's SMS state and the delivery simulation."""

    a2p_approved: bool
    restricted: bool
    restricted_reason: str | None
    restricted_at: str | None
    rate_limit: int
    rate_window: float
    failure_rate: float
    seed: int
    fail_numbers: list[str]
