"""Checking a generated sequence against one teacher-forced forward pass (the ``llm`` kind's audit).

What a provider commits to per sequence is a float32 tensor ``(T, 1 + 2k)``: for each of the T
generated positions the generated token id, then the ids of the k largest logits, then those k
logits (ids are exact in float32 below 2^24). A verifier runs the model once over prompt +
generated tokens (teacher forcing: no generation, no KV cache), keeps the logits at the T
generated positions (``logits``, ``(T, V)``) and calls :func:`check_sequence`, which requires, at
every position with ``τ = tolerance · max(1, max|logit|)`` (the recomputed logits' own scale):

1. a well-formed row: finite, integral ids in ``[0, V)``, k distinct ids, values non-increasing;
2. every committed top-k value within τ of the recomputed logit of its id (``"topk_values"``);
3. no other logit more than τ above the smallest committed one: the committed ids are a top-k
   (``"topk_incomplete"``);
4. greedy: the committed top-1 is the committed token, and the recomputed maximum minus the
   recomputed logit of the token is ≤ τ (``"token"``). Seeded sampling: the same with the
   perturbed scores ``logit / temperature + gumbel`` (the noise comes from the job's seed, so the
   token is a function of the seed and the distribution) and ``τ / temperature``.

Ties: greedy picks the provider's own argmax. Where two logits are within τ of each other the
provider's and the verifier's argmax may differ honestly (bf16 reruns flip 4–8 of 256 tokens whose
top-2 margin is 0), so rule 4 accepts any token within τ of the maximum; because the verifier
conditions on the provider's tokens, a flip does not make the rest of the sequence diverge. Where
the margin exceeds τ only the argmax passes. ``scaled_error`` is the largest of rule 2's and rule
4's distances in units of the position's scale. Pure torch: no transformers here.
"""

from __future__ import annotations

import math

import torch

from verifier.compare import Comparison
from verifier.errors import InvalidArgument

MAX_VOCAB = 1 << 24


def row_width(top_k: int) -> int:
    """Columns of a committed row for ``top_k``: token, k ids, k values."""
    return 1 + 2 * top_k


def _fail(reason: str, scaled: float = math.inf) -> Comparison:
    return Comparison(False, False, scaled, math.inf, reason)


def check_sequence(
    logits: torch.Tensor,
    committed: torch.Tensor,
    *,
    tolerance: float,
    temperature: float | None = None,
    noise: torch.Tensor | None = None,
) -> Comparison:
    """Check one committed sequence ``(T, 1+2k)`` against recomputed ``logits`` ``(T, V)`` (rules above).

    ``temperature`` and ``noise`` (``(T, V)`` Gumbel noise) are given for seeded sampling, neither
    for greedy. Returns a :class:`~verifier.compare.Comparison`; reasons: ``"within_tolerance"``,
    ``"shape"``, ``"malformed"``, ``"topk_values"``, ``"topk_incomplete"``, ``"token"``.
    """
    if not isinstance(tolerance, (int, float)) or not math.isfinite(tolerance) or tolerance < 0:
        raise InvalidArgument("tolerance", f"must be a finite number >= 0, got {tolerance!r}")
    if logits.dim() != 2:
        raise InvalidArgument("logits", f"expected (T, V), got {tuple(logits.shape)}")
    if (temperature is None) != (noise is None):
        raise InvalidArgument("noise", "give temperature and noise together (sampling) or neither (greedy)")
    steps, vocab = logits.shape
    cols = committed.shape[-1] if committed.dim() == 2 else 0
    if committed.dim() != 2 or committed.shape[0] != steps or cols < 3 or cols % 2 == 0:
        return _fail("shape")
    k = (cols - 1) // 2
    c = committed.detach().to("cpu", torch.float64)
    # The (T, V) logits stay float32 (max, gather, scatter are exact in it); the differences are
    # taken in float64 on the small gathered results.
    r = logits.detach().to("cpu", torch.float32)
    if not bool(torch.isfinite(c).all()):
        return _fail("malformed")
    ids = c[:, : 1 + k]
    if bool((ids != ids.round()).any()) or float(ids.min()) < 0 or float(ids.max()) >= min(vocab, MAX_VOCAB):
        return _fail("malformed")
    ids_l = ids.long()
    token, idx, vals = ids_l[:, 0], ids_l[:, 1:], c[:, 1 + k :]
    if k > 1:
        s = idx.sort(dim=1).values
        if bool((s[:, 1:] == s[:, :-1]).any()) or bool((vals[:, 1:] > vals[:, :-1]).any()):
            return _fail("malformed")
    if not bool(torch.isfinite(r).all()):
        return _fail("malformed")  # the verifier's own logits: a model that overflows is not checkable
    top = r.amax(dim=1).double()
    scale = r.abs().amax(dim=1).double().clamp(min=1.0)
    tau = tolerance * scale
    val_err = (vals - r.gather(1, idx).double()).abs().amax(dim=1)
    if bool((val_err > tau).any()):
        return _fail("topk_values", float((val_err / scale).max()))
    if k < vocab:
        rest = r.scatter(1, idx, -math.inf).amax(dim=1).double()
        if bool((rest > vals[:, -1] + tau).any()):
            return _fail("topk_incomplete", float(((rest - vals[:, -1]) / scale).max()))
    if temperature is None:
        if bool((idx[:, 0] != token).any()):
            return _fail("token")
        gap = top - r.gather(1, token[:, None])[:, 0].double()
        limit = tau
    else:
        assert noise is not None
        if tuple(noise.shape) != (steps, vocab):
            raise InvalidArgument("noise", f"expected {(steps, vocab)}, got {tuple(noise.shape)}")
        scores = r.double() / temperature + noise.detach().to("cpu", torch.float64)
        gap = scores.amax(dim=1) - scores.gather(1, token[:, None])[:, 0]
        limit = tau / temperature
    scaled = float(torch.maximum(val_err / scale, gap / scale).max()) if steps else 0.0
    if bool((gap > limit).any()):
        return _fail("token", scaled)
    return Comparison(True, False, scaled, float(val_err.max()) if steps else 0.0, "within_tolerance")
