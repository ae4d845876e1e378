"""Audit verdicts: check revealed units against a committed root, recompute them, compare.

Given the root the provider committed, the sampled indices (:mod:`verifier.sampling`), the units
the provider revealed (bytes + Merkle proof) and a ``recompute(index) -> Tensor`` callable that
re-executes one unit exactly as the provider was asked to, :func:`audit` returns a
:class:`Verdict` with one :class:`UnitEvidence` per sampled index:

- ``missing``: the provider did not reveal the unit (withholding fails the audit);
- ``bad_encoding``: the revealed dtype/shape is not a valid v1 encoding, or the bytes do not fit it;
- ``bad_proof``: the leaf built from *the requested index* and the revealed bytes does not reach the
  root (a root that does not match the bytes, another unit's bytes under this index, a proof
  longer than the tree is deep);
- ``mismatch``: the proof holds but the recomputed output differs beyond the tolerance
  (:func:`verifier.compare.compare`: bitwise equal passes, else scaled error ≤ tolerance, exact for
  integer dtypes);
- ``pass``.

A kind whose units are not recomputed bit for bit but checked against the revealed bytes (the
``llm`` kind: one teacher-forced pass over the committed tokens, :mod:`verifier.llm`) passes
``check(index, observed) -> Comparison`` instead of ``recompute``; the proof and encoding rules
are the same.

The verdict passes only if every sampled unit passes. Errors raised by ``recompute`` propagate:
a verifier that cannot recompute has no verdict to give, and must not blame the provider.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import torch

from verifier.commitment import data_hash, leaf_hash, meta_hash, process_proof
from verifier.compare import Comparison, compare
from verifier.errors import CommitmentError, InvalidArgument, VerifierError
from verifier.tensorbytes import tensor_from_bytes

UnitStatus = Literal["pass", "missing", "bad_proof", "mismatch", "bad_encoding"]


@dataclass(frozen=True)
class RevealedUnit:
    """One unit as revealed by the provider: its output encoding and its Merkle proof."""

    index: int
    dtype: str
    shape: tuple[int, ...]
    data: bytes
    proof: tuple[bytes, ...]


@dataclass(frozen=True)
class UnitEvidence:
    """What the audit found for one sampled unit.

    ``leaf`` is the leaf rebuilt from the requested index and the revealed bytes, ``proof`` the
    revealed proof and ``proof_root`` where it leads (all hex, ``""`` when unavailable);
    ``scaled_error`` is ``max|Δ|/max|expected|`` (``None`` if no comparison was made).
    """

    index: int
    status: UnitStatus
    detail: str
    scaled_error: float | None = None
    leaf: str = ""
    proof: tuple[str, ...] = ()
    proof_root: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (an infinite error becomes the string ``"inf"``)."""
        err: float | str | None = self.scaled_error
        if isinstance(err, float) and not math.isfinite(err):
            err = str(err)
        return {
            "index": self.index,
            "status": self.status,
            "detail": self.detail,
            "scaled_error": err,
            "leaf": self.leaf,
            "proof": list(self.proof),
            "proof_root": self.proof_root,
        }


@dataclass(frozen=True)
class Verdict:
    """The audit's outcome: ``passed`` iff every sampled unit passed; ``units`` in sampling order."""

    passed: bool
    root: str
    n_units: int
    tolerance: float
    units: list[UnitEvidence] = field(default_factory=list)

    @property
    def failures(self) -> list[UnitEvidence]:
        """The units that did not pass."""
        return [u for u in self.units if u.status != "pass"]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, e.g. for the evidence a verifier publishes."""
        return {
            "passed": self.passed,
            "root": self.root,
            "n_units": self.n_units,
            "tolerance": self.tolerance,
            "units": [u.as_dict() for u in self.units],
        }


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _check_unit(
    index: int,
    unit: RevealedUnit | None,
    *,
    root: bytes,
    depth: int,
    recompute: Callable[[int], torch.Tensor] | None,
    check: Callable[[int, torch.Tensor], Comparison] | None,
    tolerance: float,
) -> UnitEvidence:
    if unit is None:
        return UnitEvidence(index, "missing", "the provider did not reveal this unit")
    proof_hex = tuple(_hex(p) if isinstance(p, bytes) else repr(p) for p in unit.proof)
    try:
        meta = meta_hash(unit.dtype, unit.shape)
        if not isinstance(unit.data, bytes):
            raise InvalidArgument("data", f"expected bytes, got {type(unit.data).__name__}")
    except VerifierError as exc:
        return UnitEvidence(index, "bad_encoding", str(exc), proof=proof_hex)
    # The leaf is rebuilt with the index we asked for, never the one the provider claims.
    leaf = leaf_hash(index, meta, data_hash(unit.data))
    if len(unit.proof) > depth:
        return UnitEvidence(
            index,
            "bad_proof",
            f"proof has {len(unit.proof)} hashes, the tree is {depth} deep",
            leaf=_hex(leaf),
            proof=proof_hex,
        )
    try:
        reached = process_proof(leaf, unit.proof)
    except CommitmentError as exc:
        return UnitEvidence(index, "bad_proof", str(exc), leaf=_hex(leaf), proof=proof_hex)
    if reached != root:
        return UnitEvidence(
            index,
            "bad_proof",
            "the proof does not lead to the committed root",
            leaf=_hex(leaf),
            proof=proof_hex,
            proof_root=_hex(reached),
        )
    base = UnitEvidence(index, "pass", "", leaf=_hex(leaf), proof=proof_hex, proof_root=_hex(reached))
    try:
        observed = tensor_from_bytes(unit.dtype, unit.shape, unit.data)
    except VerifierError as exc:
        return replace(base, status="bad_encoding", detail=f"committed bytes do not decode: {exc}")
    expected: torch.Tensor | None = None
    if check is not None:
        result = check(index, observed)
    else:
        assert recompute is not None
        expected = recompute(index)
        result = compare(expected, observed, tolerance=tolerance)
    if result.passed:
        return replace(base, detail=result.reason, scaled_error=result.scaled_error)
    detail = f"{result.reason}: scaled error {result.scaled_error:.3g} > tolerance {tolerance:.3g}"
    if result.reason in ("shape", "dtype") and expected is not None:
        detail = (
            f"{result.reason} differs: expected {expected.dtype} {tuple(expected.shape)}, "
            f"revealed {unit.dtype} {tuple(unit.shape)}"
        )
    return replace(base, status="mismatch", detail=detail, scaled_error=result.scaled_error)


def audit(
    *,
    root: bytes,
    n_units: int,
    indices: Sequence[int],
    revealed: Mapping[int, RevealedUnit],
    recompute: Callable[[int], torch.Tensor] | None = None,
    tolerance: float,
    check: Callable[[int, torch.Tensor], Comparison] | None = None,
) -> Verdict:
    """Audit the sampled ``indices`` of a job committed under ``root`` with ``n_units`` units.

    ``revealed`` maps an index to what the provider sent for it (absent = withheld). Exactly one of
    ``recompute`` (recompute and :func:`~verifier.compare.compare`) and ``check`` is given.
    Raises :class:`InvalidArgument` for caller mistakes (bad root, index out of range, duplicates,
    no indices); every provider fault becomes a failing :class:`UnitEvidence` instead.
    """
    if not isinstance(root, bytes) or len(root) != 32:
        raise InvalidArgument("root", "must be 32 bytes")
    if isinstance(n_units, bool) or not isinstance(n_units, int) or n_units < 1:
        raise InvalidArgument("n_units", f"must be an integer >= 1, got {n_units!r}")
    if (recompute is None) == (check is None):
        raise InvalidArgument("check", "give exactly one of recompute and check")
    if not indices:
        raise InvalidArgument("indices", "an audit needs at least one sampled index")
    if len(set(indices)) != len(indices):
        raise InvalidArgument("indices", "sampled indices must be distinct")
    for i in indices:
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n_units:
            raise InvalidArgument("indices", f"{i!r} is not a unit index in [0, {n_units})")
    if not isinstance(tolerance, (int, float)) or not math.isfinite(tolerance) or tolerance < 0:
        raise InvalidArgument("tolerance", f"must be a finite number >= 0, got {tolerance!r}")
    depth = (n_units - 1).bit_length()  # levels above the leaves: ceil(log2 N)
    units = [
        _check_unit(
            i, revealed.get(i), root=root, depth=depth, recompute=recompute, check=check, tolerance=tolerance
        )
        for i in indices
    ]
    return Verdict(
        passed=all(u.status == "pass" for u in units),
        root=_hex(root),
        n_units=n_units,
        tolerance=float(tolerance),
        units=units,
    )
