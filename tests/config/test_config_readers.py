"""Every config key has a reader, and each one acts.

The first test reads the node's source: a key of the template that no module outside
``node/config.py`` reads fails it. The others show a key changing what the node does.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import trio

from node.capacity.probe import ProbeResult
from node.capacity.verified import VerifiedFigure
from node.chain.accounts import devnet_accounts
from node.chain.anvil import AnvilProcess
from node.chain.chain import Chain
from node.chain.deployment import DEPLOYMENT_FILE
from node.chain.errors import RpcError
from node.cli import main
from node.config import _SECTIONS, load_config
from node.p2p.host import DialError, Host
from node.p2p.identity import generate_key_pair
from node.roles.consumer import Consumer, FoundOffer, order_offers
from node.roles.runtime import setup_logging
from tests.roles.conftest import Nodes

ROOT = Path(__file__).resolve().parents[2]


#: Keys read through a property of Config rather than by name.
PROPERTY_READERS = {"chain.keystore": "keystore_path", "chain.deployment": "deployment_path"}


def _sources() -> list[str]:
    files = [p for p in (ROOT / "node").rglob("*.py") if p != ROOT / "node" / "config.py"]
    files += list((ROOT / "scripts").glob("*.py"))
    return [p.read_text(encoding="utf-8") for p in files]


def _read_in(source: str, section: str, key: str) -> bool:
    """``source`` reads ``section.key``: by its dotted name, or as ``.key`` in a module that names
    the section's config (``p2p = ctx.config.p2p`` then ``p2p.gossip_rate``)."""
    if re.search(rf"\.{section}\.{key}\b", source):
        return True
    names_section = re.search(rf"config\.{section}\b|\b{section}Section\b", source, re.IGNORECASE)
    return bool(names_section and re.search(rf"\.{key}\b", source))


def test_every_template_key_is_read_somewhere() -> None:
    sources = _sources()
    unread = set()
    for section, cls in _SECTIONS.items():
        for f in dataclasses.fields(cls):
            dotted = f"{section}.{f.name}"
            reader = PROPERTY_READERS.get(dotted)
            if reader is not None:
                found = any(re.search(rf"\.{reader}\b", s) for s in sources)
            else:
                found = any(_read_in(s, section, f.name) for s in sources)
            if not found:
                unread.add(dotted)
    assert unread == set()


def _write(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text)


def test_chain_rpc_url_replaces_the_recorded_endpoint(tmp_path: Path, chain: Chain) -> None:
    stale = dataclasses.replace(chain.deployment, rpc_url="http://127.0.0.1:9")  # nobody listens there
    with pytest.raises(RpcError, match="unreachable"):
        Chain.connect(stale, settings=load_config(tmp_path).chain)
    _write(tmp_path, f'[chain]\nrpc_url = "{chain.client.rpc_url}"\n')
    connected = Chain.connect(stale, settings=load_config(tmp_path).chain)
    assert connected.client.rpc_url == chain.client.rpc_url and connected.client.block_number() >= 0


def test_chain_fee_keys_reach_the_client(tmp_path: Path, chain: Chain) -> None:
    head = chain.client.block("latest")
    assert head is not None
    cap = head.base_fee + 1
    _write(tmp_path, f"[chain]\nmax_fee_per_gas = {cap}\nreplace_after_blocks = 7\n")
    capped = Chain.connect(chain.deployment, settings=load_config(tmp_path).chain)
    assert capped.client.replace_after_blocks == 7
    sender, receiver = (a.account for a in devnet_accounts(devnet=True)[5:7])
    receipt = capped.token.transfer(sender, receiver.address, 1)
    assert capped.client.w3.eth.get_transaction(receipt.tx_hash)["maxFeePerGas"] == cap  # type: ignore[arg-type]


def test_chain_confirmations_and_node_devnet_steer_chain_deploy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with AnvilProcess(chain_id=4242, extra_args=("--block-time", "1")) as anvil:
        home = tmp_path / "home"
        args = ["chain", "deploy", "--home", str(home), "--rpc-url", anvil.rpc_url, "--dev-account", "0"]
        assert main([*args, "--json"]) == 1  # a PUBLIC key on chain 4242: refused
        assert "PUBLIC key" in capsys.readouterr().err
        _write(home, "[node]\ndevnet = true\n[chain]\nconfirmations = 3\n")
        assert main([*args, "--block-time", "1", "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["confirmations"] >= 3 and (home / DEPLOYMENT_FILE).exists()


def test_node_log_level_sets_the_node_loggers(tmp_path: Path) -> None:
    _write(tmp_path, '[node]\nlog_level = "error"\n')
    node_logger = logging.getLogger("node")
    before = node_logger.level
    try:
        setup_logging(load_config(tmp_path).node.log_level)
        assert not logging.getLogger("node.roles.provider").isEnabledFor(logging.WARNING)
        assert logging.getLogger("node.roles.provider").isEnabledFor(logging.ERROR)
    finally:
        node_logger.setLevel(before)


async def test_p2p_request_timeout_bounds_a_dial(tmp_path: Path, nodes: Nodes) -> None:
    home = nodes.home("slow")
    _write(home, "[p2p]\nrequest_timeout_s = 0.3\n")
    from node.roles.context import open_context, open_host

    ctx = open_context(home, account_index=3, chain=nodes.chain, say=lambda _l: None)
    try:
        host, _ = open_host(ctx)
        assert host.request_timeout == 0.3
        silent = socket.socket()  # accepts TCP and never speaks: the handshake cannot finish
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        peer = Host(generate_key_pair())  # only for a valid peer id in the address
        peer_id = peer.peer_id
        async with trio.open_nursery() as nursery:
            await nursery.start(host.run)
            with pytest.raises(DialError, match=r"timed out after 0\.3 s"):
                await host.connect(f"/ip4/127.0.0.1/tcp/{silent.getsockname()[1]}/p2p/{peer_id}")
            nursery.cancel_scope.cancel()
        silent.close()
    finally:
        ctx.close()


def _offer(peer: str, *, price: int, gflops: int, verified: int | None) -> FoundOffer:
    figure = VerifiedFigure(
        peer_id=peer,
        challenges=0 if verified is None else 1,
        passed=0 if verified is None else 1,
        verified_gflops=verified,
        advertised_gflops=gflops,
        last_passed=None if verified is None else True,
        last_reason="",
    )
    body: Any = SimpleNamespace(price_per_unit=price, gflops=gflops)  # the two fields ranking reads
    return FoundOffer(envelope=None, body=body, peer_id=peer, verified=figure)  # type: ignore[arg-type]


def test_consumer_prefer_verified_changes_the_ranking(tmp_path: Path) -> None:
    proven = _offer("proven", price=5, gflops=100, verified=90)
    claimed = _offer("claimed", price=5, gflops=500, verified=None)
    assert [o.peer_id for o in order_offers([claimed, proven])] == ["proven", "claimed"]
    _write(tmp_path, "[consumer]\nprefer_verified = false\n")
    prefer = load_config(tmp_path).consumer.prefer_verified
    ranked = order_offers([proven, claimed], prefer_verified=prefer)
    assert [o.peer_id for o in ranked] == ["claimed", "proven"]


def test_verifier_challenge_keys_are_the_consumer_challenge_defaults(nodes: Nodes) -> None:
    home = nodes.home("challenger")
    _write(home, "[verifier]\nchallenge_n = 256\nchallenge_threshold = 0.8\n")
    from node.roles.context import open_context

    ctx = open_context(home, account_index=4, chain=nodes.chain, say=lambda _l: None)
    try:
        consumer = Consumer(ctx)
        assert consumer.challenge_options == {"max_n": 256, "threshold": 0.8}
        assert Consumer(ctx, challenge_options={"threshold": 0.1}).challenge_options["threshold"] == 0.1
    finally:
        ctx.close()


def test_verifier_audit_policy_keys_judge_the_market(tmp_path: Path, chain: Chain) -> None:
    from node.roles.verifier import audit_policy_notes

    market = chain.market.params()  # the devnet samples 4 units: 1 - 0.9**4 = 0.34
    assert audit_policy_notes(load_config(tmp_path).verifier, market)  # the defaults (0.99, 64): one note
    _write(tmp_path, "[verifier]\ndetection_target = 0.3\nmax_units_per_audit = 64\n")
    assert audit_policy_notes(load_config(tmp_path).verifier, market) == []
    _write(tmp_path, "[verifier]\ndetection_target = 0.3\nmax_units_per_audit = 2\n")
    (note,) = audit_policy_notes(load_config(tmp_path).verifier, market)
    assert "more than verifier.max_units_per_audit 2" in note


def test_provider_llm_keys_make_the_llm_advert(nodes: Nodes, probe_result: ProbeResult) -> None:
    from node.config import ConfigKeyError
    from node.roles.provider import ProviderDaemon
    from node.workloads.llm_files import MODEL_TYPES, ModelCard, ModelsServed

    assert load_config(nodes.home("fresh")).provider.llm_families == tuple(MODEL_TYPES)
    home = nodes.home("llm-provider")
    _write(home, '[provider]\nllm_families = ["qwen2"]\nllm_max_params = 1000\nmax_bytes = 5000\n')
    served = ProviderDaemon(nodes("llm-provider", 2), probe=probe_result).models_served()
    assert served == ModelsServed(families=("qwen2",), max_params=1000, max_weight_bytes=5000)
    assert served.refusal(ModelCard("qwen2", 1000, 5000)) is None
    assert "1001 parameters, the advert's largest is 1000" in str(served.refusal(ModelCard("qwen2", 1001, 1)))
    assert "5001 bytes of weights" in str(served.refusal(ModelCard("qwen2", 10, 5001)))
    assert "family 'llama'" in str(served.refusal(ModelCard("llama", 10, 10)))
    _write(home, '[provider]\nllm_families = ["llama", "falcon"]\n')
    with pytest.raises(ConfigKeyError, match=r"provider.llm_families: 'falcon' is not one of"):
        load_config(home)
