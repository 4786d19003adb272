"""The control plane's gate: who may call, how big a body may be, and how Sakura clients
that cannot send PUT or JSON are understood. Pure ASGI middleware, applied to the whole
app in `create_app`, so every route (those added later included) is behind it without
any code of its own.

- `Guard`: HTTP Basic with the emulator's access token and secret on every route but
  `PUBLIC_PATHS` (the OpenAPI document) and `OWN_AUTH` (routes that authenticate their
  callers by other means: device tokens, webhook signatures); a body over the cap gets
  413 before a byte of it is read (the declared `Content-Length`, or the running count of
  a chunked body). `auth_required=False` (the `--no-auth` throwaway mode) keeps the cap.
  A JSON body whose text holds a lone surrogate (`"\\ud800"`: JSON allows the escape, no
  UTF-8 text can hold it, and SQLite or the answer would fail on it later) is a 400 naming
  the field, before any route sees it.
- `SakuraCompat`: the Sakura Cloud API is also called as saklient calls it: every
  PUT/DELETE as POST with `X-Sakura-HTTP-Method`, and JSON bodies labelled
  `application/x-www-form-urlencoded`. Under `/cloud/` the method is taken from that
  header and such a body is read as the JSON it is.

To make a route public, add its path to `PUBLIC_PATHS`; a route with its own login goes
into `OWN_AUTH` (it must then refuse strangers itself). Nothing else opts out.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Final

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.api.common import error_response
from emulator.errors import BadRequest, PayloadTooLarge, Unauthorized
from emulator.models.credentials import ApiCredentials

DEFAULT_MAX_BODY: Final = 16 * 1024 * 1024
"""The default cap on a request body (bytes)."""

PUBLIC_PATHS: Final = frozenset({"/openapi.json"})
"""Paths anyone may fetch."""

OWN_AUTH: Final = (
    re.compile(r"^/platform/v1/device/"),  # a device's ICCID and device token
    re.compile(r"^/platform/v1/projects/[^/]+/adapters/[^/]+/incoming$"),  # HMAC signature
)
"""Routes that authenticate their callers themselves."""

_SAKURA = "/cloud/"
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_METHODS: Final = frozenset({"GET", "POST", "PUT", "DELETE"})


@dataclass(frozen=True)
class GuardSettings:
    """The control plane's rules: credentials on or off, and the body cap."""

    auth_required: bool = True
    max_body_bytes: int = DEFAULT_MAX_BODY


def basic_credentials(header: str) -> tuple[str, str] | None:
    """(user, password) of an `Authorization: Basic ...` value, or None."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        user, sep, password = decoded.partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (user, password) if sep else None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def needs_auth(path: str) -> bool:
    """True for every path but the public ones and those with their own login."""
    return path not in PUBLIC_PATHS and not any(p.search(path) for p in OWN_AUTH)


class Guard:
    """Credentials and the body cap, before routing (see the module's docstring)."""

    def __init__(self, app: ASGIApp, credentials: ApiCredentials, settings: GuardSettings) -> None:
        self.app = app
        self.credentials = credentials
        self.settings = settings

    def _authorised(self, scope: Scope) -> bool:
        if not self.settings.auth_required or not needs_auth(scope["path"]):
            return True
        pair = basic_credentials(_header(scope, b"authorization") or "")
        return pair is not None and self.credentials.matches(*pair)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] == "websocket":
            if not self._authorised(scope):
                await send({"type": "websocket.close", "code": 1008, "reason": "unauthorized"})
                return
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self._authorised(scope):
            response = error_response(
                Unauthorized("authentication failed: wrong or missing access token and secret")
            )
            if _header(scope, b"x-sakura-no-authenticate-header"):
                del response.headers["WWW-Authenticate"]  # as the real API (no browser popup)
            await response(scope, receive, send)
            return
        cap = self.settings.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.strip().isdigit() or int(declared) > cap):
            await _too_large(cap)(scope, receive, send)
            return
        receive = _capped(receive, cap)
        if _is_json(scope):
            try:
                body, more = await _read(receive)
            except HTTPException:
                await _too_large(cap)(scope, receive, send)
                return
            if _SURROGATE_ESCAPE.search(body) and (where := _lone_surrogate(body)) is not None:
                error = BadRequest(
                    f"{where}: not valid Unicode text (a lone surrogate escape)",
                    code="invalid_parameter",
                )
                await error_response(error)(scope, receive, send)
                return
            receive = _replay(body, more, receive)
        await self.app(scope, receive, send)


def _is_json(scope: Scope) -> bool:
    content_type = (_header(scope, b"content-type") or "").lower()
    return "json" in content_type or "x-www-form-urlencoded" in content_type


async def _read(receive: Receive) -> tuple[bytes, bool]:
    """The whole body (already capped); False when the client went away instead."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            if complete:
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}
        return await receive()

    return replayed


def _lone_surrogate(body: bytes) -> str | None:
    """Where the decoded JSON holds a string that is not valid Unicode, or None."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None  # the route reports bad JSON
    stack: list[tuple[str, object]] = [("body", doc)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if not _is_text(value):
                return where
        elif isinstance(value, dict):
            for key, item in value.items():
                if not _is_text(key):
                    return f"{where}: a key"
                stack.append((key if where == "body" else f"{where}.{key}", item))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
    return None


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _too_large(cap: int) -> JSONResponse:
    return error_response(
        PayloadTooLarge(f"the request body is over the limit of {cap} bytes", code="too_large")
    )


def _capped(receive: Receive, cap: int) -> Receive:
    """`receive` that stops a chunked body as soon as it passes the cap (413)."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > cap:
                raise HTTPException(413, f"the request body is over the limit of {cap} bytes")
        return message

    return wrapped


class SakuraCompat:
    """`X-Sakura-HTTP-Method` and form-labelled JSON bodies on the Sakura API."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http" or not scope["path"].startswith(_SAKURA):
            await self.app(scope, receive, send)
            return
        override = (_header(scope, b"x-sakura-http-method") or "").strip().upper()
        content_type = (_header(scope, b"content-type") or "").lower()
        if not (override and scope["method"] == "POST") and "x-www-form-urlencoded" not in (
            content_type
        ):
            await self.app(scope, receive, send)
            return
        scope = dict(scope)
        if override and scope["method"] == "POST":
            if override not in _METHODS:
                error = BadRequest(
                    f"X-Sakura-HTTP-Method: {override[:16]!r} is not GET, POST, PUT or DELETE",
                    code="invalid_parameter",
                )
                await error_response(error)(scope, receive, send)
                return
            scope["method"] = override
        if "x-www-form-urlencoded" in content_type:
            scope["headers"] = [
                (k, b"application/json") if k.lower() == b"content-type" else (k, v)
                for k, v in scope["headers"]
            ]
        await self.app(scope, receive, send)
