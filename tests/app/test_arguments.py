"""--arg NAME=VALUE and --wrt parsing (gradcheck_cli.app.arguments): literals stay Python values, tensor(...)
and files make tensors, nothing is evaluated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gradcheck_cli.app.arguments import (
    TensorFile,
    TensorValue,
    call_arguments,
    parse_argument,
    parse_wrt,
    resolved,
)
from gradcheck_cli.app.values import parse_values
from gradcheck_cli.errors import InputError, UsageError


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("n=3", 3),
        ("scale=0.5", 0.5),
        ("flag=True", True),
        ("mode=None", None),
        ("reduction='mean'", "mean"),
        ("dims=[0, 1]", [0, 1]),
        ("opts={'k': 2}", {"k": 2}),
    ],
)
def test_literals_keep_their_python_type(text: str, value: object) -> None:
    name, parsed = parse_argument(text)
    assert name == text.split("=")[0] and parsed == value and type(parsed) is type(value)


def test_tensor_text_keeps_integers_and_takes_the_dtype_for_floats() -> None:
    kwargs = resolved(
        call_arguments(["ids=tensor([0, 3, 1])", "mask=tensor([True, False])", "w=tensor([0.5, 2])"]),
        "float32",
        "cpu",
    ).kwargs
    assert kwargs["ids"].dtype == torch.int64 and kwargs["ids"].tolist() == [0, 3, 1]
    assert kwargs["mask"].dtype == torch.bool
    assert kwargs["w"].dtype == torch.float32
    complex_value = resolved(call_arguments(["z=tensor([1+2j])"]), "float64", "cpu").kwargs["z"]
    assert complex_value.dtype == torch.complex128


def test_tensors_load_from_npy_and_pt_files(tmp_path: Path) -> None:
    np.save(tmp_path / "ids.npy", np.array([2, 0, 1]))
    torch.save(torch.tensor([1.5, -2.0], dtype=torch.float64), tmp_path / "w.pt")
    parsed = call_arguments([f"ids=@{tmp_path / 'ids.npy'}", f"w=@{tmp_path / 'w.pt'}"])
    assert isinstance(parsed.kwargs["ids"], TensorValue) and isinstance(parsed.kwargs["w"], TensorFile)
    kwargs = resolved(parsed, "float64", "cpu").kwargs
    assert kwargs["ids"].tolist() == [2, 0, 1] and kwargs["w"].tolist() == [1.5, -2.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("n", "bad --arg"),
        ("3x=1", "bad --arg"),
        ("n=__import__('os').getcwd()", "cannot parse"),
        ("n=tensor([1, 2], dtype=int)", "takes one list"),
        ("n=tensor([[1, 2], [3]])", "ragged"),
        ("n=@missing.pt", "file not found"),
    ],
)
def test_bad_arguments_are_one_line_input_errors(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_argument(text)


def test_a_name_given_twice_and_empty_wrt_names_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="given twice"):
        call_arguments(["n=1", "n=2"])
    with pytest.raises(UsageError, match="empty name"):
        parse_wrt(["x,"])
    assert parse_wrt(["x,w", "b"]) == ("x", "w", "b") and parse_wrt([]) is None


def test_complex_values_in_x() -> None:
    values = parse_values("1+2j,3")
    assert values.dtype == np.complex128 and values.tolist() == [1 + 2j, 3 + 0j]
    assert parse_values("1,2").dtype == np.float64
