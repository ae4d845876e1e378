"""The node's SQLite store: CRUD, WAL, migrations, crash safety with a killed process, concurrency."""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from node.capacity.verified import CapacityRecord
from node.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Audit,
    BlobInfo,
    ClaimOrder,
    Commitment,
    Job,
    Offer,
    Store,
    StoreError,
    migrate,
)

ROOT = Path(__file__).resolve().parents[2]


def _job(job_id: str, status: str = "accepted", price: int = 5) -> Job:
    return Job(job_id=job_id, role="provider", kind="matmul", spec_hash="0x" + "ab" * 32,
               spec_json='{"kind":"matmul"}', status=status, peer_id="12D3KooWpeer", price=price)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path)
    yield s
    s.close()


def test_new_database_is_wal_and_current(store: Store, tmp_path: Path) -> None:
    assert store.path == tmp_path / "node.db"
    assert store.journal_mode == "wal"
    assert store.schema_version == SCHEMA_VERSION


def test_jobs_crud_and_big_money(store: Store) -> None:
    big = 2**200  # uint256-sized amounts survive: money is stored as decimal text
    stored = store.put_job(_job("7", price=big))
    assert stored.price == big and stored.created_at > 0
    store.put_job(_job("8", status="done"))
    store.set_job_status("7", "committed")
    got = store.get_job("7")
    assert got is not None and got.status == "committed" and got.created_at == stored.created_at
    assert [j.job_id for j in store.list_jobs(statuses=["committed", "accepted"])] == ["7"]
    assert [j.job_id for j in store.list_jobs(role="provider")] == ["7", "8"]
    assert store.list_jobs(role="consumer") == []
    with pytest.raises(StoreError, match="unknown job 9"):
        store.set_job_status("9", "x")
    with pytest.raises(StoreError, match="price"):
        store.put_job(_job("10", price=-1))
    with pytest.raises(StoreError, match="rejected write"):
        store.put_job(Job("11", "landlord", "matmul", "h", "{}", "new"))
    assert store.delete_job("8") and not store.delete_job("8")
    assert store.get_job("8") is None


def test_commitments_round_trip_and_cascade(store: Store) -> None:
    store.put_job(_job("1"))
    leaves = tuple(bytes([i]) * 32 for i in range(5))
    store.put_commitment(Commitment("1", b"\x01" * 32, leaves, tx_hash="0xfeed"))
    got = store.get_commitment("1")
    assert got is not None and got.leaves == leaves and got.root == b"\x01" * 32 and got.n_units == 5
    with pytest.raises(StoreError):
        store.put_commitment(Commitment("1", b"\x01" * 31, leaves))
    with pytest.raises(StoreError):
        store.put_commitment(Commitment("1", b"\x01" * 32, ()))
    with pytest.raises(StoreError, match="rejected write"):  # no such job: foreign key
        store.put_commitment(Commitment("404", b"\x01" * 32, leaves))
    store.delete_job("1")
    assert store.get_commitment("1") is None


def test_offers_blobs_audits(store: Store) -> None:
    store.put_offer(Offer("o1", "p1", "0xA", 30, "{}", expires_at=2_000))
    store.put_offer(Offer("o2", "p2", "0xB", 10, "{}", expires_at=2_000))
    store.put_offer(Offer("o3", "p3", "0xC", 1, "{}", expires_at=1_000))
    assert [o.offer_id for o in store.live_offers(now=1_500)] == ["o2", "o1"]
    assert store.prune_offers(now=1_500) == 1
    assert store.live_offers(now=2_000) == []

    store.put_blob(BlobInfo("h1", 10, "blobs/h1", kind="input", job_id="1"))
    store.put_blob(BlobInfo("h1", 10, "blobs/h1", kind="input", job_id="1", complete=True))
    store.put_blob(BlobInfo("h2", 0, "blobs/h2"))
    b = store.get_blob("h1")
    assert b is not None and b.complete and b.job_id == "1"
    assert [x.hash for x in store.list_blobs(job_id="1")] == ["h1"]
    assert len(store.list_blobs()) == 2
    assert store.delete_blob("h2") and store.get_blob("h2") is None

    store.put_audit(Audit("1", "0xV", "drawn", seed="0x01", indices=(3, 1)))
    store.put_audit(Audit("1", "0xV", "attested", seed="0x01", indices=(3, 1), verdict="pass"))
    a = store.get_audit("1", "0xV")
    assert a is not None and a.verdict == "pass" and a.indices == (3, 1)
    assert store.list_audits(status="drawn") == []
    assert len(store.list_audits()) == 1


def _rec(peer: str, cid: str, passed: bool, achieved: int, reason: str = "") -> CapacityRecord:
    return CapacityRecord(peer, cid, 256, 1000, achieved, correct=passed, in_time=True, passed=passed,
                          reason=reason)


def test_capacity_results_and_verified_figure(store: Store) -> None:
    assert store.verified_figure("p").label == "unverified"
    assert store.verified_figure("p").rank_value == -1
    store.add_capacity_result(_rec("p", "c1", True, 900))
    store.add_capacity_result(_rec("p", "c2", True, 700))
    store.add_capacity_result(_rec("p", "c3", True, 800))
    with pytest.raises(StoreError):  # one result per challenge
        store.add_capacity_result(_rec("p", "c3", True, 800))
    fig = store.verified_figure("p")
    assert fig.verified_gflops == 800 and fig.passed == 3 and fig.rank_value == 800 and not fig.failed
    store.add_capacity_result(_rec("p", "c4", False, 0, reason="wrong result"))
    fig = store.verified_figure("p")
    assert fig.failed and fig.rank_value == 0 and "FAILED: wrong result" == fig.label
    assert [r.challenge_id for r in store.capacity_results("p", limit=2)] == ["c4", "c3"]
    assert store.challenged_peers() == ["p"]


def _order(order_hash: str, *, series: str = "1", seller: str = "0xSeLLer", received_at: float = 0.0,
           published_at: float | None = None) -> ClaimOrder:
    return ClaimOrder(order_hash, 31337, "0xClaims", seller, series, "10", "5", "0", "99", b"\x01" * 65,
                      "local", received_at=received_at, published_at=published_at)


def _hashes(store: Store, *, series_id: int | None = None, seller: str | None = None,
            unpublished: bool = False) -> list[str]:
    orders = store.claim_orders(chain_id=31337, contract="0xclaims", series_id=series_id, seller=seller,
                                unpublished=unpublished)
    return [o.order_hash for o in orders]


def test_claim_orders(store: Store) -> None:
    assert store.add_claim_order(_order("0x01", received_at=1.0))
    assert not store.add_claim_order(_order("0x01", series="2"))  # first copy wins
    other = _order("0x02", series="2", seller="0xOther", received_at=2.0, published_at=2.0)
    assert store.add_claim_order(other)
    got = store.get_claim_order("0x01")
    assert got is not None and got.series_id == "1" and got.contract == "0xclaims"
    assert got.signature == b"\x01" * 65 and got.source == "local" and got.received_at == 1.0
    assert got.published_at is None
    assert store.get_claim_order("0x03") is None
    assert [o.order_hash for o in store.claim_orders(chain_id=31337, contract="0xCLAIMS")] == ["0x01", "0x02"]
    assert _hashes(store, series_id=2) == ["0x02"]
    assert _hashes(store, seller="0xseller") == ["0x01"]
    assert store.claim_orders(chain_id=1, contract="0xclaims") == []
    assert _hashes(store, unpublished=True) == ["0x01"]
    store.mark_claim_orders_published(["0x01"], at=5.0)
    published = store.get_claim_order("0x01")
    assert published is not None and published.published_at == 5.0
    assert _hashes(store, unpublished=True) == []
    assert store.delete_claim_orders(["0x01", "0x03"]) == 1
    assert _hashes(store) == ["0x02"]
    short_signature = ClaimOrder("0x09", 1, "0xc", "0xs", "1", "1", "1", "0", "9", b"\x01" * 64, "local")
    # The schema checks the signature length; OR IGNORE turns the violation into "not added".
    assert not store.add_claim_order(short_signature)
    assert store.get_claim_order("0x09") is None


def test_transaction_is_all_or_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.put_job(_job("a"))
            store.put_job(_job("b"))
            raise RuntimeError("boom")
    assert store.list_jobs() == []
    with store.transaction():
        store.put_job(_job("a"))
        store.put_commitment(Commitment("a", b"\x00" * 32, (b"\x02" * 32,)))
    assert store.get_commitment("a") is not None


def test_migration_from_an_empty_file_and_stepwise(tmp_path: Path) -> None:
    db = tmp_path / "node.db"
    db.write_bytes(b"")
    with Store.open(db) as s:
        assert s.schema_version == SCHEMA_VERSION
        s.put_job(_job("1"))
    # A version-1 database with data is upgraded in place and keeps its rows.
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old, isolation_level=None)
    assert migrate(conn, target=1) == 1
    conn.execute("INSERT INTO jobs VALUES ('j', 'consumer', 'matmul', 'h', '{}', '', 'new', '3', '', 1, 1)")
    conn.close()
    with Store.open(old) as s:
        assert s.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
        job = s.get_job("j")
        assert job is not None and job.price == 3 and job.attempts == 0
        s.add_capacity_result(_rec("p", "c", True, 1))


def test_job_attempts_count_up_and_survive_rewrites(tmp_path: Path) -> None:
    with Store.open(tmp_path) as s:
        s.put_job(_job("7"))
        assert [s.add_job_attempt("7") for _ in range(3)] == [1, 2, 3]
        s.set_job_status("7", "computed")
        s.put_job(dataclasses.replace(_job("7"), status="accepted"))  # a rewrite keeps the count
        stored = s.get_job("7")
        assert stored is not None and stored.attempts == 3
        with pytest.raises(StoreError, match="unknown job"):
            s.add_job_attempt("8")


# The table as node.claims.book created it outside the numbered migrations (schema version 2).
_V2_CLAIM_ORDERS = """CREATE TABLE IF NOT EXISTS claim_orders (
    order_hash TEXT PRIMARY KEY, chain_id INTEGER NOT NULL, contract TEXT NOT NULL, seller TEXT NOT NULL,
    series_id TEXT NOT NULL, amount TEXT NOT NULL, price_per_token TEXT NOT NULL, nonce TEXT NOT NULL,
    expiry TEXT NOT NULL, signature BLOB NOT NULL CHECK (length(signature) = 65),
    source TEXT NOT NULL CHECK (source IN ('local', 'gossip', 'peer')), received_at REAL NOT NULL,
    published_at REAL)"""


def test_migration_from_version_2_keeps_the_claim_orders(tmp_path: Path) -> None:
    # A version-2 node that had used the claims book: the table exists with rows and is adopted.
    used = tmp_path / "used.db"
    conn = sqlite3.connect(used, isolation_level=None)
    assert migrate(conn, target=2) == 2
    conn.execute(_V2_CLAIM_ORDERS)
    conn.execute("CREATE INDEX claim_orders_series ON claim_orders (chain_id, contract, series_id)")
    conn.execute(
        "INSERT INTO claim_orders VALUES"
        " ('0xaa', 31337, '0xc', '0xS', '7', '3', '2', '0', '99', ?, 'gossip', 1.5, NULL)",
        (b"\x02" * 65,),
    )
    conn.close()
    with Store.open(used) as s:
        assert s.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
        kept = s.get_claim_order("0xaa")
        assert kept is not None and kept.series_id == "7" and kept.source == "gossip"
        assert kept.published_at is None and kept.signature == b"\x02" * 65
        outbox = s.claim_orders(chain_id=31337, contract="0xC", unpublished=True)
        assert [o.order_hash for o in outbox] == ["0xaa"]
    # A version-2 node that never used it: the table is created by the migration.
    fresh = tmp_path / "fresh.db"
    conn = sqlite3.connect(fresh, isolation_level=None)
    assert migrate(conn, target=2) == 2
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'claim_orders'").fetchall() == []
    conn.close()
    with Store.open(fresh) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.add_claim_order(_order("0x01"))
        assert s.get_claim_order("0x01") is not None


def test_refuses_newer_schema_and_garbage(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this node"):
        Store.open(db)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"junk\.db"):
        Store.open(junk)


def test_closed_store_refuses_use(tmp_path: Path) -> None:
    s = Store.open(tmp_path)
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.get_job("1")


_WRITER = """
import sys
from node.store import Commitment, Job, Store
s = Store.open(sys.argv[1])
i = 0
while True:
    with s.transaction():
        s.put_job(Job(str(i), "provider", "matmul", "h", "{}", "committed"))
        s.put_commitment(Commitment(str(i), bytes(32), tuple(bytes([i % 256]) * 32 for _ in range(64))))
    print(i, flush=True)
    i += 1
"""


def test_killed_writer_loses_nothing_committed(tmp_path: Path) -> None:
    db = tmp_path / "node.db"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(db)], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout is not None
        acknowledged = [int(proc.stdout.readline()) for _ in range(40)]
        proc.send_signal(signal.SIGKILL)  # mid-write: the loop never pauses
    finally:
        proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    with Store.open(db) as s:
        assert s._conn().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        jobs = {j.job_id for j in s.list_jobs()}
        assert {str(i) for i in acknowledged} <= jobs
        for job_id in jobs:  # every job that exists has its whole commitment: no half transaction
            c = s.get_commitment(job_id)
            assert c is not None and c.n_units == 64


def test_readers_are_not_blocked_by_an_open_write(store: Store) -> None:
    store.put_job(_job("old"))
    entered, release = threading.Event(), threading.Event()

    def writer() -> None:
        with store.transaction():
            store.put_job(_job("new"))
            entered.set()
            release.wait(10)

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert entered.wait(10)
        seen = [j.job_id for j in store.list_jobs()]  # another thread, another connection
        assert seen == ["old"]
    finally:
        release.set()
        t.join(10)
    assert {j.job_id for j in store.list_jobs()} == {"old", "new"}


async def test_concurrent_readers_from_trio_threads(store: Store) -> None:
    """The documented rule: trio code calls the store through ``trio.to_thread.run_sync``."""
    counts: list[list[int]] = [[] for _ in range(4)]

    async def write_many() -> None:
        for i in range(30):
            await trio.to_thread.run_sync(store.put_job, _job(f"w{i:02}"))

    async def read_many(k: int) -> None:
        for _ in range(30):
            jobs = await trio.to_thread.run_sync(store.list_jobs)
            counts[k].append(len(jobs))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(write_many)
        for k in range(4):
            nursery.start_soon(read_many, k)
    assert len(await trio.to_thread.run_sync(store.list_jobs)) == 30
    for seq in counts:  # each reader sees a growing, never torn, set of committed jobs
        assert seq == sorted(seq) and all(0 <= c <= 30 for c in seq)


def test_secrets_are_kept_under_their_commitment_across_reopen(tmp_path: Path) -> None:
    """Audit secrets and ballot salts outlive a crash: kept before their commitment goes on chain."""
    path = tmp_path / "node.db"
    first, second = b"\x01" * 32, b"\x02" * 32
    with Store.open(path) as s:
        s.put_secret(b"\xaa" * 32, first, job_id="7", purpose="provider")
        s.put_secret(b"\xaa" * 32, second, job_id="7", purpose="provider")  # same commitment: first kept
        s.put_secret(b"\xbb" * 32, second, job_id="7", purpose="ballot")
    with Store.open(path) as s:
        assert s.secret_for(b"\xaa" * 32) == first
        assert s.secret_for(b"\xcc" * 32) is None
        assert s.secrets_of("7", "provider") == [(b"\xaa" * 32, first)]
        assert s.secrets_of("7", "ballot") == [(b"\xbb" * 32, second)]
        assert s.secrets_of("8", "provider") == []
