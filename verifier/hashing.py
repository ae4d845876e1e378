"""keccak256, alone: importable without torch (the spec layer hashes specs with it).

:mod:`verifier.commitment` re-exports it; it is the one keccak of the proof system.
"""

from __future__ import annotations

from sha3 import keccak_256  # safe-pysha3: keccak in C, ~0.8 µs a call against ~3.7 µs via eth-hash


def keccak(data: bytes) -> bytes:
    """Ethereum's keccak256 (not NIST SHA3-256). The one keccak of the proof system: a Merkle tree
    of N units makes about 2N calls, and an audit's proofs about k·log₂N, so its per-call cost shows."""
    return keccak_256(data).digest()
