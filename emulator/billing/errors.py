"""The two kinds of bad input the billing engine refuses (contracts §1: exit 2)."""

from __future__ import annotations


class EventLogError(ValueError):
    """A line of the event log is unusable; names the line number and what was wrong."""

    def __init__(self, line_number: int, why: str) -> None:
        super().__init__(f"line {line_number}: {why}")
        self.line_number = line_number
        self.why = why


class TariffError(ValueError):
    """The tariff file is unusable; names the offending key (``prices.sim_basic``)."""

    def __init__(self, key: str, why: str) -> None:
        super().__init__(f"{key}: {why}" if key else why)
        self.key = key
        self.why = why
