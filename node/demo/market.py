"""The demo as a real market: separate ``ccm`` processes talking libp2p over 127.0.0.1.

Cast (Anvil dev accounts, PUBLIC test keys): consumer 1, provider-1 2, provider-2 3, cheater 4
(:mod:`node.demo.cheater`), verifier-1..3 5-7, claims-buyer 8, reseller 9; each node has its own home under
``<demo home>/nodes/`` holding a copy of the devnet's ``deployment.json``.

1. ``ccm provider start`` ×3 and ``ccm verifier start`` ×3 (each stakes, then prints ``listening
   on <multiaddr>``); the others bootstrap to provider-1, so all share one gossip mesh.
2. For each kind (``llm`` on a small random Llama the demo builds from a config and puts in the
   consumer's blob store), ``ccm job submit SPEC --provider P --peer ADDR --wait --json`` once with an
   honest provider (alternating) and once with the cheater. The providers run and commit, the drawn
   verifier fetches the sampled units over libp2p and attests, the parties settle.
3. Verified capacity: a claims series is capped by capacity a staked verifier attested on chain.
   verifier-1 challenges provider-1 over libp2p (``ccm market challenge``: a random matmul with a
   deadline, checked by Freivalds), posts the measured figure with ``ccm capacity attest`` (bonded;
   the transcript's hash is the evidence), and after the dispute window ``ccm capacity finalize``.
4. Claims: provider-1 ``ccm claims create --region EU`` (priced by tokenomics; GPU-hours and the
   H100e-hours its verified capacity makes them; a second process signing with the daemon's key,
   which the chain client's nonce recovery allows); the reseller ``buy``s the whole series and
   ``sell``s it on in lots at its own higher prices; the consumer ``buy``s some lots, resells part
   (``sell``), the claims-buyer ``buy``s the resale, the window opens, the consumer ``redeem``s the
   rest for a prepaid job with provider-1, audited like any other. The demo then reads the price
   index (:mod:`node.query.index`) from the chain's fills.

The devnet clock: the contest window is a minute of chain time. :class:`DevnetClock` watches the
demo's jobs and, when the only jobs in flight wait for a contest or vote window to pass, moves
Anvil's clock past it (``evm_increaseTime``), so an uncontested fail is final in seconds. It never
moves time while any job is being audited (that would make the verifier miss its deadline).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from node.blobs import BlobStore
from node.chain.chain import Chain
from node.chain.deployment import DEPLOYMENT_FILE
from node.chain.market import JobStatus
from node.demo.procs import ChildError, KeyRing, Supervisor, signer_args
from node.demo.report import Actor, h100e_hours
from node.demo.specs import ALL_KINDS, demo_job
from node.workloads.spec import canonical_json, parse_spec, spec_hash
from tokenomics.units import units_to_tokens

Say = Callable[[str], None]
ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 180.0
JOB_TIMEOUT = 300.0
CHALLENGE_ATTEMPTS, CHALLENGE_PAUSE_S = 3, 2.0
CHALLENGE_THRESHOLD = 0.5
"""Achieved/advertised ratio the demo's capacity challenge needs: the default of ``ccm market challenge``
(``node.capacity.challenge.DEFAULT_THRESHOLD``). The CPU probe measures at the challenge's size (2048) and
the digest's lane product is an int8 matmul on a CPU, so an honest provider-1 clears it with the demo's
own daemons and Anvil on the 2 cores. The demo tries up to ``CHALLENGE_ATTEMPTS`` times."""
CLAIMS_CLASS = "H100"
"""The GPU class of the demo's series (priced by the forward curve; capacity attested as measured)."""
CLAIMS_REGION = "EU"
"""The series' declared region (declared by the provider, not proven: README, regions)."""
CLAIMS_SUPPLY, CLAIMS_BUY, CLAIMS_RESELL = 10, 6, 2
RESELLER_LOTS = ((4, 110), (3, 115), (3, 120))
"""The reseller buys the whole series and offers it on in lots: (GPU-hours, % of the provider's price)."""
RESALE_MARKUP = 112
"""The consumer's resale, in % of the provider's price (below the reseller's dearer lots, and the
claims-buyer's ``--max-price`` is this price, so it takes the consumer's order)."""


@dataclass(frozen=True)
class Node:
    """One demo process: its public row, dev account index and home."""

    actor: Actor
    index: int
    home: Path


def make_nodes(home: Path, accounts: Sequence[LocalAccount], *, cheat_fraction: str) -> list[Node]:
    f = float(Fraction(cheat_fraction))
    plan = [
        ("consumer", "consumer", 1, 0.0),
        ("provider", "provider-1", 2, 0.0),
        ("provider", "provider-2", 3, 0.0),
        ("provider", "cheater", 4, f),
        ("verifier", "verifier-1", 5, 0.0),
        ("verifier", "verifier-2", 6, 0.0),
        ("verifier", "verifier-3", 7, 0.0),
        ("consumer", "claims-buyer", 8, 0.0),
        ("consumer", "reseller", 9, 0.0),
    ]
    return [
        Node(Actor(role, name, accounts[i].address, cheat), i, home / "nodes" / name)
        for role, name, i, cheat in plan
    ]


class DevnetClock:
    """Moves the devnet clock past contest/vote windows that only block the demo (see module doc)."""

    def __init__(self, chain: Chain, *, first_job: int, say: Say) -> None:
        self.chain = Chain.connect(chain.deployment)  # its own client: used from another thread
        self.first_job = first_job
        self.say = say
        self.params = self.chain.market.params()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="demo-devnet-clock", daemon=True)
        self.error: BaseException | None = None
        self._waiting_since: dict[int, float] = {}

    def __enter__(self) -> DevnetClock:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001 - kept and reported by the demo, never swallowed
                self.error = exc
                return

    def tick(self) -> None:
        market = self.chain.market
        live = []
        for job_id in range(self.first_job, market.job_count() + 1):
            job = market.job(job_id)
            if not job.status.terminal:
                live.append(job)
        if not live or any(j.status is JobStatus.AUDITING for j in live):
            return
        now = self.chain.client.timestamp()
        due = [j for j in live if j.status in (JobStatus.FAILED, JobStatus.VOTING) and j.deadline >= now]
        if not due:
            return
        # Give the parties a moment (a provider may contest, panel members vote) before jumping.
        first_seen = min(self._waiting_since.setdefault(j.job_id, time.monotonic()) for j in due)
        if time.monotonic() - first_seen < 3.0:
            return
        jump = max(j.deadline for j in due) - now + 1
        self.say(
            f"devnet clock: +{jump} s so the {'/'.join(j.status.name.lower() for j in due)} window passes"
        )
        self.chain.increase_time(jump)


def write_spec(home: Path, kind: str, seed: int, *, blobs_to: Path | None = None) -> tuple[Path, bytes]:
    """The demo spec of ``kind`` in a file; its blobs (an llm job's model and prompts) go into the
    blob store of the node home ``blobs_to`` (the consumer's: it serves them to the provider)."""
    d, blobs = demo_job(kind, seed=seed, home=home)
    if blobs:
        assert blobs_to is not None, f"the {kind} demo job has blobs: say whose home stores them"
        store = BlobStore(blobs_to / "blobs")
        for data in blobs.values():
            store.put(data)
    path = home / "specs" / f"{kind}-{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(canonical_json(d))
    return path, spec_hash(parse_spec(d))


def _json(out: str, what: str) -> dict[str, object]:
    try:
        obj = json.loads(out)
    except json.JSONDecodeError:
        lines = [line for line in out.strip().splitlines() if line.startswith("{")]
        try:
            obj = json.loads(lines[-1]) if lines else None
        except json.JSONDecodeError:
            obj = None
    if not isinstance(obj, dict):
        raise ChildError(f"{what}: no JSON object on stdout")
    return obj


def prepare_homes(home: Path, nodes: Iterable[Node], keyring: KeyRing | None = None) -> None:
    """Fresh node homes, each with a copy of the devnet's deployment record and the record of its
    dev account (as ``node.roles.context`` keeps it), so that ``ccm account`` and ``ccm dashboard``
    know whose node it is; with a ``keyring``, the node's account as its keystore."""
    from node.chain.deployment import Deployment
    from node.roles.context import DEVNET_ACCOUNT_FILE

    token = Deployment.load(home / DEPLOYMENT_FILE).address("ComputeToken")
    for n in nodes:
        if n.home.exists():
            shutil.rmtree(n.home)  # a fresh devnet: state of an earlier run's nodes is meaningless
        n.home.mkdir(parents=True)
        shutil.copy(home / DEPLOYMENT_FILE, n.home / DEPLOYMENT_FILE)
        (n.home / DEVNET_ACCOUNT_FILE).write_text(json.dumps({"index": n.index, "token": token}) + "\n")
        if keyring is not None:
            keyring.install(n.home, n.index)


def run_market(
    *,
    home: Path,
    chain: Chain,
    accounts: Sequence[LocalAccount],
    cheat_fraction: str,
    say: Say,
    keyring: KeyRing | None = None,
) -> tuple[dict[bytes, str], list[Actor], list[str]]:
    """Run the multi-process market; returns (spec hash → kind, participants, notes). ``keyring``:
    the nodes sign with keystores of these accounts (a chain without Anvil's dev keys)."""
    nodes = {n.actor.name: n for n in make_nodes(home, accounts, cheat_fraction=cheat_fraction)}
    prepare_homes(home, nodes.values(), keyring)
    sup = Supervisor(
        logs=home / "logs", python=sys.executable, cwd=ROOT, env=keyring.env() if keyring else None
    )
    kinds: dict[bytes, str] = {}
    try:
        addrs = start_daemons(sup, nodes, chain, say=say)
        first_job = chain.market.job_count() + 1
        with DevnetClock(chain, first_job=first_job, say=say) as clock:
            honest = ["provider-1", "provider-2"]
            for k, kind in enumerate(ALL_KINDS):
                for who in (honest[k % 2], "cheater"):
                    seed = 10 * k + (1 if who != "cheater" else 5)
                    spec_path, digest = write_spec(home, kind, seed=seed, blobs_to=nodes["consumer"].home)
                    kinds[digest] = kind
                    submit(sup, nodes["consumer"], nodes[who], addrs[who], spec_path, kind=kind, say=say)
                    if clock.error is not None:
                        raise ChildError(f"devnet clock failed: {clock.error}")
        # The claims trade after the jobs: it moves the devnet clock by days (dispute window, claim
        # window), which must not happen while a job waits for its audit.
        _verify_capacity(sup, nodes, addrs, chain, home, say=say, keyring=keyring)
        series, price = _create_series(sup, nodes["provider-1"], chain, say=say)
        kinds.update(_trade_claims(sup, nodes, addrs, chain, home, series=series, price=price, say=say))
    finally:
        alive = len(sup.alive())
        sup.close()
        say(f"stopped {alive} node process(es)")
    notes = [
        "market mode: 3 providers, 3 verifiers and the consumers ran as separate ccm processes "
        "talking libp2p on 127.0.0.1; node logs in " + str(home / "logs"),
        "the devnet clock was moved past contest windows so that fails are final in seconds",
        f"provider-1's capacity was challenged at {CHALLENGE_THRESHOLD:.0%} (the default) of the GFLOP/s its "
        "probe measured at the challenge's size, the demo's seven node processes on the same cores",
    ]
    return kinds, [n.actor for n in nodes.values()], notes


def start_daemons(
    sup: Supervisor, nodes: dict[str, Node], chain: Chain, *, say: Say, only: Sequence[str] = ()
) -> dict[str, str]:
    def start(name: str, command: str, *extra: str) -> None:
        n = nodes[name]
        args = [command, "start", "--home", str(n.home), *signer_args(n.home, n.index), *extra]
        sup.start(name, args)

    p1 = nodes["provider-1"]
    start("provider-1", "provider")
    child = sup.children[-1]
    addrs = {"provider-1": sup.wait_for_line(child, "listening on ", timeout=START_TIMEOUT).split()[-1]}
    say(f"provider-1 (dev account {p1.index}) listening on {addrs['provider-1']}")
    boot = ["--bootstrap", addrs["provider-1"]]
    later = [
        n
        for n in ("provider-2", "cheater", "verifier-1", "verifier-2", "verifier-3")
        if not only or n in only
    ]
    for name in later:
        if name == "cheater":  # the production daemon given a cheating strategy (no ccm switch for it)
            n = nodes[name]
            sup.start(
                name,
                ["--home", str(n.home), *signer_args(n.home, n.index), *boot,
                 "--fraction", str(n.actor.cheat_fraction)],
                module="node.demo.cheater",
            )
        elif name.startswith("provider"):
            start(name, "provider", *boot)
        else:
            start(name, "verifier", *boot)
    by_name = {c.name: c for c in sup.children}
    for name in later:
        addrs[name] = sup.wait_for_line(by_name[name], "listening on ", timeout=START_TIMEOUT).split()[-1]
        say(f"{name} (dev account {nodes[name].index}) listening on {addrs[name]}")
    deadline = time.monotonic() + 60
    while True:
        missing = [
            name
            for name, n in nodes.items()
            if name == "provider-1" or name in later
            if (n.actor.role == "provider" and not chain.registry.is_provider(n.actor.address))
            or (n.actor.role == "verifier" and not chain.registry.is_verifier(n.actor.address))
        ]
        if not missing:
            break
        if time.monotonic() > deadline:
            raise ChildError(f"not staked after 60 s: {', '.join(missing)}")
        time.sleep(0.5)
    say(f"{len(later) + 1} daemons staked and registered (devnet: every committed job is audited)")
    return addrs


def submit(
    sup: Supervisor, consumer: Node, provider: Node, addr: str, spec: Path, *, kind: str, say: Say
) -> dict[str, object]:
    say(f"consumer submits a {kind} job to {provider.actor.name}")
    peer_id = addr.rsplit("/p2p/", 1)[-1]
    out = sup.run(
        f"submit-{spec.stem}",
        [
            "job", "submit", str(spec), "--home", str(consumer.home),
            *signer_args(consumer.home, consumer.index),
            "--provider", peer_id, "--peer", addr, "--wait", "--json", "--timeout", str(int(JOB_TIMEOUT)),
        ],
        timeout=JOB_TIMEOUT + 60,
    )  # fmt: skip
    result = _json(out, f"job submit {spec.name}")
    say(f"job {result.get('job_id', '?')} ({kind}, {provider.actor.name}): {result.get('status', '?')}")
    return result


def _ccm(sup: Supervisor, name: str, node: Node, *args: str) -> dict[str, object]:
    """``ccm ARGS --home H [--account-index I] --json`` as ``node``; its JSON object."""
    out = sup.run(
        name,
        [*args, "--home", str(node.home), *signer_args(node.home, node.index), "--json"],
        timeout=JOB_TIMEOUT,
    )
    return _json(out, " ".join(args[:2]))


def _ccm_claims(sup: Supervisor, name: str, node: Node, *args: str) -> dict[str, object]:
    return _ccm(sup, name, node, "claims", *args)


def _verify_capacity(
    sup: Supervisor,
    nodes: dict[str, Node],
    addrs: dict[str, str],
    chain: Chain,
    home: Path,
    *,
    say: Say,
    keyring: KeyRing | None = None,
) -> None:
    """verifier-1 challenges provider-1's advertised capacity and attests the result on chain.

    The challenge runs from a home of its own (verifier-1's account, a fresh libp2p identity) so
    that it never shares a peer id with the running verifier daemon. A failed challenge is tried
    again, :data:`CHALLENGE_ATTEMPTS` times in all (on 2 cores, any other busy process halves the
    provider's matmul speed), and then stops the demo with the reason and the machine's load.
    """
    verifier, provider = nodes["verifier-1"], nodes["provider-1"]
    checker = Node(verifier.actor, verifier.index, home / "nodes" / "verifier-1-challenge")
    prepare_homes(home, [checker], keyring)
    result: dict[str, object] = {}
    for attempt in range(1, CHALLENGE_ATTEMPTS + 1):
        if attempt > 1:
            time.sleep(CHALLENGE_PAUSE_S)
        out = sup.run(
            f"capacity-challenge-{attempt}",
            ["market", "challenge", addrs["provider-1"], "--home", str(checker.home),
             *signer_args(checker.home, checker.index), "--threshold", str(CHALLENGE_THRESHOLD), "--json"],
            timeout=JOB_TIMEOUT,
        )  # fmt: skip
        result = _json(out, "market challenge")
        say(
            f"capacity: verifier-1 challenged provider-1 (n={result.get('n')}): "
            f"{result.get('achieved_gflops')} GFLOP/s achieved of {result.get('claimed_gflops')} claimed, "
            + ("passed" if result.get("passed") else f"failed ({result.get('reason')})")
        )
        if result.get("passed"):
            break
    else:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        raise ChildError(
            f"provider-1 failed its capacity challenge {CHALLENGE_ATTEMPTS} times: {result.get('reason')} "
            f"(load average {load}: is something else using the CPU?)"
        )
    evidence = "0x" + keccak(canonical_json(result)).hex()
    uuids = result.get("gpu_uuids")
    bound = [a for u in (uuids if isinstance(uuids, list) else []) for a in ("--gpu-uuid", str(u))]
    attested = _ccm(
        sup, "capacity-attest", verifier, "capacity", "attest", provider.actor.address,
        "--gpu-class", CLAIMS_CLASS, "--gpus", "1", "--gflops", str(result["achieved_gflops"]),
        "--evidence", evidence, "--dtype", str(result["dtype"]), "--advert-hash", str(result["advert_hash"]),
        *bound,
    )  # fmt: skip
    if not attested.get("applied"):
        jump = int(str(attested["dispute_end"])) - chain.client.timestamp() + 1
        chain.increase_time(max(jump, 1))
        say(f"devnet clock: +{max(jump, 1)} s past the attestation's dispute window")
        _ccm(sup, "capacity-finalize", verifier, "capacity", "finalize", str(attested["attestation_id"]))
    say(
        f"capacity: verifier-1 attested 1 {CLAIMS_CLASS}-class GPU for provider-1 on chain "
        f"(attestation {attested.get('attestation_id')}, evidence {evidence[:12]}…)"
    )


def _create_series(sup: Supervisor, seller: Node, chain: Chain, *, say: Say) -> tuple[str, int]:
    """While provider-1's daemon runs (the series needs a staked provider): two processes sign with
    one key, and the chain client resyncs its nonce when the other took it; the sell order goes
    to the home's book and the daemon gossips it."""
    created = _ccm_claims(
        sup, "claims-create", seller, "create", "--gpu-class", CLAIMS_CLASS, "--region", CLAIMS_REGION,
        "--window-start", "+7d", "--window-end", "+8d", "--supply", str(CLAIMS_SUPPLY),
    )  # fmt: skip
    series, price = str(created["series"]), int(str(created["price_per_token"]))
    onchain = chain.claims.series(int(series))
    say(
        f"claims: provider-1 created series {series} in region {onchain.region_code}: {CLAIMS_SUPPLY} "
        f"{CLAIMS_CLASS} GPU-hours = {h100e_hours(onchain.normalized_micro)} H100e-hours (verified "
        f"{onchain.ppm_per_gpu} ppm per GPU-hour) a week ahead at {_tokens(price)} tokens each"
    )
    return series, price


def _trade_claims(
    sup: Supervisor,
    nodes: dict[str, Node],
    addrs: dict[str, str],
    chain: Chain,
    home: Path,
    *,
    series: str,
    price: int,
    say: Say,
) -> dict[bytes, str]:
    reseller, buyer, third = nodes["reseller"], nodes["consumer"], nodes["claims-buyer"]
    peer = ["--peer", addrs["provider-1"]]
    whole = str(CLAIMS_SUPPLY)
    bought = _ccm_claims(sup, "claims-reseller-buy", reseller, "buy", series, "--amount", whole, *peer)
    if bought.get("bought") != CLAIMS_SUPPLY:
        raise ChildError(f"reseller bought {bought.get('bought')} of the series' {CLAIMS_SUPPLY} claims")
    say(
        f"claims: reseller bought the whole series ({CLAIMS_SUPPLY}) for {_tokens(bought.get('paid'))} tokens"
    )
    for n, (amount, markup) in enumerate(RESELLER_LOTS, 1):
        lot_price = price * markup // 100
        _ccm_claims(
            sup, f"claims-reseller-sell-{n}", reseller, "sell", series, "--amount", str(amount),
            "--price", str(lot_price), *peer,
        )  # fmt: skip
        say(
            f"claims: reseller offers a lot of {amount} at {_tokens(lot_price)} tokens each "
            f"(+{markup - 100}%)"
        )
    got = _ccm_claims(sup, "claims-buy", buyer, "buy", series, "--amount", str(CLAIMS_BUY), *peer)
    lots = ", ".join(f"{f['amount']} at {_tokens(f['price_per_token'])}" for f in _fills(got))
    say(f"claims: consumer bought {got.get('bought')} from the reseller's lots ({lots})")
    resale = price * RESALE_MARKUP // 100
    _ccm_claims(
        sup, "claims-sell", buyer, "sell", series, "--amount", str(CLAIMS_RESELL),
        "--price", str(resale), *peer,
    )  # fmt: skip
    _ccm_claims(
        sup, "claims-resale-buy", third, "buy", series, "--amount", str(CLAIMS_RESELL),
        "--max-price", str(resale), *peer,
    )  # fmt: skip
    say(f"claims: consumer resold {CLAIMS_RESELL} to claims-buyer at {_tokens(resale)} tokens each")
    jump = int(chain.claims.series(int(series)).window_start) - chain.client.timestamp() + 1
    chain.increase_time(max(jump, 1))
    say("devnet clock: moved into the claims window")
    spec_path, digest = write_spec(home, "matmul", seed=99)
    redeemed = _ccm_claims(
        sup,
        "claims-redeem",
        buyer,
        "redeem",
        series,
        "--amount",
        str(CLAIMS_BUY - CLAIMS_RESELL),
        "--job",
        str(spec_path),
        "--wait",
        *peer,
    )
    say(
        f"claims: consumer redeemed {CLAIMS_BUY - CLAIMS_RESELL} for prepaid job "
        f"{redeemed.get('job_id')}: {redeemed.get('status')}"
    )
    return {digest: "matmul"}


def _tokens(units: object) -> str:
    """Base units (an int from a command's JSON) as tokens for the progress lines."""
    return units_to_tokens(int(str(units)))


def _fills(bought: dict[str, object]) -> list[dict[str, object]]:
    fills = bought.get("fills")
    return [f for f in fills if isinstance(f, dict)] if isinstance(fills, list) else []
