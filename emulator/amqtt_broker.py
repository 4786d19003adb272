"""`GuardedBroker`: amqtt 0.12's `Broker` with two ordering fixes the plugin API cannot make
(on top of `amqtt_fanout.IndexedBroker`, which keeps routing from walking the fleet).

Theory. amqtt handles a CONNECT in two steps. `_initialize_client_session` reads the
packet and, for `clean_session=0`, looks the client id up in `_sessions` and **reuses**
the stored session, overwriting its username, password and will with the new packet's
(for `clean_session=1` it deletes the stored session). Only then does
`_handle_client_session` ask the auth plugins, and before it sends the refusal it has
already taken the session over: the live connection of that client id is closed (its
will, "offline", is published and booked), the session is marked connected and left so.
An auth plugin is called only in that second step, on the already-reused session, so no
plugin can keep a refused CONNECT away from somebody else's session. Hence this subclass:

1. `_initialize_client_session` asks the auth plugins (`DeviceAuthPlugin`: token, client
   id = ICCID for devices, will topic in the device's root) about the **new** packet
   before `_sessions` is consulted. A refused CONNECT gets its CONNACK (5, not
   authorised) on its own connection and is closed; `_sessions`, the stored session and
   any live connection stay untouched. The rest of the method is amqtt's own.
2. `_handle_disconnect` of a connection that another connection of the same client id
   has replaced (a device reconnecting over a half-open link; amqtt's take-over) neither
   publishes that old connection's will nor marks the shared session disconnected: the
   device is still online and its session is served by the new connection, so commands
   for it must go out at once rather than wait in the queue for the next reconnect.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, Final

from amqtt.errors import AMQTTError, MQTTError, NoDataError
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.utils import gen_client_id

from emulator.amqtt_fanout import IndexedBroker

_RENEWED: Final = (
    *("will_flag", "will_message", "will_topic", "will_qos", "will_retain"),
    *("keep_alive", "username", "password"),
)
"""What a reconnect brings to a stored session (amqtt's list, plus `will_retain`)."""


class GuardedBroker(IndexedBroker):
    """amqtt's broker (subscriptions indexed), authenticating a CONNECT before it touches
    a stored session."""

    def __init__(
        self, *args: Any, topic_check: Callable[[Any, str, Any], bool] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._topic_check = topic_check
        """The topic plugin's own check, called directly: amqtt's plugin manager makes a
        task per plugin per message for it (`IngestGate.permits`)."""
        self._replaced: weakref.WeakSet[Any] = weakref.WeakSet()
        """Connection handlers that a newer connection of their client id has replaced.
        Marked here, before the take-over: the old connection's `_handle_disconnect` runs
        while amqtt is still stopping it, before `_sessions` names the new handler."""

    async def _initialize_client_session(
        self, reader: Any, writer: Any, remote_address: str, remote_port: int
    ) -> tuple[Any, Any]:
        try:
            handler, session = await BrokerProtocolHandler.init_from_connect(
                reader, writer, self.plugins_manager
            )
        except MQTTError:  # a malformed CONNECT (amqtt has sent a CONNACK if it could)
            await writer.close()
            raise
        except (AMQTTError, NoDataError) as exc:
            raise AMQTTError(f"no CONNECT from {remote_address}:{remote_port}") from exc

        if not await self._authenticate(session, None):
            handler.attach(session, reader, writer)
            session.parent = 0
            await handler.mqtt_connack_authorize(False)
            await writer.close()
            raise MQTTError("CONNECT refused by the auth plugins")

        # From here on amqtt's own `_initialize_client_session`, for an accepted login.
        client_id = session.client_id
        stored = self._sessions.get(client_id) if client_id else None
        if stored is not None and stored[0].transitions.is_connected():
            self._replaced.add(stored[1])  # amqtt takes the live connection over
        if session.clean_session:
            if client_id:
                await self._delete_session(client_id)
                if stored is not None and stored[1] in self._replaced:
                    await stored[1].handle_connection_closed()  # no take-over for a clean one
            else:
                session.client_id = gen_client_id()
            session.parent = 0
        elif stored is not None:
            for name in _RENEWED:
                setattr(stored[0], name, getattr(session, name))
            session = stored[0]
            session.parent = 1
        else:
            session.parent = 0
        delay = self.config.get("timeout-disconnect-delay", 0)
        if session.keep_alive > 0 and isinstance(delay, int):
            session.keep_alive += delay
        return handler, session

    async def _topic_filtering(self, session: Any, topic: str, action: Any) -> bool:
        if self._topic_check is None:
            return bool(await super()._topic_filtering(session, topic, action))
        return self._topic_check(session, topic, action)

    async def _handle_disconnect(
        self, client_session: Any, handler: Any, disconnect_waiter: Any
    ) -> None:
        current = self._sessions.get(client_session.client_id)
        if handler in self._replaced or (current is not None and current[1] is not handler):
            # a replaced connection: no will, and the session stays with the new one
            self._replaced.discard(handler)
            await self._stop_handler(handler)
            return
        await super()._handle_disconnect(client_session, handler, disconnect_waiter)
