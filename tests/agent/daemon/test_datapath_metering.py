"""While the data-path keeper has the host interface configured, auto metering reads that
interface's OS counters (the packets cross it), whatever the modem could count."""

from __future__ import annotations

from tests.agent.daemon.conftest import Rig


def test_auto_meters_the_configured_interface(rig: Rig) -> None:
    daemon = rig.daemon(rig.config(usage={"source": "auto"}))
    assert daemon._usage_source() is None  # auto, no modem asked yet
    daemon.datapath.configured = True
    source = daemon._usage_source()
    assert source is not None
    assert source.name == "os:wwan0"
    daemon.datapath.configured = False
    assert daemon._usage_source() is None


def test_an_explicit_modem_source_is_kept(rig: Rig) -> None:
    daemon = rig.daemon(rig.config(usage={"source": "modem"}))
    daemon.datapath.configured = True
    assert daemon._usage_source() is None  # the modem's counters, once a modem is seen


def test_the_host_side_can_be_left_alone(rig: Rig) -> None:
    assert not rig.daemon(rig.config(internet={"host": False})).datapath.enabled
