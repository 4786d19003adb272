"""The FastAPI application: `create_app(db_path, ...)`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator import metrics
from emulator.api import (
    control,
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
)
from emulator.api.common import error_response, install_error_handlers
from emulator.backend import Backend
from emulator.errors import EmulatorError
from emulator.models.credentials import ApiCredentials, api_credentials
from emulator.models.faults import FaultInjector
from emulator.platform_dispatch import Dispatcher

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


def create_app(
    db_path: Path | str,
    tariff_path: Path | None = None,
    *,
    credentials: ApiCredentials | None = None,
    backend: Backend | None = None,
    dispatch: bool = True,
) -> FastAPI:
    """The emulator app over the SQLite database at `db_path` (created if missing).

    `credentials` default to the pair stored in the database (made on first use); the
    CLI passes the environment's pair. A given `backend` is used (and not closed). With
    `dispatch`, the platform's outbox is drained while the app runs (its lifespan).
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
        try:
            yield
        finally:
            await dispatcher.stop()
            if owned:
                backend.close()

    app = FastAPI(
        title="simgate emulator",
        version="0.1.0",
        summary="Sakura Cloud API 1.1 subset (Secure Mobile Connect), Mono Platform, SMS, "
        "radio network, steering",
        lifespan=lifespan,
    )
    app.state.backend = backend
    app.state.credentials = creds
    app.state.tariff_path = tariff_path
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
        devices,
        platform_projects,
        platform_messages,
        platform_files,
        platform_control,
        sms,
    ):
        app.include_router(module.router)
    app.add_middleware(FaultMiddleware, faults=backend.faults)
    return app
