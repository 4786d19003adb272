"""The web console at `/`: SIMs, gateways, clock, traffic, invoices and line maintenance
alerts, with the actions a person expects; server-rendered HTML, a small script, live
updates over server-sent events, everything shipped in the package (docs/console.md)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from emulator.api.common import require_auth
from emulator.console import actions, live, pages
from emulator.console.queries import ensure_indexes

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_auth)])
router.include_router(pages.router)
router.include_router(actions.router)
router.include_router(live.router)


def install(app: FastAPI) -> None:
    """Mount the console on the app (same credentials as the API) and create the indexes
    its lists walk."""
    ensure_indexes(app.state.backend.store)
    app.include_router(router)


__all__ = ["install", "router"]
