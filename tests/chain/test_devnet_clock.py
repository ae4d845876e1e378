"""Devnet clock after a snapshot revert: Anvil rewinds it; Chain.revert puts it back on the wall clock."""

from __future__ import annotations

import time

from node.chain.chain import Chain


def test_revert_resyncs_a_lagging_clock(chain: Chain) -> None:
    snapshot = chain.snapshot()
    time.sleep(3)  # work inside the snapshot that the revert will undo (Anvil also undoes its clock)
    chain.mine()
    chain.revert(snapshot)
    chain.mine()
    lag = time.time() - chain.client.timestamp()
    assert lag < 2, f"after a revert the devnet clock lags the wall clock by {lag:.1f} s"


def test_revert_keeps_a_clock_moved_ahead(chain: Chain) -> None:
    snapshot = chain.snapshot()
    ahead = chain.increase_time(3600)
    inner = chain.snapshot()
    chain.mine()
    chain.revert(inner)
    chain.mine()
    assert chain.client.timestamp() >= ahead, "a clock moved ahead must not be pulled back to the wall clock"
    chain.revert(snapshot)
