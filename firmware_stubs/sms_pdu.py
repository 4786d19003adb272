"""SMS PDUs as the network side builds and reads them (3GPP TS 23.040, TS 23.038).

The stub's own statement of the facts, independent of the agent's decoder: the GSM 7-bit
default alphabet and its extension table (23.038 §6.2.1), septet packing, semi-octet
addresses (23.040 §9.1.2.5), the service centre time stamp (§9.2.3.11), SMS-DELIVER
(§9.2.2.1) with concatenation (§9.2.3.24.1, 8-bit reference), and reading an SMS-SUBMIT
(§9.2.2.2) the host sends with `AT+CMGS`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# 23.038 §6.2.1: the default alphabet, one character per code 0x00..0x7F (0x1B is ESC).
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# 23.038 §6.2.1.1: the extension table, reached through ESC.
GSM7_EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
ESC = 0x1B
_BASIC_CODE = {char: code for code, char in enumerate(GSM7_BASIC) if code != ESC}
_EXTENSION_CODE = {char: code for code, char in GSM7_EXTENSION.items()}

DCS_GSM7 = 0x00
DCS_8BIT = 0x04
DCS_UCS2 = 0x08
GSM7_SINGLE, GSM7_PART = 160, 153  # septets in one message / in one part of several
UCS2_SINGLE, UCS2_PART = 140, 134  # octets


class PduError(ValueError):
    """A PDU that cannot be read, or text that cannot be encoded."""


def gsm7_codes(text: str) -> list[int] | None:
    """The septets of `text` in the default alphabet, or None if a character is not in it."""
    codes: list[int] = []
    for char in text:
        if char in _BASIC_CODE:
            codes.append(_BASIC_CODE[char])
        elif char in _EXTENSION_CODE:
            codes += [ESC, _EXTENSION_CODE[char]]
        else:
            return None
    return codes


def gsm7_text(codes: list[int]) -> str:
    """The text of a list of septets; an unknown extension code reads as its basic one."""
    out: list[str] = []
    escaped = False
    for code in codes:
        if escaped:
            out.append(GSM7_EXTENSION.get(code, GSM7_BASIC[code] if code != ESC else " "))
            escaped = False
        elif code == ESC:
            escaped = True
        else:
            out.append(GSM7_BASIC[code])
    return "".join(out)


def pack_septets(codes: list[int], fill_bits: int = 0) -> bytes:
    """Pack septets LSB first after `fill_bits` zero bits (23.038 §6.1.2.1.1)."""
    value, bits = 0, fill_bits
    out = bytearray()
    for code in codes:
        value |= (code & 0x7F) << bits
        bits += 7
        while bits >= 8:
            out.append(value & 0xFF)
            value >>= 8
            bits -= 8
    if bits:
        out.append(value & 0xFF)
    return bytes(out)


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> list[int]:
    """The first `count` septets of `data`, skipping `fill_bits` leading bits."""
    number = int.from_bytes(data, "little")
    if (len(data) * 8 - fill_bits) // 7 < count:
        raise PduError("user data shorter than its length says")
    return [(number >> (fill_bits + 7 * i)) & 0x7F for i in range(count)]


def encode_address(number: str) -> bytes:
    """An address field: length in digits, type, semi-octets (alphanumeric: GSM 7-bit)."""
    digits = number[1:] if number.startswith("+") else number
    if digits.isdigit():
        toa = 0x91 if number.startswith("+") else 0x81
        padded = digits + "F" * (len(digits) % 2)
        swapped = "".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2))
        return bytes([len(digits), toa]) + bytes.fromhex(swapped)
    codes = gsm7_codes(number)
    if codes is None or len(codes) > 11:
        raise PduError(f"not an address: {number!r}")
    packed = pack_septets(codes)
    return bytes([len(packed) * 2, 0xD0]) + packed


def encode_smsc(number: str) -> bytes:
    """The SMSC address that leads a PDU in PDU mode (length in octets); empty: `00`."""
    if not number:
        return b"\x00"
    address = encode_address(number)
    return bytes([len(address) - 1]) + address[1:]


def decode_address(data: bytes, offset: int) -> tuple[str, int]:
    """(number, offset after it) of the address field at `offset`."""
    if offset + 2 > len(data):
        raise PduError("address field cut short")
    length, toa = data[offset], data[offset + 1]
    size = (length + 1) // 2
    body = data[offset + 2 : offset + 2 + size]
    if len(body) != size:
        raise PduError("address field cut short")
    if toa & 0x70 == 0x50:
        number = gsm7_text(unpack_septets(body, length * 4 // 7))
    else:
        digits = "".join(f"{b & 0x0F:X}{b >> 4:X}" for b in body)[:length]
        number = ("+" if toa & 0x70 == 0x10 else "") + digits
    return number, offset + 2 + size


def encode_timestamp(when: dt.datetime) -> bytes:
    """The 7-octet time stamp: semi-octets, zone in quarter hours (bit 3 of the last: west)."""
    offset = when.utcoffset()
    if offset is None:
        raise PduError("a time stamp needs a time zone")
    quarters = int(offset.total_seconds()) // 900
    fields = [when.year % 100, when.month, when.day, when.hour, when.minute, when.second]
    octets = [int(f"{v % 10}{v // 10}", 16) for v in fields]
    zone = abs(quarters)
    octets.append(int(f"{zone % 10}{zone // 10}", 16) | (0x08 if quarters < 0 else 0))
    return bytes(octets)


@dataclass(frozen=True)
class DeliverPart:
    """One SMS-DELIVER PDU as stored in EF_SMS and shown by `+CMGR`/`+CMGL` in PDU mode."""

    pdu: bytes  # SMSC address followed by the TPDU
    tpdu_length: int  # what `+CMGR: <stat>,,<length>` states: octets after the SMSC


def _user_data(text: str) -> tuple[int, list[str]]:
    """(DCS, chunks) for `text`: GSM 7-bit when every character fits, else UCS2."""
    codes = gsm7_codes(text)
    if codes is not None:
        if len(codes) <= GSM7_SINGLE:
            return DCS_GSM7, [text]
        chunks, current, size = [], "", 0
        for char in text:
            width = 2 if char in _EXTENSION_CODE else 1
            if size + width > GSM7_PART:
                chunks.append(current)
                current, size = "", 0
            current += char
            size += width
        return DCS_GSM7, [*chunks, current]
    units = text.encode("utf-16-be")
    if len(units) <= UCS2_SINGLE:
        return DCS_UCS2, [text]
    chunks, current = [], ""
    for char in text:
        if len((current + char).encode("utf-16-be")) > UCS2_PART:
            chunks.append(current)
            current = ""
        current += char
    return DCS_UCS2, [*chunks, current]


def encode_deliver(
    sender: str, text: str, when: dt.datetime, *, smsc: str = "", reference: int = 0
) -> list[DeliverPart]:
    """SMS-DELIVER PDUs for `text` from `sender`: one, or concatenated parts (8-bit ref)."""
    dcs, chunks = _user_data(text)
    parts: list[DeliverPart] = []
    total = len(chunks)
    for number, chunk in enumerate(chunks, 1):
        udh = bytes([5, 0x00, 3, reference & 0xFF, total, number]) if total > 1 else b""
        first = 0x04 | (0x40 if udh else 0)  # MTI=00 deliver, MMS: no more messages
        if dcs == DCS_GSM7:
            codes = gsm7_codes(chunk) or []
            fill = (7 - len(udh) * 8 % 7) % 7 if udh else 0
            user = udh + pack_septets(codes, fill)
            udl = (len(udh) * 8 + fill) // 7 + len(codes)
        else:
            user = udh + chunk.encode("utf-16-be")
            udl = len(user)
        tpdu = (
            bytes([first])
            + encode_address(sender)
            + bytes([0x00, dcs])
            + encode_timestamp(when)
            + bytes([udl])
            + user
        )
        parts.append(DeliverPart(encode_smsc(smsc) + tpdu, len(tpdu)))
    return parts


def encode_submit(recipient: str, text: str, reference: int = 0) -> bytes:
    """One SMS-SUBMIT (no SMSC address: `00` first) for a text that fits one message, as
    `+CMGW` in text mode stores it; `PduError` when it needs several parts."""
    dcs, chunks = _user_data(text)
    if len(chunks) > 1:
        raise PduError("the text needs more than one message")
    if dcs == DCS_GSM7:
        codes = gsm7_codes(text) or []
        user, udl = pack_septets(codes), len(codes)
    else:
        user = text.encode("utf-16-be")
        udl = len(user)
    first = 0x11  # MTI=01 submit, VPF=10 relative validity period
    return (
        b"\x00"
        + bytes([first, reference & 0xFF])
        + encode_address(recipient)
        + bytes([0x00, dcs, 0xA7, udl])
        + user
    )


@dataclass(frozen=True)
class Submit:
    """What an SMS-SUBMIT from the host says: its reference, recipient and text."""

    reference: int
    recipient: str
    text: str


def decode_submit(pdu: bytes, tpdu_length: int) -> Submit:
    """Read an SMS-SUBMIT (SMSC address first, as `AT+CMGS` sends it in PDU mode)."""
    if not pdu:
        raise PduError("empty PDU")
    offset = pdu[0] + 1
    if len(pdu) - offset != tpdu_length:
        raise PduError(f"the TPDU is {len(pdu) - offset} octets, +CMGS said {tpdu_length}")
    if offset + 2 > len(pdu):
        raise PduError("PDU cut short")
    first = pdu[offset]
    if first & 0x03 != 0x01:
        raise PduError("not an SMS-SUBMIT")
    reference = pdu[offset + 1]
    recipient, offset = decode_address(pdu, offset + 2)
    if offset + 2 > len(pdu):
        raise PduError("PDU cut short")
    dcs = pdu[offset + 1]
    offset += 2
    offset += {0: 0, 2: 1}.get((first >> 3) & 0x03, 7)  # validity period field
    if offset >= len(pdu):
        raise PduError("PDU cut short")
    udl, data = pdu[offset], pdu[offset + 1 :]
    udh_octets = data[0] + 1 if first & 0x40 and data else 0
    if dcs & 0x0C == DCS_UCS2:
        body = data[udh_octets:udl]
        if len(body) % 2:
            raise PduError("UCS2 text of an odd number of octets")
        text = body.decode("utf-16-be", "replace")
    elif dcs & 0x0C == DCS_8BIT:
        text = data[udh_octets:udl].decode("latin-1")
    else:
        fill = (7 - udh_octets * 8 % 7) % 7 if udh_octets else 0
        skip = (udh_octets * 8 + fill) // 7
        text = gsm7_text(unpack_septets(data[udh_octets:], udl - skip, fill))
    return Submit(reference, recipient, text)


@dataclass(frozen=True)
class Deliver:
    """What a stored SMS-DELIVER says, for text mode (`+CMGF=1`) answers."""

    sender: str
    timestamp: str  # 27.005 text-mode `<scts>`: "yy/MM/dd,hh:mm:ss±zz"
    text: str
    text_mode_data: str  # 27.005 §3.1: the text, or the hex of UCS2 or 8-bit data


def decode_deliver(pdu: bytes) -> Deliver:
    """Read an SMS-DELIVER as the stub stores it (SMSC address first)."""
    if not pdu:
        raise PduError("empty PDU")
    offset = pdu[0] + 1
    if offset >= len(pdu):
        raise PduError("PDU cut short")
    first = pdu[offset]
    sender, offset = decode_address(pdu, offset + 1)
    if offset + 10 > len(pdu):
        raise PduError("PDU cut short")
    dcs = pdu[offset + 1]
    stamp = pdu[offset + 2 : offset + 9].hex().upper()
    swapped = [stamp[i + 1] + stamp[i] for i in range(0, 14, 2)]
    zone_octet = pdu[offset + 8]
    quarters = int(f"{zone_octet & 0x07:X}{zone_octet >> 4:X}")
    sign = "-" if zone_octet & 0x08 else "+"
    timestamp = "{}/{}/{},{}:{}:{}".format(*swapped[:6]) + f"{sign}{quarters:02d}"
    udl, data = pdu[offset + 9], pdu[offset + 10 :]
    udh_octets = data[0] + 1 if first & 0x40 and data else 0
    if dcs & 0x0C in (DCS_UCS2, DCS_8BIT):
        body = data[udh_octets:udl]
        text = body.decode("utf-16-be" if dcs & 0x0C == DCS_UCS2 else "latin-1", "replace")
        return Deliver(sender, timestamp, text, body.hex().upper())
    fill = (7 - udh_octets * 8 % 7) % 7 if udh_octets else 0
    skip = (udh_octets * 8 + fill) // 7
    text = gsm7_text(unpack_septets(data[udh_octets:], udl - skip, fill))
    return Deliver(sender, timestamp, text, text)
