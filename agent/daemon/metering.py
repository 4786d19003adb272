"""The metering loop: every `interval_s`, the usage delta becomes a record in the outbox.

A pass reads the usage source through the `UsageMeter`, and appends the bytes moved since
the previous record as one usage record (`start` = the previous record's end, `end` =
now), then wakes the reporter. The meter's state is stored in the outbox's database in
the same transaction as the record (see `measure_once`). Passes with no traffic make no
record. When the outbox is full the bytes are kept, durably, and added to the next record
(safety rule 3: metered usage is never dropped). The end of the
last record of each source is kept in `<state>/daemon-usage-marks.json`, so the first
record after a restart starts where the last one ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from agent.at.errors import AtProtocolError
from agent.reporting.outbox import Outbox, OutboxError
from agent.usage.meter import MeterStateError, UsageMeter
from agent.usage.sources import UsageSource
from simgate_common import wire
from simgate_common.files import write_private_file
from simgate_common.wire import UsageReport

log = logging.getLogger(__name__)

MARKS_FILE = "daemon-usage-marks.json"
_IMEI = re.compile(r"[0-9]{14,16}")


class Recorder(Protocol):
    """Where records go: `Reporter.record` (outbox append, then wake)."""

    @property
    def outbox(self) -> Outbox:
        """The durable outbox the records go to; it keeps the meter's state too."""
        ...

    def record(
        self,
        *,
        imei: str | None,
        start: str,
        end: str,
        up: int,
        down: int,
        source: str,
        meter_state: Mapping[str, Any] | None = None,
    ) -> UsageReport:
        """Store one record (and the meter's state, in one transaction) and have it sent."""
        ...


Target = Callable[[], tuple[Recorder, str | None] | None]
"""The recorder of the current card and the modem's IMEI; None while no card is known."""
SourceFinder = Callable[[], UsageSource | None]
"""The usage source to read now; None while it cannot be read (no modem, for instance)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _counting_since(now: datetime) -> datetime:
    """When a source's counters can have started: the host's boot.

    The first record of a source holds every byte its counters hold (an interface or a
    modem counts from zero at its start, never before the host booted), so its interval
    starts at the boot, not at the reading (`start == end` would claim megabytes in no
    time). Later records start where the one before ended.
    """
    try:
        up = time.clock_gettime(time.CLOCK_BOOTTIME)
    except (AttributeError, OSError):  # not Linux
        up = time.monotonic()
    return now - timedelta(seconds=up)


class MeteringLoop:
    """Meters on an interval and on demand (`measure_once`, for `report_now`)."""

    def __init__(
        self,
        meter: UsageMeter,
        *,
        interval: float,
        state_dir: Path,
        source: SourceFinder,
        target: Target,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.meter = meter
        self.interval = interval
        self._source = source
        self._target = target
        self._clock = clock
        self._lock = asyncio.Lock()
        self._marks_path = state_dir / MARKS_FILE
        self._marks = self._load_marks()
        self._carry: dict[str, tuple[int, int]] = {}
        self._restored = False
        self._saved: dict[str, Any] | None = None
        self._problem: str | None = None
        self.records = 0
        """How many records this loop appended."""

    async def run(self) -> None:
        """Meter every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            await self.measure_once()

    async def measure_once(self) -> UsageReport | None:
        """One pass; returns the record it made, if any.

        The meter's state (what is already metered, and bytes carried over a full outbox)
        lives in the outbox's database and is written in the same transaction as the
        record that holds the bytes (safety rule 3): a crash at any instant leaves both
        or neither, so a reading is never lost nor counted twice.
        """
        async with self._lock:
            target = self._target()
            source = self._source()
            if target is None or source is None:
                log.debug("usage: no card or no source yet; the counters keep counting")
                return None
            recorder, imei = target
            try:
                if not self._restored:
                    self._restore(recorder.outbox)
                _, traffic = await self.meter.measure(source, save=False)
            except (OSError, OutboxError, MeterStateError, AtProtocolError) as exc:
                self._complain(f"usage: cannot read {source.name}: {exc}")
                return None
            self._problem = None
            carried_up, carried_down = self._carry.pop(source.name, (0, 0))
            up, down = traffic.delta_up + carried_up, traffic.delta_down + carried_down
            if up == 0 and down == 0:
                self._save_state(recorder.outbox)
                return None
            return self._append(recorder, imei, source.name, up, down)

    def _state(self) -> dict[str, Any]:
        carry = {name: [up, down] for name, (up, down) in sorted(self._carry.items())}
        return {"sources": self.meter.snapshot(), "carry": carry}

    def _restore(self, outbox: Outbox) -> None:
        """The meter's state from the outbox; the first time, the meter's own file's."""
        stored = outbox.meter_state()
        if stored is not None:
            self.meter.restore(stored.get("sources", {}))
            self._carry = {
                str(name): (int(up), int(down))
                for name, (up, down) in dict(stored.get("carry", {})).items()
            }
        self._saved = stored
        self._restored = True

    def _save_state(self, outbox: Outbox) -> None:
        """Store the state after a reading that made no record, if it changed."""
        state = self._state()
        if state == self._saved:
            return  # an idle pass writes nothing (SD cards wear)
        try:
            outbox.save_meter_state(state)
        except OutboxError as exc:
            self._complain(f"usage: {exc}; the reading is measured again after a restart")
            return
        self._saved = state

    def _append(
        self, recorder: Recorder, imei: str | None, source: str, up: int, down: int
    ) -> UsageReport | None:
        now = self._clock()
        end = wire.format_time(now)
        start = min(self._marks.get(source) or wire.format_time(_counting_since(now)), end)
        try:
            report = recorder.record(
                imei=imei if imei and _IMEI.fullmatch(imei) else None,
                start=start,
                end=end,
                up=up,
                down=down,
                source=source,
                meter_state=self._state(),
            )
        except OutboxError as exc:  # full, or the disk failed: nothing was stored
            self._carry[source] = (up, down)
            self._complain(f"usage: {exc}; {up} up, {down} down kept for the next record")
            self._save_state(recorder.outbox)
            return None
        self._saved = self._state()
        self.records += 1
        self._marks[source] = end
        self._save_marks()
        log.info("usage: record %d: %d up, %d down (%s)", report.seq, up, down, source)
        return report

    def _complain(self, text: str) -> None:
        level = logging.WARNING if text != self._problem else logging.DEBUG
        log.log(level, "%s", text)
        self._problem = text

    def _load_marks(self) -> dict[str, str]:
        try:
            doc = json.loads(self._marks_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("usage: ignoring unreadable %s (%s)", self._marks_path, exc)
            return {}
        marks: dict[str, str] = {}
        for name, value in doc.items() if isinstance(doc, dict) else ():
            with contextlib.suppress(wire.WireError):
                wire.parse_time(value)
                marks[str(name)] = value
        return marks

    def _save_marks(self) -> None:
        try:  # not durable: only the next record's start time depends on it
            write_private_file(self._marks_path, json.dumps(self._marks), durable=False)
        except OSError as exc:
            log.warning("usage: cannot save %s: %s", self._marks_path, exc)
