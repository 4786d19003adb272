"""The daemon's side of MQTT: one `Reporter` per card, and the state report on changes.

`ReportingHub` runs the `Reporter` of the card in the modem (topics and credentials are
per ICCID): created when the first ICCID is read, replaced when another card shows up.
Records waiting for an earlier card stay in the shared outbox file. A reporter that
ends by itself (only an outbox failure does that) is fatal to the daemon.

`StateTracker` keeps the last `sim`, `net` and `internet` documents (the JSON of the CLI
commands, contracts §1) and publishes a state report when one changes. Signal strength
alone does not count as a change (it moves all the time), but goes out with the next
one. Each change of SIM state, registration, data connection or modem presence is
logged as one INFO line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.reporting.backoff import Backoff
from agent.reporting.outbox import Outbox, OutboxError
from agent.reporting.publisher import Broker, CommandHandler, Reporter
from agent.reporting.token import Token

log = logging.getLogger(__name__)

Doc = Mapping[str, Any]
UNKNOWN_NET: dict[str, Any] = {
    "registration": "unknown",
    "rat": None,
    "operator": None,
    "rssi_dbm": None,
}


class ReportingHub:
    """The reporter of the current card; `failed` is set when one dies of its own."""

    def __init__(
        self,
        broker: Broker,
        token: Token | None,
        outbox_path: Path,
        *,
        on_command: CommandHandler,
        backoff: Backoff | None = None,
        poll: float = 30.0,
    ) -> None:
        self._broker = broker
        self._token = token
        self._outbox_path = outbox_path
        self._on_command = on_command
        self._backoff = backoff
        self._poll = poll
        self.reporter: Reporter | None = None
        self._task: asyncio.Task[None] | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self.failed = asyncio.Event()
        self.error: BaseException | None = None

    def use(self, iccid: str) -> tuple[Reporter, bool]:
        """The reporter for card `iccid`, and whether it is new (starting it if so)."""
        if self.reporter is not None and self.reporter.iccid == iccid:
            return self.reporter, False
        if self.reporter is not None:
            log.info("SIM: card changed from %s to %s", self.reporter.iccid, iccid)
            old, self.reporter = self.reporter, None
            retiring = asyncio.create_task(self._retire(old, self._task))
            self._retiring.add(retiring)
            retiring.add_done_callback(self._retiring.discard)
        outbox = Outbox(self._outbox_path, iccid)
        reporter = Reporter(
            outbox,
            self._broker,
            token=self._token,
            on_command=self._on_command,
            backoff=self._backoff,
            poll=self._poll,
        )
        self.reporter = reporter
        self._task = asyncio.create_task(reporter.run(), name=f"simgate-reporter-{iccid}")
        self._task.add_done_callback(self._ended)
        return reporter, True

    def _ended(self, task: asyncio.Task[None]) -> None:
        if task is not self._task or task.cancelled():
            return
        error = task.exception()
        if error is not None or self.reporter is not None:
            self.error = error or RuntimeError("the MQTT reporter stopped")
            log.error("MQTT: reporting stopped: %s", self.error)
            self.failed.set()

    async def _retire(self, reporter: Reporter, task: asyncio.Task[None] | None) -> None:
        await reporter.stop()
        if task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)
        reporter.outbox.close()

    async def close(self, grace: float = 5.0) -> None:
        """Stop the reporter: it publishes `status` "offline", then disconnects."""
        reporter, task = self.reporter, self._task
        self.reporter = self._task = None
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)
        if reporter is None or task is None:
            return
        await reporter.stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except TimeoutError:
            log.warning("MQTT: did not disconnect within %g s; leaving anyway", grace)
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        reporter.outbox.close()


class StateTracker:
    """The latest sim/net/internet documents; a state report whenever they change."""

    def __init__(self) -> None:
        self.sim: dict[str, Any] = {}
        self.net: dict[str, Any] = dict(UNKNOWN_NET)
        self.internet: dict[str, Any] = {"active": False, "cid": None, "apn": None, "ip": None}
        self.modem_present = False
        self.reports = 0
        self._reporter: Reporter | None = None
        self._published: str | None = None

    def detach(self) -> None:
        """Stop reporting (the card is changing): nothing is published until `attach`."""
        self._reporter = None

    def attach(self, reporter: Reporter) -> None:
        """Report through `reporter` from now on (a new card: publish at once)."""
        self._reporter = reporter
        self._published = None
        self._publish()

    def update(
        self, *, sim: Doc | None = None, net: Doc | None = None, internet: Doc | None = None
    ) -> None:
        """Take new documents (None: unchanged), log what changed, publish if it did."""
        if sim is not None:
            self._note("SIM", self.sim.get("state"), sim.get("state"), sim.get("iccid"))
            self.sim = dict(sim)
        if net is not None:
            extra = ", ".join(str(net[k]) for k in ("operator", "rat") if net.get(k))
            self._note("network", self.net.get("registration"), net.get("registration"), extra)
            self.net = dict(net)
        if internet is not None:
            was, now = self.internet.get("active"), internet.get("active")
            where = ", ".join(f"{k} {internet.get(k)}" for k in ("cid", "apn", "ip"))
            self._note("internet", _on(was), _on(now), where if now else None)
            self.internet = dict(internet)
        self._publish()

    def modem(self, present: bool) -> None:
        """The modem came or went; when gone, its network and connection are unknown."""
        if present == self.modem_present:
            return
        self.modem_present = present
        if not present:
            log.info("modem: gone; waiting for it to come back")
            self.update(net=UNKNOWN_NET, internet={**self.internet, "active": False, "ip": None})

    @staticmethod
    def _note(what: str, old: object, new: object, detail: object) -> None:
        if old != new:
            suffix = f" ({detail})" if detail else ""
            log.info("%s: %s -> %s%s", what, old or "unknown", new or "unknown", suffix)

    def _publish(self) -> None:
        if self._reporter is None or not self.sim:
            return
        net = {k: v for k, v in self.net.items() if k != "rssi_dbm"}
        key = json.dumps([self.sim, net, self.internet], sort_keys=True, default=str)
        if key == self._published:
            return
        try:
            self._reporter.report_state(self.sim, self.net, self.internet)
        except OutboxError as exc:  # disk full or busy: the state goes out on the next change
            log.warning("state: not reported now: %s", exc)
            return
        self._published = key
        self.reports += 1


def _on(active: object) -> str | None:
    return None if active is None else ("up" if active else "down")
