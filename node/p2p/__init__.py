"""The node's P2P layer: libp2p host, wire codec, request/response protocols, blob transfer, gossip."""
