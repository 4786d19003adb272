"""The Mono Platform (001 §50-§60) by aggregate: `projects` (and the platform contract),
`devices` (SIM resources and device IDs), `messages` (typed objects to and from devices),
`adapters` (service adapters: webhooks), `files` (file send/receive), `outbox` (durable
deliveries), tied together by `service.Platform`. Free of HTTP and MQTT."""
