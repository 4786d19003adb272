"""Fault injection: error rate and latency on chosen routes, reproducible by seed.

Rules apply to the Sakura API and the network endpoints, never to `/_emulator/` itself
(so a test can always steer its way out). The setting lives in memory: a restart or a
reset clears it.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass

from emulator.errors import BadRequest


@dataclass(frozen=True)
class FaultRule:
    """Requests whose path matches `route` (a regular expression, searched) and whose
    method is in `methods` (all when empty) fail with `status` at `error_rate` and are
    delayed by `latency_ms`."""

    route: str
    methods: tuple[str, ...] = ()
    error_rate: float = 0.0
    latency_ms: int = 0
    status: int = 503


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one request."""

    delay_seconds: float = 0.0
    fail_status: int | None = None


class FaultInjector:
    """Holds the rules and a seeded random generator."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[tuple[FaultRule, re.Pattern[str]]] = []
        self._seed: int | None = None
        self._random = random.Random()

    def configure(self, rules: list[FaultRule], seed: int | None = None) -> None:
        """Replace the rules; the same seed gives the same sequence of failures."""
        compiled = []
        for rule in rules:
            if not 0.0 <= rule.error_rate <= 1.0:
                raise BadRequest("error_rate must be between 0 and 1")
            if rule.latency_ms < 0 or rule.latency_ms > 60_000:
                raise BadRequest("latency_ms must be between 0 and 60000")
            if not 400 <= rule.status <= 599:
                raise BadRequest("status must be an HTTP error status (400-599)")
            try:
                compiled.append((rule, re.compile(rule.route)))
            except re.error as exc:
                raise BadRequest(f"route is not a regular expression: {exc}") from None
        with self._lock:
            self._rules = compiled
            self._seed = seed
            self._random = random.Random(seed)

    def clear(self) -> None:
        """No faults."""
        self.configure([])

    @property
    def rules(self) -> list[FaultRule]:
        """The current rules."""
        with self._lock:
            return [rule for rule, _ in self._rules]

    @property
    def seed(self) -> int | None:
        """The seed of the current rules."""
        return self._seed

    def decide(self, method: str, path: str) -> FaultDecision:
        """The first matching rule's effect on this request (none when no rule matches)."""
        with self._lock:
            for rule, pattern in self._rules:
                if rule.methods and method.upper() not in rule.methods:
                    continue
                if not pattern.search(path):
                    continue
                fail = rule.error_rate > 0 and self._random.random() < rule.error_rate
                return FaultDecision(rule.latency_ms / 1000.0, rule.status if fail else None)
        return FaultDecision()
