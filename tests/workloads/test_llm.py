"""Kind llm: tiny random causal LMs built here (never downloaded), honest runs pass, cheats fail,
malicious model files are refused before transformers sees them."""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from node.errors import JobSpecError
from node.workloads.audit import audit_job, reveal
from node.workloads.cheats import Cheat, run_dishonest
from node.workloads.jobkinds.llm import LLM_CHEATS
from node.workloads.llm import LlmWorkload, completions, load_model
from node.workloads.llm_files import DENIED_KEYS, UnsafeModelError, model_dir_files, vet_config
from node.workloads.runner import prepare, run_job
from node.workloads.spec import JobSpec, blob_fields, parse_spec, spec_hash, to_dict, unit_count
from tests.workloads import llm_models as lm
from verifier.detection import detection_probability
from verifier.llm import check_sequence
from verifier.sampling import sample_indices

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    """One torch thread unless a test says otherwise: see :func:`_honest_cases`."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("llm")
    out = {t: lm.build(root / t, t) for t in ("llama", "qwen2", "gpt2", "mistral")}
    out["sharded"] = lm.build(root / "sharded", "llama", shard_bytes=40_000)
    return out


def _spec(model: Path, prompts: bytes, **kwargs: Any) -> tuple[JobSpec, dict[str, bytes]]:
    d, blobs = lm.spec_and_blobs(model, prompts, **kwargs)
    return parse_spec(d), blobs


def _with_threads(n: int, fn: Any) -> Any:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        return fn()
    finally:
        torch.set_num_threads(before)


# ------------------------------------------------------------------------------------ spec


PINNED = {
    "version": 1,
    "kind": "llm",
    "dtype": "bfloat16",
    "tolerance": "1/8",
    "limits": {"max_units": 64, "max_bytes": 1 << 30, "max_seconds": 600, "max_memory_bytes": 1 << 30},
    "llm": {
        "model": {"config.json": "11" * 32, "model.safetensors": "22" * 32, "tokenizer.json": "33" * 32},
        "prompts": {"blob": "44" * 32},
        "sequences": 16,
        "group": 4,
        "max_new_tokens": 32,
        "decoding": {"name": "sample", "temperature": "0.7", "seed": 5},
        "top_k": 8,
    },
}


def test_llm_spec_hash_is_stable_and_round_trips() -> None:
    spec = parse_spec(copy.deepcopy(PINNED))
    assert spec_hash(spec).hex() == "4336f363eee47244a24e34aad27f95db2e46c218d38966f3335b531cfe9c9204"
    assert to_dict(spec) == PINNED and parse_spec(to_dict(spec)) == spec
    assert unit_count(spec) == 4
    assert blob_fields(spec) == {
        "llm.model.config.json": "11" * 32,
        "llm.model.model.safetensors": "22" * 32,
        "llm.model.tokenizer.json": "33" * 32,
        "llm.prompts.blob": "44" * 32,
    }


def _with(path: str, value: Any) -> dict[str, Any]:
    d = copy.deepcopy(PINNED)
    *parents, last = path.split("|")
    node = d
    for p in parents:
        node = node[p]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return d


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("llm|model|pytorch_model.bin", "55" * 32, "llm.model.pytorch_model.bin"),
        ("llm|model|modeling_evil.py", "55" * 32, "llm.model.modeling_evil.py"),
        ("llm|model|../x.safetensors", "55" * 32, "llm.model.../x.safetensors"),
        ("llm|model|adapter_model.bin", "55" * 32, "llm.model.adapter_model.bin"),
        ("llm|model|config.json", None, "llm.model.config.json"),
        ("llm|model|model-00002.safetensors", "55" * 32, "llm.model.model.safetensors.index.json"),
        ("llm|model|model.safetensors", None, "llm.model"),
        ("llm|prompts", {"seed": 1}, "llm.prompts"),
        ("llm|group", 17, "llm.group"),
        ("llm|top_k", 65, "llm.top_k"),
        ("llm|decoding", {"name": "beam"}, "llm.decoding.name"),
        ("llm|decoding", {"name": "sample", "temperature": "0", "seed": 1}, "llm.decoding.temperature"),
        ("llm|decoding", {"name": "greedy", "seed": 1}, "llm.decoding.seed"),
        ("llm|max_new_tokens", 0, "llm.max_new_tokens"),
    ],
)
def test_bad_llm_fields_are_named(path: str, value: Any, field: str) -> None:
    with pytest.raises(JobSpecError) as err:
        parse_spec(_with(path, value))
    assert err.value.field == field, err.value


# ------------------------------------------------------------------------- malicious configs


def _config(models: dict[str, Path], model_type: str = "llama") -> dict[str, Any]:
    cfg: dict[str, Any] = json.loads((models[model_type] / "config.json").read_text())
    return cfg


@pytest.mark.parametrize("model_type", ["llama", "qwen2", "gpt2", "mistral"])
def test_saved_configs_of_every_allowed_type_pass(models: dict[str, Path], model_type: str) -> None:
    cfg = vet_config((models[model_type] / "config.json").read_bytes())
    assert cfg["model_type"] == model_type


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("transformers_weights", "adapter_model.bin"),
        ("auto_map", {"AutoModelForCausalLM": "modeling_evil.EvilForCausalLM"}),
        ("quantization_config", {"quant_method": "bitsandbytes", "load_in_8bit": True}),
        ("custom_pipelines", {"x": {"impl": "evil.Pipe"}}),
        ("trust_remote_code", True),
    ],
)
def test_denied_and_unknown_config_keys_are_refused_by_name(
    models: dict[str, Path], key: str, value: Any
) -> None:
    cfg = _config(models)
    cfg[key] = value
    with pytest.raises(UnsafeModelError) as err:
        vet_config(json.dumps(cfg).encode())
    assert err.value.key == key and err.value.field == "llm.model.config.json"
    if key in DENIED_KEYS:
        assert "refused" in err.value.message
    else:
        assert "not an allowed llama config key" in err.value.message


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"model_type": "bert"}, "model_type"),
        ({"model_type": "evil"}, "model_type"),
        ({"architectures": ["EvilForCausalLM"]}, "architectures"),
        ({"vocab_size": -1}, "vocab_size"),
    ],
)
def test_model_type_and_architecture_are_allow_listed(
    models: dict[str, Path], change: dict[str, Any], key: str
) -> None:
    cfg = {**_config(models), **change}
    with pytest.raises(UnsafeModelError) as err:
        vet_config(json.dumps(cfg).encode())
    assert err.value.key == key


def test_duplicate_keys_and_nan_are_refused(models: dict[str, Path]) -> None:
    text = (models["llama"] / "config.json").read_text()
    with pytest.raises(UnsafeModelError):
        vet_config(text.replace("{", '{"model_type": "llama", ', 1).encode())
    with pytest.raises(UnsafeModelError):
        vet_config(text.replace('"rms_norm_eps": 1e-06', '"rms_norm_eps": NaN').encode())


def test_a_refused_config_never_reaches_transformers(models: dict[str, Path], tmp_path: Path) -> None:
    """prepare() of a spec whose config.json names transformers_weights fails with the named error,
    and transformers was never imported (a fresh interpreter)."""
    model = tmp_path / "evil"
    model.mkdir()
    for f in models["llama"].iterdir():
        (model / f.name).write_bytes(f.read_bytes())
    cfg = _config(models)
    cfg["transformers_weights"] = "adapter_model.bin"
    (model / "config.json").write_text(json.dumps(cfg))
    files = {p.name: p.read_bytes() for p in model.iterdir()}
    from node.workloads.llm_files import llm_spec

    d, blobs = llm_spec(files, lm.token_prompts(2), max_new_tokens=4)
    (tmp_path / "spec.json").write_text(json.dumps(d))
    (tmp_path / "blobs.json").write_text(json.dumps({k: v.hex() for k, v in blobs.items()}))
    code = (
        "import json, sys\n"
        "from node.workloads.spec import parse_spec\n"
        "from node.workloads.runner import prepare\n"
        "from node.workloads.llm_files import UnsafeModelError\n"
        f"d = json.load(open({str(tmp_path / 'spec.json')!r}))\n"
        f"b = {{k: bytes.fromhex(v) for k, v in json.load(open({str(tmp_path / 'blobs.json')!r})).items()}}\n"
        "try:\n"
        "    prepare(parse_spec(d), device='cpu', blobs=b)\n"
        "except UnsafeModelError as e:\n"
        "    print('REFUSED', e.field, e.key)\n"
        "print('TRANSFORMERS', 'transformers' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert "REFUSED llm.model.config.json transformers_weights" in out.stdout, out.stderr
    assert "TRANSFORMERS False" in out.stdout


def test_index_naming_a_file_outside_the_job_is_refused(models: dict[str, Path]) -> None:
    files = model_dir_files(models["sharded"])
    index = json.loads(files["model.safetensors.index.json"])
    name = next(iter(index["weight_map"]))
    index["weight_map"][name] = "adapter_model.bin"
    files["model.safetensors.index.json"] = json.dumps(index).encode()
    from node.workloads.llm_files import llm_spec

    d, blobs = llm_spec(files, lm.token_prompts(2), max_new_tokens=4)
    with pytest.raises(UnsafeModelError) as err:
        prepare(parse_spec(d), device="cpu", blobs=blobs)
    assert err.value.key == "weight_map"


# ------------------------------------------------------------------------------- prompts


def test_text_prompts_use_the_tokenizer_json(models: dict[str, Path]) -> None:
    prompts = b'{"text": "w1 w2 w3"}\n{"tokens": [5, 6]}\n'
    spec, blobs = _spec(models["llama"], prompts, max_new_tokens=4)
    work = prepare(spec, device="cpu", blobs=blobs)
    assert isinstance(work, LlmWorkload)
    assert work.prompts == [[3, 4, 5], [5, 6]]
    result = run_job(spec, device="cpu", blobs=blobs)
    lines = completions(result.outputs, work.tokenizer_json)
    assert len(lines) == 2 and all(len(x["tokens"]) == 4 and isinstance(x["text"], str) for x in lines)


@pytest.mark.parametrize(
    ("prompts", "message"),
    [
        (b'{"tokens": [5, 96]}\n', "token ids must be in [0, 96)"),
        (b'{"tokens": []}\n', "at least one token"),
        (b'{"tokens": [1.5]}\n', "list of integers"),
        (b'{"prompt": "x"}\n', "expected"),
        (b"not json\n", "not valid JSON"),
    ],
)
def test_bad_prompts_are_named(models: dict[str, Path], prompts: bytes, message: str) -> None:
    spec, blobs = _spec(models["llama"], prompts, max_new_tokens=4)
    with pytest.raises(JobSpecError) as err:
        prepare(spec, device="cpu", blobs=blobs)
    assert err.value.field.startswith("llm.prompts.blob") and message in err.value.message


def test_text_prompt_without_a_tokenizer_and_wrong_counts_are_refused(models: dict[str, Path]) -> None:
    files = model_dir_files(models["llama"])
    del files["tokenizer.json"]
    from node.workloads.llm_files import llm_spec

    d, blobs = llm_spec(files, b'{"text": "w1"}\n', max_new_tokens=4)
    with pytest.raises(JobSpecError, match=r"needs a tokenizer\.json"):
        prepare(parse_spec(d), device="cpu", blobs=blobs)
    d["llm"]["sequences"] = 2
    d["llm"]["group"] = 1
    with pytest.raises(JobSpecError, match="1 prompt lines, the spec says sequences = 2"):
        prepare(parse_spec(d), device="cpu", blobs=blobs)
    d, blobs = llm_spec(files, lm.token_prompts(1), max_new_tokens=250)
    with pytest.raises(JobSpecError, match="the model has 256") as err:
        prepare(parse_spec(d), device="cpu", blobs=blobs)
    assert err.value.field == "llm.max_new_tokens"


# ---------------------------------------------------------------------------- honest runs


def _honest_cases() -> list[tuple[str, dict[str, Any], int, int, int, str, int]]:
    """(model, spec kwargs, units, group, provider threads, verifier attention, verifier threads).

    The provider uses SDPA attention; group 8 means the provider generates 8 sequences in one
    left-padded batch while the verifier checks each alone. Most units run on one thread: two
    OpenMP threads on a shared, loaded 2-core machine are ~10x slower for models this small.
    """
    greedy: dict[str, Any] = {"decoding": {"name": "greedy"}}
    sample: dict[str, Any] = {"decoding": {"name": "sample", "temperature": "0.8", "seed": 3}}
    return [
        ("llama", {"dtype": "float32", **greedy}, 512, 1, 1, "eager", 1),
        ("qwen2", {"dtype": "float32", **greedy}, 128, 8, 1, "sdpa", 1),
        ("gpt2", {"dtype": "float32", **greedy}, 384, 1, 1, "eager", 1),
        ("mistral", {"dtype": "float32", **greedy}, 384, 1, 1, "sdpa", 1),
        ("llama", {"dtype": "bfloat16", **greedy}, 192, 1, 1, "eager", 1),
        ("qwen2", {"dtype": "float16", **greedy}, 192, 1, 1, "eager", 1),
        ("llama", {"dtype": "float32", **sample}, 256, 1, 1, "eager", 1),
        ("gpt2", {"dtype": "bfloat16", **sample}, 64, 4, 1, "eager", 1),
        ("llama", {"dtype": "float32", **greedy}, 64, 1, 2, "eager", 1),
        ("mistral", {"dtype": "bfloat16", **greedy}, 32, 1, 1, "sdpa", 2),
    ]


HONEST_UNITS = int(os.environ.get("CCM_LLM_HONEST_UNITS", "2048"))


def test_honest_runs_never_fail_an_audit(models: dict[str, Path]) -> None:
    """0 false alarms over >= 2,048 audited honest units (CCM_LLM_HONEST_UNITS scales it), across
    model types, threads, attention implementation, batch composition, dtype and decoding."""
    cases = _honest_cases()
    scale = HONEST_UNITS / 2048
    audited = 0
    for n, (model, kwargs, units, group, p_threads, attn, v_threads) in enumerate(cases):
        units = max(2, math.ceil(units * scale))
        prompts = lm.token_prompts(units * group, seed=n, lo=2, hi=10)
        spec, blobs = _spec(models[model], prompts, max_new_tokens=8, group=group, **kwargs)
        result = _with_threads(p_threads, lambda s=spec, b=blobs: run_job(s, device="cpu", blobs=b))
        work = LlmWorkload(spec, CPU, blobs, attn=attn)
        indices = list(range(result.n_units))
        revealed = reveal(result.outputs, result.tree, indices, needs_prev=False)
        outcome = _with_threads(
            v_threads,
            lambda w=work, r=result, i=indices, rv=revealed: audit_job(
                w, root=r.root, indices=i, revealed=rv
            ),
        )
        assert outcome.passed, (
            model,
            kwargs,
            outcome.verdict.failures if outcome.verdict else outcome.reason,
        )
        audited += len(indices)
    assert audited >= HONEST_UNITS


def test_unit_bytes_are_deterministic_on_cpu(models: dict[str, Path]) -> None:
    spec, blobs = _spec(models["qwen2"], lm.token_prompts(6, seed=4), max_new_tokens=6, group=3)
    a = run_job(spec, device="cpu", blobs=blobs)
    b = run_job(spec, device="cpu", blobs=blobs)
    assert a.outputs == b.outputs and a.root == b.root
    assert a.outputs[0][0] == "float32" and a.outputs[0][1] == (3, 6, 17)


def test_sharded_weights_load_and_match_one_file(models: dict[str, Path], tmp_path: Path) -> None:
    files = model_dir_files(models["sharded"])
    assert (
        len([n for n in files if n.endswith(".safetensors")]) > 1 and "model.safetensors.index.json" in files
    )
    single = lm.build(tmp_path / "single", "llama")  # same seed: the same weights in one file
    prompts = lm.token_prompts(4, seed=2)
    s1, b1 = _spec(models["sharded"], prompts, max_new_tokens=6, group=2)
    s2, b2 = _spec(single, prompts, max_new_tokens=6, group=2)
    r1, r2 = run_job(s1, device="cpu", blobs=b1), run_job(s2, device="cpu", blobs=b2)
    assert r1.outputs == r2.outputs
    work = prepare(s1, device="cpu", blobs=b1)
    assert audit_job(
        work, root=r1.root, indices=[0, 1], revealed=reveal(r1.outputs, r1.tree, [0, 1], needs_prev=False)
    ).passed


def test_model_cache_keeps_one_model_per_files_dtype_and_device(models: dict[str, Path]) -> None:
    files = model_dir_files(models["gpt2"])
    a = load_model(files, dtype=torch.float32, device=CPU)
    assert load_model(files, dtype=torch.float32, device=CPU) is a
    assert load_model(files, dtype=torch.bfloat16, device=CPU) is not a


# ---------------------------------------------------------------------------------- cheats


def _cheat_cases() -> list[tuple[str, str, str]]:
    """(cheat, dtype, precision): every cheat in fp32; in bf16 and fp16 those the dtype can separate."""
    cases = [(name, "float32", "bfloat16") for name in LLM_CHEATS]
    for name in ("other_model", "drop_layer", "truncated_prompt", "made_up_tokens", "wrong_topk"):
        cases.append((name, "bfloat16", "bfloat16"))
    cases += [("quantized", "float16", "bfloat16"), ("low_precision", "float16", "bfloat16")]
    cases.append(("low_precision", "float32", "float16"))
    return cases


@pytest.mark.parametrize(("name", "dtype", "precision"), _cheat_cases(), ids=lambda v: str(v))
def test_every_cheated_unit_fails_and_every_other_unit_passes(
    models: dict[str, Path], name: str, dtype: str, precision: str
) -> None:
    spec, blobs = _spec(
        models["llama"], lm.token_prompts(16, seed=11), max_new_tokens=8, group=2, dtype=dtype
    )
    run = run_dishonest(
        spec, Cheat(name, fraction="1/4", seed=1, precision=precision), device="cpu", blobs=blobs
    )
    work = prepare(spec, device="cpu", blobs=blobs)
    assert len(run.cheated) == 2
    for i in range(work.n_units):
        outcome = audit_job(
            work, root=run.root, indices=[i], revealed=reveal(run.revealed, run.tree, [i], needs_prev=False)
        )
        assert outcome.passed == (i not in run.cheated), (name, dtype, i, outcome.verdict)
        if i in run.cheated:
            assert outcome.verdict is not None
            statuses = {u.status for u in outcome.verdict.units}
            assert statuses == ({"bad_proof"} if name == "wrong_root" else {"mismatch"}), statuses


def test_sampling_with_another_seed_fails(models: dict[str, Path]) -> None:
    prompts = lm.token_prompts(4, seed=5)
    kw: dict[str, Any] = {"max_new_tokens": 8, "group": 1}
    spec, blobs = _spec(
        models["llama"], prompts, decoding={"name": "sample", "temperature": "1", "seed": 1}, **kw
    )
    other, _ = _spec(
        models["llama"], prompts, decoding={"name": "sample", "temperature": "1", "seed": 2}, **kw
    )
    honest = LlmWorkload(spec, CPU, blobs)
    cheater = LlmWorkload(other, CPU, blobs)
    fails = [honest.check_unit(i, cheater.generate(i)) for i in range(4)]
    assert all(honest.check_unit(i, honest.generate(i)).passed for i in range(4))
    assert all(not f.passed and f.reason == "token" for f in fails)


TRIALS = int(os.environ.get("CCM_DETECTION_TRIALS", "150"))


@pytest.mark.parametrize("name", ["other_model", "drop_layer", "made_up_tokens", "truncated_prompt"])
def test_detection_rate_matches_the_hypergeometric_prediction(models: dict[str, Path], name: str) -> None:
    spec, blobs = _spec(models["gpt2"], lm.token_prompts(40, seed=21), max_new_tokens=6, group=1)
    run = run_dishonest(spec, Cheat(name, fraction="1/10", seed=7), device="cpu", blobs=blobs)
    work = prepare(spec, device="cpu", blobs=blobs)
    n, bad, k = work.n_units, len(run.cheated), 8
    verdicts: dict[int, bool] = {}
    caught = 0
    for trial in range(TRIALS):
        indices = sample_indices(trial.to_bytes(32, "big"), 99, n, k)
        todo = [i for i in indices if i not in verdicts]
        if todo:
            outcome = audit_job(
                work,
                root=run.root,
                indices=todo,
                revealed=reveal(run.revealed, run.tree, todo, needs_prev=False),
            )
            assert outcome.verdict is not None
            verdicts.update({u.index: u.status == "pass" for u in outcome.verdict.units})
        passed = all(verdicts[i] for i in indices)
        assert passed == (not set(indices) & run.cheated), "verdict must depend only on the sample"
        caught += not passed
    p = detection_probability(n, bad, k)
    half_width = 3.29 * math.sqrt(p * (1 - p) / TRIALS)  # 99.9% normal interval
    assert abs(caught / TRIALS - p) <= half_width, (caught / TRIALS, p)


# ----------------------------------------------------------------------- audit cost, ties


def test_audit_is_one_forward_pass_against_one_a_token(models: dict[str, Path]) -> None:
    """The cost figure as a count: generating a unit of g sequences and T tokens calls the model T
    times (a prefill, then T-1 decoding steps, all g sequences batched); auditing it calls the model
    once, over the g prompts + tokens together. Seconds are in ``scripts/bench llm``."""
    spec, blobs = _spec(models["llama"], lm.token_prompts(4, seed=8), max_new_tokens=16, group=4)
    work = prepare(spec, device="cpu", blobs=blobs)
    assert isinstance(work, LlmWorkload)
    calls: list[tuple[int, ...]] = []
    hook = work.model.register_forward_hook(
        lambda m, args, kwargs, out: calls.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True
    )
    try:
        y = work.generate(0)
        generated = list(calls)
        calls.clear()
        assert work.check_unit(0, y).passed
        audited = list(calls)
    finally:
        hook.remove()
    assert len(generated) == 16 and all(s[0] == 4 for s in generated)
    assert len(audited) == 1 and audited[0][0] == 4


def _row(token: int, ids: list[int], vals: list[float]) -> list[float]:
    return [float(token), *map(float, ids), *vals]


def test_near_ties_pass_within_tolerance_and_fail_beyond_it() -> None:
    logits = torch.tensor([[5.0, 4.9999, 1.0, 0.0]])
    tie = torch.tensor([_row(1, [1, 0], [4.9999, 5.0 - 1e-9])])
    # The provider's own top-1 was token 1 (a near-tie it resolved the other way): accepted.
    assert check_sequence(logits, torch.tensor([_row(1, [1, 0], [5.0, 4.9999])]), tolerance=1e-4).passed
    assert not check_sequence(logits, tie, tolerance=1e-4).passed  # values not non-increasing
    wide = torch.tensor([[5.0, 4.9, 1.0, 0.0]])
    res = check_sequence(wide, torch.tensor([_row(1, [1, 0], [4.9, 4.9])]), tolerance=1e-4)
    assert not res.passed and res.reason == "topk_values"
    res = check_sequence(wide, torch.tensor([_row(1, [1, 2], [4.9, 1.0])]), tolerance=1e-4)
    assert not res.passed and res.reason == "topk_incomplete"
    res = check_sequence(wide, torch.tensor([_row(0, [1, 0], [4.9, 5.0])]), tolerance=1e-4)
    assert not res.passed and res.reason == "malformed"  # values not non-increasing
    res = check_sequence(wide, torch.tensor([_row(2, [0, 1], [5.0, 4.9])]), tolerance=1e-4)
    assert not res.passed and res.reason == "token"
    assert check_sequence(wide, torch.tensor([_row(0, [0, 1], [5.0, 4.9])]), tolerance=1e-4).passed


def test_demo_llm_job_pays_the_honest_provider_and_catches_the_cheater(tmp_path: Path) -> None:
    """The demo's llm job (node.demo.specs): a random Llama built from a config, eight units; the
    honest run passes a 4-unit audit, a provider that corrupts half its units fails it."""
    from node.demo.specs import build_llm_model, llm_demo

    spec, blobs = llm_demo(build_llm_model(tmp_path / "demo", "tiny"))
    assert spec.kind == "llm" and unit_count(spec) == 8
    work = prepare(spec, device="cpu", blobs=blobs)
    indices = sample_indices(b"\x01" * 32, 1, 8, 4)
    honest = run_job(spec, device="cpu", blobs=blobs)
    revealed = reveal(honest.outputs, honest.tree, indices, needs_prev=False)
    assert audit_job(work, root=honest.root, indices=indices, revealed=revealed).passed
    run = run_dishonest(spec, Cheat("corrupt", fraction="1/2", seed=3), device="cpu", blobs=blobs)
    revealed = reveal(run.revealed, run.tree, indices, needs_prev=False)
    outcome = audit_job(work, root=run.root, indices=indices, revealed=revealed)
    assert set(indices) & run.cheated  # these seeds sample a cheated unit (missed with p = 1/70)
    assert not outcome.passed


def test_model_card_reads_family_and_size_without_torch(models: dict[str, Path]) -> None:
    from node.workloads.llm_files import model_card

    for name in ("gpt2", "sharded"):
        files = model_dir_files(models[name])
        spec, blobs = _spec(models[name], lm.token_prompts(1), max_new_tokens=2)
        work = prepare(spec, device="cpu", blobs=blobs)
        assert isinstance(work, LlmWorkload)
        card = model_card(files)
        assert card.family == ("gpt2" if name == "gpt2" else "llama")
        assert card.params == work.n_params  # tied embeddings are stored and counted once
    bad = dict(model_dir_files(models["gpt2"]))
    bad["model.safetensors"] = b"\xff" * 16
    with pytest.raises(UnsafeModelError):
        model_card(bad)


def test_audit_splits_its_pass_to_bound_the_logits(
    models: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import node.workloads.llm as llm_mod

    spec, blobs = _spec(models["llama"], lm.token_prompts(4, seed=8), max_new_tokens=6, group=4)
    work = prepare(spec, device="cpu", blobs=blobs)
    assert isinstance(work, LlmWorkload)
    y = work.generate(0)
    monkeypatch.setattr(llm_mod, "MAX_AUDIT_LOGITS_BYTES", 2 * 6 * work.vocab * 4)  # two sequences a pass
    calls: list[int] = []
    hook = work.model.register_forward_hook(
        lambda m, a, kw, o: calls.append(kw["input_ids"].shape[0]), with_kwargs=True
    )
    try:
        assert work.check_unit(0, y).passed
    finally:
        hook.remove()
    assert calls == [2, 2]
