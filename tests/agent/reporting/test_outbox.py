"""The durable outbox on real SQLite files: numbering, durability across SIGKILL, bounds."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.reporting.outbox import STATE, Outbox, OutboxError, OutboxFull
from simgate_common.wire import WireError
from tests.agent.reporting.helpers import ICCID, OTHER_ICCID, append_records

pytestmark = pytest.mark.timeout(30)
REPO = Path(__file__).resolve().parents[3]


def test_numbers_rise_by_one_and_never_repeat_across_reopen_and_deletes(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path, ICCID) as outbox:
        assert [r.seq for r in append_records(outbox, 3)] == [1, 2, 3]
        assert outbox.acknowledge_many([1, 2, 3]) == 3
        assert outbox.count() == 0
    with Outbox(path, ICCID) as outbox:
        assert [r.seq for r in append_records(outbox, 2)] == [4, 5]
        assert outbox.acknowledge(5)
    with Outbox(path, ICCID) as outbox:
        assert [r.seq for r in append_records(outbox, 1)] == [6]
        assert [r.seq for r in outbox.pending()] == [4, 6]
        assert outbox.last_seq() == 6


def test_pending_returns_what_was_appended_oldest_first(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o", ICCID) as outbox:
        written = append_records(outbox, 5)
        assert outbox.pending() == written
        assert outbox.pending(limit=2) == written[:2]
        assert outbox.pending(limit=10, after=3) == written[3:]


def test_acknowledging_an_unknown_seq_is_harmless(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o", ICCID) as outbox:
        written = append_records(outbox, 2)
        assert outbox.acknowledge(99) is False
        assert outbox.acknowledge_many([7, 8, 1]) == 1
        assert outbox.acknowledge(1) is False
        assert outbox.pending() == written[1:]
        assert append_records(outbox, 1)[0].seq == 3


def test_invalid_fields_store_nothing_and_spend_no_number(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o", ICCID) as outbox:
        with pytest.raises(WireError) as caught:
            outbox.append(
                imei=None,
                start="2026-01-01T00:00:00Z",
                end="2026-01-01T00:05:00Z",
                up=-1,
                down=0,
                source="modem",
            )
        assert caught.value.field == "up"
        assert outbox.count() == 0
        assert append_records(outbox, 1)[0].seq == 1


def test_full_outbox_refuses_and_keeps_everything(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o", ICCID, max_pending=3) as outbox:
        written = append_records(outbox, 3)
        with pytest.raises(OutboxFull, match="keep the usage"):
            append_records(outbox, 1)
        assert outbox.pending() == written
        outbox.acknowledge(1)
        assert append_records(outbox, 1)[0].seq == 4


def test_devices_have_their_own_numbers_in_one_file(tmp_path: Path) -> None:
    path = tmp_path / "o"
    with Outbox(path, ICCID) as mine, Outbox(path, OTHER_ICCID) as other:
        append_records(mine, 2)
        assert [r.seq for r in append_records(other, 1)] == [1]
        assert [r.iccid for r in other.pending()] == [OTHER_ICCID]
        assert mine.count() == 2
        assert mine.other_devices() == [OTHER_ICCID]


def test_state_numbers_are_durable_and_separate(tmp_path: Path) -> None:
    path = tmp_path / "o"
    with Outbox(path, ICCID) as outbox:
        assert outbox.next_seq(STATE) == 1
        append_records(outbox, 1)
        assert outbox.next_seq(STATE) == 2
        with pytest.raises(ValueError, match="append"):
            outbox.next_seq("usage")
    with Outbox(path, ICCID) as outbox:
        assert outbox.next_seq(STATE) == 3


def test_file_is_owner_only(tmp_path: Path) -> None:
    with Outbox.in_state_dir(tmp_path / "state", ICCID) as outbox:
        mode = stat.S_IMODE(outbox.path.stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700


def test_damaged_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "o"
    path.write_bytes(b"this is not a database" * 100)
    before = path.read_bytes()
    with pytest.raises(OutboxError, match="cannot open outbox"):
        Outbox(path, ICCID)
    assert path.read_bytes() == before


def test_bad_iccid_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WireError, match="iccid"):
        Outbox(tmp_path / "o", "8981/+")


def _writer(path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.agent.reporting.outbox_writer", str(path), ICCID],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("lines_before_kill", [1, 40])
def test_committed_records_survive_sigkill(tmp_path: Path, lines_before_kill: int) -> None:
    path = tmp_path / "outbox.sqlite3"
    process = _writer(path)
    assert process.stdout is not None
    try:
        printed = [int(process.stdout.readline()) for _ in range(lines_before_kill)]
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        process.stdout.close()
    with Outbox(path, ICCID) as outbox:
        stored = [r.seq for r in outbox.pending(limit=1_000_000)]
        # Everything reported as committed is there, numbered without gaps.
        assert set(printed) <= set(stored)
        assert stored == list(range(1, len(stored) + 1))
        # The counter and the rows moved together: the next number follows the last row.
        assert append_records(outbox, 1)[0].seq == len(stored) + 1


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 3)),
        st.tuples(st.just("ack"), st.integers(0, 30)),
        st.tuples(st.just("reopen"), st.just(0)),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(_OPS)
def test_numbering_model(ops: list[tuple[str, int]]) -> None:
    """Whatever is appended, acknowledged or reopened: numbers only rise, nothing is lost."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "o"
        outbox = Outbox(path, ICCID)
        waiting: list[int] = []
        issued = 0
        try:
            for op, arg in ops:
                if op == "append":
                    for report in append_records(outbox, arg):
                        assert report.seq == issued + 1
                        issued = report.seq
                        waiting.append(report.seq)
                elif op == "ack":
                    assert outbox.acknowledge(arg) == (arg in waiting)
                    if arg in waiting:
                        waiting.remove(arg)
                else:
                    outbox.close()
                    outbox = Outbox(path, ICCID)
                assert [r.seq for r in outbox.pending(limit=1000)] == waiting
        finally:
            outbox.close()
