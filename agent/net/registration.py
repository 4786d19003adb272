"""Network registration, operator and signal: `net status`, and waiting to be registered.

Registration theory. A modem reports three registrations: circuit-switched (`+CREG`),
GPRS/UMTS packet (`+CGREG`) and EPS/LTE packet (`+CEREG`). A module on LTE may say
"not registered" on `+CREG` while `+CEREG` says home, and a 2G module may not know
`+CEREG` at all. As ModemManager does, the states are consolidated: any registered
state wins (looked for in `+CEREG`, `+CGREG`, `+CREG` order, the data bearer first);
else searching; else denied; else not registered; else unknown. A command the modem
refuses or answers unreadably is left out, not fatal.

Waiting for registration listens to the registration URCs (turned on with `n=1` for the
wait, then set back) and also polls, because some modules send no URC for some changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from agent.at import commands
from agent.at.errors import ResponseParseError
from agent.at.responses import (
    AccessTechnology,
    CliRegistration,
    Registration,
    RegistrationCommand,
    parse_cops,
    parse_csq,
    parse_registration_read,
)
from agent.modem.client import Modem
from agent.net.errors import NetSaidNo

log = logging.getLogger(__name__)
progress = logging.getLogger("agent.progress")
"""The waits a person sits through; the CLI shows them on a terminal."""
DONE = {"done": True}

REGISTRATION_COMMANDS: tuple[RegistrationCommand, ...] = ("+CEREG", "+CGREG", "+CREG")
# When nothing is registered, the most hopeful state is the one reported.
_FALLBACK_ORDER: tuple[CliRegistration, ...] = ("searching", "denied", "not_registered", "unknown")
POLL_SECONDS = 1.0
OPERATOR_LONG_ALPHANUMERIC = 0

_RAT_NAMES: dict[AccessTechnology, str] = {
    AccessTechnology.GSM: "gsm",
    AccessTechnology.GSM_COMPACT: "gsm",
    AccessTechnology.GSM_EGPRS: "gsm",
    AccessTechnology.EC_GSM_IOT: "gsm",
    AccessTechnology.UTRAN: "umts",
    AccessTechnology.UTRAN_HSDPA: "umts",
    AccessTechnology.UTRAN_HSUPA: "umts",
    AccessTechnology.UTRAN_HSDPA_HSUPA: "umts",
    AccessTechnology.E_UTRAN: "lte",
    AccessTechnology.E_UTRA_5GCN: "lte",
    AccessTechnology.E_UTRAN_NB_S1: "nbiot",
    AccessTechnology.NR_5GCN: "nr",
    AccessTechnology.NG_RAN: "nr",
    AccessTechnology.E_UTRA_NR_DUAL: "nr",
}


def rat_name(act: AccessTechnology | None) -> str | None:
    """The CLI word for an access technology: gsm, umts, lte, nbiot, nr; None if unknown."""
    return None if act is None else _RAT_NAMES.get(act)


def consolidate(registrations: Iterable[Registration]) -> Registration | None:
    """The registration that speaks for the modem (see the module's theory); None if none."""
    found = list(registrations)
    for registration in found:
        if registration.stat.registered:
            return registration
    for word in _FALLBACK_ORDER:
        for registration in found:
            if registration.cli_name == word:
                return registration
    return None


@dataclass(frozen=True, slots=True)
class NetStatus:
    """What `net status` reports (contracts §1); `None` where a value is unknown."""

    registration: CliRegistration
    rat: str | None
    operator: str | None
    rssi_dbm: int | None

    @property
    def registered(self) -> bool:
        """Registered at home or roaming."""
        return self.registration in ("home", "roaming")

    def to_json(self) -> dict[str, object]:
        """The contract's JSON object."""
        return asdict(self)


class RegistrationManager:
    """Reads the registration, operator and signal of one modem, and waits for service."""

    def __init__(self, modem: Modem, *, poll_seconds: float = POLL_SECONDS) -> None:
        self._modem = modem
        self._poll_seconds = poll_seconds
        self._changed = asyncio.Event()
        modem.on_urc(self._on_urc)

    def _on_urc(self, line: str) -> None:
        if line.lstrip().upper().startswith(tuple(f"{name}:" for name in REGISTRATION_COMMANDS)):
            self._changed.set()

    async def registrations(self) -> list[Registration]:
        """The answers to `+CEREG?`, `+CGREG?`, `+CREG?` that the modem gave and we could read."""
        found: list[Registration] = []
        for name in REGISTRATION_COMMANDS:
            response = await self._modem.command(commands.read(name))
            if not response.result.ok:
                log.debug("%s? refused (%s); left out", name, response.result)
                continue
            try:
                found.append(parse_registration_read(response.lines, name))
            except ResponseParseError as exc:
                log.info("ignoring an unreadable %s answer: %s", name, exc)
        return found

    async def registration(self) -> Registration | None:
        """The consolidated registration (None when the modem reports none at all)."""
        return consolidate(await self.registrations())

    async def status(self) -> NetStatus:
        """Registration, access technology, operator name and signal strength."""
        registration = await self.registration()
        name: CliRegistration = "unknown" if registration is None else registration.cli_name
        rat = operator = None
        if registration is not None and registration.stat.registered:
            operator, operator_act = await self._operator()
            rat = rat_name(registration.act or operator_act)
        return NetStatus(name, rat, operator, await self._rssi_dbm())

    async def _operator(self) -> tuple[str | None, AccessTechnology | None]:
        """The operator's long name (after `+COPS=3,0`) and the AcT `+COPS?` reports."""
        response = await self._modem.command(commands.write("+COPS", 3, OPERATOR_LONG_ALPHANUMERIC))
        if not response.result.ok:
            log.debug("+COPS=3,0 refused (%s); reading the operator as it is", response.result)
        response = await self._modem.command(commands.read("+COPS"))
        if not response.result.ok:
            return None, None
        try:
            operator = parse_cops(response.lines)
        except ResponseParseError as exc:
            log.info("ignoring an unreadable +COPS answer: %s", exc)
            return None, None
        return operator.name or None, operator.act

    async def _rssi_dbm(self) -> int | None:
        response = await self._modem.command(commands.execute("+CSQ"))
        if not response.result.ok:
            return None
        try:
            return parse_csq(response.lines).rssi_dbm
        except ResponseParseError as exc:
            log.info("ignoring an unreadable +CSQ answer: %s", exc)
            return None

    async def wait_until_registered(self, within: float) -> Registration:
        """Return once registered (home or roaming); `NetSaidNo` naming the state after
        `within` seconds. Registration URCs wake the wait early."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        quiet = await self._enable_urcs()
        try:
            while True:
                self._changed.clear()
                registration = await self.registration()
                state = "unknown" if registration is None else registration.cli_name
                waited = within - (deadline - loop.time())
                if registration is not None and registration.stat.registered:
                    log.info("registered (%s, %s)", registration.cli_name, registration.command)
                    progress.info("network: %s after %.0f s", state, waited, extra=DONE)
                    return registration
                progress.info("network: %s… %.0f/%g s", state.replace("_", " "), waited, within)
                remaining = deadline - loop.time()
                if remaining <= 0:
                    progress.info("network: %s after %g s", state, within, extra=DONE)
                    raise NetSaidNo(
                        f"the modem is not registered with a network (registration: {state}) "
                        f"after waiting {within:g} s"
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(self._poll_seconds, remaining))
        finally:
            await self._restore_urcs(quiet)

    async def _enable_urcs(self) -> Sequence[RegistrationCommand]:
        """Turn on registration URCs (`n=1`) where they are off; returns those commands."""
        switched: list[RegistrationCommand] = []
        for registration in await self.registrations():
            if registration.n == 0:
                response = await self._modem.command(commands.write(registration.command, 1))
                if response.result.ok:
                    switched.append(registration.command)
        return switched

    async def _restore_urcs(self, switched: Sequence[RegistrationCommand]) -> None:
        for name in switched:
            try:
                await self._modem.command(commands.write(name, 0))
            except OSError as exc:  # the port went away: nothing left to restore
                log.debug("could not turn %s URCs back off: %s", name, exc)
                return
