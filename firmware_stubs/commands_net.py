"""Handlers of the network and packet-data commands (27.007 §7, §10) and of `ATD*99#`."""

from __future__ import annotations

import re

from firmware_stubs.at_syntax import CmeError, Command, CommandError, CommandKind
from firmware_stubs.commands_data import cgcontrdp
from firmware_stubs.replies import OK, CommandSpec, Handler, Reply, SimNeed
from firmware_stubs.state import DENIED, REGISTERED, ModemState, PdpContext

NO_NETWORK_SERVICE = 30
OPERATION_NOT_ALLOWED = 3
PDP_TYPES = ("IP", "IPV6", "IPV4V6", "PPP")
MAX_CID = 15


def registration_line(name: str, stat: int, state: ModemState, n: int, *, urc: bool) -> str:
    """A `+CREG`-style line: the read answer (`n,stat…`) or the URC (`stat…`)."""
    fields = [str(stat)] if urc else [str(n), str(stat)]
    if n == 2 and stat in REGISTERED:
        net = state.network
        fields += [f'"{net.tac}"', f'"{net.cell_id}"', str(net.act)]
    return f"{name}: {','.join(fields)}"


def _registration(name: str, attr: str, packet: bool) -> Handler:
    def handler(state: ModemState, cmd: Command) -> Reply:
        if cmd.kind is CommandKind.TEST:
            return Reply([f"{name}: (0-2)"])
        if cmd.kind is CommandKind.READ:
            stat = state.ps_stat() if packet else state.cs_stat()
            return Reply([registration_line(name, stat, state, getattr(state, attr), urc=False)])
        if cmd.kind is CommandKind.EXEC:
            setattr(state, attr, 0)
            return OK
        cmd.param_count(1, 1)
        setattr(state, attr, cmd.int_param(0, allowed=range(3)))
        return OK

    return handler


def _operator(state: ModemState, fmt: int) -> str:
    net = state.network
    return (net.operator_long, net.operator_short, net.operator_numeric)[fmt]


def cops(state: ModemState, cmd: Command) -> Reply:
    """`AT+COPS?`, `AT+COPS=?` (slow: a network scan), `AT+COPS=0|2|3,<format>|1,…`."""
    net = state.network
    if cmd.kind is CommandKind.TEST:
        if state.cfun != 1:
            raise CmeError(NO_NETWORK_SERVICE)
        names = [(2, net.operator_long, net.operator_short, net.operator_numeric)]
        names += [(1, *other) for other in net.other_operators]
        found = [f'({stat},"{a}","{b}","{c}",{net.act})' for stat, a, b, c in names]
        line = "+COPS: " + ",".join(found) + ",,(0-4),(0-2)"
        return Reply([line], delay=net.cops_scan_seconds)
    if cmd.kind is CommandKind.READ:
        mode = 2 if state.cops_deregistered else 0
        if state.cs_stat() not in REGISTERED:
            return Reply([f"+COPS: {mode}"])
        name = _operator(state, state.cops_format)
        return Reply([f'+COPS: {mode},{state.cops_format},"{name}",{net.act}'])
    if cmd.kind is CommandKind.EXEC:
        raise CommandError("+COPS needs a mode")
    cmd.param_count(1, 4)
    mode = cmd.int_param(0, allowed=range(5))
    if mode == 3:
        state.cops_format = cmd.int_param(1, allowed=range(3))
    elif mode == 2:
        state.cops_deregistered = True
    elif mode == 0:
        state.cops_deregistered = False
    else:  # manual (1) or manual/automatic (4): only the home network is there to pick
        fmt = cmd.int_param(1, allowed=range(3))
        wanted = cmd.str_param(2)
        if wanted != _operator(state, fmt) and mode == 1:
            raise CmeError(NO_NETWORK_SERVICE)
        state.cops_deregistered = False
    return OK


def csq(state: ModemState, cmd: Command) -> Reply:
    """`AT+CSQ`: signal quality (99,99 with the radio off)."""
    if cmd.kind is CommandKind.TEST:
        return Reply(["+CSQ: (0-31,99),(0-7,99)"])
    if cmd.kind is not CommandKind.EXEC:
        raise CommandError("+CSQ takes no parameters")
    rssi = state.network.rssi if state.cfun == 1 else 99
    return Reply([f"+CSQ: {rssi},99"])


def cgdcont(state: ModemState, cmd: Command) -> Reply:
    """`AT+CGDCONT`: define (`=cid,"type","apn"`), delete (`=cid`), list, test."""
    if cmd.kind is CommandKind.TEST:
        return Reply(
            [f'+CGDCONT: (1-{MAX_CID}),"{t}",,,(0-2),(0-4)' for t in PDP_TYPES if t != "PPP"]
        )
    if cmd.kind is CommandKind.READ:
        return Reply(
            [f'+CGDCONT: {cid},"{c.pdp_type}","{c.apn}","0.0.0.0",0,0'
             for cid, c in sorted(state.contexts.items())]
        )  # fmt: skip
    if cmd.kind is CommandKind.EXEC:
        return OK
    cmd.param_count(1, 12)
    cid = cmd.int_param(0, allowed=range(1, MAX_CID + 1))
    existing = state.contexts.get(cid)
    if existing is not None and existing.active:
        raise CmeError(OPERATION_NOT_ALLOWED)
    if len(cmd.params) == 1:
        state.contexts.pop(cid, None)
        return OK
    pdp_type = cmd.str_param(1).upper()
    if pdp_type not in PDP_TYPES:
        raise CommandError("unknown PDP type")
    state.contexts[cid] = PdpContext(pdp_type, cmd.str_param(2, default=""))
    return OK


def cgatt(state: ModemState, cmd: Command) -> Reply:
    """`AT+CGATT?` / `=0|1`: packet-domain attach."""
    if cmd.kind is CommandKind.TEST:
        return Reply(["+CGATT: (0,1)"])
    if cmd.kind is CommandKind.READ:
        return Reply([f"+CGATT: {int(state.registered())}"])
    if cmd.kind is CommandKind.EXEC:
        raise CommandError("+CGATT needs a state")
    cmd.param_count(1, 1)
    attach = cmd.int_param(0, allowed=range(2)) == 1
    if attach:
        locked = state.sim_locked_error()
        if locked is not None:
            raise CmeError(locked)
        if state.cfun != 1 or state.cops_deregistered or state.cs_stat() == DENIED:
            raise CmeError(NO_NETWORK_SERVICE)
    else:
        state.deactivate()
    state.ps_attach_wanted = attach
    return OK


def cgact(state: ModemState, cmd: Command) -> Reply:
    """`AT+CGACT=<state>[,<cid>…]` and `AT+CGACT?`."""
    if cmd.kind is CommandKind.TEST:
        return Reply(["+CGACT: (0,1)"])
    if cmd.kind is CommandKind.READ:
        return Reply(
            [f"+CGACT: {cid},{int(c.active)}" for cid, c in sorted(state.contexts.items())]
        )
    if cmd.kind is CommandKind.EXEC:
        raise CommandError("+CGACT needs a state")
    cmd.param_count(1, MAX_CID + 1)
    activate = cmd.int_param(0, allowed=range(2)) == 1
    cids = [cmd.int_param(i, allowed=range(1, MAX_CID + 1)) for i in range(1, len(cmd.params))]
    cids = cids or sorted(state.contexts)
    if any(cid not in state.contexts for cid in cids):
        raise CmeError(OPERATION_NOT_ALLOWED)
    if not activate:
        state.deactivate(cids)
        return OK
    if not state.registered():
        raise CmeError(NO_NETWORK_SERVICE)
    state.activate(cids)
    return OK


def cgpaddr(state: ModemState, cmd: Command) -> Reply:
    """`AT+CGPADDR[=<cid>…]`: the address of each active context (omitted if inactive)."""
    if cmd.kind is CommandKind.TEST:
        return Reply([f"+CGPADDR: ({','.join(str(c) for c in sorted(state.contexts))})"])
    if cmd.kind is CommandKind.READ:
        raise CommandError("+CGPADDR has no read form")
    cids = [cmd.int_param(i, allowed=range(1, MAX_CID + 1)) for i in range(len(cmd.params))]
    lines = []
    for cid in cids or sorted(state.contexts):
        context = state.contexts.get(cid)
        if context is None:
            continue
        address = f',"{state.pdp_address(cid)}"' if context.active else ""
        lines.append(f"+CGPADDR: {cid}{address}")
    return Reply(lines)


def cgerep(state: ModemState, cmd: Command) -> Reply:
    """`AT+CGEREP=<mode>[,<bfr>]`: packet-domain event URCs (`+CGEV`) off (0) or on."""
    if cmd.kind is CommandKind.TEST:
        return Reply(["+CGEREP: (0-2),(0,1)"])
    if cmd.kind is CommandKind.READ:
        return Reply([f"+CGEREP: {state.cgerep},0"])
    if cmd.kind is CommandKind.EXEC:
        raise CommandError("+CGEREP needs a mode")
    cmd.param_count(1, 2)
    mode = cmd.int_param(0, allowed=range(3))
    cmd.int_param(1, default=0, allowed=range(2))
    state.cgerep = mode
    return OK


_DATA_DIAL = re.compile(r"\*99(?:\*\*[^*#]*\*(\d{1,2})|\*\*\*(\d{1,2}))?#")


def dial(state: ModemState, cmd: Command) -> Reply:
    """`ATD*99#` / `ATD*99***<cid>#`: `CONNECT <speed>`, then data mode until hang-up."""
    match = _DATA_DIAL.fullmatch(cmd.value.replace(" ", ""))
    if match is None:
        raise CommandError("only packet data calls (*99#) are supported")
    cid = int(match.group(1) or match.group(2) or 1)
    context = state.contexts.get(cid)
    if context is None or not state.registered():
        return Reply([], final="NO CARRIER")
    try:
        state.activate([cid])
    except CmeError:
        return Reply([], final="NO CARRIER")
    state.data_mode = True
    state.data_cid = cid
    speed = state.network.connect_speed
    return Reply([], final=f"CONNECT {speed}" if state.x_level > 0 else "CONNECT")


NET_COMMANDS: dict[str, CommandSpec] = {
    "+CREG": CommandSpec(_registration("+CREG", "creg_n", packet=False)),
    "+CGREG": CommandSpec(_registration("+CGREG", "cgreg_n", packet=True)),
    "+CEREG": CommandSpec(_registration("+CEREG", "cereg_n", packet=True)),
    "+COPS": CommandSpec(cops, SimNeed.UNLOCKED),
    "+CSQ": CommandSpec(csq),
    "+CGDCONT": CommandSpec(cgdcont),
    "+CGATT": CommandSpec(cgatt),
    "+CGACT": CommandSpec(cgact, SimNeed.UNLOCKED),
    "+CGPADDR": CommandSpec(cgpaddr),
    "+CGCONTRDP": CommandSpec(cgcontrdp, SimNeed.UNLOCKED),
    "+CGEREP": CommandSpec(cgerep),
    "D": CommandSpec(dial, SimNeed.UNLOCKED),
}
