"""The contracts a gradient keeps besides its values, as ``torch.autograd.gradcheck`` checks them.

Each check calls the function afresh at the point and returns a :class:`~gradcheck_cli.result.Contract`:

- ``grad_metadata``: a backward with random output gradients gives each input a gradient of the input's
  dtype, device, shape and layout;
- ``zero_grad_output``: a backward with zero output gradients gives zero (a backward that ignores
  ``grad_output`` does not);
- ``undefined_grad``: a backward with undefined (None) output gradients, all of them and one at a time,
  runs and gives zero (or None);
- ``batched_grad``: the backward batched over output gradients (``vmap``, ``is_grads_batched``) agrees
  with one call per output gradient;
- ``batched_forward_grad``: ``vmap`` of the forward-mode derivative over a batch of points and tangents
  agrees with one call per row, values and tangents (this runs a custom Function's ``vmap`` rule).

The first three run by default (as in torch); the batched ones when asked. Pure: data only, no wording.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch

from gradcheck_cli.contract import CONTRACTS, Contract
from gradcheck_cli.numerics.evaluate import as_outputs
from gradcheck_cli.result import Block
from gradcheck_cli.user_code import call_user, describe

DEFAULT_CONTRACTS = ("grad_metadata", "zero_grad_output", "undefined_grad")
BATCHED_CONTRACTS = ("batched_grad", "batched_forward_grad")
# Batched results are compared like torch's: allclose with its default tolerances.
BATCH_RTOL, BATCH_ATOL = 1e-5, 1e-8


class Recorded:
    """The function with its graph already recorded at the point: the contracts' backward passes run on that
    graph (retained) instead of calling the function again (a custom Function's every call costs)."""

    def __init__(self, func: Callable[..., Any], leaves: Sequence[torch.Tensor], outputs: Sequence[Any]):
        self.func, self.leaves, self.outputs = func, list(leaves), list(outputs)

    def __call__(self, *args: Any) -> Any:
        return self.func(*args)


def _fresh(func: Callable[..., Any], point: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], list[Any]]:
    """Leaves at the point and the function's differentiable outputs (those with a graph): the recorded ones
    of a :class:`Recorded` function."""
    if isinstance(func, Recorded):
        return func.leaves, [out for out in func.outputs if out.requires_grad]
    leaves = [x.detach().clone().requires_grad_(True) for x in point]
    with torch.enable_grad():
        outputs = as_outputs(call_user(func, *leaves))
    return leaves, [out for out in outputs if out.requires_grad]


def _grads(
    outputs: Sequence[torch.Tensor], leaves: Sequence[torch.Tensor], cotangents: Sequence[torch.Tensor]
) -> tuple[tuple[torch.Tensor | None, ...], str]:
    """The input gradients of a backward along ``cotangents``, or ``()`` and what it raised."""
    if not outputs:
        return tuple(None for _ in leaves), ""
    try:
        grads = torch.autograd.grad(outputs, leaves, cotangents, allow_unused=True, retain_graph=True)
    except Exception as exc:  # the user's backward raised: the contract is broken, and says how
        return (), describe(exc)
    return tuple(grads), ""


def _aspects(grad: torch.Tensor, x: torch.Tensor) -> list[tuple[str, str, str]]:
    """``(aspect, expected, found)`` for each metadata aspect of ``grad`` that differs from ``x``'s."""
    pairs = (
        ("dtype", x.dtype, grad.dtype),
        ("device", x.device, grad.device),
        ("shape", tuple(x.shape), tuple(grad.shape)),
        ("layout", x.layout, grad.layout),
    )
    return [(aspect, str(want), str(got)) for aspect, want, got in pairs if want != got]


def grad_metadata(
    func: Callable[..., Any], point: Sequence[torch.Tensor], names: Sequence[str], seed: int
) -> Contract:
    leaves, outputs = _fresh(func, point)
    generator = torch.Generator().manual_seed(seed)
    cotangents = [torch.randn(o.shape, generator=generator, dtype=torch.float64).to(o) for o in outputs]
    grads, error = _grads(outputs, leaves, cotangents)
    if error:
        return Contract("grad_metadata", False, error=error)
    for name, grad, x in zip(names, grads, leaves):
        for aspect, expected, found in [] if grad is None else _aspects(grad, x):
            return Contract(
                "grad_metadata", False, input_name=name, aspect=aspect, expected=expected, found=found
            )
    return Contract("grad_metadata", True)


def _nonzero(grads: Sequence[torch.Tensor | None], names: Sequence[str]) -> tuple[str, float] | None:
    """The first input whose gradient is not all zero, and its largest magnitude. nan is not counted: a zero
    output gradient times an infinite derivative (sqrt at 0) is nan by IEEE arithmetic, not a backward that
    ignores its gradient (the Jacobian comparison judges those entries)."""
    for name, grad in zip(names, grads):
        if grad is None:
            continue
        found = grad.detach().nan_to_num(nan=0.0)
        if not bool((found == 0).all()):
            return name, float(found.abs().max())
    return None


def zero_grad_output(
    func: Callable[..., Any], point: Sequence[torch.Tensor], names: Sequence[str], _seed: int
) -> Contract:
    leaves, outputs = _fresh(func, point)
    grads, error = _grads(outputs, leaves, [torch.zeros_like(o) for o in outputs])
    if error:
        return Contract("zero_grad_output", False, error=error)
    wrong = _nonzero(grads, names)
    if wrong is None:
        return Contract("zero_grad_output", True)
    return Contract("zero_grad_output", False, input_name=wrong[0], expected="0", found=f"{wrong[1]:.6g}")


def undefined_grad(
    func: Callable[..., Any], point: Sequence[torch.Tensor], names: Sequence[str], _seed: int
) -> Contract:
    """All output gradients undefined, then (several outputs) each one alone: the backward must run and give
    zero or None. ``output_name`` says which outputs were undefined (``*`` for all, else an index)."""
    _, outputs = _fresh(func, point)
    cases = [None] + (list(range(len(outputs))) if len(outputs) > 1 else [])
    for undefined in cases:
        leaves, outputs = _fresh(func, point)
        marked = [
            torch._C._functions.UndefinedGrad()(o) if undefined in (None, k) else o  # type: ignore[attr-defined]
            for k, o in enumerate(outputs)
        ]
        grads, error = _grads(marked, leaves, [torch.zeros_like(o) for o in marked])
        which = "*" if undefined is None else str(undefined)
        if error:
            return Contract("undefined_grad", False, output_name=which, error=error)
        wrong = _nonzero(grads, names)
        if wrong is not None:
            return Contract(
                "undefined_grad",
                False,
                input_name=wrong[0],
                output_name=which,
                expected="0",
                found=f"{wrong[1]:.6g}",
            )
    return Contract("undefined_grad", True)


def _mismatch(
    batched: Sequence[torch.Tensor], rows: Sequence[Sequence[torch.Tensor]]
) -> tuple[int, float] | None:
    """The first result whose batch differs from the stacked single calls, and the largest difference."""
    for k, got in enumerate(batched):
        want = torch.stack([row[k] for row in rows])
        if got.shape != want.shape:
            return k, float("inf")
        if not torch.allclose(got, want, rtol=BATCH_RTOL, atol=BATCH_ATOL, equal_nan=True):
            return k, float((got - want).abs().max())
    return None


def batched_grad(
    func: Callable[..., Any], point: Sequence[torch.Tensor], names: Sequence[str], seed: int
) -> Contract:
    """Per output: the backward along two random output gradients at once (``is_grads_batched``, which
    vmaps the backward) against one backward per output gradient."""
    leaves, outputs = _fresh(func, point)
    generator = torch.Generator().manual_seed(seed)
    for k, out in enumerate(outputs):
        vs = torch.randn((2, *out.shape), generator=generator, dtype=torch.float64).to(out)
        try:
            rows = [torch.autograd.grad(out, leaves, v, retain_graph=True, allow_unused=True) for v in vs]
            batched = torch.autograd.grad(
                out, leaves, vs, retain_graph=True, allow_unused=True, is_grads_batched=True
            )
        except Exception as exc:
            return Contract("batched_grad", False, output_name=str(k), error=describe(exc))
        wrong = _mismatch(
            [x.new_zeros((2, *x.shape)) if g is None else g for g, x in zip(batched, leaves)],
            [[torch.zeros_like(x) if g is None else g for g, x in zip(row, leaves)] for row in rows],
        )
        if wrong is not None:
            return Contract(
                "batched_grad", False, output_name=str(k), input_name=names[wrong[0]], found=f"{wrong[1]:.6g}"
            )
    return Contract("batched_grad", True)


def batched_forward_grad(
    func: Callable[..., Any], point: Sequence[torch.Tensor], names: Sequence[str], seed: int
) -> Contract:
    """``vmap`` over two rows of (point, random tangents) of the function's forward-mode derivative, values
    and tangents, against one ``jvp`` per row. Batching the point runs a custom Function's ``vmap`` rule."""
    generator = torch.Generator().manual_seed(seed)
    primals = tuple(torch.stack([x.detach(), x.detach()]) for x in point)
    tangents = tuple(
        torch.randn((2, *x.shape), generator=generator, dtype=torch.float64).to(x) for x in point
    )

    def jvp(xs: tuple[torch.Tensor, ...], ts: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        values, derivatives = torch.func.jvp(lambda *a: as_outputs(func(*a)), xs, ts)
        return (*values, *derivatives)

    try:
        with warnings.catch_warnings():  # torch's own deprecations (torch.jit.script), as in autodiff.jvps
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch(\.|$)")
            rows = [jvp(tuple(p[r] for p in primals), tuple(t[r] for t in tangents)) for r in range(2)]
            batched = torch.func.vmap(jvp)(primals, tangents)
    except Exception as exc:
        return Contract("batched_forward_grad", False, error=describe(exc))
    wrong = _mismatch(batched, rows)
    if wrong is None:
        return Contract("batched_forward_grad", True)
    half = len(batched) // 2
    aspect = "values" if wrong[0] < half else "tangents"
    return Contract(
        "batched_forward_grad",
        False,
        output_name=str(wrong[0] % half),
        aspect=aspect,
        found=f"{wrong[1]:.6g}",
    )


def grad_outputs(blocks: Sequence[Block], cotangents: Sequence[str], strict_kinks: bool) -> Contract:
    """Order 2 and up: the Jacobian with respect to the output gradients (the double backward's path along
    ``grad_out``) passes; ``input_name`` is the first output gradient whose blocks fail."""
    for block in blocks:
        name = block.input_name.split("·")[0].split("[")[0]
        if name in cotangents and block.failing_count(strict_kinks):
            return Contract("grad_outputs", False, input_name=name, output_name=block.output_name)
    return Contract("grad_outputs", True)


CHECKS: dict[str, Callable[[Callable[..., Any], Sequence[torch.Tensor], Sequence[str], int], Contract]] = {
    "grad_metadata": grad_metadata,
    "zero_grad_output": zero_grad_output,
    "undefined_grad": undefined_grad,
    "batched_grad": batched_grad,
    "batched_forward_grad": batched_forward_grad,
}
assert set(CHECKS) <= set(CONTRACTS)


def check_contracts(
    func: Callable[..., Any],
    point: Sequence[torch.Tensor],
    names: Sequence[str],
    contracts: Sequence[str],
    seed: int = 0,
) -> tuple[Contract, ...]:
    """Run the ``contracts`` named (see :data:`CHECKS`) on ``func`` at ``point``, in that order. The
    function raising in its forward is the caller's error (a :class:`UserFunctionError`), not a contract."""
    return tuple(CHECKS[name](func, point, names, seed) for name in contracts)
