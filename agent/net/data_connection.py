"""The data connection: `internet on|off|status` over PDP contexts (27.007 §10.1).

`status` always asks the modem (`+CGACT?`, `+CGDCONT?`, `+CGPADDR=<cid>`): what was
last sent proves nothing, since the network can drop a context and a reboot drops them
all. Turning on goes the way ModemManager's generic bearer does, minus the dial:
SIM READY, registered (waiting up to a timeout), packet-attached (`+CGATT`), the
context defined with the APN (`+CGDCONT`), activated (`+CGACT=1,<cid>`), and its address
read (`+CGPADDR`). Off is `+CGACT=0,<cid>` for every active context, which also ends
what a PPP session (`ATD*99***<cid>#`, hung up by closing the port) left active.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TypeVar

from agent.at import commands
from agent.at.engine import ResultKind
from agent.at.errors import ResponseParseError
from agent.at.responses import (
    PdpContext,
    parse_cgact,
    parse_cgatt,
    parse_cgdcont,
    parse_cgpaddr,
    parse_cpin,
)
from agent.modem.client import Modem
from agent.net.errors import InvalidApn, NetSaidNo
from agent.net.registration import RegistrationManager

log = logging.getLogger(__name__)

DEFAULT_CID = 1
DEFAULT_PDP_TYPE = "IP"
PDP_TYPES = ("IP", "IPV6", "IPV4V6")
REGISTER_TIMEOUT_SECONDS = 60.0
MAX_APN_LENGTH = 100  # 3GPP TS 23.003 §9.1: the APN is at most 100 octets
CME_SIM_NOT_INSERTED = 10
T = TypeVar("T")

# Labels of letters, digits and hyphens (23.003 §9.1), separated by dots; underscores
# are tolerated because carriers issue them.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?"
_APN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


def validate_apn(apn: str) -> str:
    """`apn` if it is a well-formed APN; `InvalidApn` saying why otherwise."""
    if not apn:
        raise InvalidApn("the APN is empty (give the one your SIM's carrier issued)")
    if len(apn) > MAX_APN_LENGTH:
        raise InvalidApn(f"the APN is {len(apn)} characters long; at most {MAX_APN_LENGTH}")
    if not _APN.fullmatch(apn):
        bad = sorted({c for c in apn if not (c.isascii() and (c.isalnum() or c in "._-"))})
        what = ", ".join(repr(c) for c in bad) if bad else "a misplaced '.', '-' or '_'"
        raise InvalidApn(
            f"not a valid APN: {what} (an APN is labels of letters, digits and '-', "
            "separated by dots)"
        )
    return apn


@dataclass(frozen=True, slots=True)
class ConnectionStatus:
    """What `internet status` reports (contracts §1).

    With no active context, `cid` and `apn` name the context `internet on` would reuse
    (the lowest one with an APN), or are None when there is none; `ip` is None.
    """

    active: bool
    cid: int | None
    apn: str | None
    ip: str | None

    def to_json(self) -> dict[str, object]:
        """The contract's JSON object."""
        return asdict(self)


class DataConnection:
    """Turns the data connection of one modem on and off, and reports its real state."""

    def __init__(self, modem: Modem, registration: RegistrationManager | None = None) -> None:
        self._modem = modem
        self._registration = registration or RegistrationManager(modem)

    @property
    def modem(self) -> Modem:
        """The modem this connection drives."""
        return self._modem

    async def _contexts(self) -> dict[int, PdpContext]:
        response = await self._modem.command(commands.read("+CGDCONT"))
        if not response.result.ok:
            raise NetSaidNo(
                f"the modem could not list its PDP contexts: {response.result}", response.result
            )
        return {context.cid: context for context in _parsed(parse_cgdcont, response.lines)}

    async def _active_cids(self) -> list[int]:
        response = await self._modem.command(commands.read("+CGACT"))
        if not response.result.ok:
            raise NetSaidNo(
                f"the modem could not report its PDP contexts' states: {response.result}",
                response.result,
            )
        return sorted(s.cid for s in _parsed(parse_cgact, response.lines) if s.active)

    async def _address(self, cid: int) -> str | None:
        response = await self._modem.command(commands.write("+CGPADDR", cid))
        if not response.result.ok:
            log.info("+CGPADDR=%d refused (%s)", cid, response.result)
            return None
        for entry in _parsed(parse_cgpaddr, response.lines):
            if entry.cid == cid and entry.has_address:
                return next(a for a in entry.addresses if a.strip("0.:"))
        return None

    async def status(self, preferred_cid: int | None = None) -> ConnectionStatus:
        """The modem's real state: the active context (`preferred_cid` if it is one)."""
        active = await self._active_cids()
        contexts = await self._contexts()
        if active:
            cid = preferred_cid if preferred_cid in active else active[0]
            context = contexts.get(cid)
            apn = context.apn if context is not None and context.apn else None
            return ConnectionStatus(True, cid, apn, await self._address(cid))
        with_apn = [c for c in sorted(contexts.values(), key=lambda c: c.cid) if c.apn]
        if with_apn:
            return ConnectionStatus(False, with_apn[0].cid, with_apn[0].apn, None)
        return ConnectionStatus(False, None, None, None)

    async def connect(
        self,
        apn: str,
        *,
        cid: int | None = None,
        pdp_type: str = DEFAULT_PDP_TYPE,
        register_timeout: float = REGISTER_TIMEOUT_SECONDS,
    ) -> ConnectionStatus:
        """Bring the data connection up on `apn`; returns the state the modem then reports.

        `cid` defaults to a context already defined with this APN, else 1.
        """
        validate_apn(apn)
        if pdp_type.upper() not in PDP_TYPES:
            raise InvalidApn(f"PDP type {pdp_type!r} is not one of {', '.join(PDP_TYPES)}")
        pdp_type = pdp_type.upper()
        await self._require_sim_ready()
        await self._registration.wait_until_registered(register_timeout)
        await self._attach()
        contexts = await self._contexts()
        if cid is None:
            same = [c.cid for c in contexts.values() if c.apn.lower() == apn.lower()]
            cid = min(same) if same else DEFAULT_CID
        active = await self._active_cids()
        context = contexts.get(cid)
        if context is None or context.apn.lower() != apn.lower() or context.pdp_type != pdp_type:
            if cid in active:
                log.info("context %d is active on another APN; deactivating it first", cid)
                await self._deactivate(cid)
                active.remove(cid)
            await self._check(
                commands.write("+CGDCONT", cid, commands.Quoted(pdp_type), commands.Quoted(apn)),
                f"define PDP context {cid} with APN {apn!r}",
            )
        if cid not in active:
            await self._check(
                commands.write("+CGACT", 1, cid),
                f"activate PDP context {cid} (APN {apn!r})",
            )
        status = await self.status(preferred_cid=cid)
        if not status.active or status.cid != cid:
            raise NetSaidNo(f"PDP context {cid} accepted activation but is not active")
        log.info("data connection up: context %d, APN %s, address %s", cid, apn, status.ip)
        return status

    async def disconnect(self, cid: int | None = None) -> ConnectionStatus:
        """Deactivate `cid`, or every active context; returns the state the modem reports."""
        active = await self._active_cids()
        targets = [c for c in active if cid is None or c == cid]
        for target in targets:
            await self._deactivate(target)
        if not targets:
            log.info("no active PDP context%s; nothing sent", f" {cid}" if cid else "")
        return await self.status()

    async def _deactivate(self, cid: int) -> None:
        await self._check(commands.write("+CGACT", 0, cid), f"deactivate PDP context {cid}")

    async def _attach(self) -> None:
        response = await self._modem.command(commands.read("+CGATT"))
        if response.result.ok:
            try:
                if parse_cgatt(response.lines).attached:
                    return
            except ResponseParseError as exc:
                log.info("ignoring an unreadable +CGATT answer: %s", exc)
        await self._check(commands.write("+CGATT", 1), "attach to the packet domain")

    async def _require_sim_ready(self) -> None:
        response = await self._modem.command(commands.read("+CPIN"))
        result = response.result
        if result.kind is ResultKind.CME_ERROR and result.code == CME_SIM_NOT_INSERTED:
            raise NetSaidNo("no SIM card in the modem; the data connection needs one", result)
        if not result.ok:
            raise NetSaidNo(f"the SIM is not ready ({result}); nothing was sent", result)
        state = parse_cpin(response.lines)
        if not state.ready:
            raise NetSaidNo(
                f"the SIM is not ready (state {state.code.value!r}); unlock it first "
                "(`simgate agent sim unlock`)"
            )

    async def _check(self, command: commands.Command, what: str) -> None:
        response = await self._modem.command(command)
        if not response.result.ok:
            raise NetSaidNo(f"the modem could not {what}: {response.result}", response.result)


def _parsed(parse: Callable[[Sequence[str]], tuple[T, ...]], lines: Sequence[str]) -> tuple[T, ...]:
    try:
        return parse(lines)
    except ResponseParseError as exc:
        raise NetSaidNo(f"the modem's answer could not be read: {exc}") from exc
