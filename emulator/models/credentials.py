"""API credentials (the Sakura access token and secret) and per-SIM device tokens.

Device tokens are never stored: each is an HMAC of the SIM's registration (its id and
ICCID) under a random key kept in the store, so a new registration gets a new token and
nothing in the database or the logs reveals one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from emulator.errors import BadRequest
from emulator.models.sims import Sim
from emulator.store import Store


@dataclass(frozen=True)
class ApiCredentials:
    """The access token and secret every Sakura API call must carry (HTTP Basic)."""

    token: str
    secret: str
    source: str  # "environment", "database" or "generated"

    def matches(self, token: str, secret: str) -> bool:
        """Constant-time comparison of a presented pair."""
        ok_token = hmac.compare_digest(token.encode(), self.token.encode())
        ok_secret = hmac.compare_digest(secret.encode(), self.secret.encode())
        return ok_token and ok_secret


def api_credentials(store: Store, token: str | None, secret: str | None) -> ApiCredentials:
    """Use the given pair (from the environment), else the pair stored in the database,
    else make a new pair and store it so that it survives restarts."""
    if bool(token) != bool(secret):
        raise BadRequest(
            "set both SIMGATE_ACCESS_TOKEN and SIMGATE_ACCESS_TOKEN_SECRET, or neither"
        )
    if token and secret:
        return ApiCredentials(token, secret, "environment")
    with store.transaction() as db:
        stored_token, stored_secret = db.meta_get("api_token"), db.meta_get("api_secret")
        if stored_token and stored_secret:
            return ApiCredentials(stored_token, stored_secret, "database")
        new_token, new_secret = secrets.token_hex(16), secrets.token_urlsafe(32)
        db.meta_set("api_token", new_token)
        db.meta_set("api_secret", new_secret)
    return ApiCredentials(new_token, new_secret, "generated")


class DeviceTokens:
    """Issue and check the MQTT device token of a registered SIM."""

    def __init__(self, store: Store) -> None:
        with store.transaction() as db:
            key = db.meta_get("device_token_key")
            if key is None:
                key = secrets.token_hex(32)
                db.meta_set("device_token_key", key)
        self._key = bytes.fromhex(key)

    def token_for(self, sim: Sim) -> str:
        """The device token of this registration of the SIM."""
        message = f"{sim.id}:{sim.iccid}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def verify(self, sim: Sim, token: str) -> bool:
        """True when `token` is the SIM's current device token."""
        # bytes: compare_digest refuses str with non-ASCII characters (a hostile login)
        return hmac.compare_digest(self.token_for(sim).encode(), token.encode())


INGEST_USERNAME = "simgate-emulator"
"""The MQTT username of the emulator's own ingest client (never an ICCID)."""


@dataclass(frozen=True)
class MqttLogin:
    """An MQTT username and password; the password is kept out of `repr`."""

    username: str
    password: str = field(repr=False)

    def matches(self, username: str | None, password: str | None) -> bool:
        """Constant-time check of a presented login."""
        same_user = hmac.compare_digest((username or "").encode(), self.username.encode())
        same_password = hmac.compare_digest((password or "").encode(), self.password.encode())
        return same_user and same_password


def ingest_login(store: Store) -> MqttLogin:
    """The emulator's own MQTT login: made once, kept in the database (never logged)."""
    with store.transaction() as db:
        password = db.meta_get("mqtt_ingest_password")
        if password is None:
            password = secrets.token_urlsafe(24)
            db.meta_set("mqtt_ingest_password", password)
    return MqttLogin(INGEST_USERNAME, password)
