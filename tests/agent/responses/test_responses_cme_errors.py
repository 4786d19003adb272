"""CME/CMS error registry: numbers and the verbose texts modems send with `AT+CMEE=2`.

Verbose captures: [GSMMODEM] faucamp/python-gsmmodem test/test_modem.py (numeric codes);
a Multi-Tech EDGE modem manual's example session (`+CME ERROR: incorrect password`,
pages corpus); a Motorola G24 manual's SIM error table (pages corpus).
"""

from __future__ import annotations

import pytest

from agent.at.cme_errors import (
    CME_ERRORS,
    CMS_ERRORS,
    cme_code_for_text,
    cme_text,
    cms_code_for_text,
    cms_text,
)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("incorrect password", 16),  # Multi-Tech manual
        ("SIM PIN required", 11),  # Motorola G24 manual
        ("SIM PUK required", 12),
        ("SIM failure", 13),
        ("SIM busy", 14),
        ("SIM not inserted", 10),
        ("SIM PUK2 required", 18),
        ("operation not allowed", 3),
        ("Operation not supported", 4),
        ("PH_SIM PIN required", 5),
        ("Phone adapter link reserved", 2),
        ("Network not allowed, emergency calls only", 32),
        ("Network personalisation PIN required", 40),
        ("unknown error", 100),
        ("unknown", 100),
        ("no network service", 30),
        ("missing or unknown APN", 127),
        ("PDP authentication failure", 149),
        ("SIM blocked", 262),
        ("  sim   pin REQUIRED  ", 11),
    ],
)
def test_cme_verbose_text_maps_to_its_number(text: str, code: int) -> None:
    assert cme_code_for_text(text) == code


@pytest.mark.parametrize("text", ["", "  ", "---", "the modem is on fire"])
def test_cme_unknown_text_maps_to_none(text: str) -> None:
    assert cme_code_for_text(text) is None


def test_cme_registry_covers_the_general_and_gprs_codes() -> None:
    general = [*range(0, 8), *range(10, 19), *range(20, 28), 30, 31, 32, *range(40, 64), 100]
    gprs = [103, 106, 107, 111, 112, 113, 132, 133, 134, *range(126, 132), 148, 149, 150]
    assert set(general) <= set(CME_ERRORS)
    assert set(gprs) <= set(CME_ERRORS)
    assert CME_ERRORS[262] == "SIM blocked"


def test_cme_every_text_maps_back_to_its_own_code() -> None:
    for code, text in CME_ERRORS.items():
        assert cme_code_for_text(text) == code, text
        assert cme_text(code) == text
    assert cme_text(9999) is None


def test_cms_every_text_maps_back_and_usim_spellings_fold() -> None:
    for code, text in CMS_ERRORS.items():
        assert cms_code_for_text(text) == code, text
        assert cms_text(code) == text
    assert cms_code_for_text("SIM not inserted") == 310
    assert cms_code_for_text("USIM PIN required") == 311
    assert cms_code_for_text("SIM PUK required") == 316
    assert cms_code_for_text("SMSC address unknown") == 330
    assert cms_code_for_text("bogus") is None
