"""Answers about the SIM card and the device: PIN state, retry counters, card status
words, ICCID, IMSI, IMEI and facility locks (3GPP TS 27.007 §5, §8; ETSI TS 102 221)."""

from __future__ import annotations

import enum
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agent.at.errors import ResponseParseError
from agent.at.iccid import decode_ef_iccid, luhn_valid, validate_iccid
from agent.at.responses._fields import (
    first_prefixed,
    is_decimal,
    is_hex,
    prefixed,
    split_fields,
    to_int,
    to_optional_int,
    unquote,
)


def _code_text(text: str) -> str:
    """`SIM PIN` for `"sim  pin "`: unquoted, upper case, single spaces."""
    return " ".join(unquote(text).upper().split())


class PinCode(enum.StrEnum):
    """What `+CPIN?` says the card or device waits for (27.007 §8.3 `<code>`).

    `PH-SIM PUK`, `NOT INSERTED` and `NOT READY` are not in 27.007 but modules send them.
    """

    READY = "READY"
    SIM_PIN = "SIM PIN"
    SIM_PUK = "SIM PUK"
    PH_SIM_PIN = "PH-SIM PIN"
    PH_SIM_PUK = "PH-SIM PUK"
    PH_FSIM_PIN = "PH-FSIM PIN"
    PH_FSIM_PUK = "PH-FSIM PUK"
    SIM_PIN2 = "SIM PIN2"
    SIM_PUK2 = "SIM PUK2"
    PH_NET_PIN = "PH-NET PIN"
    PH_NET_PUK = "PH-NET PUK"
    PH_NETSUB_PIN = "PH-NETSUB PIN"
    PH_NETSUB_PUK = "PH-NETSUB PUK"
    PH_SP_PIN = "PH-SP PIN"
    PH_SP_PUK = "PH-SP PUK"
    PH_CORP_PIN = "PH-CORP PIN"
    PH_CORP_PUK = "PH-CORP PUK"
    NOT_INSERTED = "NOT INSERTED"
    NOT_READY = "NOT READY"


@dataclass(frozen=True, slots=True)
class PinStatus:
    """The answer to `AT+CPIN?`."""

    code: PinCode

    @property
    def ready(self) -> bool:
        """No password is pending: the card is usable."""
        return self.code is PinCode.READY

    @property
    def needs_pin(self) -> bool:
        """The card waits for its PIN (PIN1)."""
        return self.code is PinCode.SIM_PIN

    @property
    def needs_puk(self) -> bool:
        """PIN1 is blocked: the card waits for its PUK."""
        return self.code is PinCode.SIM_PUK

    @property
    def needs_pin2(self) -> bool:
        """The card waits for PIN2."""
        return self.code is PinCode.SIM_PIN2

    @property
    def needs_puk2(self) -> bool:
        """PIN2 is blocked: the card waits for PUK2."""
        return self.code is PinCode.SIM_PUK2

    @property
    def device_locked(self) -> bool:
        """A personalisation lock of the device (`PH-...`), not a PIN of the card."""
        return self.code.value.startswith("PH-")


def parse_cpin(lines: Sequence[str]) -> PinStatus:
    """`+CPIN: SIM PIN` (value quoted or not) → `PinStatus`."""
    line, payload = first_prefixed(lines, "+CPIN")
    text = _code_text(payload)
    try:
        return PinStatus(PinCode(text))
    except ValueError:
        raise ResponseParseError("+CPIN", line, f"unknown code {text!r}") from None


@dataclass(frozen=True, slots=True)
class PinRetry:
    """Tries left and the card's initial number of tries for one code; None = not said."""

    retries_left: int | None
    default_retries: int | None


def parse_cpinr(lines: Sequence[str]) -> Mapping[str, PinRetry]:
    """`+CPINR: SIM PIN,3,3` lines (27.007 §8.65) → read-only {`SIM PIN`: PinRetry}."""
    result: dict[str, PinRetry] = {}
    for line, payload in prefixed(lines, "+CPINR"):
        fields = split_fields(payload, "+CPINR", line)
        code = _code_text(fields[0])
        if not code or len(fields) > 3:
            raise ResponseParseError("+CPINR", line, "expected <code>,<retries>,<default>")
        padded = [*fields[1:], "", ""]
        result[code] = PinRetry(
            to_optional_int(padded[0], "+CPINR", line, "retries"),
            to_optional_int(padded[1], "+CPINR", line, "default retries"),
        )
    if not result:
        raise ResponseParseError("+CPINR", " | ".join(lines), "no line starts with +CPINR:")
    return types.MappingProxyType(result)


_STATUS_WORDS: dict[tuple[int, int], str] = {
    (0x90, 0x00): "normal ending",
    (0x62, 0x83): "selected file invalidated",
    (0x63, 0x00): "verification failed",
    (0x67, 0x00): "wrong length",
    (0x69, 0x82): "security status not satisfied",
    (0x69, 0x83): "authentication method blocked",
    (0x69, 0x84): "reference data invalidated",
    (0x69, 0x85): "conditions of use not satisfied",
    (0x6A, 0x81): "function not supported",
    (0x6A, 0x82): "file not found",
    (0x6A, 0x83): "record not found",
    (0x6A, 0x86): "incorrect parameters P1-P2",
    (0x6A, 0x88): "reference data not found",
    (0x6B, 0x00): "wrong parameters P1-P2",
    (0x6D, 0x00): "instruction code not supported",
    (0x6E, 0x00): "class not supported",
    (0x6F, 0x00): "technical problem",
    (0x94, 0x04): "file not found",
    (0x98, 0x04): "access condition not fulfilled",
    (0x98, 0x40): "CHV blocked",
}


def describe_status_word(sw1: int, sw2: int) -> str:
    """A short English meaning of a card's status word (ETSI TS 102 221 §10.2)."""
    if sw1 == 0x63 and sw2 & 0xF0 == 0xC0:
        return f"verification failed, {sw2 & 0x0F} tries left"
    if sw1 == 0x91:
        return "normal ending, proactive command pending"
    if sw1 == 0x61:
        return f"normal ending, {sw2} bytes to fetch"
    return _STATUS_WORDS.get((sw1, sw2), f"status word {sw1:02X}{sw2:02X}")


def _status_ok(sw1: int, sw2: int) -> bool:
    return (sw1, sw2) == (0x90, 0x00) or sw1 in (0x91, 0x92, 0x9F, 0x61)


@dataclass(frozen=True, slots=True)
class SimStatusWord:
    """A card's answer through `+CSIM`: its status word and any response data (hex)."""

    sw1: int
    sw2: int
    data: str = ""

    @property
    def ok(self) -> bool:
        """The command succeeded (a VERIFY with no data: verified, or PIN not needed)."""
        return _status_ok(self.sw1, self.sw2)

    @property
    def retries_left(self) -> int | None:
        """Tries left as the card counts them (`63Cx`: x; blocked: 0); None if not said."""
        if self.sw1 == 0x63 and self.sw2 & 0xF0 == 0xC0:
            return self.sw2 & 0x0F
        return 0 if self.blocked else None

    @property
    def blocked(self) -> bool:
        """The PIN or PUK that was addressed has no try left."""
        return (self.sw1, self.sw2) in ((0x69, 0x83), (0x98, 0x40), (0x63, 0xC0))

    @property
    def description(self) -> str:
        """A short English meaning of the status word."""
        return describe_status_word(self.sw1, self.sw2)


def _hex_payload(field: str, command: str, line: str) -> str:
    data = "".join(unquote(field).split()).upper()
    if data and (not is_hex(data) or len(data) % 2):
        raise ResponseParseError(command, line, "the data is not whole bytes of hex")
    return data


def parse_csim(lines: Sequence[str]) -> SimStatusWord:
    """`+CSIM: 4,"63C2"` → `SimStatusWord(0x63, 0xC2)`; the length must match the hex."""
    line, payload = first_prefixed(lines, "+CSIM")
    fields = split_fields(payload, "+CSIM", line)
    if len(fields) != 2:
        raise ResponseParseError("+CSIM", line, "expected <length>,<response>")
    length = to_int(fields[0], "+CSIM", line, "length")
    response = _hex_payload(fields[1], "+CSIM", line)
    if len(response) != length:
        raise ResponseParseError(
            "+CSIM", line, f"length says {length} characters, the response has {len(response)}"
        )
    if length < 4:
        raise ResponseParseError("+CSIM", line, "the response has no status word")
    return SimStatusWord(int(response[-4:-2], 16), int(response[-2:], 16), response[:-4])


@dataclass(frozen=True, slots=True)
class CrsmResult:
    """A card's answer through `+CRSM` (27.007 §8.18): status word and data (hex)."""

    sw1: int
    sw2: int
    data: str = ""

    @property
    def ok(self) -> bool:
        """The card carried out the command."""
        return _status_ok(self.sw1, self.sw2)

    @property
    def not_found(self) -> bool:
        """The file does not exist on this card (`6A82`, or `9404` on a 2G SIM)."""
        return (self.sw1, self.sw2) in ((0x6A, 0x82), (0x94, 0x04))

    @property
    def description(self) -> str:
        """A short English meaning of the status word."""
        return describe_status_word(self.sw1, self.sw2)


def parse_crsm(lines: Sequence[str]) -> CrsmResult:
    """`+CRSM: 144,0,"98..."` → `CrsmResult`; `+CRSM: 106,130` is a result, not an error."""
    line, payload = first_prefixed(lines, "+CRSM")
    fields = split_fields(payload, "+CRSM", line)
    if len(fields) not in (2, 3):
        raise ResponseParseError("+CRSM", line, "expected <sw1>,<sw2>[,<response>]")
    sw1 = to_int(fields[0], "+CRSM", line, "sw1")
    sw2 = to_int(fields[1], "+CRSM", line, "sw2")
    if sw1 > 0xFF or sw2 > 0xFF:
        raise ResponseParseError("+CRSM", line, "a status byte is above 255")
    data = _hex_payload(fields[2], "+CRSM", line) if len(fields) == 3 else ""
    return CrsmResult(sw1, sw2, data)


@dataclass(frozen=True, slots=True)
class IccidRead:
    """An ICCID as read from the card; `luhn_valid` is reported, never enforced."""

    iccid: str
    luhn_valid: bool


def _iccid_read(iccid: str) -> IccidRead:
    return IccidRead(iccid, luhn_valid(iccid))


def iccid_from_crsm(result: CrsmResult) -> IccidRead | None:
    """The ICCID in a READ BINARY of EF_ICCID; None when the card did not return the file."""
    if not result.ok:
        return None
    try:
        return _iccid_read(validate_iccid(decode_ef_iccid(result.data)))
    except ValueError as error:
        raise ResponseParseError("+CRSM", result.data, str(error)) from None


_ICCID_PREFIXES = ("+CCID", "+ICCID", "+QCCID", "+CICCID", "^ICCID", "!ICCID", "^SCID")


def _normalise_iccid(raw: str) -> str | None:
    """The ICCID `raw` spells (plain, F-padded, or nibble-swapped EF_ICCID), or None."""
    try:
        return validate_iccid(unquote(raw))
    except ValueError:
        return None


def parse_iccid(lines: Sequence[str]) -> IccidRead:
    """The ICCID in a `+CCID`/`+ICCID`/`+QCCID`/`+CICCID`/`^ICCID` line or a bare line.

    Validated as ModemManager does (`validate_iccid`): 19-20 characters, the first six
    decimal, the rest hex; a trailing `F` filler is dropped; 20 starting `98` are
    EF_ICCID's nibble-swapped form; an issuer identifier other than 89 is refused.
    """
    for line in lines:
        text = line.strip()
        upper = text.upper()
        for prefix in _ICCID_PREFIXES:
            if upper.startswith(prefix + ":"):
                payload = text[len(prefix) + 1 :]
                try:
                    valid = validate_iccid(unquote(split_fields(payload, prefix, line)[0]))
                except ValueError as exc:
                    raise ResponseParseError(prefix, line, str(exc)) from None
                return _iccid_read(valid)
        bare = _normalise_iccid(text)
        if bare is not None:
            return _iccid_read(bare)
    raise ResponseParseError("+CCID", " | ".join(lines), "no line holds an ICCID")


def _bare_or_prefixed(
    lines: Sequence[str], prefixes: tuple[str, ...], lengths: range, command: str
) -> tuple[str, str]:
    """The first `(line, digits)` that is a run of digits, alone or after a prefix."""
    for line in lines:
        text = line.strip()
        for prefix in prefixes:
            if text.upper().startswith(prefix + ":"):
                digits = unquote(text[len(prefix) + 1 :])
                if not is_decimal(digits) or len(digits) not in lengths:
                    raise ResponseParseError(
                        command, line, f"expected {lengths.start}-{lengths.stop - 1} digits"
                    )
                return line, digits
        if is_decimal(text) and len(text) in lengths:
            return line, text
    raise ResponseParseError(command, " | ".join(lines), "no line holds the number")


@dataclass(frozen=True, slots=True)
class Imsi:
    """An IMSI; the MNC length is not knowable from the digits alone, so only MCC."""

    value: str
    mcc: str


def parse_cimi(lines: Sequence[str]) -> Imsi:
    """A bare line of 6-15 digits (or `+CIMI: ...`) → `Imsi`."""
    _, digits = _bare_or_prefixed(lines, ("+CIMI",), range(6, 16), "+CIMI")
    return Imsi(digits, digits[:3])


@dataclass(frozen=True, slots=True)
class Imei:
    """An IMEI (15 digits) or IMEISV; `luhn_valid` holds only for a 15-digit IMEI."""

    value: str
    luhn_valid: bool


def parse_cgsn(lines: Sequence[str]) -> Imei:
    """A bare line of 14-17 digits, or `+CGSN: "..."` (also `+GSN`) → `Imei`."""
    _, digits = _bare_or_prefixed(lines, ("+CGSN", "+GSN"), range(14, 18), "+CGSN")
    return Imei(digits, len(digits) == 15 and luhn_valid(digits))


@dataclass(frozen=True, slots=True)
class FacilityLock:
    """The answer to `AT+CLCK=<fac>,2`: enabled for any class, and for which classes."""

    enabled: bool
    classes: tuple[int, ...] = ()


def parse_clck(lines: Sequence[str]) -> FacilityLock:
    """`+CLCK: <status>[,<class>]` lines → `FacilityLock`."""
    enabled = False
    classes: list[int] = []
    seen = False
    for line, payload in prefixed(lines, "+CLCK"):
        seen = True
        fields = split_fields(payload, "+CLCK", line)
        status = to_int(fields[0], "+CLCK", line, "status")
        if status not in (0, 1) or len(fields) > 2:
            raise ResponseParseError("+CLCK", line, "expected <status 0|1>[,<class>]")
        klass = to_optional_int(fields[1], "+CLCK", line, "class") if len(fields) > 1 else None
        if status:
            enabled = True
            if klass is not None:
                classes.append(klass)
    if not seen:
        raise ResponseParseError("+CLCK", " | ".join(lines), "no line starts with +CLCK:")
    return FacilityLock(enabled, tuple(classes))
