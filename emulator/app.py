"""The FastAPI application: `create_app(db_path, ...)`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator import metrics
from emulator.api import (
    control,
    dataplane,
    devices,
    fleet,
    network,
    platform_control,
    platform_files,
    platform_messages,
    platform_projects,
    sakura_gateways,
    sakura_sims,
    sakura_switches,
    sms,
    sms_radio,
)
from emulator.api.common import error_response, install_error_handlers
from emulator.api.guard import DEFAULT_MAX_BODY, Guard, GuardSettings, SakuraCompat
from emulator.api.openapi_links import add_links
from emulator.backend import Backend
from emulator.console import install as install_console
from emulator.errors import EmulatorError
from emulator.models.credentials import ApiCredentials, api_credentials
from emulator.models.faults import FaultInjector
from emulator.platform_dispatch import Dispatcher

if TYPE_CHECKING:
    from emulator.dataplane.plane import DataPlane

_STEERING = "/_emulator/"
_FAULTABLE_STEERING = "/_emulator/network/"


class FaultMiddleware:
    """Delays or fails requests as the fault rules say, before any handler runs (so an
    injected failure changes nothing). The steering API is never faulted."""

    def __init__(self, app: ASGIApp, faults: FaultInjector) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if (path.startswith(_STEERING) and not path.startswith(_FAULTABLE_STEERING)) or not (
            path.startswith(("/cloud/", _FAULTABLE_STEERING))
        ):
            await self.app(scope, receive, send)
            return
        decision = self.faults.decide(scope["method"], path)
        if decision.delay_seconds:
            await asyncio.sleep(decision.delay_seconds)
        if decision.fail_status is not None:
            error = EmulatorError(
                f"injected fault on {scope['method']} {path}",
                code="injected_fault",
                status=decision.fail_status,
            )
            await error_response(error)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class PokeMiddleware:
    """With the data plane: after each request that may change a rule (any method but
    GET), reconcile at once instead of at the next tick."""

    def __init__(self, app: ASGIApp, data_plane: DataPlane) -> None:
        self.app = app
        self.data_plane = data_plane

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        try:
            await self.app(scope, receive, send)
        finally:
            if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
                self.data_plane.poke()


def create_app(
    db_path: Path | str,
    tariff_path: Path | None = None,
    *,
    credentials: ApiCredentials | None = None,
    backend: Backend | None = None,
    dispatch: bool = True,
    auth_required: bool = True,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    data_plane: DataPlane | None = None,
) -> FastAPI:
    """The emulator app over the SQLite database at `db_path` (created if missing).

    `credentials` default to the pair stored in the database (made on first use); the
    CLI passes the environment's pair. Every route but `/openapi.json` needs them
    (`emulator.api.guard`) unless `auth_required` is False; a body over `max_body_bytes`
    gets 413 unread. A given `backend` is used (and not closed). With `dispatch`, the
    platform's outbox is drained while the app runs (its lifespan). A `data_plane` (built
    by the caller, who also removes it) is reconciled while it runs.
    """
    owned = backend is None
    backend = backend or Backend(db_path)
    creds = credentials or api_credentials(backend.store, None, None)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dispatcher = Dispatcher(backend.platform, lambda: app.state.mqtt)
        app.state.dispatcher = dispatcher
        if dispatch:
            await dispatcher.start()
        reconcile = None if data_plane is None else asyncio.create_task(data_plane.run())
        try:
            yield
        finally:
            if reconcile is not None:
                reconcile.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reconcile
            await dispatcher.stop()
            if owned:
                backend.close()

    app = FastAPI(
        title="simgate emulator",
        version="0.1.0",
        summary="Sakura Cloud API 1.1 subset (Secure Mobile Connect), Mono Platform, SMS, "
        "radio network, steering",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc would load their assets from a CDN
        redoc_url=None,
    )
    app.state.backend = backend
    app.state.credentials = creds
    app.state.guard = GuardSettings(auth_required, max_body_bytes)
    app.state.tariff_path = tariff_path
    app.state.dataplane = data_plane
    app.state.mqtt = None  # the embedded broker or the external ingest, set by `serve`
    install_error_handlers(app)
    app.include_router(fleet.sakura_router)
    app.include_router(fleet.control_router)
    app.include_router(metrics.router)
    for module in (
        sakura_sims,
        sakura_switches,
        sakura_gateways,
        network,
        control,
        dataplane,
        devices,
        platform_projects,
        platform_messages,
        platform_files,
        platform_control,
        sms,
        sms_radio,
    ):
        app.include_router(module.router)
    install_console(app)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_links(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(FaultMiddleware, faults=backend.faults)
    if data_plane is not None:
        app.add_middleware(PokeMiddleware, data_plane=data_plane)
    app.add_middleware(SakuraCompat)
    app.add_middleware(Guard, credentials=creds, settings=app.state.guard)  # outermost
    return app
