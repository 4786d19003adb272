"""The SIM keeper and the connection keeper: small state machines over one modem session.

SIM keeper. On every card power-up (the port opened, or the modem announced a restart)
and whenever a check finds the card not READY, it reads the card's status (no try spent)
and, if the card wants its PIN, enters it once through `SimManager.unlock`, which
enforces safety rule 1 (never below 2 tries left, never a PIN that already failed on this
card). When the SIM refuses the PIN, or a rule refuses to send it, the keeper gives up on
that (card, PIN) pair: it logs why once, and never tries that pair again in this run,
even after a reboot; a new PIN (the file edited) or another card is tried afresh. A PUK
is never sent: that needs the operator (`simgate agent sim unblock`).

Connection keeper. While the SIM is READY, the modem registered and the internet wanted
(the config's `enabled`, then the last `internet_on`/`internet_off` command), it makes
sure a PDP context is active on the APN; while not wanted, that none is. It reads the
modem's real state every time: a reboot or the network may have dropped the context.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable

from agent.at.errors import ModemRebooted, ModemTimeout, ModemUnavailable
from agent.net.data_connection import ConnectionStatus, DataConnection
from agent.net.errors import InvalidApn, NetSaidNo
from agent.sim.manager import READY, SimManager, SimRefused, SimSaidNo, SimStatus
from agent.sim.secrets import SecretSourceError

log = logging.getLogger(__name__)

TRANSPORT_ERRORS = (ModemUnavailable, ModemTimeout, ModemRebooted)
PinReader = Callable[[], str | None]
NO_CONNECTION = ConnectionStatus(False, None, None, None)
CONNECT_REGISTER_TIMEOUT = 5.0
"""The keeper connects only once registered; this bounds a registration lost meanwhile."""


class SimKeeper:
    """Unlocks each card once per power-up, under the safety rules; never loops on a PIN."""

    def __init__(self, read_pin: PinReader) -> None:
        self._read_pin = read_pin
        self._key = secrets.token_bytes(16)
        self._given_up: dict[str, str] = {}  # iccid -> tag of the PIN given up on
        self._said: set[tuple[str | None, str | None]] = set()
        self.unlocks = 0
        """How many times a PIN was accepted."""
        self.attempts = 0
        """How many times a PIN was handed to the SIM manager."""

    def _tag(self, pin: str) -> str:
        """A keyed digest of `pin`: tells a changed PIN from the same one, shows nothing."""
        return hmac.new(self._key, pin.encode(), hashlib.sha256).hexdigest()

    def _once(self, level: int, state: str | None, iccid: str | None, message: str) -> None:
        """Log `message` once per (state, card); later repeats go to DEBUG."""
        key = (state, iccid)
        log.log(level if key not in self._said else logging.DEBUG, "%s", message)
        self._said.add(key)

    async def keep(self, sim: SimManager) -> SimStatus:
        """The card's status, after unlocking it if it wants its PIN and the rules allow."""
        status = await sim.status()
        if status.state == READY:
            return status
        iccid = status.iccid
        if status.state != "SIM PIN":
            self._explain(status)
            return status
        try:
            pin = self._read_pin()
        except SecretSourceError as exc:
            self._once(logging.ERROR, "no pin", iccid, f"SIM: wants its PIN; {exc}")
            return status
        if pin is None:
            self._once(
                logging.ERROR,
                "no pin",
                iccid,
                "SIM: wants its PIN, but none is configured ([sim] pin_file or $SIMGATE_PIN)",
            )
            return status
        card = iccid or ""
        if self._given_up.get(card) == self._tag(pin):
            log.debug("SIM: card %s refused this PIN, or a rule did; not trying again", iccid)
            return status
        self.attempts += 1
        try:
            unlocked = await sim.unlock(pin)
        except TRANSPORT_ERRORS:
            raise  # the session ends; whether the PIN was spent shows in the tries left
        except (SimRefused, SimSaidNo, SecretSourceError, OSError) as exc:
            after = await sim.status()
            if after.state == READY:  # accepted, only slow to say so
                self.unlocks += 1
                return after
            self._given_up[card] = self._tag(pin)
            log.error(
                "SIM: not unlocked: %s; the daemon will not try this PIN on card %s again "
                "(fix the PIN file, or unlock by hand)",
                exc,
                iccid,
            )
            return after
        self.unlocks += 1
        self._said.clear()
        return unlocked

    def _explain(self, status: SimStatus) -> None:
        state, iccid = status.state, status.iccid
        if state == "SIM PUK":
            message = (
                f"SIM: card {iccid} needs its PUK; the daemon never enters one "
                "(`simgate agent sim unblock`)"
            )
        elif state in ("BLOCKED", "ABSENT"):
            message = f"SIM: {'no card in the modem' if state == 'ABSENT' else 'card blocked'}"
        else:
            message = f"SIM: card {iccid} is in state {state!r}; waiting"
        self._once(logging.ERROR if state != "ABSENT" else logging.WARNING, state, iccid, message)


class ConnectionKeeper:
    """Keeps the data connection as wanted: up on the APN, or down."""

    def __init__(
        self,
        apn: str | None,
        *,
        wanted: bool,
        cid: int | None = None,
        register_timeout: float = CONNECT_REGISTER_TIMEOUT,
    ) -> None:
        self.apn = apn
        self.wanted = wanted and apn is not None
        self.cid = cid
        self.register_timeout = register_timeout
        self.connects = 0
        """How many times a context was brought up."""
        self._last_problem: str | None = None

    def want(self, on: bool) -> None:
        """An `internet_on` / `internet_off` command."""
        if on and self.apn is None:
            log.warning("internet: asked to turn on, but no [internet] apn is configured")
            return
        if on != self.wanted:
            log.info("internet: now wanted %s", "on" if on else "off")
        self.wanted = on

    async def keep(
        self, connection: DataConnection, *, sim_ready: bool, registered: bool
    ) -> ConnectionStatus:
        """The modem's data connection, after bringing it up or down as wanted."""
        if not sim_ready:
            return NO_CONNECTION  # context commands need the SIM: nothing to read or do
        status = await connection.status(preferred_cid=self.cid)
        try:
            if self.wanted and not status.active and registered and self.apn is not None:
                status = await connection.connect(
                    self.apn, cid=self.cid, register_timeout=self.register_timeout
                )
                self.connects += 1
            elif not self.wanted and status.active:
                status = await connection.disconnect()
        except (NetSaidNo, InvalidApn) as exc:
            text = str(exc)
            level = logging.WARNING if text != self._last_problem else logging.DEBUG
            log.log(level, "internet: %s", text)
            self._last_problem = text
            return await connection.status(preferred_cid=self.cid)
        self._last_problem = None
        return status
