"""The virtual clock and the time conventions of service-rules §0.

Every rule asks `VirtualClock.now()`, never the wall clock. The clock runs at wall speed
from the instant it was last set (or stands still when frozen); its state lives in the
store, so a restart resumes it. Timestamps are stored in UTC; months are JST months.

On a store other processes share (PostgreSQL: several API workers, ingest workers,
machines) the store is the clock's single source of truth: `now()` reads the setting
again each time, wall time is the database server's, and `advance` reads and writes in
one transaction, so two workers advancing at once add up and all agree on the time.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from emulator.errors import BadRequest
from emulator.store import Store

JST = ZoneInfo("Asia/Tokyo")
FIRST: Final = datetime(1970, 1, 1, tzinfo=UTC)
LAST: Final = datetime(9000, 1, 1, tzinfo=UTC)
"""The clock's supported range, [FIRST, LAST): every month the rules compute from an
instant in it (the next month's due date, late interest, terminations) stays far from
datetime's year 9999, and the billing engine takes the same years (1970 to 8999)."""
REPAIR = (
    'repair it with PUT /_emulator/clock {"now": ...} or POST /_emulator/reset '
    "(which keeps everything else stored)"
)

log = logging.getLogger(__name__)


def check_range(moment: datetime) -> datetime:
    """`moment` if the clock supports it; BadRequest (before anything is stored) if not."""
    if not FIRST <= moment < LAST:
        raise BadRequest(
            f"now: {moment.isoformat()} is outside the clock's supported range "
            f"{FIRST.isoformat()} to {LAST.isoformat()} (exclusive)",
            code="invalid_time",
        )
    return moment


def iso_utc(moment: datetime) -> str:
    """RFC 3339 in UTC with an explicit offset: `2026-03-31T20:00:00+00:00`."""
    return moment.astimezone(UTC).isoformat()


def iso_jst(moment: datetime) -> str:
    """RFC 3339 in JST, as the Sakura Cloud API writes times: `...+09:00`."""
    return moment.astimezone(JST).isoformat()


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 timestamp that carries an offset; BadRequest otherwise."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise BadRequest(f"not an RFC 3339 timestamp: {text!r}", code="invalid_time") from None
    if moment.tzinfo is None:
        raise BadRequest(f"timestamp has no UTC offset: {text!r}", code="invalid_time")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise BadRequest(f"timestamp out of range: {text!r}", code="invalid_time") from None


def jst_month(moment: datetime) -> str:
    """The billing month (`YYYY-MM`, JST) an instant belongs to (service-rules §0)."""
    return moment.astimezone(JST).strftime("%Y-%m")


class VirtualClock:
    """A settable, advanceable clock persisted in the store's `meta` table."""

    def __init__(self, store: Store) -> None:
        self._store = store
        with store.transaction() as db:
            base = db.meta_get("clock_virtual")
            wall = db.meta_get("clock_wall")
            frozen = db.meta_get("clock_frozen")
        self.problem: str | None = None
        """Why the stored clock could not be used (None: it could); see `_load`."""
        self._virtual, self._wall, self._frozen = self._load(base, wall, frozen)

    def _load(
        self, base: str | None, wall: str | None, frozen: str | None
    ) -> tuple[datetime | None, float, bool]:
        """The stored setting. One that cannot be read or lies outside the supported
        range (stored by an older emulator) is left as it is in the store, but the clock
        follows the wall clock until it is set again, and `problem` says how to repair."""
        if base is None:
            return None, 0.0, False
        try:
            moment = datetime.fromisoformat(base)
            since = 0.0 if wall is None else float(wall)
            if moment.tzinfo is None:
                raise ValueError("no UTC offset")
            check_range(moment)
            if frozen != "1":  # a running clock has run on since it was stored
                check_range(moment + timedelta(seconds=max(time.time() - since, 0.0)))
        except (ValueError, OverflowError, BadRequest) as exc:
            why = exc.message if isinstance(exc, BadRequest) else str(exc)
            self.problem = (
                f"the stored virtual clock ({base[:40]!r}) cannot be used ({why}); it follows "
                f"the wall clock until set: {REPAIR}"
            )
            log.warning("%s", self.problem)
            return None, 0.0, False
        return moment, since, frozen == "1"

    @property
    def frozen(self) -> bool:
        """True when the clock stands still between changes."""
        if self._store.shared:
            self._reload()
        return self._frozen

    def now(self) -> datetime:
        """The emulator's current instant (UTC, aware)."""
        wall = self._reload() if self._store.shared else time.time()
        if self._virtual is None:
            return datetime.now(UTC)
        if self._frozen:
            return self._virtual
        return self._virtual + timedelta(seconds=wall - self._wall)

    def _reload(self) -> float:
        """Read the setting from the shared store; the database's wall time."""
        with self._store.transaction(shared=True) as db:
            rows = db.all(
                "SELECT key, value FROM meta "
                "WHERE key IN ('clock_virtual', 'clock_wall', 'clock_frozen')"
            )
            wall = db.epoch()
        values = {str(row["key"]): str(row["value"]) for row in rows}
        base = values.get("clock_virtual")
        self._virtual = None if base is None else datetime.fromisoformat(base)
        self._wall = float(values.get("clock_wall", "0"))
        self._frozen = values.get("clock_frozen") == "1"
        return wall

    def set(self, moment: datetime, *, frozen: bool = False) -> datetime:
        """Jump to `moment` (aware); the clock then runs on unless `frozen`."""
        if moment.tzinfo is None:
            raise BadRequest("the clock needs a time with a UTC offset", code="invalid_time")
        self._save(check_range(moment.astimezone(UTC)), frozen)
        return self.now()

    def advance(self, seconds: float) -> datetime:
        """Move forward by `seconds` (>= 0)."""
        if seconds < 0:
            raise BadRequest("the clock only moves forward: seconds must be >= 0")
        with self._store.transaction():  # read and write at once: advances add up
            try:
                target = self.now() + timedelta(seconds=seconds)
            except OverflowError:
                target = LAST
            self._save(check_range(target), self._frozen)
        return self.now()

    def follow_wall_clock(self) -> None:
        """Forget any setting: the clock is the wall clock again (used by reset)."""
        with self._store.transaction() as db:
            db.execute(
                "DELETE FROM meta WHERE key IN ('clock_virtual', 'clock_wall', 'clock_frozen')"
            )
        self._virtual, self._wall, self._frozen = None, 0.0, False
        self.problem = None

    def _save(self, moment: datetime, frozen: bool) -> None:
        self.problem = None
        with self._store.transaction() as db:
            wall = db.epoch() if self._store.shared else time.time()
            db.meta_set("clock_virtual", moment.isoformat())
            db.meta_set("clock_wall", repr(wall))
            db.meta_set("clock_frozen", "1" if frozen else "0")
        self._virtual, self._wall, self._frozen = moment, wall, frozen
