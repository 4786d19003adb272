"""Reading the SIM's tries left and ICCID: the dialect's command first, then 3GPP.

Tries left: the dialect's retry command (`+QPINC?`, `+SPIC`, `+UPINCNT`), then
`+CPINR`, then `+CSIM` VERIFY / UNBLOCK with no data (status words `63Cx`), none of
which spends a try. ICCID: the dialect's command (`+QCCID`, `+CICCID`), then `+CCID`,
then `+CRSM` READ BINARY of EF_ICCID. A refusal or an unreadable answer moves on to
the next way; only reading changes here, never what the safety rules do with it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from agent.at import commands
from agent.at.commands import Command
from agent.at.engine import Response
from agent.at.errors import ResponseParseError
from agent.at.responses import (
    iccid_from_crsm,
    parse_cpinr,
    parse_crsm,
    parse_csim,
    parse_iccid,
)
from agent.dialects.table import GENERIC, Dialect

log = logging.getLogger(__name__)

# ETSI TS 102 221 VERIFY / UNBLOCK of PIN1 with no data: answers the tries left.
VERIFY_PIN1_EMPTY = "0020000100"
UNBLOCK_PIN1_EMPTY = "002C000100"
EF_ICCID = 12258

Run = Callable[[Command], Awaitable[Response]]
Tries = tuple[int | None, int | None]


class SimReads:
    """Reads through `run` (which rides out SIM busy) in the order of `dialect`."""

    def __init__(self, run: Run, dialect: Dialect = GENERIC) -> None:
        self._run = run
        self.dialect = dialect

    async def retries(self) -> Tries:
        """(PIN tries left, PUK tries left); None where no way could tell."""
        found = await self._vendor_retries()
        if found is not None:
            return found
        response = await self._run(commands.execute("+CPINR"))
        if response.result.ok:
            try:
                counters = parse_cpinr(response.lines)
            except ResponseParseError as exc:
                log.info("ignoring an unreadable +CPINR answer: %s", exc)
            else:
                pin, puk = counters.get("SIM PIN"), counters.get("SIM PUK")
                if pin is not None or puk is not None:
                    return (pin.retries_left if pin else None, puk.retries_left if puk else None)
        pin_left = await self._csim_retries(VERIFY_PIN1_EMPTY)
        puk_left = await self._csim_retries(UNBLOCK_PIN1_EMPTY)
        return pin_left, puk_left

    async def _vendor_retries(self) -> Tries | None:
        reader = self.dialect.retries
        if reader is None:
            return None
        response = await self._run(reader.command)
        if not response.result.ok:
            log.info("%s refused (%s); trying +CPINR", reader.command.masked, response.result)
            return None
        try:
            counts = reader.parse(response.lines)
        except ResponseParseError as exc:
            log.info("ignoring an unreadable %s answer: %s", reader.command.masked, exc)
            return None
        if counts.pin is None and counts.puk is None:
            return None
        return counts.pin, counts.puk

    async def _csim_retries(self, apdu: str) -> int | None:
        response = await self._run(commands.write("+CSIM", len(apdu), commands.Quoted(apdu)))
        if not response.result.ok:
            return None
        try:
            return parse_csim(response.lines).retries_left
        except ResponseParseError as exc:
            log.info("ignoring an unreadable +CSIM answer: %s", exc)
            return None

    async def iccid(self) -> tuple[str | None, bool | None]:
        """(ICCID, passes Luhn) or (None, None) when no way could read it."""
        ways = [commands.execute("+CCID")]
        vendor = self.dialect.iccid
        if vendor is not None and vendor.line != ways[0].line:
            ways.insert(0, vendor)
        for command in ways:
            response = await self._run(command)
            if not response.result.ok:
                continue
            try:
                read = parse_iccid(response.lines)
            except ResponseParseError as exc:
                log.info("ignoring an unreadable %s answer: %s", command.masked, exc)
                continue
            return read.iccid, read.luhn_valid
        response = await self._run(commands.write("+CRSM", 176, EF_ICCID, 0, 0, 10))
        if response.result.ok:
            try:
                found = iccid_from_crsm(parse_crsm(response.lines))
            except ResponseParseError as exc:
                log.info("ignoring an unreadable +CRSM answer: %s", exc)
            else:
                if found is not None:
                    return found.iccid, found.luhn_valid
        return None, None
