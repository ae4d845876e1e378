"""The capacity probe: what the device is (NVML) and what it really does (torch), in seconds.

``probe(device="auto")`` reads the NVIDIA GPU with pynvml (name, UUID, memory, max clocks, power
limit, driver and CUDA driver version) and measures with torch: dense matmul throughput for fp32,
bf16 and fp16 (and TF32 on a GPU) over a sweep of sizes, device memory bandwidth (device-to-device
copy) and host↔device copy through pinned memory. Without a usable GPU (no driver, no NVML, a CPU
build of torch) it says why, in NVML's own words where NVML gave them, and measures the CPU the
same way, marked ``device: "cpu"``. CPU and CUDA run the same code; the device is a parameter.

Figures are integers (MFLOP/s, MB/s with MB = 10^6 bytes) so that the canonical JSON of a result,
and its :meth:`ProbeResult.advert_hash` (keccak256, bound on chain by the staking registry), are the
same in every language. The document itself travels in every signed offer (``OfferBody.probe``),
so the NVML facts are part of the advert; they are declared, not proven (NVML reports what the
driver says). Throughput is the best of a few timed batches (sustained peak; the first call of
every shape is a warm-up and is not timed).

Time: the whole probe keeps to ``budget_s`` (15 s by default, about 3 s with ``quick``); a size whose
estimated cost (from the previous size's rate) does not fit the remaining share is skipped, so a
slow dtype (fp16 on most CPUs) cannot blow the budget.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import torch
from eth_utils import keccak

from node.capacity.errors import ProbeError

SCHEMA = "ccm-probe/1"
DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32, "tfloat32": torch.float32, "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}
"""Dtypes measured (``tfloat32``: float32 tensors multiplied with TF32 tensor cores, CUDA only)."""
CPU_DTYPES = ("float32", "bfloat16", "float16")
"""What a CPU is measured in (it has no TF32)."""

# Size sweeps: (full, quick). GPUs need large n to reach their peak; CPUs reach theirs early.
# On a CPU the sweep reaches 2048, the size a verifier challenges (``verifier.challenge_n``): the
# figure advertised is then measured on calls as long as a challenge's product. Measured on 128-256
# only, each call took well under a millisecond, so the best batch caught the cores between other
# processes' slices, and a loaded machine advertised a figure its challenges could not reach.
_SIZES = {
    "cuda": ((1024, 2048, 4096, 8192), (1024, 4096)),
    "cpu": ((256, 512, 1024, 2048), (256, 2048)),
}
# Bytes moved per bandwidth measurement: (device copy, host<->device copy), full and quick.
_BYTES = {
    "cuda": ((1 << 30, 256 << 20), (256 << 20, 64 << 20)),
    "cpu": ((256 << 20, 0), (128 << 20, 0)),
}

Progress = Callable[[str], None]


@dataclass(frozen=True)
class GpuInfo:
    """What NVML says about the GPU; a field NVML does not support on this board is ``None``."""

    index: int
    name: str
    uuid: str
    memory_bytes: int
    sm_clock_max_mhz: int | None
    mem_clock_max_mhz: int | None
    power_limit_mw: int | None
    driver_version: str
    cuda_driver_version: str | None


@dataclass(frozen=True)
class HostInfo:
    """The machine around the device."""

    cpu_model: str
    logical_cpus: int
    torch_threads: int
    memory_bytes: int
    os: str
    torch_version: str
    cuda_runtime: str | None


@dataclass(frozen=True)
class MatmulFigure:
    """Dense ``n×n @ n×n`` throughput in one dtype: ``mflops`` = 2n³ / seconds / 10⁶ (MFLOP/s, so
    that slow CPU dtypes and tiny sizes still have significant digits as integers)."""

    dtype: str
    n: int
    mflops: int

    @property
    def tflops(self) -> float:
        return self.mflops / 1e6


@dataclass(frozen=True)
class ProbeResult:
    """A measured capacity advertisement. ``device`` is ``"cuda"`` or ``"cpu"``.

    ``no_gpu_reason`` says plainly why a CPU was measured (``None`` when a GPU was).
    ``h2d_mbps`` / ``d2h_mbps`` are ``None`` on the CPU (there is no host↔device link).
    """

    device: str
    device_name: str
    gpu: GpuInfo | None
    no_gpu_reason: str | None
    host: HostInfo
    matmul: tuple[MatmulFigure, ...]
    memory_bandwidth_mbps: int
    h2d_mbps: int | None
    d2h_mbps: int | None
    quick: bool
    duration_ms: int
    measured_at: int
    schema: str = SCHEMA

    def best_gflops(self, dtype: str = "float32") -> int:
        """The highest measured throughput in ``dtype``, GFLOP/s (0 if none was measured)."""
        return max((m.mflops for m in self.matmul if m.dtype == dtype), default=0) // 1000

    def gflops_at(self, dtype: str, n: int) -> int:
        """The figure claimed for an ``n × n`` product in ``dtype``, GFLOP/s: the one measured at the
        largest size not above ``n`` (the smallest size when all are above; 0 if ``dtype`` was not
        measured). A capacity challenge of size ``n`` is judged against it: the same workload."""
        figs = sorted((m for m in self.matmul if m.dtype == dtype), key=lambda m: m.n)
        if not figs:
            return 0
        below = [m for m in figs if m.n <= n]
        return (below[-1] if below else figs[0]).mflops // 1000

    def best_size(self, dtype: str = "float32") -> int:
        """The matrix size at which ``dtype`` peaked (a fair size for a capacity challenge)."""
        best = max((m for m in self.matmul if m.dtype == dtype), key=lambda m: m.mflops, default=None)
        return best.n if best else 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["matmul"] = [asdict(m) for m in self.matmul]
        return data

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no spaces, integers only (what :meth:`advert_hash` hashes)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)

    def advert_hash(self) -> bytes:
        """keccak256 of :meth:`to_json`: the 32 bytes bound on chain with the provider's stake."""
        return bytes(keccak(self.to_json().encode()))

    @classmethod
    def from_json(cls, text: str | bytes) -> ProbeResult:
        """Parse and validate a probe document from a peer or a file; raises :class:`ProbeError`."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ProbeError(f"not valid JSON: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> ProbeResult:
        """Validate plain data (as :meth:`to_dict` makes it); every bad field raises :class:`ProbeError`."""
        d = _Fields(data, "")
        if d.text("schema") != SCHEMA:
            raise ProbeError(f"unsupported schema (expected {SCHEMA})", field="schema")
        device = d.text("device")
        if device not in ("cpu", "cuda"):
            raise ProbeError(f"must be 'cpu' or 'cuda', got {device!r}", field="device")
        gpu_raw = d.raw("gpu")
        gpu = None
        if gpu_raw is not None:
            g = _Fields(gpu_raw, "gpu.")
            gpu = GpuInfo(
                index=g.nat("index"), name=g.text("name"), uuid=g.text("uuid"),
                memory_bytes=g.nat("memory_bytes"), sm_clock_max_mhz=g.nat("sm_clock_max_mhz", opt=True),
                mem_clock_max_mhz=g.nat("mem_clock_max_mhz", opt=True),
                power_limit_mw=g.nat("power_limit_mw", opt=True), driver_version=g.text("driver_version"),
                cuda_driver_version=g.text("cuda_driver_version", opt=True),
            )
            g.done()
        h = _Fields(d.raw("host"), "host.")
        host = HostInfo(
            cpu_model=h.text("cpu_model"), logical_cpus=h.nat("logical_cpus"),
            torch_threads=h.nat("torch_threads"), memory_bytes=h.nat("memory_bytes"), os=h.text("os"),
            torch_version=h.text("torch_version"), cuda_runtime=h.text("cuda_runtime", opt=True),
        )
        h.done()
        raw_mm = d.raw("matmul")
        if not isinstance(raw_mm, list):
            raise ProbeError("must be a list", field="matmul")
        figures = []
        for i, item in enumerate(raw_mm):
            m = _Fields(item, f"matmul[{i}].")
            fig = MatmulFigure(dtype=m.text("dtype"), n=m.nat("n"), mflops=m.nat("mflops"))
            m.done()
            if fig.dtype not in DTYPES:
                raise ProbeError(f"unknown dtype {fig.dtype!r}", field=f"matmul[{i}].dtype")
            if fig.n == 0:
                raise ProbeError("must be positive", field=f"matmul[{i}].n")
            figures.append(fig)
        result = cls(
            device=device, device_name=d.text("device_name"), gpu=gpu,
            no_gpu_reason=d.text("no_gpu_reason", opt=True), host=host, matmul=tuple(figures),
            memory_bandwidth_mbps=d.nat("memory_bandwidth_mbps"), h2d_mbps=d.nat("h2d_mbps", opt=True),
            d2h_mbps=d.nat("d2h_mbps", opt=True), quick=d.flag("quick"), duration_ms=d.nat("duration_ms"),
            measured_at=d.nat("measured_at"),
        )
        d.done()
        return result


class _Fields:
    """Strict field access for :meth:`ProbeResult.from_dict`: exact types, no unknown keys."""

    def __init__(self, data: Any, prefix: str) -> None:
        if not isinstance(data, dict):
            raise ProbeError("must be a JSON object", field=prefix.rstrip(".") or "document")
        self.data, self.prefix = data, prefix
        self.seen: set[str] = set()

    def raw(self, key: str) -> Any:
        if key not in self.data:
            raise ProbeError("missing", field=self.prefix + key)
        self.seen.add(key)
        return self.data[key]

    def text(self, key: str, *, opt: bool = False) -> Any:
        value = self.raw(key)
        if (value is None and opt) or isinstance(value, str):
            return value
        raise ProbeError(f"must be a string, got {value!r}", field=self.prefix + key)

    def flag(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            raise ProbeError(f"must be true or false, got {value!r}", field=self.prefix + key)
        return value

    def nat(self, key: str, *, opt: bool = False) -> Any:
        value = self.raw(key)
        if value is None and opt:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ProbeError(f"must be a non-negative integer, got {value!r}", field=self.prefix + key)
        return value

    def done(self) -> None:
        extra = sorted(set(self.data) - self.seen)
        if extra:
            raise ProbeError("unknown key", field=self.prefix + extra[0])


# -- what the device is ---------------------------------------------------------------------------


def read_gpu(index: int = 0) -> tuple[GpuInfo | None, str | None]:
    """NVML's description of GPU ``index``, or ``(None, reason)`` in NVML's words when it cannot say."""
    try:
        import pynvml
    except ImportError as exc:  # nvidia-ml-py is a dependency; a broken install still gets a reason
        return None, f"pynvml not importable: {exc}"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return None, str(exc)
    try:
        count = pynvml.nvmlDeviceGetCount()
        if index >= count:
            return None, f"NVML sees {count} GPU(s), no index {index}"
        h = pynvml.nvmlDeviceGetHandleByIndex(index)

        def opt(fn: Callable[[], Any]) -> Any:
            try:
                return fn()
            except pynvml.NVMLError:  # e.g. NVML_ERROR_NOT_SUPPORTED on this board: field unknown
                return None

        cuda = opt(pynvml.nvmlSystemGetCudaDriverVersion)
        info = GpuInfo(
            index=index,
            name=_text(pynvml.nvmlDeviceGetName(h)),
            uuid=_text(pynvml.nvmlDeviceGetUUID(h)),
            memory_bytes=int(pynvml.nvmlDeviceGetMemoryInfo(h).total),
            sm_clock_max_mhz=opt(lambda: int(pynvml.nvmlDeviceGetMaxClockInfo(h, pynvml.NVML_CLOCK_SM))),
            mem_clock_max_mhz=opt(lambda: int(pynvml.nvmlDeviceGetMaxClockInfo(h, pynvml.NVML_CLOCK_MEM))),
            power_limit_mw=opt(lambda: int(pynvml.nvmlDeviceGetEnforcedPowerLimit(h))),
            driver_version=_text(pynvml.nvmlSystemGetDriverVersion()),
            cuda_driver_version=f"{cuda // 1000}.{cuda % 1000 // 10}" if cuda else None,
        )
        return info, None
    except pynvml.NVMLError as exc:
        return None, str(exc)
    finally:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            pass  # shutdown after a failed query: nothing left to release


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def read_host() -> HostInfo:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass  # not Linux: platform.processor() is the best we have
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 0
    return HostInfo(
        cpu_model=model, logical_cpus=os.cpu_count() or 1, torch_threads=torch.get_num_threads(),
        memory_bytes=int(memory), os=f"{platform.system()} {platform.release()}",
        torch_version=torch.__version__, cuda_runtime=torch.version.cuda,
    )


def select_device(requested: str = "auto") -> tuple[torch.device, GpuInfo | None, str | None]:
    """Resolve ``auto|cpu|cuda|cuda:N`` to a torch device, its NVML info and the no-GPU reason.

    ``auto`` falls back to the CPU with the reason; an explicit ``cuda`` that cannot run raises
    :class:`ProbeError` with the reason.
    """
    if requested == "cpu":
        return torch.device("cpu"), None, "the CPU was requested (device=cpu)"
    if requested != "auto" and not requested.startswith("cuda"):
        raise ProbeError(f"unknown device {requested!r} (auto, cpu, cuda or cuda:N)", field="device")
    try:
        index = int(requested.split(":", 1)[1]) if ":" in requested else 0
    except ValueError:
        raise ProbeError(f"bad device index in {requested!r}", field="device") from None
    gpu, reason = read_gpu(index)
    if torch.cuda.is_available() and index < torch.cuda.device_count():
        return torch.device("cuda", index), gpu, None
    if reason is None:
        reason = (
            f"an NVIDIA GPU is present ({gpu.name if gpu else '?'}) but torch {torch.__version__} "
            "cannot use it (no CUDA support in this build)"
        )
    if requested != "auto":
        raise ProbeError(f"cannot use {requested}: {reason}", field="device")
    return torch.device("cpu"), None, reason


# -- what the device does -------------------------------------------------------------------------


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _best_rate(device: torch.device, op: Callable[[], object], *, seconds: float) -> float:
    """Seconds per call of ``op``: the best of up to 3 timed batches within ``seconds`` (after a warm-up).

    Every batch also stops at its share of the time, so a machine slower than the first call
    suggested (other processes on the cores) cannot stretch the probe. On CUDA the calls are queued
    asynchronously and the batch is timed to its final synchronize.
    """
    op()
    _sync(device)
    t0 = time.perf_counter()
    op()
    _sync(device)
    best = max(time.perf_counter() - t0, 1e-9)
    per_batch = max(1, int(seconds / 3 / best))
    deadline = time.perf_counter() + seconds
    for _ in range(3):
        t0 = time.perf_counter()
        batch_end = t0 + seconds / 3
        calls = 0
        while calls < per_batch:
            op()
            calls += 1
            if device.type == "cpu" and time.perf_counter() > batch_end:
                break
        _sync(device)
        best = min(best, (time.perf_counter() - t0) / calls)
        if time.perf_counter() >= deadline:
            break
    return best


@contextlib.contextmanager
def matmul_precision(dtype: str, device: torch.device) -> Iterator[None]:
    """TF32 tensor cores for the matmuls inside, when ``dtype`` is ``tfloat32`` on CUDA (torch's
    default is off); anything else runs as torch's defaults. The flag is process-wide, so callers
    hold the device alone meanwhile (the provider's compute lock)."""
    if dtype != "tfloat32" or device.type != "cuda":
        yield
        return
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before


def measure_matmul(device: torch.device, dtype: str, n: int, *, seconds: float) -> MatmulFigure:
    """Throughput of ``n×n @ n×n`` in ``dtype`` on ``device`` (random inputs, output preallocated)."""
    if n <= 0:
        raise ProbeError(f"matrix size must be positive, got {n}", field="n")
    if dtype not in DTYPES:
        raise ProbeError(f"unknown dtype {dtype!r} ({', '.join(DTYPES)})", field="dtype")
    if dtype == "tfloat32" and device.type != "cuda":
        raise ProbeError("TF32 needs a CUDA device", field="dtype")
    gen = torch.Generator(device="cpu").manual_seed(n)
    a = torch.randn(n, n, generator=gen).to(device=device, dtype=DTYPES[dtype])
    b = torch.randn(n, n, generator=gen).to(device=device, dtype=DTYPES[dtype])
    out = torch.empty_like(a)
    with matmul_precision(dtype, device):
        per_op = _best_rate(device, lambda: torch.mm(a, b, out=out), seconds=seconds)
    return MatmulFigure(dtype=dtype, n=n, mflops=max(1, round(2 * n**3 / per_op / 1e6)))


def measure_bandwidth(device: torch.device, nbytes: int, *, seconds: float) -> int:
    """Device memory bandwidth in MB/s: a ``nbytes`` copy reads and writes, so 2·nbytes per copy."""
    if nbytes <= 0:
        raise ProbeError(f"byte count must be positive, got {nbytes}", field="nbytes")
    src = torch.ones(nbytes, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    per_op = _best_rate(device, lambda: dst.copy_(src), seconds=seconds)
    return round(2 * nbytes / per_op / 1e6)


def measure_host_copy(device: torch.device, nbytes: int, *, seconds: float) -> tuple[int, int]:
    """Host→device and device→host copy rates in MB/s through pinned host memory (CUDA only)."""
    if device.type != "cuda":
        raise ProbeError("host<->device copy needs a CUDA device", field="device")
    host = torch.ones(nbytes, dtype=torch.uint8).pin_memory()
    dev = torch.empty(nbytes, dtype=torch.uint8, device=device)
    h2d = _best_rate(device, lambda: dev.copy_(host, non_blocking=True), seconds=seconds)
    d2h = _best_rate(device, lambda: host.copy_(dev, non_blocking=True), seconds=seconds)
    return round(nbytes / h2d / 1e6), round(nbytes / d2h / 1e6)


def probe(
    *,
    device: str = "auto",
    quick: bool = False,
    budget_s: float | None = None,
    sizes: tuple[int, ...] | None = None,
    dtypes: tuple[str, ...] | None = None,
    progress: Progress | None = None,
) -> ProbeResult:
    """Measure this machine's device; see the module docstring. ``progress`` gets one line per step.

    ``dtypes`` default: all of :data:`DTYPES` on a GPU, :data:`CPU_DTYPES` on a CPU.
    """
    say = progress or (lambda _line: None)
    started = time.perf_counter()
    budget = budget_s if budget_s is not None else (3.0 if quick else 15.0)
    if budget <= 0:
        raise ProbeError(f"budget must be positive, got {budget}", field="budget_s")
    for dt in dtypes or ():
        if dt not in DTYPES:
            raise ProbeError(f"unknown dtype {dt!r} ({', '.join(DTYPES)})", field="dtypes")
    dev, gpu, reason = select_device(device)
    kind = dev.type
    if dtypes is None:
        dtypes = tuple(DTYPES) if kind == "cuda" else CPU_DTYPES
    if reason:
        say(f"no GPU: {reason}; measuring the CPU")
    sweep = sizes if sizes is not None else _SIZES[kind][1 if quick else 0]
    if not sweep or any(n <= 0 for n in sweep):
        raise ProbeError(f"sizes must be positive, got {sweep}", field="sizes")
    copy_bytes, host_bytes = _BYTES[kind][1 if quick else 0]
    host = read_host()
    name = gpu.name if gpu else (torch.cuda.get_device_name(dev) if kind == "cuda" else host.cpu_model)
    say(f"device {kind}: {name}")

    figures: list[MatmulFigure] = []
    matmul_budget = budget * 0.75
    per_dtype = matmul_budget / max(1, len(dtypes))
    for dt in dtypes:
        dtype_end = time.perf_counter() + per_dtype
        rate: float | None = None  # FLOP/s at the previous size, to estimate the next one's cost
        for i, n in enumerate(sorted(sweep)):
            remaining = dtype_end - time.perf_counter()
            # Half an even share for every size but the largest: the largest (the challenge's scale)
            # is the slowest per call and needs the time to be measured at all.
            last = i == len(sweep) - 1
            share = remaining if last else remaining / (2 * (len(sweep) - i))
            est = 2 * n**3 / rate if rate else 0.0
            # float32 at the largest size (the challenge's scale) is always measured, over budget if it
            # must: estimated from a small size measured while other processes held the cores, it was
            # skipped, and the offer then claimed a small-size figure no challenge could test.
            must = last and dt == "float32"
            if not must and (remaining <= 0 or (rate is not None and est * 4 > remaining)):
                say(f"matmul {dt} n={n}: skipped (about {est:.2f} s per call; {remaining:.2f} s left)")
                continue
            fig = measure_matmul(dev, dt, n, seconds=max(share, 2 * est, 0.0))
            rate = fig.mflops * 1e6
            figures.append(fig)
            say(f"matmul {dt} n={n}: {fig.tflops:.4f} TFLOP/s")
    if kind == "cuda":
        torch.cuda.empty_cache()
    rest = max(budget - (time.perf_counter() - started), 0.3)
    bandwidth = measure_bandwidth(dev, copy_bytes, seconds=rest / 3)
    say(f"memory bandwidth: {bandwidth / 1000:.1f} GB/s")
    h2d = d2h = None
    if kind == "cuda":
        h2d, d2h = measure_host_copy(dev, host_bytes, seconds=rest / 3)
        say(f"host->device {h2d / 1000:.1f} GB/s, device->host {d2h / 1000:.1f} GB/s")
        torch.cuda.empty_cache()
    return ProbeResult(
        device=kind, device_name=name, gpu=gpu, no_gpu_reason=reason, host=host, matmul=tuple(figures),
        memory_bandwidth_mbps=bandwidth, h2d_mbps=h2d, d2h_mbps=d2h, quick=quick,
        duration_ms=round((time.perf_counter() - started) * 1000), measured_at=int(time.time()),
    )

