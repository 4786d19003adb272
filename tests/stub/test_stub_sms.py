"""The stub's 27.005 message commands, its EF_SMS-like storage and the data-only answers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from firmware_stubs import Interpreter
from firmware_stubs.card import SMS_CAPACITY, CardFileError, card_from_json, load_card, new_card
from firmware_stubs.commands_sms import DeliveryOutcome
from firmware_stubs.sms_pdu import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    decode_deliver,
    decode_submit,
    encode_address,
    encode_deliver,
    encode_smsc,
    encode_timestamp,
    gsm7_codes,
    pack_septets,
)
from firmware_stubs.testing import ManualClock, exchange

JST = dt.timezone(dt.timedelta(hours=9))
WHEN = dt.datetime(2026, 3, 10, 9, 0, 0, tzinfo=JST)


def ready_modem(tmp_path: Path | None = None, dialect: str = "generic") -> Interpreter:
    card = load_card(tmp_path / "card.json") if tmp_path else new_card()
    clock = ManualClock()
    modem = Interpreter(card, dialect, clock=clock)
    for line in ("ATE0", "AT+CMEE=1", 'AT+CPIN="0000"'):
        exchange(modem, line)
    clock.advance(2.0)
    modem.poll()
    return modem


# python-gsmmodem's test_pdu.py vectors (facts: inputs and expected outputs)
@pytest.mark.parametrize(
    ("text", "septets"),
    [
        ("123", [49, 217, 12]),
        ("Hello World!", [200, 50, 155, 253, 6, 93, 223, 114, 54, 57, 4]),
        ("[{abc}]~", [27, 222, 6, 21, 22, 143, 55, 169, 141, 111, 211, 3]),
        ("{åΦΓΛΩΠΨΣΘ€}", [27, 212, 67, 50, 161, 84, 44, 23, 76, 102, 83, 222, 164, 0]),
        ("a[]{}€", [225, 13, 111, 227, 219, 160, 54, 169, 77, 25]),
    ],
)
def test_gsm7_packing_matches_python_gsmmodem_vectors(text: str, septets: list[int]) -> None:
    codes = gsm7_codes(text)
    assert codes is not None
    assert list(pack_septets(codes)) == septets


def test_addresses_and_timestamps_match_python_gsmmodem_vectors() -> None:
    assert encode_address("+27829135934").hex().upper() == "0B917228195339F4"
    assert encode_address("FRANCOIS").hex().upper() == "0ED04669D0397C26A7"
    assert encode_address("0129998765").hex().upper()[4:] == "1092997856"
    assert encode_smsc("+9876543210").hex().upper() == "06918967452301"
    plus8 = dt.timezone(dt.timedelta(hours=8))
    stamp = encode_timestamp(dt.datetime(2007, 4, 12, 23, 25, 42, tzinfo=plus8))
    assert stamp.hex().upper() == "70402132522423"
    minus8 = dt.timezone(dt.timedelta(hours=-8))
    stamp = encode_timestamp(dt.datetime(2007, 4, 12, 23, 25, 42, tzinfo=minus8))
    assert stamp.hex().upper() == "7040213252242B"


def test_deliver_matches_python_gsmmodem_vector() -> None:
    plus2 = dt.timezone(dt.timedelta(hours=2))
    (part,) = encode_deliver(
        "+27821234567", "Test2", dt.datetime(2013, 3, 8, 15, 2, 16, tzinfo=plus2)
    )
    # the vector's TPDU (after its SMSC address 06917228195339)
    assert part.pdu.hex().upper() == "00" + "040B917228214365F700003130805120618005D4F29C2E03"
    assert part.tpdu_length == 24


def test_submit_vectors_from_python_gsmmodem_are_read() -> None:
    hello = bytes.fromhex("0001000B917228001011F100000CC8329BFD065DDF72363904")
    assert decode_submit(hello, len(hello) - 1).text == "Hello World!"
    ucs2 = bytes.fromhex("07914400000000F01100099121436587F90008F40A4E16754C60A8597DFF01")
    submit = decode_submit(ucs2, len(ucs2) - 8)
    assert (submit.recipient, submit.text) == ("+123456789", "世界您好！")


def test_long_text_is_split_into_concatenated_parts_that_read_back() -> None:
    text = "x" * 150 + "{}" * 10 + "y" * 30
    parts = encode_deliver("+819011112222", text, WHEN, reference=9)
    assert len(parts) == 2
    assert "".join(decode_deliver(p.pdu).text for p in parts) == text
    japanese = "日本語のテキスト" * 10
    parts = encode_deliver("+819011112222", japanese, WHEN)
    assert len(parts) == 2
    assert "".join(decode_deliver(p.pdu).text for p in parts) == japanese


def test_pdu_mode_receive_list_read_delete(tmp_path: Path) -> None:
    modem = ready_modem(tmp_path)
    assert exchange(modem, "AT+CMGF=0") == "\r\nOK\r\n"
    assert exchange(modem, "AT+CNMI=2,1,0,2") == "\r\nOK\r\n"
    assert modem.deliver_sms("+819011112222", "Hello", WHEN) is DeliveryOutcome.DELIVERED
    assert modem.poll() == b'\r\n+CMTI: "SM",1\r\n'
    listed = exchange(modem, "AT+CMGL=4")
    header, pdu = listed.split("\r\n")[1], listed.split("\r\n")[3]
    assert header.startswith("+CMGL: 1,0,,")
    assert decode_deliver(bytes.fromhex(pdu)).text == "Hello"
    assert exchange(modem, "AT+CMGR=1").startswith("\r\n+CMGR: 1,,")  # now REC READ
    stored = json.loads((tmp_path / "card.json").read_text())["sms"]
    assert stored[0]["stat"] == 1
    assert len(stored) == SMS_CAPACITY
    assert exchange(modem, "AT+CMGD=1") == "\r\nOK\r\n"
    assert exchange(modem, "AT+CMGR=1") == "\r\nOK\r\n"
    assert exchange(modem, "AT+CMGR=21") == "\r\n+CMS ERROR: 321\r\n"
    assert "sms" not in json.loads((tmp_path / "card.json").read_text())


def test_text_mode_shows_sender_time_and_ucs2_as_hex() -> None:
    modem = ready_modem()
    exchange(modem, "AT+CMGF=1")
    modem.deliver_sms("+819011112222", "Hi there", WHEN)
    modem.deliver_sms("+819011112222", "こんにちは", WHEN)
    answer = exchange(modem, 'AT+CMGL="ALL"')
    assert '+CMGL: 1,"REC UNREAD","+819011112222",,"26/03/10,09:00:00+36"' in answer
    assert "\r\nHi there\r\n" in answer
    assert "\r\n" + "こんにちは".encode("utf-16-be").hex().upper() + "\r\n" in answer


def test_full_card_refuses_with_memory_full() -> None:
    modem = ready_modem()
    for _ in range(SMS_CAPACITY):
        assert modem.deliver_sms("+81901", "x", WHEN) is DeliveryOutcome.DELIVERED
    assert modem.deliver_sms("+81901", "x", WHEN) is DeliveryOutcome.MEMORY_FULL
    assert exchange(modem, "AT+CPMS?") == (
        '\r\n+CPMS: "SM",20,20,"SM",20,20,"SM",20,20\r\n\r\nOK\r\n'
    )
    assert modem.receive_data(b"AT+CMGW=24\r") == b"\r\n> "
    pdu = b"0001000B917228001011F100000CC8329BFD065DDF72363904"
    assert modem.receive_data(pdu + b"\x1a") == b"\r\n+CMS ERROR: 322\r\n"


def test_cmgw_stores_pdu_and_text_mode_messages() -> None:
    modem = ready_modem()
    assert modem.receive_data(b"AT+CMGW=24\r") == b"\r\n> "
    pdu = b"0001000B917228001011F100000CC8329BFD065DDF72363904"
    assert modem.receive_data(pdu + b"\x1a") == b"\r\n+CMGW: 1\r\n\r\nOK\r\n"
    exchange(modem, "AT+CMGF=1")
    exchange(modem, 'AT+CSCS="UCS2"')  # text-mode payloads: hex of UCS2
    assert modem.receive_data(b'AT+CMGW="+819011112222"\r') == b"\r\n> "
    payload = "日本語".encode("utf-16-be").hex().upper().encode()
    assert modem.receive_data(payload + b"\x1a") == b"\r\n+CMGW: 2\r\n\r\nOK\r\n"
    listed = exchange(modem, 'AT+CMGL="STO UNSENT"')
    assert '+CMGL: 1,"STO UNSENT","+27820001111",' in listed
    assert '+CMGL: 2,"STO UNSENT","+819011112222",' in listed
    record = modem.card.sms[1]
    assert record is not None
    submit = decode_submit(bytes.fromhex(record.pdu), len(record.pdu) // 2 - 1)
    assert submit.text == "日本語"


def test_cmgs_prompt_pdu_and_text_mode_and_escape() -> None:
    modem = ready_modem()
    assert modem.receive_data(b"AT+CMGS=24\r") == b"\r\n> "
    pdu = b"0001000B917228001011F100000CC8329BFD065DDF72363904"
    assert modem.receive_data(pdu + b"\x1a") == b"\r\n+CMGS: 0\r\n\r\nOK\r\n"
    assert modem.receive_data(b"AT+CMGS=5\r") == b"\r\n> "
    assert modem.receive_data(b"0011\x1a") == b"\r\n+CMS ERROR: 304\r\n"
    exchange(modem, "AT+CMGF=1")
    assert modem.receive_data(b'AT+CMGS="+819011112222"\r') == b"\r\n> "
    assert modem.receive_data(b"never mind\x1b") == b"\r\nOK\r\n"
    assert exchange(modem, "AT") == "\r\nOK\r\n"


def test_sms_commands_need_the_pin() -> None:
    modem = Interpreter(new_card())
    exchange(modem, "ATE0")
    exchange(modem, "AT+CMEE=1")
    assert exchange(modem, "AT+CMGL=4") == "\r\n+CMS ERROR: 311\r\n"
    assert exchange(modem, "AT+CMGF=0") == "\r\nOK\r\n"


def test_data_only_module_answers_voice_commands_with_a_cme_error() -> None:
    modem = ready_modem()
    assert exchange(modem, "AT+CLIP=1") == "\r\n+CME ERROR: 4\r\n"
    assert exchange(modem, "AT+CLIP=0") == "\r\nOK\r\n"
    assert exchange(modem, "AT+CRC=1") == "\r\n+CME ERROR: 4\r\n"
    assert exchange(modem, 'AT+CUSD=1,"*100#",15') == "\r\n+CME ERROR: 4\r\n"
    assert exchange(modem, "AT+CVHU=0") == "\r\nOK\r\n"
    assert exchange(modem, "AT+CLCC") == "\r\nOK\r\n"
    assert "\r\nAT+CMGS\r\n" in exchange(modem, "AT+CLAC")


def test_cnum_gives_the_cards_msisdn() -> None:
    card = new_card()
    card.msisdn = "+817012345678"
    modem = Interpreter(card)
    exchange(modem, "ATE0")
    exchange(modem, 'AT+CPIN="0000"')
    assert exchange(modem, "AT+CNUM") == '\r\n+CNUM: "","+817012345678",145\r\n\r\nOK\r\n'


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("msisdn", "0901234"),
        ("sms", [{"stat": 9, "pdu": "00"}]),
        ("sms", [{"stat": 0, "pdu": "XYZ"}]),
        ("sms", "nope"),
    ],
)
def test_bad_msisdn_or_sms_records_are_refused(key: str, value: object) -> None:
    data = {**new_card().to_json_dict(), key: value}
    with pytest.raises(CardFileError, match=key):
        card_from_json(data)


def test_23038_gsm7_tables_of_both_sides_agree() -> None:
    """The stub's alphabet and the agent's are written apart; they must say the same."""
    from agent.sms.pdu import DEFAULT_ALPHABET, EXTENSION_TABLE

    assert len(GSM7_BASIC) == len(DEFAULT_ALPHABET) == 128
    for code, (stub_char, agent_char) in enumerate(zip(GSM7_BASIC, DEFAULT_ALPHABET, strict=True)):
        if code != 0x1B:  # the escape: the stub keeps ESC, the agent reads it as a space
            assert stub_char == agent_char, f"code {code:#04x}"
    assert dict(GSM7_EXTENSION) == EXTENSION_TABLE
