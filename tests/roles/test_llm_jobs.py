"""An ``llm`` job on the market, as a user types it: ``ccm job new llm`` writes the spec and stores the
model and prompts in the consumer's home, ``ccm job submit --wait`` has a real provider daemon run it
and a verifier audit it on Anvil, ``ccm job result`` writes the completions as JSONL. The provider
loads the model once for both jobs; a provider whose signed offer does not serve the model refuses
the job at admission, by name."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
import trio

from node.blobs import BlobStore
from node.capacity.probe import ProbeResult
from node.chain.chain import Chain
from node.chain.market import JobStatus
from node.cli import main
from node.query.market import models_label, offer_row
from node.roles.consumer import Consumer, ProposalRefused, llm_model_card, rank_offers
from node.workloads.llm import cache_info, completions
from node.workloads.runner import JobResult, run_job
from node.workloads.spec import blob_fields, load_spec
from tests.roles.conftest import Nodes, start_provider, start_verifier
from tests.workloads import llm_models as lm


def _ccm_in(home: Path, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    def ccm(*argv: str) -> str:
        code = main([*argv, "--home", str(home), "--account-index", "1"])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        return captured.out

    return ccm


async def test_llm_job_new_submit_result_and_one_model_load(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    provider_ctx, verifier_ctx = nodes("provider", 2), nodes("verifier", 3)
    home = nodes.home("consumer")
    model = lm.build(tmp_path / "model", "llama", seed=4242)  # its own weights: no other test loaded them
    (tmp_path / "a.jsonl").write_text('{"text": "w1 w2 w3"}\n{"tokens": [5, 6, 7]}\n{"text": "w9"}\n')
    (tmp_path / "b.jsonl").write_bytes(lm.token_prompts(4, seed=9))
    ccm = _ccm_in(home, capsys)

    def new(prompts: str, out: str) -> dict[str, object]:
        main_argv = ["job", "new", "llm", "--model", str(model), "--prompts", str(tmp_path / prompts),
                     "--max-new-tokens", "5", "--group", "2", "--max-seconds", "120", "--out",
                     str(tmp_path / out), "--json", "--home", str(home)]  # fmt: skip
        assert main(main_argv) == 0
        return dict(json.loads(capsys.readouterr().out))

    made = [new("a.jsonl", "a.json"), new("b.jsonl", "b.json")]
    loads_before = cache_info().loads
    with trio.fail_after(240):
        async with trio.open_nursery() as nursery:
            provider = await start_provider(nursery, provider_ctx, probe_result)
            await start_verifier(nursery, verifier_ctx, provider)
            reports = []
            for doc in made:
                argv = ("job", "submit", str(doc["spec"]), "--peer", provider.addrs[0], "--wait", "--json")
                out = await trio.to_thread.run_sync(lambda a=argv: ccm(*a))
                reports.append(json.loads(out))
            written = tmp_path / "a-out.jsonl"
            job_a, job_b = (int(r["job_id"]) for r in reports)
            await trio.to_thread.run_sync(lambda: ccm("job", "result", str(job_a), "--out", str(written)))
            to_stdout = await trio.to_thread.run_sync(lambda: ccm("job", "result", str(job_b)))
            nursery.cancel_scope.cancel()
    for job_id in (job_a, job_b):
        job = chain.market.job(job_id)
        assert job.status == JobStatus.COMPLETED and job.verifier == verifier_ctx.address
    # The provider's admission, its run and the verifier's audit of two jobs: one load of the model.
    assert cache_info().loads - loads_before == 1
    # The completions are the committed tokens of a local run of the same spec, text decoded.
    local = [_local_run(tmp_path / f"{n}.json", provider_ctx.blobs) for n in ("a", "b")]
    assert [r.root for r in local] == [chain.market.job(j).root for j in (job_a, job_b)]
    tokenizer = (model / "tokenizer.json").read_bytes()
    lines = [json.loads(x) for x in written.read_text().splitlines()]
    assert lines == completions(local[0].outputs, tokenizer)
    assert len(lines) == 3 and all(len(x["tokens"]) == 5 and isinstance(x["text"], str) for x in lines)
    assert [json.loads(x) for x in to_stdout.splitlines()] == completions(local[1].outputs, tokenizer)


def _local_run(spec_file: Path, store: BlobStore) -> JobResult:
    spec = load_spec(spec_file.read_bytes())
    return run_job(spec, device="cpu", blobs={d: store.get(d) for d in blob_fields(spec).values()})


async def test_provider_refuses_an_llm_job_outside_its_advert(
    chain: Chain, nodes: Nodes, probe_result: ProbeResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (nodes.home("provider") / "config.toml").write_text('[provider]\nllm_families = ["gpt2", "qwen2"]\n')
    provider_ctx, consumer_ctx = nodes("provider", 2), nodes("consumer", 1)
    model = lm.build(tmp_path / "model", "llama", seed=7)
    (tmp_path / "p.jsonl").write_bytes(lm.token_prompts(2))
    argv = ["job", "new", "llm", "--model", str(model), "--prompts", str(tmp_path / "p.jsonl"),
            "--max-new-tokens", "3", "--home", str(consumer_ctx.home)]  # fmt: skip
    assert main(argv) == 0
    spec = load_spec(capsys.readouterr().out)
    card = llm_model_card(spec, consumer_ctx.blobs)
    assert card is not None and card.family == "llama" and card.params > 0
    before = chain.token.balance_of(consumer_ctx.address)
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            provider = await start_provider(nursery, provider_ctx, probe_result)
            consumer = await nursery.start(functools.partial(Consumer(consumer_ctx).run))
            offers = await consumer.discover(peers=[provider.addrs[0]])
            served = offers[0].body.llm  # part of the signed offer, checked on arrival
            assert served is not None and served.families == ("gpt2", "qwen2")
            assert served.max_weight_bytes == provider_ctx.config.provider.max_bytes
            row = offer_row(offers[0])  # what `ccm market offers` and the dashboard show
            assert row["llm"] == {"families": ["gpt2", "qwen2"], "max_params": served.max_params,
                                  "max_weight_bytes": served.max_weight_bytes}  # fmt: skip
            assert models_label(row["llm"]).startswith("gpt2, qwen2 ≤ ")
            # The consumer's ranking already leaves this offer out...
            assert rank_offers(offers, kind="llm", n_units=1, model=card) == []
            assert rank_offers(offers, kind="llm", n_units=1) == offers
            # ...and a consumer that proposes anyway is refused at admission, with the reason named.
            with pytest.raises(ProposalRefused) as refused:
                await consumer.submit(spec, offers[0])
            nursery.cancel_scope.cancel()
    reason = refused.value.reason
    assert "model not served: family 'llama' is not among the advertised (gpt2, qwen2)" in reason
    assert chain.market.status_of(refused.value.job_id) == JobStatus.CANCELLED
    assert chain.token.balance_of(consumer_ctx.address) == before
