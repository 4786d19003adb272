"""Usage reporting: the durable outbox and the MQTT reporter (contracts §3, safety rule 3)."""
