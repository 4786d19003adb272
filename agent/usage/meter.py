"""The usage meter: readings in, traffic out, the trackers kept across agent restarts.

The trackers of every source live in one JSON file under the state directory, written
atomically (temporary file, fsync, rename; mode 0600) after every reading, so a restart
or a power cut between two readings loses nothing: the next reading's delta is measured
from the last one saved. A file that cannot be read is refused, never overwritten: the
totals it holds would otherwise be lost (safety rule 4).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agent.usage.counters import (
    DEFAULT_WRAP_MARGIN,
    CounterStateError,
    Traffic,
    TrafficTracker,
)
from agent.usage.sources import UsageSource
from simgate_common.files import write_private_file

log = logging.getLogger(__name__)

FILE_NAME = "usage-counters.json"


class MeterStateError(ValueError):
    """The meter's state file is unreadable; the message names it and says what to do."""


@dataclass(frozen=True, slots=True)
class Usage:
    """What `usage` reports (contracts §1): bytes metered in all, and the source."""

    bytes_up: int
    bytes_down: int
    source: str

    def to_json(self) -> dict[str, object]:
        """The contract's JSON object."""
        return asdict(self)


class UsageMeter:
    """Meters sources, keeping each one's tracker in `<directory>/usage-counters.json`."""

    def __init__(self, directory: Path, *, wrap_margin: int = DEFAULT_WRAP_MARGIN) -> None:
        self.path = directory / FILE_NAME
        self._wrap_margin = wrap_margin
        self._trackers = self._load()

    def _load(self) -> dict[str, TrafficTracker]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise MeterStateError(self._unreadable(exc)) from None
        sources = doc.get("sources") if isinstance(doc, dict) else None
        if not isinstance(sources, dict):
            raise MeterStateError(self._unreadable("no 'sources' object"))
        try:
            return {
                str(name): TrafficTracker.from_json(state, wrap_margin=self._wrap_margin)
                for name, state in sources.items()
            }
        except CounterStateError as exc:
            raise MeterStateError(self._unreadable(exc)) from None

    def _unreadable(self, why: object) -> str:
        return (
            f"usage meter state {self.path} is unreadable ({why}); it holds the metered "
            "totals, so it was left as it is: fix it, or move it away to start from zero"
        )

    def total(self, source_name: str) -> Usage:
        """The totals metered so far from `source_name` (zeros if never read)."""
        tracker = self._trackers.get(source_name) or TrafficTracker()
        return Usage(tracker.up.total, tracker.down.total, source_name)

    def snapshot(self) -> dict[str, Any]:
        """Every source's tracker, as JSON, for a caller that stores the state itself."""
        return {name: t.to_json() for name, t in sorted(self._trackers.items())}

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Take the trackers of a `snapshot()` stored elsewhere (the daemon's outbox)."""
        try:
            self._trackers = {
                str(name): TrafficTracker.from_json(state, wrap_margin=self._wrap_margin)
                for name, state in snapshot.items()
            }
        except (CounterStateError, AttributeError, TypeError) as exc:
            raise MeterStateError(f"the stored usage meter state is unreadable ({exc})") from None

    async def measure(self, source: UsageSource, *, save: bool = True) -> tuple[Usage, Traffic]:
        """Read `source` and account the traffic since its last reading.

        With `save` the state goes to this meter's file at once; without, the caller
        stores `snapshot()` itself, with whatever records the traffic (the daemon writes
        it in the outbox transaction of the record, so the two cannot disagree).
        """
        reading = await source.read()
        tracker = self._trackers.get(source.name)
        if tracker is None:
            tracker = self._trackers[source.name] = TrafficTracker()
        traffic = tracker.feed(reading)
        if save:
            self._save()
        log.info(
            "%s: +%d up, +%d down (totals %d, %d)",
            source.name,
            traffic.delta_up,
            traffic.delta_down,
            traffic.total_up,
            traffic.total_down,
        )
        return Usage(traffic.total_up, traffic.total_down, source.name), traffic

    def _save(self) -> None:
        write_private_file(self.path, json.dumps({"sources": self.snapshot()}))
