"""The SIM card model (ETSI TS 102 221 PIN rules) and its card file."""

from __future__ import annotations

import json
import random
import stat
from pathlib import Path
from typing import Any

import pytest

from agent.at.iccid import luhn_valid
from firmware_stubs.card import (
    CardFileError,
    CardOutcome,
    CardState,
    SimCard,
    load_card,
    new_card,
)


def make_card(**changes: Any) -> SimCard:
    card = new_card(random.Random(1))
    for key, value in changes.items():
        setattr(card, key, value)
    return card


def test_new_card_wants_the_pin() -> None:
    assert make_card().state is CardState.SIM_PIN


def test_right_pin_resets_counter() -> None:
    card = make_card()
    assert card.verify_pin("1111") is CardOutcome.WRONG_PASSWORD
    assert card.pin_retries == 2
    assert card.verify_pin("0000") is CardOutcome.OK
    assert card.pin_retries == 3
    assert card.state is CardState.READY


def test_third_wrong_pin_blocks_the_pin_and_wants_the_puk() -> None:
    card = make_card()
    for left in (2, 1, 0):
        assert card.verify_pin("9999") is CardOutcome.WRONG_PASSWORD
        assert card.pin_retries == left
    assert card.state is CardState.SIM_PUK
    assert card.verify_pin("0000") is CardOutcome.PIN_BLOCKED
    assert card.pin_retries == 0


def test_puk_and_new_pin_reset_both_counters_and_set_the_pin() -> None:
    card = make_card(pin_retries=0, puk_retries=4)
    assert card.unblock("12345678", "4321") is CardOutcome.OK
    assert (card.pin, card.pin_retries, card.puk_retries) == ("4321", 3, 10)
    assert card.state is CardState.READY
    assert card.pin_enabled


def test_unblock_enables_a_disabled_pin() -> None:
    card = make_card(pin_enabled=False, pin_retries=0)
    assert card.unblock("12345678", "4321") is CardOutcome.OK
    assert card.pin_enabled


def test_wrong_puk_spends_a_puk_try_only() -> None:
    card = make_card(pin_retries=0)
    assert card.unblock("00000000", "4321") is CardOutcome.WRONG_PASSWORD
    assert (card.pin, card.pin_retries, card.puk_retries) == ("0000", 0, 9)


def test_last_wrong_puk_blocks_the_card_for_good() -> None:
    card = make_card(pin_retries=0, puk_retries=1)
    assert card.unblock("00000000", "4321") is CardOutcome.WRONG_PASSWORD
    assert card.state is CardState.BLOCKED
    assert card.unblock("12345678", "4321") is CardOutcome.CARD_BLOCKED
    assert card.verify_pin("0000") is CardOutcome.CARD_BLOCKED
    assert card.puk_retries == 0


def test_disabling_the_pin_lock_needs_the_right_pin() -> None:
    card = make_card(verified=True)
    assert card.set_pin_lock(False, "1234") is CardOutcome.WRONG_PASSWORD
    assert card.pin_enabled
    assert card.pin_retries == 2
    assert card.set_pin_lock(False, "0000") is CardOutcome.OK
    assert not card.pin_enabled
    assert card.pin_retries == 3


def test_disabled_pin_lock_makes_the_card_ready_after_power_on() -> None:
    card = make_card(pin_enabled=False)
    card.power_on()
    assert card.state is CardState.READY


def test_change_pin_spends_a_try_when_the_old_pin_is_wrong() -> None:
    card = make_card(verified=True)
    assert card.change_pin("1234", "5678") is CardOutcome.WRONG_PASSWORD
    assert (card.pin, card.pin_retries) == ("0000", 2)
    assert card.change_pin("0000", "5678") is CardOutcome.OK
    assert (card.pin, card.pin_retries) == ("5678", 3)


def test_change_pin_is_not_allowed_with_the_lock_off() -> None:
    card = make_card(pin_enabled=False)
    assert card.change_pin("0000", "5678") is CardOutcome.NOT_ALLOWED
    assert card.pin_retries == 3


def test_attempts_are_configurable() -> None:
    card = new_card(random.Random(2), pin_attempts=5, puk_attempts=7)
    assert (card.pin_retries, card.puk_retries) == (5, 7)
    card.verify_pin("9999")
    card.verify_pin("0000")
    assert card.pin_retries == 5


def test_repr_shows_no_secrets() -> None:
    card = make_card(pin="8642", puk="97531864")
    assert "8642" not in repr(card)
    assert "97531864" not in repr(card)


def test_missing_card_file_is_created_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "state" / "card.json"
    card = load_card(path)
    data = json.loads(path.read_text())
    assert data == {
        "msisdn": card.msisdn,
        "iccid": card.iccid,
        "imsi": card.imsi,
        "pin": "0000",
        "puk": "12345678",
        "pin_enabled": True,
        "pin_retries": 3,
        "puk_retries": 10,
    }
    assert card.iccid.startswith("8981")
    assert len(card.iccid) == 20
    assert luhn_valid(card.iccid)
    assert card.imsi.startswith("440")
    assert len(card.imsi) == 15
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_card_file_is_rewritten_on_every_change(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    card = load_card(path)
    card.verify_pin("1111")
    assert json.loads(path.read_text())["pin_retries"] == 2
    card.verify_pin("0000")
    assert json.loads(path.read_text())["pin_retries"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["card.json"]  # no temp file left


def test_restarted_card_is_the_same_card_but_wants_the_pin_again(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    first = load_card(path)
    assert first.verify_pin("0000") is CardOutcome.OK
    # the "verified" flag lives in memory only: a restart forgets it
    second = load_card(path)
    assert (second.iccid, second.imsi) == (first.iccid, first.imsi)
    assert second.state is CardState.SIM_PIN


def test_puk_exhausted_is_permanent_across_restart(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    card = load_card(path)
    card.pin_retries = 0
    for _ in range(10):
        card.unblock("00000000", "1234")
    assert load_card(path).state is CardState.BLOCKED
    assert json.loads(path.read_text())["puk_retries"] == 0


def test_unknown_keys_are_kept_on_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    data = new_card(random.Random(3)).to_json_dict() | {"label": "bench #2", "x": [1, 2]}
    path.write_text(json.dumps(data))
    card = load_card(path)
    card.verify_pin("0000")
    saved = json.loads(path.read_text())
    assert saved["label"] == "bench #2"
    assert saved["x"] == [1, 2]


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"pin": "12"}, "pin"),
        ({"pin": "123456789"}, "pin"),
        ({"pin": 1234}, "pin"),
        ({"puk": "1234567"}, "puk"),
        ({"puk": "abcdefgh"}, "puk"),
        ({"pin_retries": -1}, "pin_retries"),
        ({"pin_retries": "3"}, "pin_retries"),
        ({"pin_retries": True}, "pin_retries"),
        ({"puk_retries": 16}, "puk_retries"),
        ({"pin_enabled": "yes"}, "pin_enabled"),
        ({"iccid": "89-81"}, "iccid"),
        ({"iccid": 8981}, "iccid"),
        ({"imsi": "44010x"}, "imsi"),
    ],
)
def test_bad_card_file_is_refused_naming_the_key(
    tmp_path: Path, change: dict[str, Any], key: str
) -> None:
    path = tmp_path / "card.json"
    text = json.dumps(new_card(random.Random(4)).to_json_dict() | change)
    path.write_text(text)
    with pytest.raises(CardFileError, match=repr(key)):
        load_card(path)
    assert path.read_text() == text


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", '"card"', "null"])
def test_card_file_that_is_not_a_json_object_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "card.json"
    path.write_text(text)
    with pytest.raises(CardFileError, match="card file"):
        load_card(path)
    assert path.read_text() == text


def test_missing_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    data = new_card(random.Random(5)).to_json_dict()
    del data["puk_retries"]
    path.write_text(json.dumps(data))
    with pytest.raises(CardFileError, match="'puk_retries' is missing"):
        load_card(path)


def test_card_file_errors_never_quote_the_secrets(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    data = new_card(random.Random(6)).to_json_dict() | {"pin": "98765", "puk": "1234"}
    path.write_text(json.dumps(data))
    with pytest.raises(CardFileError) as caught:
        load_card(path)
    assert "1234" not in str(caught.value)
    assert "98765" not in str(caught.value)
