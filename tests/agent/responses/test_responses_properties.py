"""Property tests: arbitrary text only ever raises `ResponseParseError`, and the parsers'
mappings keep their invariants (rssi monotone, ICCID encodings round-trip)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.at.errors import ResponseParseError
from agent.at.iccid import encode_ef_iccid
from agent.at.responses import (
    SignalQuality,
    iccid_from_crsm,
    parse_cfun,
    parse_cgact,
    parse_cgatt,
    parse_cgdcont,
    parse_cgpaddr,
    parse_cgsn,
    parse_cimi,
    parse_clck,
    parse_cmee,
    parse_cops,
    parse_cops_list,
    parse_cpin,
    parse_cpinr,
    parse_crsm,
    parse_csim,
    parse_csq,
    parse_iccid,
    parse_registration_read,
    parse_registration_urc,
)

PARSERS: dict[str, Callable[[Sequence[str]], object]] = {
    "+CPIN": parse_cpin,
    "+CPINR": parse_cpinr,
    "+CSIM": parse_csim,
    "+CRSM": parse_crsm,
    "+CCID": parse_iccid,
    "+CIMI": parse_cimi,
    "+CGSN": parse_cgsn,
    "+CLCK": parse_clck,
    "+COPS": parse_cops,
    "+CSQ": parse_csq,
    "+CGACT": parse_cgact,
    "+CGDCONT": parse_cgdcont,
    "+CGPADDR": parse_cgpaddr,
    "+CGATT": parse_cgatt,
    "+CFUN": parse_cfun,
    "+CMEE": parse_cmee,
    "+CREG": lambda lines: parse_registration_read(lines, "+CREG"),
    "+CEREG": lambda lines: parse_registration_read(lines, "+CEREG"),
}

AT_ALPHABET = st.sampled_from(list('0123456789ABCDEFabcdef ,"()+-:.^FSIMPNUKRDYQCG\t'))
payloads = st.text(alphabet=AT_ALPHABET, max_size=40) | st.text(max_size=40)


def _check(parser: Callable[[Sequence[str]], object], lines: list[str]) -> None:
    with contextlib.suppress(ResponseParseError):
        parser(lines)


@pytest.mark.parametrize("prefix", sorted(PARSERS))
@given(payloads=st.lists(payloads, max_size=3), bare=st.lists(payloads, max_size=2))
def test_random_text_raises_nothing_but_parse_errors(
    prefix: str, payloads: list[str], bare: list[str]
) -> None:
    _check(PARSERS[prefix], [f"{prefix}: {p}" for p in payloads] + bare)


@given(payloads)
def test_random_urc_text_raises_nothing_but_parse_errors(payload: str) -> None:
    for prefix in ("+CREG", "+CGREG", "+CEREG", "+C5GREG"):
        with contextlib.suppress(ResponseParseError):
            parse_registration_urc(f"{prefix}: {payload}")


@given(payloads)
def test_random_cops_list_raises_nothing_but_parse_errors(payload: str) -> None:
    _check(parse_cops_list, [f"+COPS: {payload}", f"({payload})"])


@given(st.integers(0, 30))
def test_rssi_dbm_rises_two_db_per_step(index: int) -> None:
    lower = SignalQuality(index, 99).rssi_dbm
    upper = SignalQuality(index + 1, 99).rssi_dbm
    assert lower is not None
    assert upper is not None
    assert upper - lower == 2
    assert -113 <= lower < upper <= -51


@given(st.integers(0, 191).filter(lambda n: n <= 31 or n >= 100))
def test_csq_parse_keeps_the_index_it_was_given(index: int) -> None:
    assert parse_csq([f"+CSQ: {index},99"]).rssi_index == index


# The last digit is never F: a trailing F is EF_ICCID's filler, not a digit.
iccids = st.builds(
    lambda head, middle, last: head + middle + last,
    st.text(alphabet="0123456789", min_size=4, max_size=4).map(lambda s: "89" + s),
    st.text(alphabet="0123456789ABCDEF", min_size=12, max_size=13),  # 19-20 in all
    st.sampled_from("0123456789ABCDE"),
)


@given(iccids)
def test_iccid_round_trips_through_ef_iccid_and_ccid(iccid: str) -> None:
    swapped = encode_ef_iccid(iccid)
    read = iccid_from_crsm(parse_crsm([f'+CRSM: 144,0,"{swapped}"']))
    assert read is not None
    assert read.iccid == iccid
    assert parse_iccid([f'+CCID: "{iccid}"']).iccid == iccid
    assert parse_iccid([swapped]).iccid == iccid


@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=8))
def test_csim_round_trips_status_word_and_data(sw1: int, sw2: int, data: bytes) -> None:
    response = data.hex().upper() + f"{sw1:02X}{sw2:02X}"
    word = parse_csim([f'+CSIM: {len(response)},"{response}"'])
    assert (word.sw1, word.sw2, word.data) == (sw1, sw2, data.hex().upper())
    assert word.blocked == (word.retries_left == 0)
