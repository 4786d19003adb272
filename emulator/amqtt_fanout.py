"""`IndexedBroker`: amqtt 0.12's `Broker` with subscriptions indexed, so that routing a
message, connecting or dropping a device does not walk the whole fleet.

Theory. amqtt keeps `_subscriptions` as one dict, topic filter -> [(session, qos)], and
walks all of it where a broker needs only a few entries:

- routing a PUBLISH (`_run_broadcast`) compared the topic with every filter of every
  device: with 10,000 agents (two exact filters each, `commands` and `errors`) that is
  20,000 comparisons per report;
- every CONNECT (`_handle_client_session`) sent the new client the retained messages that
  match **any** filter in the broker, its own or not, walking filters x retained
  messages: with 10,000 agents (a retained `status` and `state` each) 400 million
  comparisons per connect, and another device's retained `state` (its SIM lock) delivered
  to whoever connects. MQTT 3.1.1 §3.3.1.3 sends retained messages when a subscription
  is made, and only those matching it; a stored session taken up again gets what was
  queued for it, not the retained messages again (as mosquitto does);
- a SUBSCRIBE compared its filter with every retained message, even an exact filter,
  which can match only the retained message of its own topic;
- dropping a session (`_del_all_subscriptions`) walked every filter to find its own;
- after every SUBSCRIBE amqtt built the `repr` of the whole dict for a debug line.

So this subclass keeps two indexes beside amqtt's dict, updated wherever amqtt changes
it: the filters that hold a wildcard (`+`, `#`), and each client's own filters. An exact
filter is found by a dict lookup of the topic, a wildcard filter by a walk of the
wildcard filters only, and a session's filters from its own index. What each subscriber
gets, at which QoS, and what is queued for a disconnected persistent session are amqtt's
rules, unchanged (the method bodies below follow amqtt's, minus the walks).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from amqtt.broker import Broker, MachineError  # amqtt's session state machine's error
from amqtt.contexts import Action
from amqtt.errors import BrokerError
from amqtt.events import BrokerEvents
from amqtt.mqtt.constants import QOS_1, QOS_2

_REFUSED = 0x80
"""SUBACK return code of a refused subscription."""


def has_wildcard(topic_filter: str) -> bool:
    """True for a filter with `+` or `#` (it can match more than its own topic)."""
    return "+" in topic_filter or "#" in topic_filter


class _Subscriptions(dict[str, list[tuple[Any, int]]]):
    """amqtt's filter -> subscribers dict, with a `repr` that does not list them: amqtt
    logs `repr(self._subscriptions)` after every SUBSCRIBE, at debug level but built
    whatever the level, which at 10,000 agents is a 20,000-entry string per subscribe."""

    def __repr__(self) -> str:
        return f"<{len(self)} topic filters>"


class IndexedBroker(Broker):  # type: ignore[misc]  # amqtt is untyped
    """amqtt's broker with wildcard and per-client subscription indexes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._subscriptions = _Subscriptions()
        self._wildcards: dict[str, None] = {}
        """Filters with a wildcard that have (or had) subscribers: an ordered set."""
        self._filters_of: dict[str, set[str]] = {}
        """client id -> the filters it is subscribed to."""

    # --- keeping the indexes ----------------------------------------------------------

    async def add_subscription(self, subscription: tuple[str, int], session: Any) -> int:
        """amqtt's checks and bookkeeping, then the indexes."""
        code: int = await super().add_subscription(subscription, session)
        if code != _REFUSED:
            topic_filter = subscription[0]
            self._filters_of.setdefault(session.client_id, set()).add(topic_filter)
            if has_wildcard(topic_filter):
                self._wildcards[topic_filter] = None
        return code

    def _del_subscription(self, a_filter: str, session: Any) -> int:
        """amqtt's removal; an emptied filter leaves both the dict and the indexes."""
        deleted: int = super()._del_subscription(a_filter, session)
        if deleted:
            own = self._filters_of.get(session.client_id)
            if own is not None:
                own.discard(a_filter)
                if not own:
                    del self._filters_of[session.client_id]
            if not self._subscriptions.get(a_filter, True):
                del self._subscriptions[a_filter]
                self._wildcards.pop(a_filter, None)
        return deleted

    async def _del_all_subscriptions(self, session: Any) -> None:
        """Only the session's own filters, not every filter of the broker."""
        for a_filter in list(self._filters_of.get(session.client_id, ())):
            self._del_subscription(a_filter, session)

    def _matching_filters(self, topic: str) -> list[str]:
        """The filters with subscribers that match `topic`: its exact one, then wildcards."""
        found = [topic] if self._subscriptions.get(topic) else []
        for a_filter in self._wildcards:
            if a_filter in self._subscriptions and self._matches(topic, a_filter):
                found.append(a_filter)
        return found

    # --- amqtt's methods, without the walks -------------------------------------------

    async def _broadcast_message(
        self, session: Any, topic: str | None, data: Any, force_qos: int | None = None
    ) -> None:
        """Queue a message for routing, unless no filter can match it (a device report
        on the embedded broker: stored by the ingest gate, subscribed by nobody)."""
        if topic is not None and not self._matching_filters(topic):
            return
        await super()._broadcast_message(session, topic, data, force_qos)

    async def _handle_client_session(
        self,
        reader: Any,
        writer: Any,
        client_session: Any,
        handler: Any,
        server: Any,
        listener_name: str,
    ) -> None:
        """amqtt's, without sending the retained messages of every filter in the broker:
        a session taken up gets only what was queued for it while it was away."""
        listener = self.listeners_config[listener_name]
        authenticated = await self._authenticate(client_session, listener)
        if client_session.client_id is None:
            raise BrokerError("Client ID was not correctly created/set.")
        while True:
            try:
                client_session.transitions.connect()
                break
            except (MachineError, ValueError):
                if client_session.transitions.is_connected():  # a take-over
                    old_handler = self._sessions[client_session.client_id][1]
                    await old_handler.handle_connection_closed()
                    await old_handler.stop()
                    break
                await asyncio.sleep(1)  # reconnecting too quickly
        handler.attach(client_session, reader, writer)
        self._sessions[client_session.client_id] = (client_session, handler)
        await handler.mqtt_connack_authorize(authenticated)
        if not authenticated:
            await writer.close()
            return
        await self.plugins_manager.fire_event(
            BrokerEvents.CLIENT_CONNECTED,
            client_id=client_session.client_id,
            client_session=client_session,
        )
        await handler.start()
        await self._publish_session_retained_messages(client_session)
        await self._client_message_loop(client_session, handler)

    async def _run_broadcast(self, running_tasks: deque[asyncio.Task[Any]]) -> None:
        """Route one queued message to the subscribers whose filters match it."""
        broadcast = await self._broadcast_queue.get()
        topic = broadcast["topic"]
        for a_filter in self._matching_filters(topic):
            for target_session, sub_qos in list(self._subscriptions.get(a_filter, ())):
                qos = broadcast.get("qos", sub_qos)
                if not await self._topic_filtering(target_session, topic, Action.RECEIVE):
                    continue
                connected = target_session.transitions.state == "connected"
                if (
                    not connected
                    and not target_session.clean_session
                    and qos in (QOS_1, QOS_2)
                    and not target_session.is_anonymous
                ):
                    await self._retain_broadcast_message(broadcast, qos, target_session)
                    continue
                if not connected:
                    continue
                handler = self._get_handler(target_session)
                if handler:
                    publish = handler.mqtt_publish(topic, broadcast["data"], qos, retain=False)
                    running_tasks.append(asyncio.ensure_future(publish))

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Any
    ) -> None:
        """The retained messages matching a new subscription (an exact filter: the one
        retained message of its topic, if any)."""
        topic_filter, qos = subscription
        if has_wildcard(topic_filter):
            retained = [
                message
                for topic, message in self._retained_messages.items()
                if self._matches(topic, topic_filter)
            ]
        else:
            message = self._retained_messages.get(topic_filter)
            retained = [] if message is None else [message]
        handler = self._get_handler(session) if retained else None
        if handler is None:
            return
        await asyncio.wait(
            [
                asyncio.ensure_future(
                    handler.mqtt_publish(
                        message.topic, message.data, min(qos, message.qos or qos), retain=True
                    )
                )
                for message in retained
            ]
        )
