"""The grad_checker fixture on real code: keyword arguments, constants, modules, complex, closures."""

from __future__ import annotations

import pytest
import torch

X = torch.tensor([0.5, 1.5, 2.0], dtype=torch.float64)


def power(x, n, scale=1.0, flag=False):
    y = scale * x ** int(n)
    return -y if flag else y


def test_keywords_and_constants(grad_checker) -> None:
    result = grad_checker(power, (X, 3), kwargs={"scale": 2.0, "flag": True})
    assert [a.name for a in result.call.constants] == ["n", "scale", "flag"]


def test_a_wrong_gradient_with_constants_still_fails(grad_checker) -> None:
    def off(x, n):
        y = x ** int(n)
        if y.requires_grad:
            y.register_hook(lambda grad: grad * 1.001)
        return y

    with pytest.raises(AssertionError, match="wrong gradient of"):
        grad_checker(off, (X, 3), forward=False)


def test_a_loss_closing_over_a_linear_layer(grad_checker) -> None:
    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 2).double()
    result = grad_checker(lambda x: layer(x).tanh().sum(), X, forward=True)
    assert result.secondary and result.secondary[0].mode == "forward"


def test_a_module_and_wrt(grad_checker) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh()).double()
    assert grad_checker(model, X.reshape(1, 3)).input_names == ("input", "0.weight", "0.bias")
    assert grad_checker(model, X.reshape(1, 3), wrt=["0.weight"]).input_names == ("0.weight",)


def test_complex_inputs(grad_checker) -> None:
    def spectrum(z):
        return torch.fft.fft(z)

    result = grad_checker(spectrum, torch.tensor([1 + 2j, 3 - 1j], dtype=torch.complex128))
    assert result.input_names == ("z.real", "z.imag") and result.call.complex_parts == ("z", "out")
