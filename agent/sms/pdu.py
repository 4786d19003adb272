"""Reading SMS PDUs as a modem's `+CMGL`/`+CMGR` show them in PDU mode (27.005 §3.1).

3GPP TS 23.040 gives the layout: the SMSC address, then a TPDU whose first octet's two low
bits say its type (SMS-DELIVER 0, SMS-SUBMIT 1, SMS-STATUS-REPORT 2). TS 23.038 gives the
alphabets: GSM 7-bit packed into octets, least significant bit first, with an escape to an
extension table; UCS2 (read as UTF-16, so surrogate pairs work); 8-bit data. A user data
header (TP-UDHI) may carry the concatenation element (IEI 0x00, 8-bit reference, or 0x08,
16-bit); with 7-bit text the header is followed by fill bits up to a septet boundary.

Nothing here trusts the PDU: every length is checked against the bytes there are, and a
PDU that does not hold together raises `PduDecodeError` naming what is wrong.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

# TS 23.038 §6.2.1 default alphabet, in rows of 16 codes (0x1B, the escape, reads as " ").
_DEFAULT_ROWS = (
    "@£$¥èéùìòÇ\nØø\rÅå",
    "Δ_ΦΓΛΩΠΨΣΘΞ ÆæßÉ",
    " !\"#¤%&'()*+,-./",
    "0123456789:;<=>?",
    "¡ABCDEFGHIJKLMNO",
    "PQRSTUVWXYZÄÖÑÜ§",
    "¿abcdefghijklmno",
    "pqrstuvwxyzäöñüà",
)
DEFAULT_ALPHABET = "".join(_DEFAULT_ROWS)
# TS 23.038 §6.2.1.1: the characters behind the escape.
EXTENSION_TABLE = dict(
    zip(
        (0x0A, 0x14, 0x28, 0x29, 0x2F, 0x3C, 0x3D, 0x3E, 0x40, 0x65),
        "\f^{}\\[~]|€",
        strict=True,
    )
)
_ESCAPE = 0x1B


class PduDecodeError(ValueError):
    """A PDU that does not hold together."""


class PduKind(enum.StrEnum):
    """The TPDU types a modem stores (TP-MTI, SC to MS direction for DELIVER/REPORT)."""

    DELIVER = "deliver"
    SUBMIT = "submit"
    STATUS_REPORT = "status_report"


@dataclass(frozen=True, slots=True)
class Concatenation:
    """Part `number` of `total` of the message with reference `reference`."""

    reference: int
    total: int
    number: int


@dataclass(frozen=True, slots=True)
class DecodedPdu:
    """What one stored PDU says."""

    kind: PduKind
    smsc: str
    address: str  # the sender of a DELIVER, the recipient of a SUBMIT or REPORT
    timestamp: dt.datetime | None  # the service centre time stamp (DELIVER, REPORT)
    text: str
    concatenation: Concatenation | None = None
    encoding: str = "gsm7"  # gsm7, ucs2 or 8bit


class _Reader:
    """Octets read in order, each read checked against what is left."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, count: int, what: str) -> bytes:
        if count < 0 or self.at + count > len(self.data):
            raise PduDecodeError(f"the PDU ends inside the {what}")
        chunk = self.data[self.at : self.at + count]
        self.at += count
        return chunk

    def octet(self, what: str) -> int:
        return self.take(1, what)[0]


def septets(data: bytes, skip_bits: int, count: int) -> list[int]:
    """`count` 7-bit values from `data`, least significant bit first, after `skip_bits`."""
    out: list[int] = []
    for index in range(count):
        bit = skip_bits + index * 7
        byte, shift = divmod(bit, 8)
        if byte >= len(data):
            raise PduDecodeError("the user data is shorter than its length says")
        value = data[byte] >> shift
        if shift > 1:
            if byte + 1 < len(data):
                value |= data[byte + 1] << (8 - shift)
            elif shift + 7 > 8:
                raise PduDecodeError("the user data is shorter than its length says")
        out.append(value & 0x7F)
    return out


def gsm7_decode(codes: list[int]) -> str:
    """Text from default-alphabet codes; an unknown escape reads as the basic character."""
    chars: list[str] = []
    escape = False
    for code in codes:
        if escape:
            chars.append(EXTENSION_TABLE.get(code, DEFAULT_ALPHABET[code]))
            escape = False
        elif code == _ESCAPE:
            escape = True
        else:
            chars.append(DEFAULT_ALPHABET[code])
    return "".join(chars)


def _semi_octets(data: bytes) -> str:
    """Digits of swapped-nibble BCD (`*`, `#`, a..c for 0xA-0xC; 0xF is a filler)."""
    digits = "0123456789*#abc"
    out = []
    for byte in data:
        for nibble in (byte & 0x0F, byte >> 4):
            if nibble != 0x0F:
                out.append(digits[nibble])
    return "".join(out)


def _address(reader: _Reader, *, smsc: bool = False) -> str:
    """An address field; the SMSC's length counts octets, the others' counts digits."""
    length = reader.octet("address length")
    if smsc:
        if length == 0:
            return ""
        type_octet = reader.octet("SMSC address type")
        body = reader.take(length - 1, "SMSC address")
    else:
        type_octet = reader.octet("address type")
        body = reader.take((length + 1) // 2, "address")
    number_type = (type_octet >> 4) & 0x07
    if number_type == 0b101:  # alphanumeric, packed GSM 7-bit
        count = (length * 4) // 7 if not smsc else (len(body) * 8) // 7
        return gsm7_decode(septets(body, 0, count)).rstrip("@")
    digits = _semi_octets(body)
    if not smsc:
        digits = digits[:length]
    return ("+" + digits) if number_type == 0b001 else digits


def _timestamp(raw: bytes) -> dt.datetime:
    """The 7-octet service centre time stamp (TS 23.040 §9.2.3.11)."""
    values = [(b & 0x0F) * 10 + (b >> 4) for b in raw[:6]]
    zone = raw[6]
    quarters = (zone & 0x07) * 10 + (zone >> 4)
    offset = dt.timedelta(minutes=15 * quarters) * (-1 if zone & 0x08 else 1)
    year, month, day, hour, minute, second = values
    try:
        return dt.datetime(
            2000 + year if year < 70 else 1900 + year,
            month,
            day,
            hour,
            minute,
            second,
            tzinfo=dt.timezone(offset),
        )
    except ValueError as exc:
        raise PduDecodeError(f"the time stamp is not a date: {raw.hex().upper()}") from exc


def _alphabet(dcs: int) -> str:
    """gsm7, 8bit or ucs2 from TP-DCS (TS 23.038 §4)."""
    group = dcs >> 4
    if group in (0x0, 0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7):
        if dcs & 0x20 and group < 4:
            return "8bit"  # compressed: not readable as text
        return {0: "gsm7", 1: "8bit", 2: "ucs2", 3: "gsm7"}[(dcs >> 2) & 0x03]
    if group in (0xC, 0xD):
        return "gsm7"
    if group == 0xE:
        return "ucs2"
    if group == 0xF:
        return "8bit" if dcs & 0x04 else "gsm7"
    return "8bit"


def _concatenation(header: bytes) -> Concatenation | None:
    """The concatenation element of a user data header, if there is one."""
    at = 0
    while at + 2 <= len(header):
        iei, length = header[at], header[at + 1]
        value = header[at + 2 : at + 2 + length]
        if len(value) != length:
            raise PduDecodeError("a user data header element runs past the header")
        if iei == 0x00 and length == 3:
            return Concatenation(value[0], value[1], value[2])
        if iei == 0x08 and length == 4:
            return Concatenation(int.from_bytes(value[:2], "big"), value[2], value[3])
        at += 2 + length
    return None


def _user_data(
    reader: _Reader, dcs: int, has_header: bool
) -> tuple[str, Concatenation | None, str]:
    length = reader.octet("user data length")
    data = reader.data[reader.at :]
    encoding = _alphabet(dcs)
    header = b""
    if has_header:
        if not data:
            raise PduDecodeError("the user data header is missing")
        header = data[1 : 1 + data[0]]
        if len(header) != data[0]:
            raise PduDecodeError("the user data header runs past the PDU")
    head_octets = len(header) + 1 if has_header else 0
    concatenation = _concatenation(header) if header else None
    if encoding == "gsm7":
        head_bits = head_octets * 8
        skip_septets = (head_bits + 6) // 7
        if length < skip_septets:
            raise PduDecodeError("the user data length is shorter than its header")
        codes = septets(data, skip_septets * 7, length - skip_septets)
        return gsm7_decode(codes), concatenation, encoding
    # Octet lengths; some modules overstate them (python-gsmmodem's vectors): read what is there.
    body = data[head_octets:length]
    if encoding == "ucs2":
        if len(body) % 2:
            body = body[:-1]
        return body.decode("utf-16-be", "replace"), concatenation, encoding
    return body.decode("latin-1"), concatenation, encoding


def decode_pdu(hex_pdu: str) -> DecodedPdu:
    """Decode a stored PDU (SMSC address first), as `+CMGL`/`+CMGR` show it."""
    try:
        raw = bytes.fromhex(hex_pdu.strip())
    except ValueError:
        raise PduDecodeError("the PDU is not hex") from None
    if not raw:
        raise PduDecodeError("the PDU is empty")
    reader = _Reader(raw)
    smsc = _address(reader, smsc=True)
    first = reader.octet("first octet")
    kind_bits = first & 0x03
    has_header = bool(first & 0x40)
    if kind_bits == 0x00:
        sender = _address(reader)
        reader.take(1, "protocol identifier")
        dcs = reader.octet("data coding scheme")
        stamp = _timestamp(reader.take(7, "time stamp"))
        text, concatenation, encoding = _user_data(reader, dcs, has_header)
        return DecodedPdu(PduKind.DELIVER, smsc, sender, stamp, text, concatenation, encoding)
    if kind_bits == 0x01:
        reader.take(1, "message reference")
        recipient = _address(reader)
        reader.take(1, "protocol identifier")
        dcs = reader.octet("data coding scheme")
        period = (first >> 3) & 0x03
        reader.take({0: 0, 2: 1}.get(period, 7), "validity period")
        text, concatenation, encoding = _user_data(reader, dcs, has_header)
        return DecodedPdu(PduKind.SUBMIT, smsc, recipient, None, text, concatenation, encoding)
    if kind_bits == 0x02:
        reader.take(1, "message reference")
        recipient = _address(reader)
        stamp = _timestamp(reader.take(7, "time stamp"))
        reader.take(7, "discharge time")
        status = reader.octet("status")
        return DecodedPdu(
            PduKind.STATUS_REPORT, smsc, recipient, stamp, f"status {status}", None, "8bit"
        )
    raise PduDecodeError(f"TP-MTI {kind_bits} is reserved")
