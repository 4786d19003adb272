"""Fixtures of the reliability tests: a real mosquitto broker (tests/mqtt_broker.py)."""

from __future__ import annotations

from tests.mqtt_broker import mosquitto, mosquitto_factory

__all__ = ["mosquitto", "mosquitto_factory"]
