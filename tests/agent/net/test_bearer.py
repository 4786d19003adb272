"""`+CGCONTRDP` answers (27.007 §10.1.23) through the AT engine, fed whole, in halves and
byte by byte, then parsed; and the dialects' network-device start commands."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from agent.at.engine import AtEngine, Response
from agent.at.errors import ResponseParseError
from agent.net.bearer import (
    BearerParams,
    default_interface,
    netdev_commands,
    parse_cgcontrdp,
    read_params,
)

Splitter = Callable[[bytes], Iterator[bytes]]


def whole(data: bytes) -> Iterator[bytes]:
    yield data


def halves(data: bytes) -> Iterator[bytes]:
    yield data[: len(data) // 2]
    yield data[len(data) // 2 :]


def bytewise(data: bytes) -> Iterator[bytes]:
    for i in range(len(data)):
        yield data[i : i + 1]


SPLITS = [whole, halves, bytewise]


def answer(wire: bytes, split: Splitter, cid: int = 1) -> tuple[str, ...]:
    engine = AtEngine()
    engine.send(read_params(cid))
    events = [event for chunk in split(wire) for event in engine.receive_data(chunk)]
    responses = [e for e in events if isinstance(e, Response)]
    assert len(responses) == 1, events
    assert responses[0].result.ok
    return responses[0].lines


VECTORS = [
    # 27.007 >= v9.4.0: address and mask dot-joined (what the stub answers)
    (
        b'\r\n+CGCONTRDP: 1,5,"sakura","10.77.0.2.255.255.255.255","10.77.0.1","10.77.0.53",'
        b'"10.77.0.54"\r\n\r\nOK\r\n',
        BearerParams(1, 5, "sakura", "10.77.0.2", 32, "10.77.0.1", ("10.77.0.53", "10.77.0.54")),
    ),
    # ModemManager's capture (mm-modem-helpers.c): P-CSCF and more fields follow
    (
        b'\r\n+CGCONTRDP: 4,5,"ibox.tim.it.mnc001.mcc222.gprs","2.197.17.49.255.255.255.255",'
        b'"2.197.17.49","10.207.43.46","10.206.56.132","0.0.0.0","0.0.0.0",0\r\n\r\nOK\r\n',
        BearerParams(
            4,
            5,
            "ibox.tim.it.mnc001.mcc222.gprs",
            "2.197.17.49",
            32,
            "2.197.17.49",
            ("10.207.43.46", "10.206.56.132"),
        ),
    ),
    # before v9.4.0: the mask in its own field; unquoted; a /24
    (
        b"\r\n+CGCONTRDP: 2,6,internet,192.168.5.7,255.255.255.0,192.168.5.1,8.8.8.8\r\n\r\nOK\r\n",
        BearerParams(2, 6, "internet", "192.168.5.7", 24, "192.168.5.1", ("8.8.8.8",)),
    ),
    # no DNS, gateway all zeros
    (
        b'\r\n+CGCONTRDP: 1,5,"iot","10.0.0.9.255.255.255.255","0.0.0.0","",""\r\n\r\nOK\r\n',
        BearerParams(1, 5, "iot", "10.0.0.9", 32, None, ()),
    ),
    # only the mandatory fields
    (b'\r\n+CGCONTRDP: 3,7,""\r\n\r\nOK\r\n', BearerParams(3, 7, "", None, None, None, ())),
]


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize(("wire", "expected"), VECTORS)
def test_cgcontrdp_vectors(wire: bytes, expected: BearerParams, split: Splitter) -> None:
    assert parse_cgcontrdp(answer(wire, split, expected.cid)) == (expected,)


@pytest.mark.parametrize("split", SPLITS)
def test_cgcontrdp_with_a_urc_in_between_and_two_contexts(split: Splitter) -> None:
    wire = (
        b'\r\n+CGCONTRDP: 1,5,"a","10.0.0.1.255.255.255.255","10.0.0.254"\r\n'
        b"\r\n+CREG: 1\r\n"
        b'\r\n+CGCONTRDP: 2,6,"b","10.0.1.1.255.255.255.0"\r\n\r\nOK\r\n'
    )
    found = parse_cgcontrdp(answer(wire, split))
    assert [(p.cid, p.address, p.prefix_len, p.gateway) for p in found] == [
        (1, "10.0.0.1", 32, "10.0.0.254"),
        (2, "10.0.1.1", 24, None),
    ]


def test_no_line_means_no_active_context() -> None:
    assert parse_cgcontrdp([]) == ()


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ('+CGCONTRDP: 1,5,"a","10.0.0.1.255.0.255.0"', "not a subnet mask"),
        ('+CGCONTRDP: 1,5,"a","10.0.0.300.255.255.255.255"', "not an IPv4 address"),
        ('+CGCONTRDP: 1,5,"a","10.0.0.1.255.255.255.255","gw"', "the gateway"),
        ('+CGCONTRDP: 1,5,"a","2001:db8::1"', "IPv6"),
        ('+CGCONTRDP: 1,5,"a","10.0.0"', "not an address and mask"),
        ("+CGCONTRDP: 1,5", "expected"),
        ('+CGCONTRDP: x,5,"a"', "cid"),
    ],
)
def test_malformed_answers_are_refused_naming_why(line: str, why: str) -> None:
    with pytest.raises(ResponseParseError, match=why):
        parse_cgcontrdp([line])


def test_start_commands_per_dialect() -> None:
    quectel = netdev_commands("quectel", 2)
    simcom = netdev_commands("simcom", 1)
    telit = netdev_commands("telit", 3)
    assert quectel is not None
    assert simcom is not None
    assert telit is not None
    assert quectel.start.line == "AT+QNETDEVCTL=1,2,0"
    assert quectel.stop is not None
    assert quectel.stop.line == "AT+QNETDEVCTL=0,2,0"
    assert simcom.start.line == "AT$QCRMCALL=1,1,1,2,1"
    assert telit.start.line == "AT#ECM=3,0"
    assert netdev_commands("ublox", 1) is None
    assert netdev_commands("generic", 1) is None
    assert [default_interface(d) for d in ("generic", "quectel", "simcom", "ublox")] == [
        "wwan0", "usb0", "wwan0", "usb0"
    ]  # fmt: skip


@pytest.mark.parametrize(("wire", "expected"), VECTORS)
def test_cgcontrdp_vectors_cut_at_every_byte(wire: bytes, expected: BearerParams) -> None:
    for cut in range(1, len(wire)):

        def at(data: bytes, cut: int = cut) -> Iterator[bytes]:
            yield data[:cut]
            yield data[cut:]

        assert parse_cgcontrdp(answer(wire, at, expected.cid)) == (expected,), cut
