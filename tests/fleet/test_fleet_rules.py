"""The service rules that one-at-a-time registration follows hold for a batch too, and a
batch is all or nothing (the model, on a real SQLite file)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.backend import Backend
from emulator.errors import BadRequest, Conflict, Forbidden, NotFound
from emulator.models.cards import Card
from emulator.models.fleet import BatchItem, check_count, manufacture_many, register_many
from tests.emulator.conftest import START


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    made = Backend(tmp_path / "emulator.db")
    made.clock.set(START, frozen=True)
    yield made
    made.close()


def _items(cards: list[Card]) -> list[BatchItem]:
    return [
        BatchItem(c.iccid, c.passcode or "", where=f"CommonServiceItems[{i}]")
        for i, c in enumerate(cards)
    ]


def _events(backend: Backend) -> list[dict[str, object]]:
    return [json.loads(line) for line in backend.events.lines()]


def test_001_s43_2_batch_registration_needs_each_cards_passcode(backend: Backend) -> None:
    cards = manufacture_many(backend.store, backend.clock, 3)
    items = _items(cards)
    items[2] = BatchItem(cards[2].iccid, "WRONG999", where="CommonServiceItems[2]")
    with pytest.raises(BadRequest) as exc:
        register_many(backend.store, backend.clock, items)
    assert exc.value.code == "invalid_passcode"
    assert "CommonServiceItems[2].Remark.PassCode" in exc.value.message
    assert "WRONG999" not in exc.value.message
    assert backend.sims.list_all() == []
    assert _events(backend) == []


def test_001_s43_2_batch_with_an_unshipped_or_repeated_iccid_registers_nothing(
    backend: Backend,
) -> None:
    cards = manufacture_many(backend.store, backend.clock, 2)
    unknown = BatchItem("8981000000000000000", "ABCD1234", where="CommonServiceItems[2]")
    with pytest.raises(BadRequest) as exc:
        register_many(backend.store, backend.clock, [*_items(cards), unknown])
    assert exc.value.code == "invalid_iccid"
    repeated = [*_items(cards), BatchItem(cards[0].iccid, "x", where="CommonServiceItems[2]")]
    with pytest.raises(BadRequest) as exc:
        register_many(backend.store, backend.clock, repeated)
    assert exc.value.code == "duplicate_iccid"
    assert backend.sims.list_all() == []
    register_many(backend.store, backend.clock, _items(cards[:1]))
    with pytest.raises(Conflict):
        register_many(backend.store, backend.clock, _items(cards))
    assert [s.iccid for s in backend.sims.list_all()] == [cards[0].iccid]


def test_001_s34_2_batch_registration_refused_for_an_individual_account(
    backend: Backend,
) -> None:
    backend.account.update(entity_type="individual")
    cards = manufacture_many(backend.store, backend.clock, 2)
    with pytest.raises(Forbidden) as exc:
        register_many(backend.store, backend.clock, _items(cards))
    assert exc.value.code == "individual_account_refused"
    assert backend.sims.list_all() == []
    assert backend.account.get().contract_formed_at is None


def test_001_s34_1_and_s36_a_batch_forms_the_contract_and_starts_each_sims_billing(
    backend: Backend,
) -> None:
    cards = manufacture_many(backend.store, backend.clock, 5)
    sims = register_many(backend.store, backend.clock, _items(cards))
    assert [s.iccid for s in sims] == [c.iccid for c in cards]
    assert backend.account.get().contract_formed_at == backend.clock.now()
    registered = [e["iccid"] for e in _events(backend) if e["type"] == "sim_registered"]
    assert registered == [c.iccid for c in cards]
    tokens = {backend.device_tokens.token_for(s) for s in sims}
    assert len(tokens) == 5


def test_a_batch_joins_its_gateway_or_nothing_is_registered(backend: Backend) -> None:
    gateway = backend.gateways.create("is1a", name="gw")
    cards = manufacture_many(backend.store, backend.clock, 4)
    with pytest.raises(NotFound):
        register_many(
            backend.store, backend.clock, _items(cards), zone="is1a", gateway_id="112999999999"
        )
    assert backend.sims.list_all() == []
    register_many(backend.store, backend.clock, _items(cards), zone="is1a", gateway_id=gateway.id)
    on_gateway = backend.gateways.list_sims("is1a", gateway.id)
    assert sorted(s.iccid for s in on_gateway) == sorted(c.iccid for c in cards)


@pytest.mark.parametrize("count", [0, -1, 100_001, True, 2.5, "3", None])
def test_a_bad_count_is_refused_naming_it(backend: Backend, count: object) -> None:
    with pytest.raises(BadRequest) as exc:
        check_count(count)
    assert "count" in exc.value.message
    with pytest.raises(BadRequest):
        manufacture_many(backend.store, backend.clock, count)  # type: ignore[arg-type]
    assert backend.cards.list_all() == []


def test_cards_of_a_batch_are_unique_and_luhn_valid(backend: Backend) -> None:
    from simgate_common.luhn import luhn_check_digit

    cards = manufacture_many(backend.store, backend.clock, 2000)
    assert len({c.iccid for c in cards}) == len({c.imsi for c in cards}) == 2000
    assert all(c.iccid[-1] == str(luhn_check_digit(c.iccid[:-1])) for c in cards)
    assert len(backend.cards.list_all()) == 2000
