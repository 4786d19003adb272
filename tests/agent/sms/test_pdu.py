"""The agent's PDU decoder on peers' vectors, and against the stub's independent encoder."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.sms.pdu import Concatenation, PduDecodeError, PduKind, decode_pdu
from agent.sms.store import StoredPart, join_parts
from firmware_stubs.sms_pdu import GSM7_BASIC, GSM7_EXTENSION, encode_deliver

PLUS2 = dt.timezone(dt.timedelta(hours=2))

# python-gsmmodem test/test_pdu.py TestSmsPdu.test_decode: (PDU, sender, text)
GSMMODEM_VECTORS = [
    (
        "06917228195339040B917228214365F700003130805120618005D4F29C2E03",
        "+27821234567",
        "Test2",
    ),
    (
        "07915892000000F0040B915892214365F700007040213252242331493A283D0795C3F33C88FE06C9CB61"
        "32885EC6D341EDF27C1E3E97E7207B3A0C0A5241E377BB1D7693E72E",
        "+85291234567",
        "It is easy to read text messages via AT commands.",
    ),
    (
        "06917228195339040B917228214365F70000313062315352800A800D8A5E98D337A910",
        "+27821234567",
        "@{tést}!",
    ),
    (
        "07911326040000F0310D0B911326880736F40000A90FF7FBDD454E87CDE1B0DB357EB701",
        "+31628870634",
        "www.diafaan.com",
    ),
    (
        "07914346466554F601000B914316565811F9000806304253F68449",
        "+34616585119",
        "あ叶葉",
    ),
    (  # UCS2 with a user data length that overstates the data
        "0041010C910661345542F60008A0050003000301306F3044",
        "+60164355246",
        "はい",
    ),
    (
        "0591721891F101000B917228214365F700040C48656C6C6F20776F726C6421",
        "+27821234567",
        "Hello world!",
    ),
]

# ModemManager src/tests/test-sms-part-3gpp.c: test_pdu1 (7-bit with extension characters),
# test_pdu2 (alphanumeric sender, UCS2), test_pdu3 ("hellohello").
MM_VECTORS = [
    (
        "07912104442961F4040B916171957291F800001120821105050A6AC8B2BC7C9A83C220F6DB7D2ECB41"
        "EDF27C1E3E97411BDE06754FD3D1A0F9BB5D0695F1F4B29B5C2683C6E8B03C3CA697E5F34D6AE303D1"
        "D1F2F7DD0D4ABB59A0797D8C0685E7A00028EC26832A960B28EC2683BE6050780EBA97D96C17",
        "+16175927198",
        "Here's a longer message [{with some extended characters}] "
        "thrown in, such as £ and ΩΠΨ and §¿ as well.",
    ),
    (
        "07919730071111F10414D04937BD2C7797E9D3E614000811309291024061080442043504410442",
        "InternetSMS",
        "тест",
    ),
    (
        "07912143658709F1040B918100551512F20000111010214365000AE8329BFD4697D9EC37",
        "+18005551212",
        "hellohello",
    ),
]


@pytest.mark.parametrize(("pdu", "sender", "text"), GSMMODEM_VECTORS + MM_VECTORS)
def test_peer_vectors_decode(pdu: str, sender: str, text: str) -> None:
    decoded = decode_pdu(pdu)
    assert (decoded.address, decoded.text) == (sender, text)


def test_deliver_time_stamp_and_concatenation() -> None:
    first = decode_pdu(GSMMODEM_VECTORS[0][0])
    assert first.kind is PduKind.DELIVER
    assert first.timestamp == dt.datetime(2013, 3, 8, 15, 2, 16, tzinfo=PLUS2)
    megafon = decode_pdu(
        "07919762020033F1400DD0CDF2396C7EBB010008415072411084618C0500035602010053004D0053"
    )
    assert megafon.address == "Megafon"
    assert megafon.concatenation == Concatenation(0x56, 2, 1)
    assert megafon.text.startswith("SMS")


@pytest.mark.parametrize(
    "pdu",
    ["", "zz", "07", "0791", "00040B917228214365F70000313080512061", "0003"],
)
def test_broken_pdus_raise_a_clear_error(pdu: str) -> None:
    with pytest.raises(PduDecodeError):
        decode_pdu(pdu)


ALPHABET = (GSM7_BASIC.replace("\x1b", "") + "".join(GSM7_EXTENSION.values())).replace("\r", "")


@settings(max_examples=150, deadline=None)
@given(
    text=st.one_of(
        st.text(alphabet=ALPHABET, min_size=1, max_size=400),
        st.text(alphabet=st.characters(min_codepoint=0x3041, max_codepoint=0x30FF), max_size=200),
    ),
    reference=st.integers(0, 255),
)
def test_stub_encoder_and_agent_decoder_agree(text: str, reference: int) -> None:
    when = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    parts = encode_deliver("+819011112222", text, when, smsc="+819000000000", reference=reference)
    stored = [StoredPart(i + 1, 0, decode_pdu(p.pdu.hex())) for i, p in enumerate(parts)]
    (message,) = join_parts(list(reversed(stored)))
    assert message.text == text
    assert message.parts == len(parts)
    assert message.sender == "+819011112222"
    assert message.at == "2026-03-10T09:00:00+09:00"
