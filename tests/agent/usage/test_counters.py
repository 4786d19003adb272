"""`CounterTracker`: deltas across wraps, resets and epochs; property-tested."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.usage.counters import (
    DEFAULT_WRAP_MARGIN,
    CounterReading,
    CounterStateError,
    CounterTracker,
    TrafficTracker,
)

MARGIN = DEFAULT_WRAP_MARGIN
U32 = 2**32


def test_first_reading_counts_from_zero() -> None:
    tracker = CounterTracker()
    assert tracker.feed(500) == 500
    assert tracker.feed(800) == 300
    assert tracker.total == 800


def test_32_bit_wrap() -> None:
    tracker = CounterTracker(last=U32 - 100)
    assert tracker.feed(50) == 150


def test_64_bit_wrap() -> None:
    tracker = CounterTracker(last=2**64 - 10)
    assert tracker.feed(5) == 15


def test_lower_reading_far_from_the_top_is_a_reset() -> None:
    tracker = CounterTracker(last=5000)
    assert tracker.feed(10) == 10


def test_lower_reading_near_the_top_but_large_is_a_reset() -> None:
    tracker = CounterTracker(last=U32 - 10)
    assert tracker.feed(MARGIN + 5) == MARGIN + 5


def test_counter_wider_than_32_bits_never_wraps_at_2_32() -> None:
    tracker = CounterTracker(last=U32 + 10)
    assert tracker.feed(3) == 3


def test_new_epoch_is_a_reset_even_with_a_higher_value() -> None:
    tracker = CounterTracker()
    tracker.feed(1000, "boot-a:3")
    assert tracker.feed(5000, "boot-a:4") == 5000
    assert tracker.feed(5100, "boot-a:4") == 100
    assert tracker.feed(5200, None) == 100  # an unknown epoch changes nothing
    assert tracker.epoch == "boot-a:4"


def test_negative_reading_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        CounterTracker().feed(-1)


def test_state_round_trips_and_bad_state_is_refused() -> None:
    tracker = TrafficTracker()
    tracker.feed(CounterReading(10, 20, "e"))
    again = TrafficTracker.from_json(tracker.to_json())
    assert again.feed(CounterReading(15, 30, "e")).delta_down == 10
    bad_states: list[object] = [
        None,
        [],
        {"last": -1, "total": 0},
        {"last": 1, "total": True},
        {"last": 1, "total": 2, "epoch": 7},
        {"last": "1", "total": 2},
    ]
    for bad in bad_states:
        with pytest.raises(CounterStateError):
            CounterTracker.from_json(bad)


# A run: the counter's value when metering starts, then steps of traffic, each step
# possibly after a reset (seen only as a lower value, or with a new epoch).
STEP = st.tuples(
    st.sampled_from(["traffic", "traffic", "traffic", "reset", "new_epoch"]),
    st.integers(0, MARGIN - 1),  # traffic between two readings stays below the margin
)


@settings(max_examples=300, deadline=None)
@given(start=st.integers(0, U32 - 1), steps=st.lists(STEP, max_size=60))
def test_sum_of_deltas_is_the_traffic_moved(start: int, steps: list[tuple[str, int]]) -> None:
    tracker = CounterTracker()
    epoch = 0
    counter = start
    tracker.feed(counter, str(epoch))  # the baseline
    moved = metered = 0
    for kind, amount in steps:
        if kind == "reset":
            # Without an epoch, a reset is only visible as a lower value that no wrap
            # explains; other resets must come with a new epoch to be told apart.
            if amount < counter < U32 - MARGIN:
                counter = 0
            else:
                kind = "new_epoch"
        if kind == "new_epoch":
            counter = 0
            epoch += 1
        counter = (counter + amount) % U32
        moved += amount
        metered += tracker.feed(counter, str(epoch))
    assert metered == moved
    assert tracker.total == start + moved


@given(readings=st.lists(st.integers(0, 2**63), min_size=1).map(sorted))
def test_growing_counter_is_metered_exactly(readings: list[int]) -> None:
    tracker = CounterTracker()
    deltas = [tracker.feed(value) for value in readings]
    assert all(delta >= 0 for delta in deltas)
    assert sum(deltas) == readings[-1]
