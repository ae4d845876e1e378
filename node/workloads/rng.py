"""Seeded tensors that every node regenerates bit for bit, on any device and torch version.

Why not ``torch.randn``: torch's CPU generator and its distribution code are not promised to be
stable across releases, and a CUDA generator gives different numbers again. A job's inputs must
be the same bytes for the provider and every verifier, so v1 defines them itself:

    key    = SHA-256(b"ccm-rng-v1|" + decimal(seed) + b"|" + label)          (256-bit entropy)
    stream = numpy SFC64(SeedSequence(key)).random_raw(count)                (uint64; NumPy keeps
                                                                              bit generator streams stable)
    value  = (int64(stream) >> 40) / 2**23     (arithmetic shift: the top 24 bits, signed) in [-1, 1),
                                               exact in float32

Values are made in float32 on the CPU (exact: 24 bits), then cast to the job dtype and moved to
the device. Labels name what is generated (``"a/3"`` is row block 3 of matrix A), so a verifier
regenerates only the pieces that a unit needs. SFC64 gives ~500 M words/s here.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

_HALF = 1 << 23


def _raw(seed: int, label: str, count: int) -> np.ndarray:
    key = hashlib.sha256(b"ccm-rng-v1|" + str(seed).encode() + b"|" + label.encode()).digest()
    bits = np.random.SFC64(np.random.SeedSequence(int.from_bytes(key, "big")))
    return bits.random_raw(count)


def uniform(seed: int, label: str, shape: tuple[int, ...], *, scale: float = 1.0) -> torch.Tensor:
    """A float32 CPU tensor of ``shape`` with values in ``[-scale, scale)`` (see the module docstring)."""
    count = 1
    for d in shape:
        count *= d
    words = torch.from_numpy(_raw(seed, label, count).view(np.int64))
    values = (words >> 40).to(torch.float32).mul_(scale / _HALF)
    return values.reshape(shape)


def integers(seed: int, label: str, shape: tuple[int, ...], *, high: int) -> torch.Tensor:
    """An int64 CPU tensor of ``shape`` with values in ``[0, high)`` (raw words modulo ``high``)."""
    count = 1
    for d in shape:
        count *= d
    raw = _raw(seed, label, count)
    return torch.from_numpy((raw % np.uint64(high)).astype(np.int64)).reshape(shape)
