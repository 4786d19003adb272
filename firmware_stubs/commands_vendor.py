"""Vendor commands the dialects add: ICCID, PIN/PUK retry counters and data counters.

Answer formats follow the vendors' AT manuals (see docs/dialects.md for the sources):
Quectel `+QCCID`, `+QPINC`, `+QGDCNT`; SIMCom `+CICCID` (answered `+ICCID:`), `+SPIC`;
u-blox `+UPINCNT`, `+UGCNTRD`; the data-call start commands (`+QNETDEVCTL`,
`$QCRMCALL`, `+UBMCONF`) are in `firmware_stubs.commands_data`. The card models PIN1
and PUK1 only; PIN2 and PUK2 are reported with their usual initial counts (3 and 10).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from firmware_stubs.at_syntax import Command, CommandError, CommandKind
from firmware_stubs.commands_data import qcrmcall, qnetdevctl, ubmconf
from firmware_stubs.replies import OK, CommandSpec, Reply, SimNeed

if TYPE_CHECKING:
    from firmware_stubs.state import ModemState

PIN2_TRIES, PUK2_TRIES = 3, 10


def _exec_only(cmd: Command) -> bool:
    """True for the execute form; the test form is OK; anything else is refused."""
    if cmd.kind is CommandKind.TEST:
        return False
    if cmd.kind is not CommandKind.EXEC:
        raise CommandError(f"{cmd.name} takes no parameters")
    return True


def qccid(state: ModemState, cmd: Command) -> Reply:
    """Quectel `AT+QCCID`: `+QCCID: <iccid>`."""
    return Reply([f"+QCCID: {state.card.iccid}"]) if _exec_only(cmd) else OK


def ciccid(state: ModemState, cmd: Command) -> Reply:
    """SIMCom `AT+CICCID`: `+ICCID: <iccid>`."""
    return Reply([f"+ICCID: {state.card.iccid}"]) if _exec_only(cmd) else OK


def qpinc(state: ModemState, cmd: Command) -> Reply:
    """Quectel `AT+QPINC?` (every facility) or `AT+QPINC="SC"`: `+QPINC: "SC",3,10`."""
    if cmd.kind is CommandKind.TEST:
        return Reply(['+QPINC: ("SC","P2")'])
    card = state.card
    rows = {"SC": (card.pin_retries, card.puk_retries), "P2": (PIN2_TRIES, PUK2_TRIES)}
    if cmd.kind is CommandKind.READ:
        wanted = list(rows)
    elif cmd.kind is CommandKind.SET:
        cmd.param_count(1, 1)
        facility = cmd.str_param(0).upper()
        if facility not in rows:
            raise CommandError("+QPINC knows SC and P2")
        wanted = [facility]
    else:
        raise CommandError("+QPINC needs ? or a facility")
    return Reply([f'+QPINC: "{name}",{rows[name][0]},{rows[name][1]}' for name in wanted])


def spic(state: ModemState, cmd: Command) -> Reply:
    """SIMCom `AT+SPIC`: `+SPIC: <pin1>,<puk1>,<pin2>,<puk2>` tries left."""
    if not _exec_only(cmd):
        return OK
    card = state.card
    return Reply([f"+SPIC: {card.pin_retries},{card.puk_retries},{PIN2_TRIES},{PUK2_TRIES}"])


def upincnt(state: ModemState, cmd: Command) -> Reply:
    """u-blox `AT+UPINCNT`: `+UPINCNT: <pin1>,<pin2>,<puk1>,<puk2>` tries left."""
    if not _exec_only(cmd):
        return OK
    card = state.card
    return Reply([f"+UPINCNT: {card.pin_retries},{PIN2_TRIES},{card.puk_retries},{PUK2_TRIES}"])


def qgdcnt(state: ModemState, cmd: Command) -> Reply:
    """Quectel `AT+QGDCNT?`: `+QGDCNT: <sent>,<received>` since the last reset (`=0`),
    or the last reboot; `=1` (save) is accepted."""
    if cmd.kind is CommandKind.TEST:
        return Reply(["+QGDCNT: (0,1)"])
    if cmd.kind is CommandKind.READ:
        counted, _ = state.data_counters()
        return Reply([f"+QGDCNT: {counted.up},{counted.down}"])
    if cmd.kind is not CommandKind.SET:
        raise CommandError("+QGDCNT needs ? or 0|1")
    cmd.param_count(1, 1)
    if cmd.int_param(0, allowed=range(2)) == 0:
        state.reset_data_counters()
    return OK


def ugcntrd(state: ModemState, cmd: Command) -> Reply:
    """u-blox `AT+UGCNTRD`: one line per defined context; the context that carries the
    data session has the counts: `+UGCNTRD: <cid>,<sent>,<recv>,<sent total>,<recv total>`."""
    if not _exec_only(cmd):
        return OK
    counted, session = state.data_counters()
    active = [cid for cid, c in sorted(state.contexts.items()) if c.active]
    carrier = active[0] if active else min(state.contexts, default=None)
    lines = []
    for cid in sorted(state.contexts):
        if cid == carrier:
            lines.append(f"+UGCNTRD: {cid},{session.up},{session.down},{counted.up},{counted.down}")
        else:
            lines.append(f"+UGCNTRD: {cid},0,0,0,0")
    return Reply(lines)


QUECTEL_COMMANDS: dict[str, CommandSpec] = {
    "+QCCID": CommandSpec(qccid, SimNeed.CARD),
    "+QPINC": CommandSpec(qpinc),
    "+QGDCNT": CommandSpec(qgdcnt),
    "+QNETDEVCTL": CommandSpec(qnetdevctl, SimNeed.UNLOCKED),
}
SIMCOM_COMMANDS: dict[str, CommandSpec] = {
    "+CICCID": CommandSpec(ciccid, SimNeed.CARD),
    "+SPIC": CommandSpec(spic),
    "$QCRMCALL": CommandSpec(qcrmcall, SimNeed.UNLOCKED),
}
UBLOX_COMMANDS: dict[str, CommandSpec] = {
    "+UPINCNT": CommandSpec(upincnt),
    "+UGCNTRD": CommandSpec(ugcntrd),
    "+UBMCONF": CommandSpec(ubmconf),
}
