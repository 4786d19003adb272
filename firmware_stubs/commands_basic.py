"""Handlers of the V.250 basic commands and the identity and control commands of 27.007."""

from __future__ import annotations

from collections.abc import Callable

from firmware_stubs.at_syntax import Command, CommandError, CommandKind
from firmware_stubs.replies import OK, CommandSpec, Reply
from firmware_stubs.state import ModemState


def _flag(cmd: Command, allowed: str) -> int:
    """The digit of a basic command like `E1` (empty means 0), if in `allowed`."""
    value = cmd.value or "0"
    if value not in allowed.split(","):
        raise CommandError(f"{cmd.name}{cmd.value}: unsupported value")
    return int(value)


def echo(state: ModemState, cmd: Command) -> Reply:
    """`ATE0` / `ATE1`: command echo."""
    state.echo = _flag(cmd, "0,1") == 1
    return OK


def verbose(state: ModemState, cmd: Command) -> Reply:
    """`ATV0` (numeric result codes) / `ATV1` (words)."""
    state.verbose = _flag(cmd, "0,1") == 1
    return OK


def quiet(state: ModemState, cmd: Command) -> Reply:
    """`ATQ0`: result codes on (quiet mode is not supported)."""
    _flag(cmd, "0")
    return OK


def info(state: ModemState, cmd: Command) -> Reply:
    """`ATI`: manufacturer, model, revision."""
    _flag(cmd, "0")
    return Reply(state.dialect.ati_lines)


def reset(state: ModemState, cmd: Command) -> Reply:
    """`ATZ` / `AT&F`: restore the default settings."""
    _flag(cmd, "0")
    state.reset_settings()
    return OK


def store_profile(state: ModemState, cmd: Command) -> Reply:
    """`AT&W`: accepted; the stub has one profile, its defaults."""
    _flag(cmd, "0")
    return OK


def dcd(state: ModemState, cmd: Command) -> Reply:
    """`AT&C<n>`: DCD behaviour (stored only: a pty has no DCD line)."""
    state.dcd_mode = _flag(cmd, "0,1")
    return OK


def dtr(state: ModemState, cmd: Command) -> Reply:
    """`AT&D<n>`: DTR behaviour (stored only: a pty has no DTR line)."""
    state.dtr_mode = _flag(cmd, "0,1,2")
    return OK


def result_level(state: ModemState, cmd: Command) -> Reply:
    """`ATX<n>`: extended result codes (stored)."""
    state.x_level = _flag(cmd, "0,1,2,3,4")
    return OK


def hang_up(state: ModemState, cmd: Command) -> Reply:
    """`ATH`: no call to hang up in command mode; OK."""
    _flag(cmd, "0")
    return OK


def s_register(state: ModemState, cmd: Command) -> Reply:
    """`ATS<n>?` / `ATS<n>=<v>`: registers are stored and read back, nothing more."""
    number = int(cmd.name[1:])
    if cmd.kind is CommandKind.READ:
        defaults = {3: 13, 4: 10, 5: 8}
        return Reply([f"{state.s_registers.get(number, defaults.get(number, 0)):03d}"])
    if not cmd.value or int(cmd.value) > 255:
        raise CommandError("S register values are 0 to 255")
    if number in (3, 4, 5):
        raise CommandError("S3, S4 and S5 are fixed in the stub")
    state.s_registers[number] = int(cmd.value)
    return OK


def _text(get: Callable[[ModemState], str]) -> Callable[[ModemState, Command], Reply]:
    def handler(state: ModemState, cmd: Command) -> Reply:
        if cmd.kind is CommandKind.TEST:
            return OK
        if cmd.kind is not CommandKind.EXEC:
            raise CommandError(f"{cmd.name} takes no parameters")
        return Reply([get(state)])

    return handler


def gcap(state: ModemState, cmd: Command) -> Reply:
    """`AT+GCAP`: capabilities list."""
    if cmd.kind is CommandKind.TEST:
        return OK
    if cmd.kind is not CommandKind.EXEC:
        raise CommandError("+GCAP takes no parameters")
    return Reply([state.dialect.gcap])


def cmee(state: ModemState, cmd: Command) -> Reply:
    """`AT+CMEE`: 0 plain ERROR, 1 numeric `+CME ERROR: n`, 2 verbose text."""
    if cmd.kind is CommandKind.TEST:
        return Reply(["+CMEE: (0-2)"])
    if cmd.kind is CommandKind.READ:
        return Reply([f"+CMEE: {state.cmee}"])
    if cmd.kind is CommandKind.EXEC:
        state.cmee = 0
        return OK
    cmd.param_count(1, 1)
    state.cmee = cmd.int_param(0, allowed=range(3))
    return OK


def cfun(state: ModemState, cmd: Command) -> Reply:
    """`AT+CFUN`: 1 full, 0 minimum, 4 radio off. `+CFUN=1,1` resets like a reboot."""
    if cmd.kind is CommandKind.TEST:
        return Reply(["+CFUN: (0,1,4),(0-1)"])
    if cmd.kind is CommandKind.READ:
        return Reply([f"+CFUN: {state.cfun}"])
    if cmd.kind is CommandKind.EXEC:
        raise CommandError("+CFUN needs a level")
    cmd.param_count(1, 2)
    level = cmd.int_param(0, allowed={0, 1, 4})
    if cmd.int_param(1, default=0, allowed=range(2)) == 1:
        state.power_cycle()
    state.cfun = level
    return OK


_CHARSETS = ("IRA", "GSM", "UCS2")


def cscs(state: ModemState, cmd: Command) -> Reply:
    """`AT+CSCS`: the TE character set (stored; the stub's strings are all ASCII)."""
    if cmd.kind is CommandKind.TEST:
        return Reply(["+CSCS: (" + ",".join(f'"{c}"' for c in _CHARSETS) + ")"])
    if cmd.kind is CommandKind.READ:
        return Reply([f'+CSCS: "{state.charset}"'])
    if cmd.kind is CommandKind.EXEC:
        raise CommandError("+CSCS needs a character set")
    cmd.param_count(1, 1)
    charset = cmd.str_param(0).upper()
    if charset not in _CHARSETS:
        raise CommandError("unsupported character set")
    state.charset = charset
    return OK


_manufacturer = _text(lambda s: s.dialect.manufacturer)
_model = _text(lambda s: s.dialect.model)
_revision = _text(lambda s: s.dialect.revision)
_serial = _text(lambda s: s.imei)

BASIC_COMMANDS: dict[str, CommandSpec] = {
    "E": CommandSpec(echo),
    "V": CommandSpec(verbose),
    "Q": CommandSpec(quiet),
    "I": CommandSpec(info),
    "Z": CommandSpec(reset),
    "&F": CommandSpec(reset),
    "&W": CommandSpec(store_profile),
    "&C": CommandSpec(dcd),
    "&D": CommandSpec(dtr),
    "X": CommandSpec(result_level),
    "H": CommandSpec(hang_up),
    "+GCAP": CommandSpec(gcap),
    "+CGMI": CommandSpec(_manufacturer),
    "+GMI": CommandSpec(_manufacturer),
    "+CGMM": CommandSpec(_model),
    "+GMM": CommandSpec(_model),
    "+CGMR": CommandSpec(_revision),
    "+GMR": CommandSpec(_revision),
    "+CGSN": CommandSpec(_serial),
    "+GSN": CommandSpec(_serial),
    "+CMEE": CommandSpec(cmee),
    "+CFUN": CommandSpec(cfun),
    "+CSCS": CommandSpec(cscs),
}
# S registers are looked up by the interpreter under the name "S".
S_REGISTER = CommandSpec(s_register)
