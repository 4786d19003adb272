"""The stub's facts and the agent's, written down apart, must agree with each other.

Each side states the standards on its own (the stub never imports the agent), so a slip in
either table shows here as a disagreement instead of being mirrored into the other.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.at.cme_errors import cme_code_for_text
from agent.at.engine import NUMERIC_RESULTS
from agent.at.iccid import decode_ef_iccid
from firmware_stubs.standards import CME_TEXTS, V250_NUMERIC_CODES, encode_ef_iccid


def test_v250_numeric_codes_agree_with_the_agents_reading() -> None:
    for word, number in V250_NUMERIC_CODES.items():
        if word == "RING":  # an unsolicited code, never a final result
            assert str(number) not in NUMERIC_RESULTS
            continue
        assert NUMERIC_RESULTS[str(number)].value == word


@pytest.mark.parametrize(("code", "text"), sorted(CME_TEXTS.items()))
def test_27007_s9_2_cme_texts_are_what_the_agent_reads_back(code: int, text: str) -> None:
    assert cme_code_for_text(text) == code


def test_ts102221_s13_2_ef_iccid_swaps_each_digit_pair() -> None:
    assert encode_ef_iccid("8981100000123456789") == "981801000021436587F9"


ISSUER = st.text(alphabet="0123456789", min_size=4, max_size=4).map(lambda s: "89" + s)
REST = st.text(alphabet="0123456789ABCDEF", min_size=11, max_size=13)
LAST = st.sampled_from("0123456789")  # a trailing F would read as padding


@given(ISSUER, REST, LAST)
def test_ef_iccid_round_trips_through_the_agents_decoder(issuer: str, rest: str, last: str) -> None:
    iccid = issuer + rest + last
    assert decode_ef_iccid(encode_ef_iccid(iccid)) == iccid
