"""Fault injection in the interpreter: delay, SIM busy, reboots; the output corrupter."""

from __future__ import annotations

import random

import pytest

from firmware_stubs import Faults, Interpreter, NetworkProfile, OutputCorrupter, new_card
from firmware_stubs.testing import ManualClock, exchange


def modem(faults: Faults, clock: ManualClock) -> Interpreter:
    interp = Interpreter(
        new_card(random.Random(11)),
        faults=faults,
        network=NetworkProfile(register_delay=0.0),
        clock=clock,
    )
    exchange(interp, "ATE0")
    return interp


def test_busy_window_after_unlock_answers_sim_busy() -> None:
    clock = ManualClock()
    interp = modem(Faults(busy_after_unlock=5.0), clock)
    exchange(interp, "AT+CMEE=1")
    assert exchange(interp, "AT+CIMI") == "\r\n+CME ERROR: 11\r\n"  # not busy before unlock
    assert exchange(interp, 'AT+CPIN="0000"') == "\r\nOK\r\n"
    for line in ("AT+CIMI", "AT+CPIN?", "AT+CCID", "AT+COPS?"):
        assert exchange(interp, line) == "\r\n+CME ERROR: 14\r\n", line
    assert exchange(interp, "AT+CSQ") == "\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
    clock.advance(4.9)
    assert exchange(interp, "AT+CPIN?") == "\r\n+CME ERROR: 14\r\n"
    clock.advance(0.1)
    assert exchange(interp, "AT+CPIN?") == "\r\n+CPIN: READY\r\n\r\nOK\r\n"
    assert exchange(interp, "AT+CIMI").endswith("\r\nOK\r\n")


def test_delay_holds_the_answer_but_not_the_echo() -> None:
    clock = ManualClock()
    interp = Interpreter(new_card(random.Random(12)), faults=Faults(delay=0.5), clock=clock)
    assert interp.receive_data(b"AT\r") == b"AT\r"
    assert interp.next_deadline() == clock.now + 0.5
    clock.advance(0.4)
    assert interp.poll() == b""
    clock.advance(0.1)
    assert interp.poll() == b"\r\nOK\r\n"


def test_reboot_mid_command_abandons_it_and_resets_state() -> None:
    clock = ManualClock()
    interp = modem(Faults(delay=1.0), clock)
    clock.advance(1.0)
    interp.poll()
    interp.receive_data(b"AT+CMEE=2\r")
    clock.advance(1.0)
    assert interp.poll() == b"\r\nOK\r\n"
    interp.receive_data(b'AT+CPIN="0000"\r')
    clock.advance(1.0)
    assert interp.poll() == b"\r\nOK\r\n"
    assert interp.receive_data(b"AT+CIMI\rAT\r") == b""
    assert interp.reboot() == b"\r\nRDY\r\n"
    clock.advance(5.0)
    assert interp.poll() == b""  # neither answer comes
    assert interp.state.echo
    assert interp.state.cmee == 0
    assert interp.state.cfun == 1
    assert interp.receive_data(b"AT+CPIN?\r") == b"AT+CPIN?\r"
    clock.advance(1.0)
    assert interp.poll() == b"\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"


def test_reboot_keeps_a_disabled_pin_disabled() -> None:
    card = new_card(random.Random(13))
    card.pin_enabled = False
    interp = Interpreter(card, clock=ManualClock())
    interp.reboot()
    assert exchange(interp, "AT+CPIN?").endswith("+CPIN: READY\r\n\r\nOK\r\n")


def test_reboot_after_n_commands() -> None:
    interp = modem(Faults(reboot_after_commands=3), ManualClock())  # ATE0 was the first
    assert exchange(interp, "AT") == "\r\nOK\r\n"
    assert exchange(interp, "AT") == "\r\nRDY\r\n"  # echo was off when it came in
    assert exchange(interp, "AT") == "AT\r\r\nOK\r\n"


def test_reboot_on_a_timer() -> None:
    clock = ManualClock()
    interp = modem(Faults(reboot_every=10.0), clock)
    assert interp.next_deadline() == clock.now + 10.0
    clock.advance(10.0)
    assert interp.poll() == b"\r\nRDY\r\n"
    assert interp.next_deadline() == clock.now + 10.0


def test_data_mode_ends_with_a_reboot() -> None:
    interp = modem(Faults(), ManualClock())
    exchange(interp, 'AT+CPIN="0000"')
    assert exchange(interp, "ATD*99#") == "\r\nCONNECT 150000000\r\n"
    interp.reboot()
    assert not interp.data_mode
    assert exchange(interp, "AT") == "AT\r\r\nOK\r\n"


def test_corrupter_is_reproducible_with_a_seed() -> None:
    data = b"\r\n+CPIN: READY\r\n\r\nOK\r\n" * 20
    first = OutputCorrupter(Faults(drop=0.1, garble=0.1, seed=42)).apply(data)
    second = OutputCorrupter(Faults(drop=0.1, garble=0.1, seed=42)).apply(data)
    other = OutputCorrupter(Faults(drop=0.1, garble=0.1, seed=43)).apply(data)
    assert first == second
    assert first != other
    assert first != data
    assert len(first) < len(data)


def test_corrupter_extremes() -> None:
    data = bytes(range(256))
    assert OutputCorrupter(Faults()).apply(data) == data
    assert OutputCorrupter(Faults(drop=1.0, seed=1)).apply(data) == b""
    garbled = OutputCorrupter(Faults(garble=1.0, seed=1)).apply(data)
    assert len(garbled) == len(data)
    assert all(a != b for a, b in zip(garbled, data, strict=True))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"delay": -1.0},
        {"busy_after_unlock": -0.1},
        {"drop": 1.5},
        {"garble": -0.1},
        {"drop": 0.6, "garble": 0.6},
        {"reboot_after_commands": 0},
        {"reboot_every": 0.0},
    ],
)
def test_bad_faults_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="Faults"):
        Faults(**kwargs)  # type: ignore[arg-type]
