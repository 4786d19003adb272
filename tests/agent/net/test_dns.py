"""DNS handed over and taken back: a file kept and restored, never silently clobbered;
systemd-resolved chosen only when it serves this host."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent.net import dns


def test_a_users_file_is_kept_said_so_and_restored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text("# mine\nnameserver 192.0.2.1\n")
    with caplog.at_level(logging.WARNING):
        record = dns.apply("wwan0", ["10.0.0.53"], dns_file=path, use_resolved=False)
    assert "is kept and put back" in caplog.text
    assert (record.method, record.previous) == ("file", "# mine\nnameserver 192.0.2.1\n")
    assert path.read_text() == f"{dns.MARKER}\nnameserver 10.0.0.53\n"
    again = dns.DnsRecord.from_json(record.to_json())
    assert dns.undo(again) == f"{path} restored"
    assert path.read_text() == "# mine\nnameserver 192.0.2.1\n"


def test_a_file_that_did_not_exist_is_removed_and_ours_is_not_kept_as_the_users(
    tmp_path: Path,
) -> None:
    path = tmp_path / "resolv.conf"
    record = dns.apply("wwan0", ["10.0.0.53", "10.0.0.54"], dns_file=path, use_resolved=False)
    assert record.previous is None
    second = dns.apply("wwan0", ["10.0.0.55"], dns_file=path, use_resolved=False)
    assert second.previous is None  # our own earlier file is not "the user's"
    assert dns.undo(second) == f"{path} removed"
    assert not path.exists()


def test_no_resolver_and_no_file_configures_nothing(tmp_path: Path) -> None:
    record = dns.apply("wwan0", ["10.0.0.53"], dns_file=None, use_resolved=False)
    assert (record.method, record.servers) == ("none", ["10.0.0.53"])
    assert dns.undo(record) is None
    assert dns.apply("wwan0", [], dns_file=tmp_path / "x").method == "none"
    assert not (tmp_path / "x").exists()


def test_resolved_serves_the_host_only_when_resolv_conf_is_its_file(tmp_path: Path) -> None:
    socket_path = tmp_path / "io.systemd.Resolve"
    plain = tmp_path / "resolv.conf"
    plain.write_text("nameserver 192.0.2.1\n")
    assert not dns.resolved_serves_host(socket_path, plain)  # no socket
    socket_path.touch()
    assert not dns.resolved_serves_host(socket_path, plain)  # a file of its own


def test_a_bad_record_is_refused() -> None:
    with pytest.raises(ValueError, match="not a DNS record"):
        dns.DnsRecord.from_json({"method": "file"})
