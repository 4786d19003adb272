"""The device's MQTT token: read from an owner-only file or the environment, never shown.

Safety rule 2: the token's value appears in no log, error, repr or report. `Token` hides
it from `repr`/`str`/format; only `reveal()` gives it, for the CONNECT packet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from agent.sim.secrets import secret_from

TOKEN_ENV: Final = "SIMGATE_MQTT_TOKEN"  # noqa: S105 (a variable name, not a secret)
_MASK: Final = "****"


class Token:
    """A secret string that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value:
            raise ValueError("the MQTT token is empty")
        self._value = value

    def reveal(self) -> str:
        """The value, for the broker only."""
        return self._value

    def redact(self, text: str) -> str:
        """`text` with every occurrence of the value masked."""
        return text.replace(self._value, _MASK)

    def __repr__(self) -> str:
        return f"Token('{_MASK}')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Token cannot be pickled")


def load_token(file: Path | None, env_var: str | None = TOKEN_ENV) -> Token:
    """The token from `file` (mode 0600 or stricter) if given, else from `$env_var`.

    Raises `agent.sim.secrets.SecretSourceError` (whose message never holds the value).
    """
    return Token(secret_from(file, env_var, "MQTT token"))
