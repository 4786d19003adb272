"""Stubs for the network tests: a card with no PIN lock (READY at power-on) by default."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from firmware_stubs import AttachOutcome, LocalNetwork, NetworkProfile, StubModem
from tests.agent.conftest import Bench

StubFactory = Callable[..., StubModem]


@pytest.fixture
def make_stub(bench: Bench) -> StubFactory:
    """`make_stub(register_delay=0.0, outcome=HOME, pin_enabled=False)`: a stub not started."""

    def make(
        *,
        register_delay: float = 0.0,
        outcome: AttachOutcome = AttachOutcome.HOME,
        pin_enabled: bool = False,
    ) -> StubModem:
        bench.write_card(pin_enabled=pin_enabled)
        return StubModem(
            card_path=bench.card_path,
            network=NetworkProfile(register_delay=register_delay, cops_scan_seconds=0.05),
            carrier=LocalNetwork(outcome),
        )

    return make


def carrier(stub: StubModem) -> LocalNetwork:
    """The stub's carrier, to change its answer live."""
    network = stub.interpreter.state.carrier
    assert isinstance(network, LocalNetwork)
    return network
