"""The node's local state: one SQLite database per node (``<home>/node.db``) in WAL mode.

What lives here: jobs (any role), offers seen on the network, Merkle commitments (root and leaves),
blob metadata, audits, capacity challenge results per peer, and signed claim sell orders. State is in
the database, never only in memory, so a node that is killed and restarted resumes from what it finds
here.

Durability: WAL journal with ``synchronous=FULL``; every write is one transaction (``BEGIN
IMMEDIATE`` … ``COMMIT``), so a crash at any instant loses nothing that was committed and leaves
nothing half-written. Several writes that belong together go in one :meth:`Store.transaction`.

Schema: versioned with ``PRAGMA user_version``; :data:`MIGRATIONS` are applied in order, each in its
own transaction, when a store is opened (an empty or new file becomes the current schema). A file
from a newer node is refused rather than guessed at.

Threads and trio (the rule): a :class:`Store` may be shared by threads; each thread gets its own
SQLite connection (created on first use, closed by :meth:`Store.close`). SQLite calls block, so trio
code calls the store through a worker thread, ``await trio.to_thread.run_sync(store.get_job, job_id)``,
never directly on the event loop. WAL lets readers run while one writer writes; writers wait for
each other up to ``busy_timeout``.

Money and chain ids: integers that may exceed 64 bits (token amounts, uint256 job ids) are stored as
decimal TEXT and returned as Python ``int``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.capacity.verified import CapacityRecord, VerifiedFigure, verified_figure
from node.errors import CcmError


class StoreError(CcmError):
    """The local database is unreadable, from a newer node, or a write broke a constraint."""


DB_FILE = "node.db"
BUSY_TIMEOUT_MS = 10_000

# Each entry moves the schema from version i to i + 1. Append only; never edit a released entry.
MIGRATIONS: tuple[str, ...] = (
    # 1: jobs, offers, commitments, blobs, audits
    """
    CREATE TABLE jobs (
        job_id      TEXT PRIMARY KEY,
        role        TEXT NOT NULL CHECK (role IN ('provider', 'consumer', 'verifier')),
        kind        TEXT NOT NULL,
        spec_hash   TEXT NOT NULL,
        spec_json   TEXT NOT NULL,
        peer_id     TEXT NOT NULL DEFAULT '',
        status      TEXT NOT NULL,
        price       TEXT NOT NULL DEFAULT '0',
        error       TEXT NOT NULL DEFAULT '',
        created_at  REAL NOT NULL,
        updated_at  REAL NOT NULL
    );
    CREATE INDEX jobs_status ON jobs (status);
    CREATE TABLE offers (
        offer_id        TEXT PRIMARY KEY,
        peer_id         TEXT NOT NULL,
        address         TEXT NOT NULL,
        price_per_unit  TEXT NOT NULL,
        body_json       TEXT NOT NULL,
        expires_at      INTEGER NOT NULL,
        received_at     REAL NOT NULL
    );
    CREATE INDEX offers_peer ON offers (peer_id);
    CREATE TABLE commitments (
        job_id      TEXT PRIMARY KEY REFERENCES jobs (job_id) ON DELETE CASCADE,
        root        BLOB NOT NULL CHECK (length(root) = 32),
        n_units     INTEGER NOT NULL CHECK (n_units > 0),
        leaves      BLOB NOT NULL CHECK (length(leaves) = 32 * n_units),
        tx_hash     TEXT NOT NULL DEFAULT '',
        created_at  REAL NOT NULL
    );
    CREATE TABLE blobs (
        hash        TEXT PRIMARY KEY,
        size        INTEGER NOT NULL CHECK (size >= 0),
        path        TEXT NOT NULL,
        kind        TEXT NOT NULL DEFAULT '',
        job_id      TEXT,
        complete    INTEGER NOT NULL DEFAULT 0,
        created_at  REAL NOT NULL
    );
    CREATE TABLE audits (
        job_id      TEXT NOT NULL,
        auditor     TEXT NOT NULL,
        seed        TEXT NOT NULL DEFAULT '',
        indices     TEXT NOT NULL DEFAULT '[]',
        status      TEXT NOT NULL,
        verdict     TEXT NOT NULL DEFAULT '',
        detail      TEXT NOT NULL DEFAULT '',
        created_at  REAL NOT NULL,
        updated_at  REAL NOT NULL,
        PRIMARY KEY (job_id, auditor)
    );
    """,
    # 2: capacity challenge results per peer
    """
    CREATE TABLE capacity_results (
        id                  INTEGER PRIMARY KEY AUTOINCREMENT,
        peer_id             TEXT NOT NULL,
        challenge_id        TEXT NOT NULL,
        n                   INTEGER NOT NULL,
        advertised_gflops   INTEGER NOT NULL,
        achieved_gflops     INTEGER NOT NULL,
        correct             INTEGER NOT NULL,
        in_time             INTEGER NOT NULL,
        passed              INTEGER NOT NULL,
        reason              TEXT NOT NULL DEFAULT '',
        created_at          REAL NOT NULL,
        UNIQUE (peer_id, challenge_id)
    );
    CREATE INDEX capacity_results_peer ON capacity_results (peer_id, id);
    """,
    # 3: signed claim sell orders (node.claims.book). IF NOT EXISTS: nodes before this migration
    # created the same table outside the numbered schema, and their rows are kept as they are.
    """
    CREATE TABLE IF NOT EXISTS claim_orders (
        order_hash      TEXT PRIMARY KEY,
        chain_id        INTEGER NOT NULL,
        contract        TEXT NOT NULL,
        seller          TEXT NOT NULL,
        series_id       TEXT NOT NULL,
        amount          TEXT NOT NULL,
        price_per_token TEXT NOT NULL,
        nonce           TEXT NOT NULL,
        expiry          TEXT NOT NULL,
        signature       BLOB NOT NULL CHECK (length(signature) = 65),
        source          TEXT NOT NULL CHECK (source IN ('local', 'gossip', 'peer')),
        received_at     REAL NOT NULL,
        published_at    REAL
    );
    CREATE INDEX IF NOT EXISTS claim_orders_series ON claim_orders (chain_id, contract, series_id);
    """,
    # 4: how many times a job's computation was started (a job that keeps killing the node is not
    # resumed forever: see node.roles.provider)
    """
    ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    """,
    # 5: the chain follower (node.chain.follower): each follower's cursor, the hashes of blocks it
    # stood on (to find where a reorg forked) and the raw logs it delivered (to undo them)
    """
    CREATE TABLE chain_cursor (
        name        TEXT PRIMARY KEY,
        block       INTEGER NOT NULL,
        hash        TEXT NOT NULL
    );
    CREATE TABLE chain_checkpoints (
        name        TEXT NOT NULL,
        block       INTEGER NOT NULL,
        hash        TEXT NOT NULL,
        PRIMARY KEY (name, block)
    );
    CREATE TABLE chain_logs (
        name        TEXT NOT NULL,
        block       INTEGER NOT NULL,
        log_index   INTEGER NOT NULL,
        log_json    TEXT NOT NULL,
        PRIMARY KEY (name, block, log_index)
    );
    """,
    # 6: audit secrets and ballot salts, written BEFORE the transaction that commits their hash, so
    # that a crash between the two never leaves a party unable to reveal (and so defaulted).
    """
    CREATE TABLE secrets (
        commitment  TEXT PRIMARY KEY,
        secret      TEXT NOT NULL,
        job_id      TEXT NOT NULL,
        purpose     TEXT NOT NULL,
        created_at  REAL NOT NULL
    );
    CREATE INDEX secrets_job ON secrets (job_id, purpose);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class Job:
    """A job as this node sees it (``role``: provider, consumer or verifier)."""

    job_id: str
    role: str
    kind: str
    spec_hash: str
    spec_json: str
    status: str
    peer_id: str = ""
    price: int = 0
    error: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    attempts: int = 0


@dataclass(frozen=True)
class Offer:
    """A capacity offer received over gossip (already signature-checked by the P2P layer)."""

    offer_id: str
    peer_id: str
    address: str
    price_per_unit: int
    body_json: str
    expires_at: int
    received_at: float = 0.0


@dataclass(frozen=True)
class Commitment:
    """A job's Merkle commitment: the root posted on chain and every leaf (32 bytes each)."""

    job_id: str
    root: bytes
    leaves: tuple[bytes, ...]
    tx_hash: str = ""
    created_at: float = 0.0

    @property
    def n_units(self) -> int:
        return len(self.leaves)


@dataclass(frozen=True)
class BlobInfo:
    """Metadata of a content-addressed blob stored under the home (the bytes live in ``path``)."""

    hash: str
    size: int
    path: str
    kind: str = ""
    job_id: str | None = None
    complete: bool = False
    created_at: float = 0.0


@dataclass(frozen=True)
class ClaimOrder:
    """A signed claim sell order as stored (``node.claims.book`` turns it into an ``OrderMessage``).

    uint256 fields stay decimal strings, exactly as they travel; ``contract`` is stored lower-case;
    ``published_at`` is None while the order waits in the outbox of a running node.
    """

    order_hash: str
    chain_id: int
    contract: str
    seller: str
    series_id: str
    amount: str
    price_per_token: str
    nonce: str
    expiry: str
    signature: bytes
    source: str
    received_at: float = 0.0
    published_at: float | None = None


@dataclass(frozen=True)
class Audit:
    """One audit of one job by one auditor (``status`` e.g. drawn, fetched, attested)."""

    job_id: str
    auditor: str
    status: str
    seed: str = ""
    indices: tuple[int, ...] = ()
    verdict: str = ""
    detail: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, *, target: int = SCHEMA_VERSION) -> int:
    """Bring ``conn``'s schema up to ``target``, one transaction per step; returns the new version."""
    current = schema_version(conn)
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"database schema version {current} is newer than this node's ({SCHEMA_VERSION}); upgrade ccm"
        )
    for version in range(current, target):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            if schema_version(conn) != version:
                conn.execute("ROLLBACK")
                continue
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return schema_version(conn)


def _statements(script: str) -> list[str]:
    # executescript() would COMMIT our transaction; split instead (our DDL has no ';' in literals).
    return [s.strip() for s in script.split(";") if s.strip()]


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise StoreError(f"{path}: cannot switch to WAL mode (got {mode})")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot open the node database: {exc}") from None
    return conn


class Store:
    """Typed access to ``node.db``. Open with :meth:`open` (migrates), close with :meth:`close`.

    Usable as a context manager. See the module docstring for the threading rule.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self._closed = False

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (creating if needed) the database at ``path`` and migrate it to the current schema.

        ``path`` may be a node home folder, in which case ``<home>/node.db`` is used.
        """
        path = Path(path)
        if path.is_dir():
            path = path / DB_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        store = cls(path)
        try:
            migrate(store._conn())
        except sqlite3.DatabaseError as exc:
            store.close()
            raise StoreError(f"{path}: not a usable node database: {exc}") from None
        except BaseException:
            store.close()
            raise
        return store

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every thread's connection. The store cannot be used afterwards."""
        with self._lock:
            self._closed = True
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with self._lock:
                if self._closed:
                    raise StoreError(f"{self.path}: store is closed")
                conn = _connect(self.path)
                self._conns.append(conn)
            self._local.conn = conn
        elif self._closed:
            raise StoreError(f"{self.path}: store is closed")
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``): all of it is committed, or none of it.

        Nested use in the same thread joins the outer transaction.
        """
        conn = self._conn()
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _write(self, sql: str, params: Sequence[Any]) -> int:
        try:
            with self.transaction() as conn:
                return conn.execute(sql, params).rowcount
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"rejected write: {exc}") from None

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self._conn().execute(sql, params).fetchall()

    @property
    def schema_version(self) -> int:
        return schema_version(self._conn())

    @property
    def journal_mode(self) -> str:
        return str(self._conn().execute("PRAGMA journal_mode").fetchone()[0])

    # -- jobs ---------------------------------------------------------------------------------------

    def put_job(self, job: Job) -> Job:
        """Insert or replace ``job``; ``created_at`` is kept from an existing row. Returns the stored job."""
        now = time.time()
        self._write(
            """INSERT INTO jobs (job_id, role, kind, spec_hash, spec_json, peer_id, status, price, error,
                                 created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (job_id) DO UPDATE SET role = excluded.role, kind = excluded.kind,
                 spec_hash = excluded.spec_hash, spec_json = excluded.spec_json, peer_id = excluded.peer_id,
                 status = excluded.status, price = excluded.price, error = excluded.error,
                 updated_at = excluded.updated_at""",
            (job.job_id, job.role, job.kind, job.spec_hash, job.spec_json, job.peer_id, job.status,
             _money(job.price, "price"), job.error, job.created_at or now, now),
        )
        stored = self.get_job(job.job_id)
        assert stored is not None
        return stored

    def set_job_status(self, job_id: str, status: str, *, error: str = "") -> None:
        """Move a job to ``status``; raises :class:`StoreError` for an unknown job."""
        n = self._write(
            "UPDATE jobs SET status = ?, error = ?, updated_at = ? WHERE job_id = ?",
            (status, error, time.time(), job_id),
        )
        if n == 0:
            raise StoreError(f"unknown job {job_id}")

    def add_job_attempt(self, job_id: str) -> int:
        """Count one more start of ``job_id``'s computation (before it starts); returns the new count."""
        with self.transaction() as conn:
            n = conn.execute(
                "UPDATE jobs SET attempts = attempts + 1, updated_at = ? WHERE job_id = ?",
                (time.time(), job_id),
            ).rowcount
            if n == 0:
                raise StoreError(f"unknown job {job_id}")
            return int(conn.execute("SELECT attempts FROM jobs WHERE job_id = ?", (job_id,)).fetchone()[0])

    def get_job(self, job_id: str) -> Job | None:
        rows = self._read("SELECT * FROM jobs WHERE job_id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    def list_jobs(self, *, role: str | None = None, statuses: Sequence[str] | None = None) -> list[Job]:
        """Jobs, oldest first, optionally filtered by role and status (e.g. the unfinished ones at start)."""
        sql, params = "SELECT * FROM jobs WHERE 1", []
        if role is not None:
            sql += " AND role = ?"
            params.append(role)
        if statuses is not None:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            params.extend(statuses)
        return [_job(r) for r in self._read(sql + " ORDER BY created_at, job_id", params)]

    def delete_job(self, job_id: str) -> bool:
        """Delete a job (and its commitment); True if it existed."""
        return self._write("DELETE FROM jobs WHERE job_id = ?", (job_id,)) > 0

    # -- offers -------------------------------------------------------------------------------------

    def put_offer(self, offer: Offer) -> None:
        self._write(
            """INSERT OR REPLACE INTO offers
               (offer_id, peer_id, address, price_per_unit, body_json, expires_at, received_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (offer.offer_id, offer.peer_id, offer.address, _money(offer.price_per_unit, "price_per_unit"),
             offer.body_json, offer.expires_at, offer.received_at or time.time()),
        )

    def live_offers(self, *, now: int | None = None) -> list[Offer]:
        """Offers not yet expired at ``now`` (unix seconds), cheapest first."""
        t = int(time.time()) if now is None else now
        rows = self._read("SELECT * FROM offers WHERE expires_at > ?", (t,))
        offers = [_offer(r) for r in rows]
        return sorted(offers, key=lambda o: (o.price_per_unit, o.offer_id))

    def prune_offers(self, *, now: int | None = None) -> int:
        """Delete expired offers; returns how many."""
        t = int(time.time()) if now is None else now
        return self._write("DELETE FROM offers WHERE expires_at <= ?", (t,))

    # -- commitments --------------------------------------------------------------------------------

    def put_commitment(self, commitment: Commitment) -> None:
        """Record a job's root and leaves (the job must exist; 32-byte values)."""
        if len(commitment.root) != 32 or any(len(leaf) != 32 for leaf in commitment.leaves):
            raise StoreError(f"commitment of job {commitment.job_id}: root and leaves must be 32 bytes")
        if not commitment.leaves:
            raise StoreError(f"commitment of job {commitment.job_id}: no leaves")
        self._write(
            """INSERT OR REPLACE INTO commitments (job_id, root, n_units, leaves, tx_hash, created_at)
               VALUES (?, ?, ?, ?, ?, ?)""",
            (commitment.job_id, commitment.root, len(commitment.leaves), b"".join(commitment.leaves),
             commitment.tx_hash, commitment.created_at or time.time()),
        )

    def get_commitment(self, job_id: str) -> Commitment | None:
        rows = self._read("SELECT * FROM commitments WHERE job_id = ?", (job_id,))
        if not rows:
            return None
        r = rows[0]
        raw = bytes(r["leaves"])
        leaves = tuple(raw[i : i + 32] for i in range(0, len(raw), 32))
        return Commitment(r["job_id"], bytes(r["root"]), leaves, r["tx_hash"], r["created_at"])

    # -- blobs --------------------------------------------------------------------------------------

    def put_blob(self, blob: BlobInfo) -> None:
        self._write(
            """INSERT OR REPLACE INTO blobs (hash, size, path, kind, job_id, complete, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (blob.hash, blob.size, blob.path, blob.kind, blob.job_id, int(blob.complete),
             blob.created_at or time.time()),
        )

    def get_blob(self, blob_hash: str) -> BlobInfo | None:
        rows = self._read("SELECT * FROM blobs WHERE hash = ?", (blob_hash,))
        return _blob(rows[0]) if rows else None

    def list_blobs(self, *, job_id: str | None = None) -> list[BlobInfo]:
        if job_id is None:
            rows = self._read("SELECT * FROM blobs ORDER BY created_at, hash")
        else:
            rows = self._read("SELECT * FROM blobs WHERE job_id = ? ORDER BY created_at, hash", (job_id,))
        return [_blob(r) for r in rows]

    def delete_blob(self, blob_hash: str) -> bool:
        return self._write("DELETE FROM blobs WHERE hash = ?", (blob_hash,)) > 0

    # -- audits -------------------------------------------------------------------------------------

    def put_audit(self, audit: Audit) -> None:
        now = time.time()
        self._write(
            """INSERT INTO audits (job_id, auditor, seed, indices, status, verdict, detail,
                                   created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (job_id, auditor) DO UPDATE SET seed = excluded.seed,
                 indices = excluded.indices, status = excluded.status, verdict = excluded.verdict,
                 detail = excluded.detail, updated_at = excluded.updated_at""",
            (audit.job_id, audit.auditor, audit.seed, json.dumps(list(audit.indices)), audit.status,
             audit.verdict, audit.detail, audit.created_at or now, now),
        )

    def get_audit(self, job_id: str, auditor: str) -> Audit | None:
        rows = self._read("SELECT * FROM audits WHERE job_id = ? AND auditor = ?", (job_id, auditor))
        return _audit(rows[0]) if rows else None

    def list_audits(self, *, status: str | None = None) -> list[Audit]:
        if status is None:
            rows = self._read("SELECT * FROM audits ORDER BY created_at")
        else:
            rows = self._read("SELECT * FROM audits WHERE status = ? ORDER BY created_at", (status,))
        return [_audit(r) for r in rows]

    # -- audit secrets and ballot salts -------------------------------------------------------------

    def put_secret(self, commitment: bytes, secret: bytes, *, job_id: str, purpose: str) -> None:
        """Keep ``secret`` under its on-chain ``commitment`` (hex keys); idempotent."""
        self._write(
            """INSERT INTO secrets (commitment, secret, job_id, purpose, created_at) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (commitment) DO NOTHING""",
            ("0x" + commitment.hex(), "0x" + secret.hex(), job_id, purpose, time.time()),
        )

    def secret_for(self, commitment: bytes) -> bytes | None:
        """The secret behind an on-chain commitment, if this node made it."""
        rows = self._read("SELECT secret FROM secrets WHERE commitment = ?", ("0x" + commitment.hex(),))
        return bytes.fromhex(rows[0]["secret"][2:]) if rows else None

    def secrets_of(self, job_id: str, purpose: str) -> list[tuple[bytes, bytes]]:
        """``(commitment, secret)`` pairs kept for ``job_id`` with ``purpose``, oldest first."""
        rows = self._read(
            "SELECT commitment, secret FROM secrets WHERE job_id = ? AND purpose = ? ORDER BY created_at",
            (job_id, purpose),
        )
        return [(bytes.fromhex(r["commitment"][2:]), bytes.fromhex(r["secret"][2:])) for r in rows]

    # -- capacity challenge results -----------------------------------------------------------------

    def add_capacity_result(self, record: CapacityRecord) -> None:
        """Keep one capacity challenge result (a challenge id counts once per peer)."""
        self._write(
            """INSERT INTO capacity_results (peer_id, challenge_id, n, advertised_gflops, achieved_gflops,
                                             correct, in_time, passed, reason, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (record.peer_id, record.challenge_id, record.n, record.advertised_gflops,
             record.achieved_gflops, int(record.correct), int(record.in_time), int(record.passed),
             record.reason, record.created_at or time.time()),
        )

    def capacity_results(self, peer_id: str, *, limit: int = 20) -> list[CapacityRecord]:
        """The most recent ``limit`` results for ``peer_id``, newest first."""
        rows = self._read(
            "SELECT * FROM capacity_results WHERE peer_id = ? ORDER BY id DESC LIMIT ?", (peer_id, limit)
        )
        return [
            CapacityRecord(
                peer_id=r["peer_id"], challenge_id=r["challenge_id"], n=r["n"],
                advertised_gflops=r["advertised_gflops"], achieved_gflops=r["achieved_gflops"],
                correct=bool(r["correct"]), in_time=bool(r["in_time"]), passed=bool(r["passed"]),
                reason=r["reason"], created_at=r["created_at"],
            )
            for r in rows
        ]

    def verified_figure(self, peer_id: str) -> VerifiedFigure:
        """The aggregate figure consumers rank ``peer_id``'s offers by (see ``node.capacity.verified``)."""
        return verified_figure(peer_id, self.capacity_results(peer_id))

    def challenged_peers(self) -> list[str]:
        return [r[0] for r in self._read("SELECT DISTINCT peer_id FROM capacity_results ORDER BY peer_id")]


    # -- claim sell orders --------------------------------------------------------------------------

    def add_claim_order(self, order: ClaimOrder) -> bool:
        """Keep ``order`` unless its hash is already stored (first copy wins); True if it was added."""
        return self._write(
            """INSERT OR IGNORE INTO claim_orders (order_hash, chain_id, contract, seller, series_id,
                   amount, price_per_token, nonce, expiry, signature, source, received_at, published_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (order.order_hash, order.chain_id, order.contract.lower(), order.seller, order.series_id,
             order.amount, order.price_per_token, order.nonce, order.expiry, order.signature,
             order.source, order.received_at or time.time(), order.published_at),
        ) > 0

    def get_claim_order(self, order_hash: str) -> ClaimOrder | None:
        rows = self._read("SELECT * FROM claim_orders WHERE order_hash = ?", (order_hash,))
        return _claim_order(rows[0]) if rows else None

    def claim_orders(
        self,
        *,
        chain_id: int,
        contract: str,
        series_id: int | None = None,
        seller: str | None = None,
        unpublished: bool = False,
    ) -> list[ClaimOrder]:
        """One deployment's orders, oldest first; optionally one series, one seller, or only the outbox."""
        sql = "SELECT * FROM claim_orders WHERE chain_id = ? AND contract = ?"
        params: list[object] = [chain_id, contract.lower()]
        if series_id is not None:
            sql += " AND series_id = ?"
            params.append(str(series_id))
        if seller is not None:
            sql += " AND lower(seller) = ?"
            params.append(seller.lower())
        if unpublished:
            sql += " AND published_at IS NULL"
        return [_claim_order(r) for r in self._read(sql + " ORDER BY received_at, order_hash", params)]

    def mark_claim_orders_published(self, order_hashes: Iterable[str], *, at: float | None = None) -> None:
        """Take orders out of the outbox (all in one transaction)."""
        now = time.time() if at is None else at
        with self.transaction() as conn:
            for order_hash in order_hashes:
                conn.execute(
                    "UPDATE claim_orders SET published_at = ? WHERE order_hash = ?", (now, order_hash)
                )

    def delete_claim_orders(self, order_hashes: Iterable[str]) -> int:
        """Forget orders (all in one transaction); how many were deleted."""
        n = 0
        with self.transaction() as conn:
            for order_hash in order_hashes:
                n += conn.execute("DELETE FROM claim_orders WHERE order_hash = ?", (order_hash,)).rowcount
        return n


def _money(value: int, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StoreError(f"{name} must be a non-negative integer, got {value!r}")
    return str(value)


def _job(r: sqlite3.Row) -> Job:
    return Job(
        job_id=r["job_id"], role=r["role"], kind=r["kind"], spec_hash=r["spec_hash"],
        spec_json=r["spec_json"], status=r["status"], peer_id=r["peer_id"], price=int(r["price"]),
        error=r["error"], created_at=r["created_at"], updated_at=r["updated_at"], attempts=r["attempts"],
    )


def _offer(r: sqlite3.Row) -> Offer:
    return Offer(
        offer_id=r["offer_id"], peer_id=r["peer_id"], address=r["address"],
        price_per_unit=int(r["price_per_unit"]), body_json=r["body_json"], expires_at=r["expires_at"],
        received_at=r["received_at"],
    )


def _blob(r: sqlite3.Row) -> BlobInfo:
    return BlobInfo(
        hash=r["hash"], size=r["size"], path=r["path"], kind=r["kind"], job_id=r["job_id"],
        complete=bool(r["complete"]), created_at=r["created_at"],
    )


def _audit(r: sqlite3.Row) -> Audit:
    return Audit(
        job_id=r["job_id"], auditor=r["auditor"], status=r["status"], seed=r["seed"],
        indices=tuple(json.loads(r["indices"])), verdict=r["verdict"], detail=r["detail"],
        created_at=r["created_at"], updated_at=r["updated_at"],
    )


def _claim_order(r: sqlite3.Row) -> ClaimOrder:
    return ClaimOrder(
        order_hash=r["order_hash"], chain_id=r["chain_id"], contract=r["contract"], seller=r["seller"],
        series_id=r["series_id"], amount=r["amount"], price_per_token=r["price_per_token"],
        nonce=r["nonce"], expiry=r["expiry"], signature=bytes(r["signature"]), source=r["source"],
        received_at=r["received_at"], published_at=r["published_at"],
    )
