"""The data call's network side: `+CGCONTRDP` and the vendors' "start the network device".

`AT+CGCONTRDP[=<cid>]` (3GPP TS 27.007 §10.1.23) reports, per active context:
`+CGCONTRDP: <cid>,<bearer_id>,"<apn>","<local address and subnet mask>","<gw_addr>",
"<DNS_prim_addr>","<DNS_sec_addr>"`, the address and mask dot-joined
(`a.b.c.d.m1.m2.m3.m4`, the format since 27.007 v9.4.0). The facts come from the data
plane (`firmware_stubs.dataplane.Bearer`); without one, from the IP the network gave and
a fixed gateway of the modem's own.

Start commands (facts from the vendors' AT manuals and ModemManager's plugins; see
docs/stub.md):
- Quectel `AT+QNETDEVCTL=<op>,<cid>[,<urc_en>]`: op 1 starts the ECM/RNDIS data call
  on context `cid`, 0 ends it; `AT+QNETDEVCTL?` answers `+QNETDEVCTL:
  <op>,<cid>,<urc_en>,<state>`.
- SIMCom `AT$QCRMCALL=<state>,<instance>[,<IPtype>[,<act>[,<umts_profile>]]]`: state 1
  starts the RMNET/NDIS call on profile `umts_profile` (default 1) and answers
  `$QCRMCALL: 1,V4`; 0 ends it.
- u-blox: no start command (`+CGACT=1,<cid>` brings up the ECM/RNDIS interface);
  `AT+UBMCONF?` says the networking mode: the stub is in bridge mode (2): static
  addressing from `+CGCONTRDP`, no DHCP server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from firmware_stubs.at_syntax import CmeError, Command, CommandError, CommandKind
from firmware_stubs.dataplane import Bearer, BearerSource
from firmware_stubs.replies import OK, Reply

if TYPE_CHECKING:
    from firmware_stubs.state import ModemState

MAX_CID = 15
FIRST_EPS_BEARER_ID = 5  # EPS bearer identities 5-15 (24.007 §11.2.3.1.5)
OPERATION_NOT_ALLOWED = 3
OPERATION_NOT_SUPPORTED = 4
OWN_GATEWAY = "10.64.0.254"  # the modem's own next hop when there is no data plane
UBMCONF_BRIDGE = 2


def bearer_of(state: ModemState, cid: int) -> Bearer:
    """The network's facts for context `cid`: the data plane's, else the modem's own."""
    carrier = state.carrier
    if isinstance(carrier, BearerSource):
        bearer = carrier.bearer(state.card.iccid)
        if bearer is not None:
            return bearer
    return Bearer(address=state.pdp_address(cid), gateway=OWN_GATEWAY)


def _active_cids(state: ModemState) -> list[int]:
    return [cid for cid, context in sorted(state.contexts.items()) if context.active]


def cgcontrdp(state: ModemState, cmd: Command) -> Reply:
    """`AT+CGCONTRDP[=<cid>]`: the dynamic parameters of active contexts; `=?` lists them."""
    if cmd.kind is CommandKind.TEST:
        return Reply([f"+CGCONTRDP: ({','.join(str(c) for c in _active_cids(state))})"])
    if cmd.kind is CommandKind.READ:
        raise CommandError("+CGCONTRDP has no read form")
    if cmd.kind is CommandKind.SET:
        cmd.param_count(1, 1)
        cid = cmd.int_param(0, allowed=range(1, MAX_CID + 1))
        context = state.contexts.get(cid)
        if context is None or not context.active:
            raise CmeError(OPERATION_NOT_ALLOWED)
        cids = [cid]
    else:
        cids = _active_cids(state)
    lines = []
    for cid in cids:
        bearer = bearer_of(state, cid)
        dns = [*bearer.dns, "", ""][:2]
        fields = [
            str(cid),
            str(FIRST_EPS_BEARER_ID + (cid - 1) % 11),
            f'"{state.contexts[cid].apn}"',
            f'"{bearer.address}.{bearer.mask}"',
            f'"{bearer.gateway or ""}"',
            *(f'"{d}"' for d in dns),
        ]
        lines.append("+CGCONTRDP: " + ",".join(fields))
    return Reply(lines)


def _start(state: ModemState, cid: int) -> None:
    """Activate `cid` as the data call (a `CmeError` when the network refuses)."""
    context = state.contexts.get(cid)
    if context is None:
        raise CmeError(OPERATION_NOT_ALLOWED)
    if not state.registered():
        raise CmeError(30)  # no network service
    if not context.active:
        state.activate([cid])


def qnetdevctl(state: ModemState, cmd: Command) -> Reply:
    """Quectel `AT+QNETDEVCTL=<op>,<cid>[,<urc_en>]`, `?` and `=?`."""
    if cmd.kind is CommandKind.TEST:
        return Reply([f"+QNETDEVCTL: (0,1),(1-{MAX_CID}),(0,1)"])
    if cmd.kind is CommandKind.READ:
        active = _active_cids(state)
        if not active:
            return Reply(["+QNETDEVCTL: 0,1,0,0"])
        return Reply([f"+QNETDEVCTL: 1,{active[0]},0,1"])
    if cmd.kind is not CommandKind.SET:
        raise CommandError("+QNETDEVCTL needs <op>,<cid>")
    cmd.param_count(2, 3)
    op = cmd.int_param(0, allowed=range(2))
    cid = cmd.int_param(1, allowed=range(1, MAX_CID + 1))
    cmd.int_param(2, default=0, allowed=range(2))
    if op == 1:
        _start(state, cid)
    elif cid in state.contexts:
        state.deactivate([cid])
    return OK


def qcrmcall(state: ModemState, cmd: Command) -> Reply:
    """SIMCom `AT$QCRMCALL=<state>,<instance>[,<IPtype>[,<act>[,<umts_profile>]]]`."""
    if cmd.kind is CommandKind.TEST:
        return Reply([f"$QCRMCALL: (0-1),(1-2),(1-3),(1-2),(1-{MAX_CID})"])
    if cmd.kind is CommandKind.READ:
        return Reply(["$QCRMCALL: 1,V4"] if _active_cids(state) else [])
    if cmd.kind is not CommandKind.SET:
        raise CommandError("$QCRMCALL needs <state>,<instance>")
    cmd.param_count(2, 6)
    start = cmd.int_param(0, allowed=range(2)) == 1
    cmd.int_param(1, allowed=range(1, 3))
    ip_type = cmd.int_param(2, default=1, allowed=range(1, 4))
    cmd.int_param(3, default=2, allowed=range(1, 3))
    cid = cmd.int_param(4, default=1, allowed=range(1, MAX_CID + 1))
    if ip_type != 1:
        raise CmeError(OPERATION_NOT_SUPPORTED)  # the stub's contexts are IPv4 only
    if not start:
        if cid in state.contexts:
            state.deactivate([cid])
        return OK
    _start(state, cid)
    return Reply(["$QCRMCALL: 1,V4"])


def ubmconf(state: ModemState, cmd: Command) -> Reply:
    """u-blox `AT+UBMCONF?`: bridge mode (2); `=2` is accepted, router mode (1) is not
    simulated (no DHCP server)."""
    if cmd.kind is CommandKind.TEST:
        return Reply(["+UBMCONF: (1-2)"])
    if cmd.kind is CommandKind.READ:
        return Reply([f"+UBMCONF: {UBMCONF_BRIDGE}"])
    if cmd.kind is not CommandKind.SET:
        raise CommandError("+UBMCONF needs ? or a mode")
    cmd.param_count(1, 1)
    if cmd.int_param(0, allowed=range(1, 3)) != UBMCONF_BRIDGE:
        raise CmeError(OPERATION_NOT_SUPPORTED)
    return OK
