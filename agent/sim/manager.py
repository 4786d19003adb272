"""SIM status, unlocking and PIN management, under the safety rules.

Safety rule 1 (architecture doc): no PIN is sent when fewer than 2 tries remain (or the
count cannot be read) unless the operator allows the last attempt; a PIN or PUK that
already failed on this card is never sent again; a PUK is sent only by `unblock`, an
explicit operator command. A card with no PUK tries left is dead for good.

The failed-PIN memory is written *ahead*: a PIN or PUK is recorded as failed before it is
sent, and cleared only when the modem answers `OK`. Whatever else happens (a wrong PIN
answered with a plain `ERROR` after a restart reset `+CMEE`, a timeout, a lost port, a
crash) leaves it recorded, so it is never sent again by accident; the cost of a false
entry is one `sim forget-pins` by the operator, against a try of the card.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Final

from agent.at import commands
from agent.at.commands import Command
from agent.at.engine import FinalResult, Response, ResultKind
from agent.at.errors import ResponseParseError
from agent.at.responses import (
    PinStatus,
    parse_cgsn,
    parse_cimi,
    parse_clck,
    parse_cpin,
)
from agent.dialects.sim_reads import SimReads
from agent.dialects.table import GENERIC, Dialect
from agent.modem.client import Modem
from agent.sim.failed_pins import FailedPinMemory, FailedPinMemoryError
from agent.sim.secrets import check_pin_format

log = logging.getLogger(__name__)

PIN_LENGTHS = range(4, 9)
PUK_LENGTHS = range(8, 9)
MIN_TRIES_WITHOUT_OVERRIDE = 2
READY_WAIT_SECONDS = 15.0
BUSY_POLL_SECONDS = 0.25

READY = "READY"
ABSENT = "ABSENT"
BLOCKED = "BLOCKED"

# 27.007 §9.2.1 error codes this module acts on.
CME_SIM_NOT_INSERTED = 10
CME_SIM_BUSY = 14
CME_SIM_FAILURE = 13
CME_INCORRECT_PASSWORD = 16
CME_SIM_BLOCKED = 262


class SimRefused(Exception):
    """A safety rule kept the agent from acting; the message says which, and the override."""


class SimSaidNo(Exception):
    """The modem or the SIM refused (wrong PIN, CME error, a dead card)."""

    def __init__(self, message: str, result: FinalResult | None = None) -> None:
        super().__init__(message)
        self.result = result


class WrongUsage(Exception):
    """The command does not fit the card's state (e.g. `unblock` on an unlocked SIM)."""


@dataclass(frozen=True, slots=True)
class SimStatus:
    """What `sim status` reports (contracts §1); `None` where a value is unknown."""

    state: str | None
    iccid: str | None
    imsi: str | None
    imei: str | None
    pin_retries: int | None
    puk_retries: int | None
    pin_enabled: bool | None
    iccid_luhn_valid: bool | None = None

    def to_json(self) -> dict[str, object]:
        """The contract's JSON object (plus `iccid_luhn_valid`, an addition)."""
        return asdict(self)


class SimManager:
    """Reads and unlocks the SIM behind one modem, never breaking the safety rules."""

    def __init__(
        self, modem: Modem, memory: FailedPinMemory, dialect: Dialect | None = None
    ) -> None:
        """`dialect` chooses the vendor commands tried first (default: generic 3GPP)."""
        self._modem = modem
        self._memory = memory
        self._reads = SimReads(self._run, dialect or GENERIC)
        self._secret_lock = asyncio.Lock()  # status -> check -> send -> record, one at a time

    async def _send_secret(self, command: Command, iccid: str, what: str, secret: str) -> Response:
        """Send a command carrying `secret`, recorded as failed until the modem says OK."""
        key = _key(iccid, what)
        try:
            self._memory.remember_failure(key, secret)
        except FailedPinMemoryError as exc:
            raise SimRefused(f"{exc}; no {what} was sent") from None
        response = await self._modem.command(command)
        if response.result.ok:
            self._allow(key, secret)
        return response

    def _allow(self, key: str, pin: str) -> None:
        """Take a PIN known to be right off the failed list; a write failure only warns."""
        try:
            self._memory.forget(key, pin)
        except FailedPinMemoryError as exc:
            log.warning("%s; a right PIN stays listed as failed", exc)

    async def _run(self, command: Command) -> Response:
        response = await self._modem.command(command)
        for _ in range(int(READY_WAIT_SECONDS / BUSY_POLL_SECONDS)):
            if not _is_cme(response.result, CME_SIM_BUSY):
                break
            await asyncio.sleep(BUSY_POLL_SECONDS)
            response = await self._modem.command(command)
        return response

    async def _pin_status(self) -> PinStatus | str:
        response = await self._run(commands.read("+CPIN"))
        if _is_cme(response.result, CME_SIM_NOT_INSERTED):
            return ABSENT
        if _is_cme(response.result, CME_SIM_FAILURE) or _is_cme(response.result, CME_SIM_BLOCKED):
            # Modules answer a card with no PUK tries left this way; the counters decide.
            _, puk_left = await self._retries()
            if puk_left == 0:
                return BLOCKED
        if not response.result.ok:
            raise SimSaidNo(
                f"the modem could not report the SIM state: {response.result}", response.result
            )
        return parse_cpin(response.lines)

    async def _retries(self) -> tuple[int | None, int | None]:
        """(PIN tries left, PUK tries left): the dialect's command, +CPINR, then +CSIM."""
        return await self._reads.retries()

    async def _iccid(self) -> tuple[str | None, bool | None]:
        return await self._reads.iccid()

    async def _optional(
        self, command: Command, parse: Callable[[Sequence[str]], str]
    ) -> str | None:
        response = await self._run(command)
        if not response.result.ok:
            return None
        try:
            return parse(response.lines)
        except ResponseParseError as exc:
            log.info("ignoring an unreadable answer: %s", exc)
            return None

    async def status(self) -> SimStatus:
        """Everything the modem will say about its SIM, without spending any try."""
        pin_status = await self._pin_status()
        imei = await self._optional(commands.execute("+CGSN"), lambda ls: parse_cgsn(ls).value)
        if pin_status == ABSENT:
            return SimStatus(ABSENT, None, None, imei, None, None, None)
        pin_left, puk_left = await self._retries()
        iccid, luhn = await self._iccid()
        if pin_status == BLOCKED:
            return SimStatus(BLOCKED, iccid, None, imei, pin_left, puk_left, True, luhn)
        assert isinstance(pin_status, PinStatus)
        state: str = pin_status.code.value
        imsi = None
        if pin_status.needs_puk and puk_left == 0:
            state = BLOCKED
        if pin_status.ready:
            imsi = await self._optional(commands.execute("+CIMI"), lambda ls: parse_cimi(ls).value)
            pin_enabled = await self._pin_lock_enabled()
        else:
            pin_enabled = True if (pin_status.needs_pin or pin_status.needs_puk) else None
        return SimStatus(state, iccid, imsi, imei, pin_left, puk_left, pin_enabled, luhn)

    async def _pin_lock_enabled(self) -> bool | None:
        response = await self._run(commands.write("+CLCK", commands.Quoted("SC"), 2))
        if not response.result.ok:
            return None
        try:
            return parse_clck(response.lines).enabled
        except ResponseParseError as exc:
            log.info("ignoring an unreadable +CLCK answer: %s", exc)
            return None

    async def _check_pin_may_be_sent(
        self, status: SimStatus, pin: str, tries: int | None, what: str, allow_last: bool
    ) -> str:
        """The card's ICCID, once every safety rule allows sending `pin`.

        The ICCID keys the failed-PIN memory, so it is read a second time: an answer the
        line corrupted into another valid-looking ICCID would look the PIN up under the
        wrong card, and noise does not corrupt two reads the same way.
        """
        if status.iccid is None:
            raise SimRefused(
                f"the card's ICCID cannot be read, so the failed-{what} memory cannot be "
                f"checked; no {what} was sent"
            )
        again, _ = await self._iccid()
        if again != status.iccid:
            raise SimRefused(
                f"the card's ICCID read as {status.iccid}, then as {again}: the line may be "
                f"corrupting answers, so the failed-{what} memory cannot be trusted; "
                f"no {what} was sent"
            )
        try:
            failed = self._memory.has_failed(_key(status.iccid, what), pin)
        except FailedPinMemoryError as exc:
            raise SimRefused(f"{exc}; no {what} was sent") from None
        if failed:
            raise SimRefused(
                f"this {what} already failed on card {status.iccid}; it was not sent again "
                f"(safety rule: never repeat a failed {what}; {_FORGET[what]})"
            )
        if not allow_last and (tries is None or tries < MIN_TRIES_WITHOUT_OVERRIDE):
            left = "cannot be read" if tries is None else f"is {tries}"
            raise SimRefused(
                f"the number of {what} tries left {left}; a {what} is sent only while at least "
                f"{MIN_TRIES_WITHOUT_OVERRIDE} remain (override: --allow-last-attempt)"
            )
        return status.iccid

    async def unlock(self, pin: str, *, allow_last_attempt: bool = False) -> SimStatus:
        """Enter the PIN, if the card needs it and every safety rule allows it."""
        check_pin_format(pin, "PIN", PIN_LENGTHS)
        async with self._secret_lock:
            return await self._unlock(pin, allow_last_attempt)

    async def _unlock(self, pin: str, allow_last_attempt: bool) -> SimStatus:
        status = await self.status()
        if status.state == READY:
            log.info("SIM is already unlocked; no PIN sent")
            return status
        self._refuse_unusable(status)
        if status.state != "SIM PIN":
            if status.state == "SIM PUK":
                raise SimRefused(
                    "the SIM needs its PUK; the agent enters a PUK only when told to "
                    "(`simgate agent sim unblock`)"
                )
            raise SimSaidNo(f"the SIM is in state {status.state!r}, which a PIN cannot unlock")
        iccid = await self._check_pin_may_be_sent(
            status, pin, status.pin_retries, "PIN", allow_last_attempt
        )
        response = await self._send_secret(
            commands.write("+CPIN", commands.secret(pin)), iccid, "PIN", pin
        )
        if not response.result.ok:
            await self._after_failure(response.result, "PIN")
        log.info("PIN accepted by card %s", iccid)
        return await self._wait_until_ready()

    async def unblock(
        self, puk: str, new_pin: str, *, allow_last_attempt: bool = False
    ) -> SimStatus:
        """Enter the PUK and a new PIN: an explicit operator command, never automatic."""
        check_pin_format(puk, "PUK", PUK_LENGTHS)
        check_pin_format(new_pin, "new PIN", PIN_LENGTHS)
        async with self._secret_lock:
            return await self._unblock(puk, new_pin, allow_last_attempt)

    async def _unblock(self, puk: str, new_pin: str, allow_last_attempt: bool) -> SimStatus:
        status = await self.status()
        self._refuse_unusable(status)
        if status.state != "SIM PUK":
            raise WrongUsage(
                f"the SIM is in state {status.state!r}, not 'SIM PUK'; no PUK was sent"
            )
        iccid = await self._check_pin_may_be_sent(
            status, puk, status.puk_retries, "PUK", allow_last_attempt
        )
        response = await self._send_secret(
            commands.write("+CPIN", commands.secret(puk), commands.secret(new_pin)),
            iccid,
            "PUK",
            puk,
        )
        if not response.result.ok:
            await self._after_failure(response.result, "PUK")
        self._allow(_key(iccid, "PIN"), new_pin)
        log.info("PUK accepted by card %s; new PIN set", iccid)
        return await self._wait_until_ready()

    async def set_pin_lock(
        self, enabled: bool, pin: str, *, allow_last_attempt: bool = False
    ) -> SimStatus:
        """Turn the PIN requirement on or off (`+CLCK="SC"`), which needs the PIN."""
        check_pin_format(pin, "PIN", PIN_LENGTHS)
        async with self._secret_lock:
            return await self._set_pin_lock(enabled, pin, allow_last_attempt)

    async def _set_pin_lock(self, enabled: bool, pin: str, allow_last_attempt: bool) -> SimStatus:
        status = await self._ready_status()
        if status.pin_enabled is enabled:
            log.info("PIN lock already %s; nothing sent", "on" if enabled else "off")
            return status
        iccid = await self._check_pin_may_be_sent(
            status, pin, status.pin_retries, "PIN", allow_last_attempt
        )
        response = await self._send_secret(
            commands.write("+CLCK", commands.Quoted("SC"), int(enabled), commands.secret(pin)),
            iccid,
            "PIN",
            pin,
        )
        if not response.result.ok:
            await self._after_failure(response.result, "PIN")
        return await self.status()

    async def change_pin(
        self, old_pin: str, new_pin: str, *, allow_last_attempt: bool = False
    ) -> SimStatus:
        """Change the PIN (`+CPWD="SC"`); needs the PIN lock on, as 27.007 says."""
        check_pin_format(old_pin, "PIN", PIN_LENGTHS)
        check_pin_format(new_pin, "new PIN", PIN_LENGTHS)
        async with self._secret_lock:
            return await self._change_pin(old_pin, new_pin, allow_last_attempt)

    async def _change_pin(self, old_pin: str, new_pin: str, allow_last_attempt: bool) -> SimStatus:
        status = await self._ready_status()
        iccid = await self._check_pin_may_be_sent(
            status, old_pin, status.pin_retries, "PIN", allow_last_attempt
        )
        response = await self._send_secret(
            commands.write(
                "+CPWD", commands.Quoted("SC"), commands.secret(old_pin), commands.secret(new_pin)
            ),
            iccid,
            "PIN",
            old_pin,
        )
        if not response.result.ok:
            await self._after_failure(response.result, "PIN")
        self._allow(_key(iccid, "PIN"), new_pin)
        return await self.status()

    async def forget_failed_pin(self, pin: str) -> str:
        """Allow `pin` again on the card in the modem (the operator knows it is right)."""
        check_pin_format(pin, "PIN", PIN_LENGTHS)
        iccid, _ = await self._iccid()
        if iccid is None:
            raise SimSaidNo("the card's ICCID cannot be read")
        self._memory.forget(_key(iccid, "PIN"), pin)
        return iccid

    async def _ready_status(self) -> SimStatus:
        status = await self.status()
        self._refuse_unusable(status)
        if status.state != "READY":
            raise WrongUsage(f"unlock the SIM first (it is in state {status.state!r})")
        return status

    @staticmethod
    def _refuse_unusable(status: SimStatus) -> None:
        if status.state == ABSENT:
            raise SimSaidNo("no SIM card in the modem")
        if status.state == BLOCKED:
            raise SimSaidNo(
                f"card {status.iccid} has no PUK tries left: it is permanently blocked "
                "and cannot be used again (001 §43.4)"
            )

    async def _after_failure(self, result: FinalResult, what: str) -> None:
        """Raise, saying how many tries are left (the memory already holds the attempt)."""
        pin_left, puk_left = await self._retries()
        left = pin_left if what == "PIN" else puk_left
        if _is_cme(result, CME_INCORRECT_PASSWORD):
            message = f"the SIM refused the {what}"
        else:
            message = f"the modem refused the {what} command ({result}); counted as failed"
        if left is not None:
            message += f"; {left} {what} tr{'y' if left == 1 else 'ies'} left"
        if what == "PUK" and left == 0:
            message += "; the card is now permanently blocked (001 §43.4)"
        elif what == "PIN" and left == 0:
            message += "; the SIM now needs its PUK (`simgate agent sim unblock`)"
        raise SimSaidNo(message, result)

    async def _wait_until_ready(self) -> SimStatus:
        """Poll `+CPIN?` until READY: some modules answer SIM busy for a while (oFono)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_WAIT_SECONDS
        while True:
            response = await self._modem.command(commands.read("+CPIN"))
            if response.result.ok and parse_cpin(response.lines).ready:
                return await self.status()
            if loop.time() > deadline:
                raise SimSaidNo(f"the SIM did not become ready within {READY_WAIT_SECONDS:g} s")
            await asyncio.sleep(BUSY_POLL_SECONDS)

    @property
    def dialect(self) -> Dialect:
        """The dialect whose commands are tried first."""
        return self._reads.dialect


_FORGET: Final = {
    "PIN": "if it did not fail after all, override: `simgate agent sim forget-pin --pin-file F`",
    "PUK": "no override: a PUK's answer is trusted as it came",
}
"""What a repeated-secret refusal says about its override (contracts §1)."""


def _key(iccid: str, what: str) -> str:
    return iccid if what == "PIN" else f"{what}:{iccid}"


def _is_cme(result: FinalResult, code: int) -> bool:
    return result.kind is ResultKind.CME_ERROR and result.code == code
