"""A corpus of functions with known-correct gradients, and the same functions with planted backward bugs.

Independent of gradcheck_cli: used by ``tests/integration/test_accuracy_corpus.py`` and by
``benchmarks/accuracy.py`` (which runs this tool and ``torch.autograd.gradcheck`` side by side on it).

Every :class:`Case` builds its inputs for a dtype from a seeded generator. :func:`planted` wraps a correct
function in a custom ``torch.autograd.Function`` whose forward is the function and whose backward is the
function's true vector-Jacobian product, corrupted by one of :data:`BUGS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

Inputs = Callable[[torch.dtype], tuple[torch.Tensor, ...]]


@dataclass(frozen=True)
class Case:
    name: str
    func: Callable[..., torch.Tensor]
    inputs: Inputs
    bug: str | None = None  # None: the gradient is correct


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def normal(*shapes: tuple[int, ...], seed: int = 0, scale: float = 1.0, shift: float = 0.0) -> Inputs:
    def make(dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
        g = _gen(seed)
        return tuple(
            (torch.randn(s, generator=g, dtype=torch.float64) * scale + shift).to(dtype) for s in shapes
        )

    return make


def positive(*shapes: tuple[int, ...], seed: int = 0) -> Inputs:
    def make(dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
        g = _gen(seed)
        return tuple((torch.rand(s, generator=g, dtype=torch.float64) * 2 + 0.5).to(dtype) for s in shapes)

    return make


def matrix_and_vector(n: int, seed: int = 0) -> Inputs:
    """A well-conditioned ``n x n`` matrix (``3 I + noise``) and a vector."""

    def make(dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
        g = _gen(seed)
        a = 3 * torch.eye(n, dtype=torch.float64) + 0.5 * torch.randn(n, n, generator=g, dtype=torch.float64)
        return a.to(dtype), torch.randn(n, generator=g, dtype=torch.float64).to(dtype)

    return make


def well_conditioned(n: int, seed: int = 0) -> Inputs:
    make_both = matrix_and_vector(n, seed)
    return lambda dtype: make_both(dtype)[:1]


def _calc(a: torch.Tensor) -> torch.Tensor:
    b = a * 2 + 1
    c = b * b
    return (c / (c + 2)).mean()


# name, function, inputs: gradients known to be right (torch's own, and the tutorial's calc).
CORRECT: tuple[Case, ...] = (
    Case("sin", torch.sin, normal((5,), seed=1)),
    Case("exp", torch.exp, normal((4,), seed=2)),
    Case("tanh", torch.tanh, normal((5,), seed=3)),
    Case("sigmoid", torch.sigmoid, normal((5,), seed=4, scale=2)),
    Case("log", torch.log, positive((4,), seed=5)),
    Case("sqrt", torch.sqrt, positive((4,), seed=6)),
    Case("cube", lambda x: x**3, normal((4,), seed=7)),
    Case("reciprocal", lambda x: 1 / x, positive((4,), seed=8)),
    Case("atan", torch.atan, normal((4,), seed=9, scale=2)),
    Case("erf", torch.erf, normal((4,), seed=10)),
    Case("softplus", torch.nn.functional.softplus, normal((4,), seed=11, scale=2)),
    Case("log1p_exp", lambda x: torch.log1p(torch.exp(x)), normal((4,), seed=12)),
    Case("sin_exp_product", lambda x: torch.sin(x) * torch.exp(x / 3), normal((5,), seed=13, scale=2)),
    Case("tutorial_calc", _calc, normal((3,), seed=14, shift=1)),
    Case("sum_of_squares", lambda x: (x**2).sum(), normal((6,), seed=15)),
    Case("logsumexp", lambda x: torch.logsumexp(x, dim=0), normal((6,), seed=16)),
    Case("norm", lambda x: torch.linalg.vector_norm(x), normal((5,), seed=17)),
    Case("mean_times_var", lambda x: x.mean() * x.var(), normal((6,), seed=18)),
    Case("prod", lambda x: x.prod(), normal((4,), seed=19, shift=1.5)),
    Case("softmax", lambda x: torch.softmax(x, dim=0), normal((4,), seed=20)),
    Case("cumsum_sin", lambda x: torch.cumsum(torch.sin(x), dim=0), normal((4,), seed=21)),
    Case("cumprod", lambda x: torch.cumprod(x, dim=0), normal((4,), seed=22, shift=1)),
    Case("outer", lambda x, y: x[:, None] * torch.cos(y)[None, :], normal((3,), (2,), seed=23)),
    Case("broadcast_bias", lambda x, b: torch.tanh(x + b), normal((2, 3), (3,), seed=24)),
    Case("weighted_distance", lambda x, w: (w * (x - x.mean()) ** 2).sum(), normal((4,), (4,), seed=25)),
    Case("polar_x", lambda r, t: r * torch.cos(t), normal((3,), (3,), seed=26, shift=1)),
    Case("bilinear", lambda x, a, y: x @ a @ y, normal((3,), (3, 3), (3,), seed=27)),
    Case("matvec", lambda a, x: a @ x, matrix_and_vector(3, seed=28)),
    Case("solve", lambda a, b: torch.linalg.solve(a, b), matrix_and_vector(3, seed=29)),
    Case("inverse", torch.linalg.inv, well_conditioned(3, seed=30)),
    Case("det", torch.linalg.det, well_conditioned(3, seed=31)),
    Case("quadratic_form", lambda a, x: x @ (a @ a.T) @ x, matrix_and_vector(3, seed=32)),
    Case("matrix_exp_trace", lambda a: torch.linalg.matrix_exp(a / 3).trace(), well_conditioned(3, seed=33)),
    Case("rational", lambda x, y: (x * y) / (1 + x**2 + y**2), normal((4,), (4,), seed=34)),
)

BUGS: dict[str, float | None] = {
    "x2": 2.0,
    "sign": -1.0,
    "1%": 1.01,
    "0.1%": 1.001,
    "0.01%": 1.0001,
    "permuted": None,
    "zeroed": None,
}


def _corrupt(grads: Sequence[torch.Tensor], bug: str) -> tuple[torch.Tensor, ...]:
    factor = BUGS[bug]
    if factor is not None:
        return tuple(g * factor for g in grads)
    if bug == "permuted":  # the entries of the first input's gradient, rotated by one
        first = grads[0].reshape(-1)
        return (torch.roll(first, 1).reshape(grads[0].shape), *grads[1:])
    return (torch.zeros_like(grads[0]), *grads[1:])  # zeroed: the first input's gradient


def planted(func: Callable[..., torch.Tensor], bug: str) -> Callable[..., torch.Tensor]:
    """``func`` with a custom backward: its true vector-Jacobian product, corrupted by ``bug``."""

    class Planted(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *xs: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(*xs)
            return func(*xs)

        @staticmethod
        def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, ...]:
            xs = tuple(x.detach().requires_grad_(True) for x in ctx.saved_tensors)
            with torch.enable_grad():
                out = func(*xs)
            grads = torch.autograd.grad(out, xs, grad, allow_unused=True)
            grads = tuple(torch.zeros_like(x) if g is None else g for x, g in zip(xs, grads))
            return _corrupt(grads, bug)

    def apply(*xs: torch.Tensor) -> torch.Tensor:
        return Planted.apply(*xs)

    apply.__name__ = f"{getattr(func, '__name__', 'func')}_{bug}"
    return apply


def buggy(bugs: Sequence[str] = tuple(BUGS)) -> tuple[Case, ...]:
    """Every correct case (with at least two input elements, so that permuting changes something), with
    each of ``bugs`` planted."""
    cases = []
    for case in CORRECT:
        for bug in bugs:
            cases.append(Case(f"{case.name}[{bug}]", planted(case.func, bug), case.inputs, bug))
    return tuple(cases)


def all_cases() -> tuple[Case, ...]:
    return CORRECT + buggy()
