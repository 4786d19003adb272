"""Answers to vendor commands: PIN/PUK retry counters and data counters.

Formats (facts from the vendors' AT manuals, oFono's `drivers/atmodem/sim.c` and
ModemManager's `src/plugins/ublox/mm-modem-helpers-ublox.c`):

- Quectel `AT+QPINC?`: one line per facility, `+QPINC: "SC",<pin left>,<puk left>` and
  `+QPINC: "P2",<pin2 left>,<puk2 left>`.
- SIMCom `AT+SPIC`: `+SPIC: <pin1>,<puk1>,<pin2>,<puk2>` (tries left); older firmware
  answers the PIN1 tries alone, `+SPIC: 3`.
- u-blox `AT+UPINCNT`: `+UPINCNT: <pin1>,<pin2>,<puk1>,<puk2>` (note the order).
- Quectel `AT+QGDCNT?`: `+QGDCNT: <bytes sent>,<bytes received>`.
- u-blox `AT+UGCNTRD`: one line per context, `+UGCNTRD: <cid>,<sent this session>,
  <received this session>,<sent total>,<received total>`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.at.errors import ResponseParseError
from agent.at.responses._fields import first_prefixed, prefixed, split_fields, to_int, unquote


@dataclass(frozen=True, slots=True)
class RetryCounts:
    """Tries left per code; None where the answer does not say."""

    pin: int | None
    puk: int | None
    pin2: int | None = None
    puk2: int | None = None


@dataclass(frozen=True, slots=True)
class DataCounters:
    """Bytes the modem counted: sent (up) and received (down)."""

    sent: int
    received: int


@dataclass(frozen=True, slots=True)
class ContextCounters:
    """One `+UGCNTRD` line: the counters of one PDP context."""

    cid: int
    sent_session: int
    received_session: int
    sent_total: int
    received_total: int


def _numbers(payload: str, command: str, line: str, count: range) -> list[int]:
    fields = split_fields(payload, command, line)
    if len(fields) not in count:
        expected = f"{count.start}" if len(count) == 1 else f"{count.start}-{count.stop - 1}"
        raise ResponseParseError(command, line, f"expected {expected} numbers")
    return [to_int(field, command, line, f"field {i + 1}") for i, field in enumerate(fields)]


def parse_qpinc(lines: Sequence[str]) -> RetryCounts:
    """Quectel `+QPINC: "SC",3,10` (and `"P2"`) lines → tries left."""
    found: dict[str, tuple[int, int]] = {}
    for line, payload in prefixed(lines, "+QPINC"):
        fields = split_fields(payload, "+QPINC", line)
        if len(fields) != 3:
            raise ResponseParseError("+QPINC", line, 'expected "<facility>",<pin>,<puk>')
        facility = unquote(fields[0]).upper()
        found[facility] = (
            to_int(fields[1], "+QPINC", line, "PIN tries"),
            to_int(fields[2], "+QPINC", line, "PUK tries"),
        )
    if not found:
        raise ResponseParseError("+QPINC", " | ".join(lines), "no line starts with +QPINC:")
    sc, p2 = found.get("SC"), found.get("P2")
    return RetryCounts(
        sc[0] if sc else None, sc[1] if sc else None, p2[0] if p2 else None, p2[1] if p2 else None
    )


def parse_spic(lines: Sequence[str]) -> RetryCounts:
    """SIMCom `+SPIC: 3,10,0,10` (PIN1, PUK1, PIN2, PUK2) or `+SPIC: 3` (PIN1 only)."""
    line, payload = first_prefixed(lines, "+SPIC")
    values = _numbers(payload, "+SPIC", line, range(1, 5))
    if len(values) == 1:
        return RetryCounts(values[0], None)
    if len(values) != 4:
        raise ResponseParseError("+SPIC", line, "expected 1 or 4 numbers")
    return RetryCounts(values[0], values[1], values[2], values[3])


def parse_upincnt(lines: Sequence[str]) -> RetryCounts:
    """u-blox `+UPINCNT: 3,3,10,10` (PIN1, PIN2, PUK1, PUK2)."""
    line, payload = first_prefixed(lines, "+UPINCNT")
    pin, pin2, puk, puk2 = _numbers(payload, "+UPINCNT", line, range(4, 5))
    return RetryCounts(pin, puk, pin2, puk2)


def parse_qgdcnt(lines: Sequence[str]) -> DataCounters:
    """Quectel `+QGDCNT: <sent>,<received>`."""
    line, payload = first_prefixed(lines, "+QGDCNT")
    sent, received = _numbers(payload, "+QGDCNT", line, range(2, 3))
    return DataCounters(sent, received)


def parse_ugcntrd(lines: Sequence[str]) -> tuple[ContextCounters, ...]:
    """u-blox `+UGCNTRD: <cid>,<sent>,<recv>,<sent total>,<recv total>`, one per context."""
    contexts = []
    for line, payload in prefixed(lines, "+UGCNTRD"):
        cid, sent, received, sent_total, received_total = _numbers(
            payload, "+UGCNTRD", line, range(5, 6)
        )
        contexts.append(ContextCounters(cid, sent, received, sent_total, received_total))
    if not contexts:
        raise ResponseParseError("+UGCNTRD", " | ".join(lines), "no line starts with +UGCNTRD:")
    return tuple(contexts)


def qgdcnt_up_down(lines: Sequence[str]) -> tuple[int, int]:
    """(bytes up, bytes down) from a `+QGDCNT` answer: the usage meter's reading."""
    counters = parse_qgdcnt(lines)
    return counters.sent, counters.received


def ugcntrd_up_down(lines: Sequence[str]) -> tuple[int, int]:
    """(bytes up, bytes down) from a `+UGCNTRD` answer: the totals of every context."""
    contexts = parse_ugcntrd(lines)
    return sum(c.sent_total for c in contexts), sum(c.received_total for c in contexts)
