"""The emulator's HTTP API as an ASGI app factory, for several uvicorn worker processes on
one PostgreSQL database:

    SIMGATE_EMULATOR_DB=postgresql://... \\
        uvicorn --factory emulator.asgi:app --workers 4 --host 0.0.0.0 --port 8080

Every worker opens its own connection; the store serialises their writes and holds the
virtual clock, so any worker answers any request the same. Settings come from the
environment: `SIMGATE_EMULATOR_DB` (required), `SIMGATE_EMULATOR_TARIFF`,
`SIMGATE_ACCESS_TOKEN` / `SIMGATE_ACCESS_TOKEN_SECRET` (else the pair in the database),
`SIMGATE_EMULATOR_DISPATCH=0` to leave the platform's webhook outbox to one other process,
`SIMGATE_EMULATOR_MQTT=mqtt://HOST:PORT` to publish to devices (commands, platform
deliveries) through that broker: each worker logs in as the emulator with a client id of
its own and subscribes to nothing. Device reports are stored by `simgate emulator ingest`
workers beside it (docs/scaling.md).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from emulator.app import create_app
from emulator.models.credentials import ApiCredentials, ingest_login
from emulator.mqtt_broker import parse_mqtt
from emulator.mqtt_client import ExternalIngest


def app() -> FastAPI:
    """A new app on `$SIMGATE_EMULATOR_DB` (called once in each worker process)."""
    db = os.environ.get("SIMGATE_EMULATOR_DB")
    if not db:
        raise RuntimeError("set SIMGATE_EMULATOR_DB to the emulator's postgresql:// URL or file")
    token = os.environ.get("SIMGATE_ACCESS_TOKEN")
    secret = os.environ.get("SIMGATE_ACCESS_TOKEN_SECRET")
    if bool(token) != bool(secret):
        raise RuntimeError(
            "set both SIMGATE_ACCESS_TOKEN and SIMGATE_ACCESS_TOKEN_SECRET, or neither"
        )
    credentials = ApiCredentials(token, secret, "environment") if token and secret else None
    tariff = os.environ.get("SIMGATE_EMULATOR_TARIFF")
    application = create_app(
        db,
        Path(tariff) if tariff else None,
        credentials=credentials,
        dispatch=os.environ.get("SIMGATE_EMULATOR_DISPATCH", "1") != "0",
    )
    broker = os.environ.get("SIMGATE_EMULATOR_MQTT")
    if broker:
        application.state.mqtt = _publisher(application, broker)
    return application


def _publisher(application: FastAPI, url: str) -> ExternalIngest:
    """A publish-only MQTT client for this worker, run for the app's lifespan."""
    setting = parse_mqtt(url)
    if setting.embedded:
        raise RuntimeError("SIMGATE_EMULATOR_MQTT must be mqtt://HOST:PORT (an external broker)")
    store = application.state.backend.store
    client = ExternalIngest(
        setting,
        application.state.backend.devices,
        ingest_login(store),
        client_id=f"simgate-api-{socket.gethostname()}-{os.getpid()}",
        subscriptions=(),
    )
    inner = application.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        client.start()
        try:
            async with inner(app) as state:
                yield state
        finally:
            await asyncio.to_thread(client.stop)

    application.router.lifespan_context = lifespan
    return client
