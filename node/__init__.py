"""The ccm peer: P2P host and protocols, chain client, local store, capacity probe, workloads, roles, CLI."""
