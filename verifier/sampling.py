"""Challenge derivation: which units a verifier checks (v1).

For j = 0, 1, 2, …: ``x = uint256(keccak256(abi.encode(bytes32 seed, uint256 jobId, uint256 j))) % N``,
skipping values already drawn, until ``k`` distinct indices are drawn (``k ≤ N``). The seed is
fixed on chain after the provider has committed its root, so the provider cannot predict the draw.
The result is a uniformly random k-subset (up to the negligible modulo bias of 2^256 mod N), which
is what the hypergeometric detection math in :mod:`verifier.detection` assumes.

Cost: with k close to N the rejection loop needs about N·H(N) hashes (coupon collector); at
N = 100,000 and k = N that is ~1.2 million keccaks, so callers should keep k well below N
(:func:`verifier.detection.plan_samples` gives the k that is needed).
"""

from __future__ import annotations

from verifier.errors import InvalidArgument
from verifier.hashing import keccak

_UINT256_MAX = (1 << 256) - 1


def sample_indices(seed: bytes, job_id: int, n_units: int, k: int) -> list[int]:
    """The k distinct unit indices in ``[0, n_units)`` to audit, in draw order."""
    if not isinstance(seed, (bytes, bytearray)) or len(seed) != 32:
        raise InvalidArgument("seed", "must be 32 bytes")
    for name, value in (("job_id", job_id), ("n_units", n_units), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _UINT256_MAX:
            raise InvalidArgument(name, f"must be an unsigned 256-bit integer, got {value!r}")
    if n_units < 1:
        raise InvalidArgument("n_units", "must be at least 1")
    if k > n_units:
        raise InvalidArgument("k", f"{k} exceeds the number of units {n_units}")
    prefix = bytes(seed) + job_id.to_bytes(32, "big")
    drawn: list[int] = []
    seen: set[int] = set()
    j = 0
    while len(drawn) < k:
        x = int.from_bytes(keccak(prefix + j.to_bytes(32, "big")), "big") % n_units
        if x not in seen:
            seen.add(x)
            drawn.append(x)
        j += 1
    return drawn
