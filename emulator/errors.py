"""Errors that carry their HTTP status; one exception handler maps them to the Sakura
Cloud error body (`is_fatal`, `serial`, `status`, `error_code`, `error_msg`)."""

from __future__ import annotations

from http import HTTPStatus


class EmulatorError(Exception):
    """A refusal by the emulator: HTTP status, Sakura-style error code and a clear message."""

    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    @property
    def status_text(self) -> str:
        """`"404 Not Found"`: the `status` field of the Sakura error body."""
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Error"
        return f"{self.status} {phrase}"


class BadRequest(EmulatorError):
    """Malformed or invalid input (400)."""

    status = 400
    code = "bad_request"


class Unauthorized(EmulatorError):
    """Missing or wrong API credentials (401)."""

    status = 401
    code = "unauthorized"


class Forbidden(EmulatorError):
    """The account may not do this (403), e.g. an individual account (001 §34.2)."""

    status = 403
    code = "forbidden"


class NotFound(EmulatorError):
    """Unknown id, zone or ICCID (404)."""

    status = 404
    code = "not_found"


class Conflict(EmulatorError):
    """The request clashes with the current state (409), e.g. a duplicate ICCID."""

    status = 409
    code = "conflict"


class ServiceUnavailable(EmulatorError):
    """An injected fault (503)."""

    status = 503
    code = "service_unavailable"


class PayloadTooLarge(EmulatorError):
    """A body over a configured size limit (413); the message names the limit."""

    status = 413
    code = "payload_too_large"


class TooManyRequests(EmulatorError):
    """A rate limit was hit (429), e.g. the SMS spam-rate limit (001 §72)."""

    status = 429
    code = "too_many_requests"
