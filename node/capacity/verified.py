"""The per-peer "verified figure": what capacity challenges showed, as opposed to what was claimed.

Pure logic and torch-free, so that the store and the offers table can use it cheaply.

Aggregation rule (documented because consumers rank offers by it): over a peer's most recent
:data:`WINDOW` results, the verified figure is the median achieved GFLOP/s of the *passing* ones;
if the most recent result failed, the peer is marked ``failed`` and its rank value is 0 until it
passes again, whatever it achieved before. A peer never challenged has no verified figure (``None``)
and ranks below every verified peer.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

WINDOW = 10


@dataclass(frozen=True)
class CapacityRecord:
    """One judged capacity challenge of one peer, as kept in the store (figures in GFLOP/s, fp32)."""

    peer_id: str
    challenge_id: str
    n: int
    advertised_gflops: int
    achieved_gflops: int
    correct: bool
    in_time: bool
    passed: bool
    reason: str = ""
    created_at: float = 0.0


@dataclass(frozen=True)
class VerifiedFigure:
    """Aggregate of a peer's challenge results (see the module docstring for the rule)."""

    peer_id: str
    challenges: int
    passed: int
    verified_gflops: int | None
    advertised_gflops: int | None
    last_passed: bool | None
    last_reason: str

    @property
    def failed(self) -> bool:
        """True when the most recent challenge failed: shown plainly next to the offer."""
        return self.last_passed is False

    @property
    def rank_value(self) -> int:
        """Verified GFLOP/s to rank offers by: 0 if the last challenge failed, -1 if never challenged."""
        if self.last_passed is None:
            return -1
        if self.failed or self.verified_gflops is None:
            return 0
        return self.verified_gflops

    @property
    def label(self) -> str:
        """A short human text: ``"812 GFLOP/s (3/3 passed)"``, ``"FAILED: late answer"``, ``"unverified"``."""
        if self.last_passed is None:
            return "unverified"
        if self.failed:
            return f"FAILED: {self.last_reason}" if self.last_reason else "FAILED"
        return f"{self.verified_gflops} GFLOP/s ({self.passed}/{self.challenges} passed)"


def verified_figure(peer_id: str, records: Sequence[CapacityRecord]) -> VerifiedFigure:
    """Aggregate ``records`` (newest first, as the store returns them) into a :class:`VerifiedFigure`."""
    recent = list(records[:WINDOW])
    if not recent:
        return VerifiedFigure(peer_id, 0, 0, None, None, None, "")
    passing = [r.achieved_gflops for r in recent if r.passed]
    verified = int(statistics.median(passing)) if passing else None
    return VerifiedFigure(
        peer_id=peer_id,
        challenges=len(recent),
        passed=len(passing),
        verified_gflops=verified,
        advertised_gflops=recent[0].advertised_gflops,
        last_passed=recent[0].passed,
        last_reason=recent[0].reason,
    )
