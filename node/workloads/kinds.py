"""The workloads of the built-in tensor kinds (matmul, inference, train), split into recomputable units.

A :class:`Workload` is a spec made ready to run on one device: blobs checked and decoded, shared
inputs generated (B of a matmul, a model's weights). ``compute(i, prev)`` runs unit ``i`` as ONE
call of the unit's fixed shape, exactly as a verifier will recompute it: the provider never
slices a unit out of a bigger call (the kernel, hence the rounding, depends on the shape).

- ``matmul``: unit i = ``A[i·r:(i+1)·r] @ B`` (the last block may be shorter; its shape is fixed
  by the spec). Seeded A is generated per row block (label ``a/<i>``), so a verifier makes only
  the rows it checks; B is label ``b``.
- ``inference``: unit i = ``model(x[i·s:(i+1)·s])``; seeded inputs per shard (label ``input/<i>``).
- ``train``: unit i = the checkpoint after steps ``i·c+1 … min((i+1)·c, S)``, computed from the
  checkpoint of unit i-1 (``prev``; unit 0 starts from the initial state). A checkpoint is one
  float32 vector: ``[params, momentum]`` for SGD, ``[params, m, v]`` for Adam, params in
  ``model.parameters()`` order. The optimizer is written out in torch ops (not ``torch.optim``)
  so that its arithmetic is part of the v1 definition and a verifier restores it from the vector
  alone. Step t's batch is ``x = uniform(seed, "x/<t>")``, target ``tanh(x·Wᵀ)`` with a seeded
  teacher ``W``, loss mean squared error.

Raw input blobs are little-endian C-order bytes of the job dtype (int64 for transformer tokens).
Which class serves a kind is the kind registry's business (:mod:`node.workloads.jobkinds`);
:func:`make_workload` asks it. The ``llm`` workload lives in :mod:`node.workloads.llm`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from fractions import Fraction

import torch
from torch import nn

from node.errors import JobSpecError, WorkloadError
from node.workloads import jobkinds, models, rng
from node.workloads.spec import InferenceSpec, JobSpec, MatmulSpec, Source, TrainSpec
from verifier.compare import Comparison
from verifier.tensorbytes import DTYPES


def resolve_blob(blobs: Mapping[str, bytes], field: str, digest: str) -> bytes:
    """The bytes of blob ``digest``, checked against its SHA-256; :class:`JobSpecError` naming ``field``."""
    data = blobs.get(digest)
    if data is None:
        raise JobSpecError(field, f"blob {digest} was not provided")
    actual = hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise JobSpecError(field, f"blob bytes hash to {actual}, not {digest}")
    return data


def _raw_tensor(data: bytes, dtype: torch.dtype, shape: tuple[int, ...], field: str) -> torch.Tensor:
    itemsize = torch.empty((), dtype=dtype).element_size()
    expected = math.prod(shape) * itemsize
    if len(data) != expected:
        raise JobSpecError(
            field, f"blob has {len(data)} bytes, expected {expected} for {list(shape)} {dtype}"
        )
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).view(dtype).reshape(shape)


class Workload:
    """A spec prepared for one device. Subclasses define the units."""

    spec: JobSpec
    n_units: int
    needs_prev: bool = False

    def __init__(self, spec: JobSpec, device: torch.device) -> None:
        self.spec = spec
        self.device = device
        self.dtype = DTYPES[spec.dtype]

    def unit_shape(self, index: int) -> tuple[int, ...]:
        """The fixed output shape of unit ``index``."""
        raise NotImplementedError

    def compute(self, index: int, prev: torch.Tensor | None = None) -> torch.Tensor:
        """Unit ``index`` as one call; ``prev`` is the previous checkpoint for ``train``."""
        raise NotImplementedError

    def footprint(self) -> jobkinds.Footprint:
        """The spec's :class:`~node.workloads.jobkinds.Footprint` (the same figures admission held)."""
        return jobkinds.get(self.spec.kind).footprint(self.spec.body, self.spec.dtype)

    def input_bytes(self) -> int:
        """Bytes of the job's inputs (generated or blobs)."""
        known = self.footprint().input_bytes
        assert known is not None, f"{self.spec.kind}: its workload must give its input bytes"
        return known

    def unit_memory_bytes(self) -> int:
        """An upper estimate of the working memory of one unit (inputs resident + activations)."""
        known = self.footprint().unit_memory_bytes
        assert known is not None, f"{self.spec.kind}: its workload must give a unit's memory"
        return known

    def output_bytes(self) -> int:
        """Total bytes of all unit outputs."""
        return self.footprint().output_bytes

    def audit_check(self) -> Callable[[int, torch.Tensor], Comparison] | None:
        """A kind's own audit check of a revealed unit (``None``: recompute the unit and compare)."""
        return None

    def _check_index(self, index: int) -> None:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.n_units:
            raise WorkloadError(f"unit index {index!r} out of range for {self.n_units} units")


class MatmulWorkload(Workload):
    """C = A·B by row blocks."""

    def __init__(self, spec: JobSpec, device: torch.device, blobs: Mapping[str, bytes]) -> None:
        super().__init__(spec, device)
        b = spec.body
        assert isinstance(b, MatmulSpec)
        self.body = b
        self.n_units = -(-b.n // b.rows_per_unit)
        self._a_full: torch.Tensor | None = None
        if b.a.blob is not None:
            data = resolve_blob(blobs, "matmul.a.blob", b.a.blob)
            self._a_full = _raw_tensor(data, self.dtype, (b.n, b.k), "matmul.a.blob").to(device)
        self._b = self._matrix(b.b, "b", (b.k, b.m), blobs)

    def _matrix(
        self, src: Source, name: str, shape: tuple[int, int], blobs: Mapping[str, bytes]
    ) -> torch.Tensor:
        if src.blob is not None:
            data = resolve_blob(blobs, f"matmul.{name}.blob", src.blob)
            return _raw_tensor(data, self.dtype, shape, f"matmul.{name}.blob").to(self.device)
        assert src.seed is not None
        return rng.uniform(src.seed, name, shape).to(self.dtype).to(self.device)

    def rows(self, index: int) -> tuple[int, int]:
        """The row range ``[start, stop)`` of unit ``index``."""
        r = self.body.rows_per_unit
        return index * r, min((index + 1) * r, self.body.n)

    def a_block(self, index: int) -> torch.Tensor:
        """Rows of A for unit ``index`` (contiguous, on the device)."""
        start, stop = self.rows(index)
        if self._a_full is not None:
            return self._a_full[start:stop].contiguous()
        assert self.body.a.seed is not None
        block = rng.uniform(self.body.a.seed, f"a/{index}", (stop - start, self.body.k))
        return block.to(self.dtype).to(self.device)

    @property
    def b_matrix(self) -> torch.Tensor:
        """B on the device."""
        return self._b

    def unit_shape(self, index: int) -> tuple[int, ...]:
        start, stop = self.rows(index)
        return (stop - start, self.body.m)

    def compute(self, index: int, prev: torch.Tensor | None = None) -> torch.Tensor:
        self._check_index(index)
        with torch.no_grad():
            return self.a_block(index) @ self._b


class InferenceWorkload(Workload):
    """A registry model over batch shards."""

    def __init__(self, spec: JobSpec, device: torch.device, blobs: Mapping[str, bytes]) -> None:
        super().__init__(spec, device)
        b = spec.body
        assert isinstance(b, InferenceSpec)
        self.body = b
        self.cfg = b.model.cfg()
        self.n_units = -(-b.batch // b.shard)
        model = models.build(b.model.arch, self.cfg)
        w = b.model.weights
        if w.blob is not None:
            data = resolve_blob(blobs, "inference.model.weights.blob", w.blob)
            state = models.load_weights(model, data, dtype=self.dtype, field="inference.model.weights.blob")
        else:
            assert w.seed is not None
            state = models.seeded_state(model, w.seed)
        model.load_state_dict(state)
        self.model = model.to(self.dtype).to(device).eval()
        self._x_full: torch.Tensor | None = None
        if b.input.blob is not None:
            data = resolve_blob(blobs, "inference.input.blob", b.input.blob)
            if b.model.arch == "transformer":
                tokens = _raw_tensor(data, torch.int64, (b.batch, self.cfg["seq"]), "inference.input.blob")
                if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.cfg["vocab"]):
                    raise JobSpecError(
                        "inference.input.blob", f"token ids must be in [0, {self.cfg['vocab']})"
                    )
                self._x_full = tokens.to(device)
            else:
                x = _raw_tensor(data, self.dtype, (b.batch, self.cfg["d_in"]), "inference.input.blob")
                self._x_full = x.to(device)

    def rows(self, index: int) -> tuple[int, int]:
        s = self.body.shard
        return index * s, min((index + 1) * s, self.body.batch)

    def shard_input(self, index: int) -> torch.Tensor:
        """The input rows of unit ``index`` (contiguous, on the device)."""
        start, stop = self.rows(index)
        if self._x_full is not None:
            return self._x_full[start:stop].contiguous()
        seed = self.body.input.seed
        assert seed is not None
        if self.body.model.arch == "transformer":
            return rng.integers(
                seed, f"input/{index}", (stop - start, self.cfg["seq"]), high=self.cfg["vocab"]
            ).to(self.device)
        x = rng.uniform(seed, f"input/{index}", (stop - start, self.cfg["d_in"]))
        return x.to(self.dtype).to(self.device)

    def unit_shape(self, index: int) -> tuple[int, ...]:
        start, stop = self.rows(index)
        if self.body.model.arch == "transformer":
            return (stop - start, self.cfg["seq"], self.cfg["vocab"])
        return (stop - start, self.cfg["d_out"])

    def compute(self, index: int, prev: torch.Tensor | None = None) -> torch.Tensor:
        self._check_index(index)
        with torch.no_grad():
            return self.model(self.shard_input(index))


class TrainWorkload(Workload):
    """Segments of deterministic training; each unit's output is a checkpoint vector."""

    needs_prev = True

    def __init__(self, spec: JobSpec, device: torch.device, blobs: Mapping[str, bytes]) -> None:
        super().__init__(spec, device)
        b = spec.body
        assert isinstance(b, TrainSpec)
        self.body = b
        self.cfg = b.model.cfg()
        self.n_units = -(-b.steps // b.checkpoint_every)
        model = models.build("mlp", self.cfg)
        w = b.model.weights
        if w.blob is not None:
            data = resolve_blob(blobs, "train.model.weights.blob", w.blob)
            state = models.load_weights(model, data, dtype=torch.float32, field="train.model.weights.blob")
        else:
            assert w.seed is not None
            state = models.seeded_state(model, w.seed)
        model.load_state_dict(state)
        self.model = model.to(device)
        self._names = [name for name, _ in model.named_parameters()]
        self._shapes = [tuple(p.shape) for _, p in model.named_parameters()]
        self.n_params = sum(math.prod(s) for s in self._shapes)
        self._slots = 2 if b.optimizer.name == "sgd" else 3
        self._init_params = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        d_in, d_out = self.cfg["d_in"], self.cfg["d_out"]
        self._teacher = rng.uniform(b.data_seed, "teacher", (d_out, d_in), scale=1.0 / math.sqrt(d_in))
        opt = b.optimizer
        self._lr = float(Fraction(opt.lr))
        self._momentum = float(Fraction(opt.momentum)) if opt.momentum is not None else 0.0
        self._beta1 = float(Fraction(opt.beta1)) if opt.beta1 is not None else 0.0
        self._beta2 = float(Fraction(opt.beta2)) if opt.beta2 is not None else 0.0
        self._eps = float(Fraction(opt.eps)) if opt.eps is not None else 0.0

    @property
    def state_len(self) -> int:
        """Length of a checkpoint vector."""
        return self.n_params * self._slots

    def initial_state(self) -> torch.Tensor:
        """The checkpoint before step 1: initial params, zero optimizer state."""
        zeros = torch.zeros(self.n_params * (self._slots - 1))
        return torch.cat([self._init_params.cpu(), zeros]).to(self.device)

    def steps_of(self, index: int) -> range:
        """The 1-based optimizer steps of unit ``index``."""
        c = self.body.checkpoint_every
        return range(index * c + 1, min((index + 1) * c, self.body.steps) + 1)

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The (input, target) batch of a 1-based step, made on the CPU and moved to the device."""
        x = rng.uniform(self.body.data_seed, f"x/{step}", (self.body.data_batch, self.cfg["d_in"]))
        y = torch.tanh(x @ self._teacher.T)
        return x.to(self.device), y.to(self.device)

    def _grad(self, params: torch.Tensor, step: int) -> torch.Tensor:
        x, y = self.batch(step)
        with torch.enable_grad():
            flat = params.detach().requires_grad_(True)
            views: dict[str, torch.Tensor] = {}
            offset = 0
            for name, shape in zip(self._names, self._shapes, strict=True):
                size = math.prod(shape)
                views[name] = flat[offset : offset + size].view(shape)
                offset += size
            out = torch.func.functional_call(self.model, views, (x,))
            loss = nn.functional.mse_loss(out, y)
            (grad,) = torch.autograd.grad(loss, flat)
        return grad

    def run_steps(self, state: torch.Tensor, steps: range) -> torch.Tensor:
        """Apply ``steps`` to a checkpoint vector and return the new one (the input is not modified)."""
        p_len = self.n_params
        p = state[:p_len].clone()
        if self._slots == 2:
            buf = state[p_len:].clone()
            for t in steps:
                g = self._grad(p, t)
                buf = buf * self._momentum + g
                p = p - self._lr * buf
            return torch.cat([p, buf])
        m = state[p_len : 2 * p_len].clone()
        v = state[2 * p_len :].clone()
        b1, b2 = self._beta1, self._beta2
        for t in steps:
            g = self._grad(p, t)
            m = m * b1 + (1.0 - b1) * g
            v = v * b2 + (1.0 - b2) * (g * g)
            bc1 = 1.0 - b1**t
            bc2 = 1.0 - b2**t
            p = p - self._lr * (m / bc1) / ((v / bc2).sqrt() + self._eps)
        return torch.cat([p, m, v])

    def unit_shape(self, index: int) -> tuple[int, ...]:
        return (self.state_len,)

    def compute(self, index: int, prev: torch.Tensor | None = None) -> torch.Tensor:
        self._check_index(index)
        if index == 0:
            start = self.initial_state()
        elif prev is None:
            raise WorkloadError(f"train unit {index} needs the checkpoint of unit {index - 1} (prev)")
        else:
            if prev.dtype != torch.float32 or tuple(prev.shape) != (self.state_len,):
                got = f"{prev.dtype}{list(prev.shape)}"
                raise WorkloadError(f"previous checkpoint must be float32[{self.state_len}], got {got}")
            start = prev.to(self.device)
        with torch.no_grad():
            return self.run_steps(start, self.steps_of(index))


def make_workload(spec: JobSpec, device: torch.device, blobs: Mapping[str, bytes]) -> Workload:
    """The :class:`Workload` for a spec's kind (from the kind registry)."""
    return jobkinds.get(spec.kind).workload(spec, device, blobs)
