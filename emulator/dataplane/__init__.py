"""The mobile gateway's data plane: real packets between a device's modem interface and
the emulated networks, forwarded, counted and cut by the kernel (network namespaces,
veth links, nftables), reconciled with the model's rules.

Modules: `naming` (instance, namespace and link names, the address plan), `system`
(privileges and tools), `links` (namespaces, links, addresses and routes via pyroute2),
`nft` (the gateway's ruleset, per-SIM counters and sets), `hosts` and `hostproc` (the
HTTP hosts of the internet and the closed networks), `topology` (building and removing an
instance's pieces) and `plane` (the `DataPlane` the HTTP layer drives, with its reconcile
loop). Nothing here is imported by the emulator unless `--data-plane` is asked for.
"""
