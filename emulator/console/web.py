"""What every console page shares: templates, the page frame (clock, live-update
version), the form token, security headers, and HTML error pages."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from emulator.backend import Backend
from emulator.clock import JST, iso_jst, jst_month
from emulator.console import queries
from emulator.console.plots import human_bytes
from emulator.errors import BadRequest, EmulatorError
from emulator.models.credentials import ApiCredentials

MAX_FORM_BYTES = 16 * 1024
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

templates = Environment(
    loader=PackageLoader("emulator.console", "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _jst(text: str | None) -> str:
    """An RFC 3339 instant as JST `YYYY-MM-DD HH:MM:SS`."""
    if not text:
        return "—"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        return text
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S")


def _yen(value: object) -> str:
    return f"¥{value:,}" if isinstance(value, int) else f"¥{value}"


templates.filters["jst"] = _jst
templates.filters["bytes"] = human_bytes
templates.filters["yen"] = _yen
templates.filters["num"] = lambda value: f"{value:,}"


def backend_of(request: Request) -> Backend:
    """The app's backend."""
    backend: Backend = request.app.state.backend
    return backend


def form_token(request: Request) -> str:
    """The token every console form carries (a cross-site form cannot know it)."""
    creds: ApiCredentials = request.app.state.credentials
    key = hashlib.sha256(f"{creds.token}:{creds.secret}".encode()).digest()
    return hmac.new(key, b"simgate-console-form", hashlib.sha256).hexdigest()[:32]


async def read_form(request: Request) -> dict[str, str]:
    """The url-encoded form of a console POST, checked for its token."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise EmulatorError("the form is too large", code="too_large", status=413)
    try:
        fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise BadRequest("the form is not UTF-8") from None
    if not hmac.compare_digest(fields.get("token", ""), form_token(request)):
        raise EmulatorError(
            "the form's token is missing or wrong: reload the page and try again",
            code="bad_form_token",
            status=403,
        )
    return fields


@dataclass(frozen=True)
class ClockView:
    """The virtual clock as the pages show it."""

    now: datetime
    month: str
    frozen: bool

    @property
    def jst(self) -> str:
        """Now in JST."""
        return self.now.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S JST")

    @property
    def iso_jst(self) -> str:
        """Now, RFC 3339 in JST."""
        return iso_jst(self.now)

    @property
    def next_boundary(self) -> datetime:
        """00:00 JST on the 1st of the next month: where this month's charges close."""
        local = self.now.astimezone(JST)
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        return datetime(year, month, 1, tzinfo=JST)

    @property
    def until_boundary(self) -> str:
        """Time left until the month boundary, as `Nd HHh MMm`."""
        left = self.next_boundary - self.now
        left = max(left, timedelta(0))
        hours, rest = divmod(int(left.total_seconds()), 3600)
        return f"{hours // 24}d {hours % 24:02d}h {rest // 60:02d}m"


def clock_view(backend: Backend) -> ClockView:
    """The clock now."""
    now = backend.clock.now()
    return ClockView(now, jst_month(now), backend.clock.frozen)


def with_params(url: str, **params: str) -> str:
    """`url` with query parameters set."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(params)
    return urlunsplit(("", "", parts.path, urlencode(query), ""))


def safe_back(url: str | None, default: str) -> str:
    """A same-site path to return to after an action (never another host)."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return default
    return url


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page in the console frame."""
    backend = backend_of(request)
    with backend.store.transaction() as db:
        version = queries.fingerprint(db)
    done = request.query_params.get("done")
    html = templates.get_template(name).render(
        clock=clock_view(backend),
        version=version,
        token=form_token(request),
        here=str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        notice=DONE.get(done or ""),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def page(request: Request, build: Callable[[], Response]) -> Response:
    """Run a page or action; an emulator error becomes an HTML page with its status."""
    try:
        return build()
    except EmulatorError as exc:
        return render(
            request,
            "error.html",
            status=exc.status,
            error=exc.message,
            code=exc.code,
            title="Error",
            nav="",
        )


DONE = {
    "activated": "The SIM is activated.",
    "deactivated": "The SIM is deactivated.",
    "imei_locked": "The SIM is locked to the IMEI.",
    "imei_unlocked": "The IMEI lock is removed.",
    "power_on": "The gateway is powered on.",
    "power_off": "The gateway is powered off.",
    "internet_on": "The gateway's internet setting is on.",
    "internet_off": "The gateway's internet setting is off.",
    "clock_advanced": "The virtual clock moved forward.",
    "clock_set": "The virtual clock is set.",
}
