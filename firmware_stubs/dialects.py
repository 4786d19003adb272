"""Vendor dialects, declared as data: identity strings, defaults, and extra commands.

A dialect adds or overrides commands through `commands` (a table of `CommandSpec`), so
vendor-specific commands (`AT+QCCID`, `AT+CICCID`, ...) are rows, not branches; its
quirks are fields: `quote_cpin` (no shipped dialect: SIMCom's SIM7500/SIM7600 AT manual
gives `+CPIN: <code>` as 27.007 does, so quoting is the `quote_cpin` fault),
`busy_after_unlock` (SIMCom's `+CME ERROR: 14` after a PIN), `unlock_urcs` (what the
module says once the SIM is ready) and `urcs_before_ok` (those URCs slip into the next
answer, between its lines and its final result).
docs/dialects.md says where each fact comes from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from firmware_stubs.commands_vendor import QUECTEL_COMMANDS, SIMCOM_COMMANDS, UBLOX_COMMANDS
from firmware_stubs.personality import Personality
from firmware_stubs.replies import CommandSpec
from simgate_common.luhn import luhn_check_digit


def make_imei(tac: str, serial: str) -> str:
    """A 15-digit IMEI: 8-digit type allocation code, 6-digit serial, Luhn digit."""
    body = tac + serial
    if len(body) != 14 or not body.isdigit():
        raise ValueError("an IMEI body is 14 digits")
    return body + str(luhn_check_digit(body))


def is_imei(value: str) -> bool:
    """True for 15 decimal digits (the Luhn digit is not checked: some modules skip it)."""
    return len(value) == 15 and value.isascii() and value.isdigit()


@dataclass(frozen=True)
class Dialect(Personality):
    """A module family's personality and the commands it adds or answers its own way."""

    commands: Mapping[str, CommandSpec] = field(default_factory=lambda: MappingProxyType({}))
    netdev: str = "wwan0"  # the host interface of the module's data function (docs/stub.md)


DIALECTS: Mapping[str, Dialect] = MappingProxyType(
    {
        "generic": Dialect(
            name="generic",
            manufacturer="simgate",
            model="Stub LTE Modem",
            revision="SIMGATE-STUB-1.0",
            imei=make_imei("35000001", "000001"),
        ),
        "quectel": Dialect(
            name="quectel",
            manufacturer="Quectel",
            model="EG25",
            revision="EG25GGBR07A08M2G",
            imei=make_imei("86000002", "000002"),
            unlock_urcs=("+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE", "+QIND: PB DONE"),
            urcs_before_ok=True,
            commands=MappingProxyType(QUECTEL_COMMANDS),
            netdev="usb0",  # ECM (cdc_ether), the mode +QNETDEVCTL starts
        ),
        "simcom": Dialect(
            name="simcom",
            manufacturer="SIMCOM INCORPORATED",
            model="SIMCOM_SIM7600G-H",
            revision="LE20B04SIM7600G22",
            imei=make_imei("86000003", "000003"),
            busy_after_unlock=0.5,
            unlock_urcs=("+CPIN: READY", "SMS DONE", "PB DONE"),
            commands=MappingProxyType(SIMCOM_COMMANDS),
        ),
        "ublox": Dialect(
            name="ublox",
            manufacturer="u-blox",
            model="SARA-R410M-02B",
            revision="L0.0.00.00.05.12",
            imei=make_imei("35000004", "000004"),
            commands=MappingProxyType(UBLOX_COMMANDS),
            netdev="usb0",  # ECM/RNDIS profile (ModemManager's ublox README)
        ),
    }
)


def get_dialect(dialect: str | Dialect) -> Dialect:
    """The dialect named `dialect` (or `dialect` itself); `ValueError` lists the names."""
    if isinstance(dialect, Dialect):
        return dialect
    try:
        return DIALECTS[dialect]
    except KeyError:
        raise ValueError(f"unknown dialect {dialect!r} (known: {', '.join(DIALECTS)})") from None
