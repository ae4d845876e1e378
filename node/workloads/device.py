"""Device choice and deterministic execution settings, applied before any unit runs.

One code path for CPU and CUDA; the device is a parameter. ``configure()`` turns on
``torch.use_deterministic_algorithms(True)``, turns TF32 off and forbids reduced-precision
reductions in fp16/bf16 matmuls, so an fp32 job really accumulates in fp32.
``CUBLAS_WORKSPACE_CONFIG=:4096:8`` must be in the environment before CUDA initialises (cuBLAS
reads it once); it is set when this module is imported, which happens before any workload code
touches CUDA.

These are process-wide torch settings; a node that runs jobs wants them on for its whole life.
"""

from __future__ import annotations

import os

import torch

from node.errors import WorkloadError

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

DEVICES = ("auto", "cpu", "cuda")


def configure() -> None:
    """Apply the deterministic settings (idempotent)."""
    torch.use_deterministic_algorithms(True)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
    torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = False


def pick_device(name: str | torch.device = "auto") -> torch.device:
    """``auto`` → ``cuda`` when a GPU is there, else ``cpu``; asking for an absent ``cuda`` is an error."""
    if isinstance(name, torch.device):
        name = name.type if name.index is None else f"{name.type}:{name.index}"
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise WorkloadError(f"device {name!r} requested but no CUDA GPU is available")
        return torch.device(name)
    raise WorkloadError(f"unknown device {name!r} (expected one of {', '.join(DEVICES)})")


def describe(device: torch.device) -> str:
    """A human-readable device name: ``cpu (N threads)`` or the GPU's name."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"
