"""The emulator's HTTP API as an ASGI app factory, for several uvicorn worker processes on
one PostgreSQL database:

    SIMGATE_EMULATOR_DB=postgresql://... \\
        uvicorn --factory emulator.asgi:app --workers 4 --host 0.0.0.0 --port 8080

Every worker opens its own connection; the store serialises their writes and holds the
virtual clock, so any worker answers any request the same. Settings come from the
environment: `SIMGATE_EMULATOR_DB` (required), `SIMGATE_EMULATOR_TARIFF`,
`SIMGATE_ACCESS_TOKEN` / `SIMGATE_ACCESS_TOKEN_SECRET` (else the pair in the database),
`SIMGATE_EMULATOR_DISPATCH=0` to leave the platform's webhook outbox to one other process.
MQTT is not served here: run the broker and `simgate emulator ingest` workers beside it
(docs/scaling.md).
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from emulator.app import create_app
from emulator.models.credentials import ApiCredentials


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
    return create_app(
        db,
        Path(tariff) if tariff else None,
        credentials=credentials,
        dispatch=os.environ.get("SIMGATE_EMULATOR_DISPATCH", "1") != "0",
    )
