"""The exact tensor byte codec: round trips, and clear errors for bad encodings."""

from __future__ import annotations

import pytest
import torch

from verifier.errors import InvalidArgument
from verifier.tensorbytes import DTYPES, tensor_from_bytes, tensor_to_bytes


@pytest.mark.parametrize("name", sorted(DTYPES))
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 5), (2, 0, 3), (4, 3, 2)])
def test_round_trip_is_bitwise(name: str, shape: tuple[int, ...]) -> None:
    g = torch.Generator().manual_seed(1)
    t = (torch.randn(shape, generator=g) * 50).to(DTYPES[name])
    dtype, dims, data = tensor_to_bytes(t)
    assert (dtype, dims) == (name, shape)
    assert len(data) == t.numel() * t.element_size()
    back = tensor_from_bytes(dtype, dims, data)
    assert back.dtype == t.dtype and back.shape == t.shape
    assert tensor_to_bytes(back)[2] == data


def test_bytes_are_little_endian_c_order_of_a_noncontiguous_view() -> None:
    t = torch.arange(6, dtype=torch.int32).reshape(2, 3).T  # not contiguous
    _, shape, data = tensor_to_bytes(t)
    assert shape == (3, 2)
    assert data == b"".join(int(v).to_bytes(4, "little") for v in (0, 3, 1, 4, 2, 5))


def test_nan_payload_and_negative_zero_survive() -> None:
    raw = bytes.fromhex("0100c07f") + bytes.fromhex("00000080")  # a NaN with payload, then -0.0
    t = tensor_from_bytes("float32", (2,), raw)
    assert tensor_to_bytes(t)[2] == raw


@pytest.mark.parametrize(
    ("dtype", "shape", "data", "field"),
    [
        ("float31", (1,), b"\0" * 4, "dtype"),
        ("complex64", (1,), b"\0" * 8, "dtype"),
        ("float32", (-1,), b"", "shape"),
        ("float32", (1.5,), b"", "shape"),
        ("float32", (True,), b"\0" * 4, "shape"),
        ("float32", "12", b"", "shape"),
        ("float32", (2, 2), b"\0" * 15, "data"),
        ("float32", (2, 2), b"\0" * 17, "data"),
        ("float32", (1 << 30, 1 << 30), b"", "shape"),
    ],
)
def test_bad_encodings_are_refused(dtype: str, shape: object, data: bytes, field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        tensor_from_bytes(dtype, shape, data)  # type: ignore[arg-type]
    assert err.value.name == field


def test_unsupported_tensor_dtype_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="unsupported dtype"):
        tensor_to_bytes(torch.zeros(2, dtype=torch.complex64))


def test_the_torch_free_itemsize_table_covers_every_wire_dtype() -> None:
    """Admission and the verifier's size checks read ``ITEMSIZE`` without torch; it must agree with
    torch for every dtype a unit may carry."""
    from node.workloads.jobkinds import ITEMSIZE

    assert set(ITEMSIZE) == set(DTYPES)
    assert {name: torch.empty((), dtype=dt).element_size() for name, dt in DTYPES.items()} == dict(ITEMSIZE)
