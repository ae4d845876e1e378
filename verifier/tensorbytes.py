"""Exact byte encoding of tensors: what a unit's ``dataHash`` is computed over.

A unit's output is committed as ``(dtype name, shape, raw bytes)``: the bytes of the contiguous
tensor in C order, little-endian, exactly as the device produced them (no rounding, no
re-encoding). The same triple travels to a verifier in an audit and is decoded with
:func:`tensor_from_bytes`, which refuses a byte string whose length does not fit the shape.

Only the dtypes in :data:`DTYPES` are supported; their names are the strings that go into
``metaHash`` (see :mod:`verifier.commitment`), so they are part of the v1 commitment format.

Error handling: bad dtype names, shapes or lengths raise :class:`verifier.errors.InvalidArgument`
naming the argument, never a bare ``RuntimeError`` from torch.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from types import MappingProxyType

import torch

from verifier.errors import InvalidArgument

DTYPES: MappingProxyType[str, torch.dtype] = MappingProxyType(
    {
        "float32": torch.float32,
        "float16": torch.float16,
        "bfloat16": torch.bfloat16,
        "float64": torch.float64,
        "int32": torch.int32,
        "int64": torch.int64,
        "int8": torch.int8,
        "uint8": torch.uint8,
    }
)
"""Supported dtype names (the v1 wire names) and their torch dtypes."""

_NAMES: dict[torch.dtype, str] = {v: k for k, v in DTYPES.items()}

# Integer dtypes are compared exactly by the audit; floating ones with a tolerance.
INTEGER_DTYPES: frozenset[str] = frozenset({"int32", "int64", "int8", "uint8"})

# Cap on a single shape's element count: keeps a hostile shape from overflowing arithmetic.
MAX_ELEMENTS = 1 << 40

if sys.byteorder != "little":  # pragma: no cover - every supported host is little-endian
    raise ImportError("verifier.tensorbytes assumes a little-endian host (raw tensor bytes are hashed)")


def dtype_name(dtype: torch.dtype) -> str:
    """The v1 wire name of a torch dtype; :class:`InvalidArgument` if it is not supported."""
    try:
        return _NAMES[dtype]
    except KeyError:
        supported = ", ".join(DTYPES)
        raise InvalidArgument("dtype", f"unsupported dtype {dtype} (supported: {supported})") from None


def check_dtype(dtype: str) -> torch.dtype:
    """The torch dtype for a wire name; :class:`InvalidArgument` if the name is unknown."""
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise InvalidArgument("dtype", f"unsupported dtype {dtype!r} (supported: {', '.join(DTYPES)})")
    return DTYPES[dtype]


def check_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """Validate a shape (a sequence of non-negative ints, not bools) and return it as a tuple."""
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence):
        raise InvalidArgument("shape", f"expected a sequence of integers, got {type(shape).__name__}")
    out: list[int] = []
    for dim in shape:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 0:
            raise InvalidArgument("shape", f"dimensions must be non-negative integers, got {dim!r}")
        out.append(dim)
    if math.prod(out) > MAX_ELEMENTS:
        raise InvalidArgument("shape", f"{tuple(out)} has more than {MAX_ELEMENTS} elements")
    return tuple(out)


def tensor_to_bytes(t: torch.Tensor) -> tuple[str, tuple[int, ...], bytes]:
    """Return ``(dtype name, shape, bytes)`` of ``t``: contiguous, on the CPU, little-endian, C order.

    The tensor is copied to the CPU if needed; its values are not changed in any way.
    """
    if not isinstance(t, torch.Tensor):
        raise InvalidArgument("t", f"expected a torch.Tensor, got {type(t).__name__}")
    name = dtype_name(t.dtype)
    flat = t.detach().to("cpu").contiguous().reshape(-1)
    data = flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""
    return name, tuple(int(d) for d in t.shape), data


def tensor_from_bytes(dtype: str, shape: Sequence[int], data: bytes) -> torch.Tensor:
    """Decode bytes made by :func:`tensor_to_bytes` into a new CPU tensor (a copy).

    Raises :class:`InvalidArgument` if the dtype is unknown, the shape invalid, or ``len(data)``
    is not exactly ``prod(shape) * itemsize``.
    """
    torch_dtype = check_dtype(dtype)
    dims = check_shape(shape)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidArgument("data", f"expected bytes, got {type(data).__name__}")
    itemsize = torch.empty((), dtype=torch_dtype).element_size()
    expected = math.prod(dims) * itemsize
    if len(data) != expected:
        raise InvalidArgument(
            "data", f"{len(data)} bytes do not fit {dtype}{list(dims)} (expected {expected})"
        )
    if expected == 0:
        return torch.empty(dims, dtype=torch_dtype)
    # bytearray: torch.frombuffer warns on read-only buffers, and we want an owned copy anyway.
    raw = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    return raw.view(torch_dtype).reshape(dims)
