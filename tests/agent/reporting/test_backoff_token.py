"""Reconnect backoff bounds, and the token that never shows itself."""

from __future__ import annotations

import logging
import pickle
import random
from pathlib import Path

import pytest

from agent.reporting.backoff import Backoff
from agent.reporting.token import TOKEN_ENV, Token, load_token
from agent.sim.secrets import SecretSourceError, UnsafeSecretFile

SECRET = "tok-3f9a1c5e"


def test_backoff_grows_is_capped_and_jittered() -> None:
    backoff = Backoff(initial=0.5, maximum=8.0, factor=2.0, jitter=0.5)
    assert [backoff.ceiling(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert backoff.ceiling(10_000) == 8.0
    rng = random.Random(1)
    delays = [backoff.delay(3, rng) for _ in range(200)]
    assert all(2.0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) > 100


def test_backoff_without_jitter_is_exact() -> None:
    assert Backoff(1.0, 10.0, jitter=0.0).delay(2, random.Random()) == 4.0


@pytest.mark.parametrize(
    "kwargs",
    [{"initial": 0}, {"initial": 5, "maximum": 1}, {"factor": 0.5}, {"jitter": 1.5}],
)
def test_backoff_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(**kwargs)


def test_token_hides_its_value(caplog: pytest.LogCaptureFixture) -> None:
    token = Token(SECRET)
    logging.getLogger("test").warning("token %s %r", token, token)
    shown = f"{token} {token!r} {token:>20} {[token]}"
    assert SECRET not in shown + caplog.text
    assert token.reveal() == SECRET
    assert token.redact(f"refused {SECRET}!") == "refused ****!"
    with pytest.raises(TypeError):
        pickle.dumps(token)
    with pytest.raises(ValueError, match="empty"):
        Token("")


def test_token_from_owner_only_file(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(SECRET + "\n")
    path.chmod(0o600)
    assert load_token(path).reveal() == SECRET
    path.chmod(0o644)
    with pytest.raises(UnsafeSecretFile) as caught:
        load_token(path)
    assert SECRET not in str(caught.value)


def test_token_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, SECRET)
    assert load_token(None).reveal() == SECRET
    monkeypatch.delenv(TOKEN_ENV)
    with pytest.raises(SecretSourceError, match=TOKEN_ENV):
        load_token(None)
