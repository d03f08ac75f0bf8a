"""The call stage (gradcheck_cli.engine.call) through the library's check(): arguments held constant,
outputs skipped, complex values as real coordinates, models with their parameters by name."""

from __future__ import annotations

import collections

import pytest
import torch

import gradcheck_cli
from gradcheck_cli.engine.canonical import prepare
from gradcheck_cli.errors import InputError, UsageError
from gradcheck_cli.result import Status

X = torch.tensor([0.5, 1.5, 2.0], dtype=torch.float64)


def power(x, n, idx, scale=1.0, flag=False):
    y = (x ** int(n) * scale)[idx]
    return -y if flag else y


def test_constants_are_passed_through_and_listed() -> None:
    result = gradcheck_cli.check(power, (X, 3, torch.tensor([0, 2])), kwargs={"scale": 3.0, "flag": True})
    assert result.passed and result.input_names == ("x",)
    constants = {a.name: (a.reason, a.value) for a in result.call.constants}
    assert constants == {
        "n": ("number", "3"),
        "idx": ("integer", "int64 tensor [0, 2]"),
        "scale": ("number", "3.0"),
        "flag": ("bool", "True"),
    }


def test_a_wrong_gradient_is_still_caught_with_constants() -> None:
    def off(x, n):
        y = x ** int(n)
        if y.requires_grad:
            y.register_hook(lambda grad: grad * 1.001)  # the backward 0.1% off
        return y

    assert gradcheck_cli.check(off, (X, 3), forward=False).verdict == "FAIL"


def test_nested_arguments_are_flattened_and_named_by_path() -> None:
    def f(pair, opts):
        return pair[0] * pair[1] * opts["scale"] + opts["shift"]

    y = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    result = gradcheck_cli.check(f, ((X, y), {"scale": 2.0, "shift": X.cos()}))
    assert result.passed
    assert result.input_names == ("pair[0]", "pair[1]", "opts['shift']")
    assert [a.name for a in result.call.constants] == ["opts['scale']"]


def test_requires_grad_false_is_constant_when_others_require_grad() -> None:
    w = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    result = gradcheck_cli.check(lambda x, w: (x * w).sum(), (X.clone().requires_grad_(), w))
    assert result.input_names == ("x",) and result.call.constants[0].reason == "requires-grad-false"
    both = gradcheck_cli.check(lambda x, w: (x * w).sum(), (X, w))  # none requires grad: both are checked
    assert both.input_names == ("x", "w")


def test_wrt_chooses_what_is_differentiated() -> None:
    result = gradcheck_cli.check(lambda x, w: (x * w).sum(), (X, X.exp()), wrt=["w"])
    assert result.input_names == ("w",) and result.call.constants[0].reason == "not-in-wrt"
    with pytest.raises(UsageError, match=r"'v'.*expected some of x, w"):
        gradcheck_cli.check(lambda x, w: (x * w).sum(), (X, X), wrt=["v"])


def test_nothing_to_differentiate_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"nothing to differentiate.*n: number"):
        gradcheck_cli.check(lambda idx, n: idx * n, (torch.tensor([1, 2]), 3))


def test_a_sparse_argument_is_refused_in_one_line_and_a_constant_one_is_described() -> None:
    sparse = torch.eye(3, dtype=torch.float64).to_sparse_csr()
    with pytest.raises(InputError, match=r"a is a sparse_csr tensor: .* not supported"):
        gradcheck_cli.check(lambda a: a.to_dense().sin(), (sparse,))
    result = gradcheck_cli.check(lambda x, a: (a @ x).sin(), (X.clone().requires_grad_(), sparse))
    assert result.passed and result.call.constants[0].value == "sparse_csr float64 tensor of shape (3, 3)"


Pair = collections.namedtuple("Pair", "value count")


@pytest.mark.parametrize(
    ("func", "checked", "skipped"),
    [
        (lambda x: torch.max(x.reshape(3, 1) * X.flip(0), 0), ["out.values"], [("out.indices", "integer")]),
        (lambda x: (x.softmax(0), x.argmax()), ["out0"], [("out1", "integer")]),
        (lambda x: (x.sin(), torch.ones(3)), ["out0"], [("out1", "no-history")]),
        (lambda x: {"a": x.sin(), "b": x.cos()}, ["out['a']", "out['b']"], []),
        (
            lambda x: [x.sin(), (x > 1, None)],
            ["out[0]"],
            [("out[1][0]", "bool"), ("out[1][1]", "not-a-tensor")],
        ),
        (lambda x: Pair(x.exp(), 3), ["out.value"], [("out.count", "not-a-tensor")]),
        (lambda x: (x * 2, x[:0]), ["out0"], [("out1", "empty")]),
    ],
)
def test_outputs_are_flattened_and_the_others_skipped_with_a_reason(func, checked, skipped) -> None:
    result = gradcheck_cli.check(func, X)
    assert result.passed
    assert sorted({b.output_name for b in result.blocks}) == sorted(checked)
    assert [(s.name, s.reason) for s in result.call.skipped_outputs] == skipped


def test_no_output_with_history_checks_a_zero_numerical_jacobian() -> None:
    constant = gradcheck_cli.check(lambda x: torch.ones(3, dtype=torch.float64), X)
    assert constant.passed and constant.call.zero_check
    leaked = gradcheck_cli.check(lambda x: torch.tensor(x.detach().numpy() ** 2), X)
    assert leaked.call.zero_check and leaked.verdict == "FAIL"


Z = torch.tensor([1 + 2j, 3 - 1j, -0.5 + 0.25j], dtype=torch.complex128)


@pytest.mark.parametrize(
    ("func", "inputs"),
    [
        (lambda z: z * z, Z),
        (lambda z: (z * z).abs().sum(), Z),
        (lambda x: torch.polar(torch.ones(3, dtype=torch.float64), x), X),
        (torch.fft.fft, Z),
        (lambda z, x: (z * x).sum(), (Z, X)),
        (lambda x: (x * (1 + 2j)).conj(), X),  # a conjugate view: its imaginary part has the negative bit
    ],
)
def test_complex_functions_pass_on_their_real_coordinates(func, inputs) -> None:
    result = gradcheck_cli.check(func, inputs)
    assert result.passed, result.worst(3)
    assert result.method != "complex-step" and result.call.complex_parts
    assert any(
        name.endswith(".imag") for name in result.input_names + tuple(b.output_name for b in result.blocks)
    )


def test_a_planted_error_in_a_complex_backward_names_the_part_and_entry() -> None:
    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, z):
            ctx.save_for_backward(z)
            return z * z

        @staticmethod
        def backward(ctx, grad):
            (z,) = ctx.saved_tensors
            wrong = torch.tensor([1.0, 1.01, 1.0], dtype=torch.float64)  # 1% off at entry 1
            return grad * (2 * z).conj() * wrong

    def square(z):
        return Square.apply(z)

    result = gradcheck_cli.check(square, Z, forward=False)
    assert result.verdict == "FAIL"
    failing = [e for e in result.worst() if e.status is Status.FAIL]
    assert failing and {e.input_label for e in failing} <= {"z.real[1]", "z.imag[1]"}
    assert {e.output_label for e in failing} <= {"out.real[1]", "out.imag[1]"}
    correct = gradcheck_cli.check(lambda z: z * z, Z, forward=False)
    assert correct.passed


def test_the_complex_step_is_refused_by_a_complex_call() -> None:
    call = prepare(lambda z: z * z, Z)
    with pytest.raises(TypeError, match="complex step"):
        call.func(*(leaf.to(torch.complex128) for leaf in call.leaves))


def test_a_loss_closing_over_a_linear_layer_passes_with_forward_mode() -> None:
    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 2).double()  # its parameters require grad
    result = gradcheck_cli.check(lambda x: layer(x).tanh().sum(), X, forward=True)
    assert result.passed and result.secondary and result.secondary[0].mode == "forward"
    probe = gradcheck_cli.check(lambda x: layer(x).tanh().sum(), X, mode="probe")
    assert probe.passed


@pytest.mark.parametrize(
    "func",
    [
        lambda x: torch.nn.functional.group_norm(x, 2),
        lambda x: torch.nn.functional.instance_norm(x),
    ],
)
def test_group_and_instance_norm_are_checked(func) -> None:
    torch.manual_seed(0)
    assert gradcheck_cli.check(func, torch.randn(2, 4, 3, dtype=torch.float64)).passed


def test_a_module_is_checked_by_parameter_name_in_eval_mode() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Dropout(0.5), torch.nn.Tanh()).double()
    result = gradcheck_cli.check(model, torch.randn(2, 3, dtype=torch.float64))
    assert result.passed and result.input_names == ("input", "0.weight", "0.bias")
    assert result.call.module_mode == "eval" and model.training  # the user's module is left as it was


def test_train_mode_uses_batch_statistics() -> None:
    torch.manual_seed(0)
    norm = torch.nn.BatchNorm1d(3).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    result = gradcheck_cli.check(norm, x, train=True)
    assert result.passed and result.call.module_mode == "train"
    eval_jacobian = gradcheck_cli.check(norm, x).blocks[0].autograd
    assert not (eval_jacobian == result.blocks[0].autograd).all()  # batch statistics couple the rows


class Tagger(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(5, 3)
        self.head = torch.nn.Linear(3, 1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.emb(ids)).squeeze(-1)


def test_an_embedding_model_holds_its_token_ids_constant() -> None:
    torch.manual_seed(0)
    result = gradcheck_cli.check(Tagger().double(), torch.tensor([0, 3, 3, 1]))
    assert result.passed
    assert result.input_names == ("emb.weight", "head.weight", "head.bias")
    assert result.call.constants[0].name == "ids"
    wrt = gradcheck_cli.check(Tagger().double(), torch.tensor([0, 3]), wrt=["head"])
    assert wrt.input_names == ("head.weight", "head.bias")
