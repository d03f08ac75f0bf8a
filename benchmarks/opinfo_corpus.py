"""PyTorch's OpInfo database as a corpus of real operators, and the same operators with planted backward bugs.

Shared by ``benchmarks/opinfo.py`` (verdicts against ``torch.autograd.gradcheck``), the speed benchmark and
a fixed CI subset (``tests/integration/test_opinfo_subset.py``). Needs ``expecttest`` (PyTorch's test
package imports it).

Every :class:`OpCase` is one sample input of one operator in one dtype, built as PyTorch's own
``test_ops_gradients`` builds it: the tensors that require grad are the inputs, everything else of the
sample is closed over, the call goes through ``op.gradcheck_wrapper`` and the output through
``sample.output_process_fn_grad``. :func:`planted` wraps a case in a custom ``torch.autograd.Function``
whose backward is the operator's true vector-Jacobian product corrupted by one of :data:`BUGS`; it records
how large the corruption was (:attr:`Planted.effect`: ``max |bad - true| / max |true|`` over every backward
call), since some bugs change nothing at some points (a permuted gradient of ``sum`` is the same gradient).
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils import _pytree as pytree

DTYPES: dict[str, torch.dtype] = {
    "float64": torch.float64,
    "complex128": torch.complex128,
    "float32": torch.float32,
}


@dataclass(frozen=True)
class Bug:
    """A corruption of a vector-Jacobian product ``g`` and its nominal relative size."""

    name: str
    corrupt: Callable[[torch.Tensor], torch.Tensor]
    size: float


def _one_off(g: torch.Tensor) -> torch.Tensor:
    flat = g.reshape(-1).clone()
    flat[0] = flat[0] + 0.01 * g.abs().max()
    return flat.reshape(g.shape)


BUGS: dict[str, Bug] = {
    bug.name: bug
    for bug in (
        Bug("scaled 2", lambda g: g * 2, 1.0),
        Bug("scaled 1.01", lambda g: g * 1.01, 1e-2),
        Bug("scaled 1.001", lambda g: g * 1.001, 1e-3),
        Bug("scaled 1.0001", lambda g: g * 1.0001, 1e-4),
        Bug("sign flipped", lambda g: -g, 2.0),
        Bug("one element off", _one_off, 1e-2),
        Bug("permuted", lambda g: g.reshape(-1).flip(0).reshape(g.shape), 1e-2),
        Bug("zeroed", torch.zeros_like, 1.0),
    )
}


@dataclass
class OpCase:
    """One sample input of one operator: ``func(*inputs)`` is the operator's call as PyTorch tests it."""

    name: str  # "op.variant#sample"
    op: str  # the OpInfo's full name
    dtype: str
    func: Callable[..., Any]
    inputs: tuple[torch.Tensor, ...]
    nondet_tol: float = 0.0
    bug: str | None = None
    effect: list[float] = field(default_factory=lambda: [0.0])

    def fresh_inputs(self, requires_grad: bool = False) -> tuple[torch.Tensor, ...]:
        """Detached copies of the inputs (``requires_grad`` for torch's gradcheck)."""
        return tuple(x.detach().clone().requires_grad_(requires_grad) for x in self.inputs)


def op_db() -> list[Any]:
    """Every OpInfo whose autograd PyTorch tests (imports PyTorch's test database: a few seconds)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.testing._internal.common_methods_invocations import op_db as database
    return [op for op in database if op.supports_autograd]


def full_name(op: Any) -> str:
    return op.name + (f".{op.variant_test_name}" if op.variant_test_name else "")


def select_ops(names: Sequence[str] | None = None, sample: int | None = None, seed: int = 0) -> list[Any]:
    """The OpInfos named in ``names`` (full names, or base names for every variant), else all of them;
    ``sample``: a seeded random subset of that many."""
    ops = op_db()
    if names:
        wanted = set(names)
        ops = [op for op in ops if full_name(op) in wanted or op.name in wanted]
    if sample is not None and sample < len(ops):
        ops = sorted(random.Random(seed).sample(ops, sample), key=full_name)
    return ops


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, (list, tuple)):
        return [x for x in value if isinstance(x, torch.Tensor) and x.requires_grad]
    return [value] if isinstance(value, torch.Tensor) and value.requires_grad else []


def _recompose(value: Any, inputs: Sequence[torch.Tensor], start: int) -> tuple[Any, int]:
    """``value`` with its tensors that require grad replaced by ``inputs[start:]`` (as PyTorch's tests do)."""
    if isinstance(value, (list, tuple)) and any(isinstance(x, torch.Tensor) for x in value):
        items = []
        for x in value:
            if isinstance(x, torch.Tensor) and x.requires_grad:
                items.append(inputs[start])
                start += 1
            else:
                items.append(x)
        return items, start
    if isinstance(value, torch.Tensor) and value.requires_grad:
        return inputs[start], start + 1
    return value, start


def _sample_case(op: Any, sample: Any, index: int, dtype: str) -> OpCase | None:
    parts = [sample.input, *sample.args, *sample.kwargs.values()]
    inputs = tuple(x.detach().clone() for part in parts for x in _tensors(part))
    if not inputs:
        return None  # nothing requires grad: not a gradient test

    def fn(*tensors: torch.Tensor) -> Any:
        positional, start = [], 0
        for part in (sample.input, *sample.args):
            value, start = _recompose(part, tensors, start)
            positional.append(value)
        kwargs = {}
        for key, part in sample.kwargs.items():
            kwargs[key], start = _recompose(part, tensors, start)
        output = op.gradcheck_wrapper(op.get_op(), *positional, **kwargs)
        if sample.output_process_fn_grad is not None:
            return sample.output_process_fn_grad(output)
        return output

    fn.__name__ = full_name(op).replace(".", "_")
    return OpCase(
        f"{full_name(op)}#{index}", full_name(op), dtype, fn, inputs, float(op.gradcheck_nondet_tol or 0.0)
    )


def cases(op: Any, dtype: str, limit: int | None = None, seed: int = 0) -> Iterator[OpCase]:
    """The sample inputs of ``op`` in ``dtype`` (at most ``limit``), seeded; none where the op does not
    support the dtype on the CPU. Samples whose differentiable inputs are all empty are kept: both checkers
    pass them with nothing to check (docs/verdicts.md: nothing to check)."""
    torch_dtype = DTYPES[dtype]
    if not op.supports_dtype(torch_dtype, "cpu"):
        return
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        samples = op.sample_inputs(
            "cpu", torch_dtype, requires_grad=True, include_conjugated_inputs=torch_dtype.is_complex
        )
        count = 0
        for index, sample in enumerate(samples):
            case = _sample_case(op, sample, index, dtype)
            if case is None:
                continue
            yield case
            count += 1
            if limit is not None and count >= limit:
                return


def _differentiable(x: Any) -> bool:
    return isinstance(x, torch.Tensor) and (x.is_floating_point() or x.is_complex())


def _round_off(cotangents: Sequence[torch.Tensor]) -> float:
    """The size below which a vector-Jacobian product along ``cotangents`` is round-off of a zero gradient."""
    sizes = [float(c.abs().max()) for c in cotangents if c.numel()]
    eps = max((torch.finfo(c.real.dtype).eps for c in cotangents), default=0.0)
    return 64 * eps * max(sizes, default=0.0)


def planted(case: OpCase, bug: str) -> OpCase:
    """``case`` whose backward is the true VJP corrupted by ``BUGS[bug]`` (forward unchanged)."""
    corrupt = BUGS[bug].corrupt
    effect = [0.0]
    spec_box: list[Any] = []

    class Planted(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
            leaves, spec = pytree.tree_flatten(case.func(*inputs))
            spec_box[:] = [spec]
            tensors = tuple(x if isinstance(x, torch.Tensor) else torch.tensor(x) for x in leaves)
            ctx.save_for_backward(*inputs)
            ctx.mark_non_differentiable(*[x for x in tensors if not _differentiable(x)])
            return tuple(x.clone() for x in tensors)

        @staticmethod
        def backward(ctx: Any, *cotangents: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
            saved = [x.detach().requires_grad_(True) for x in ctx.saved_tensors]
            with torch.enable_grad():
                outputs = pytree.tree_leaves(case.func(*saved))
            pairs = [(o, c) for o, c in zip(outputs, cotangents) if _differentiable(o) and o.requires_grad]
            true = torch.autograd.grad([o for o, _ in pairs], saved, [c for _, c in pairs], allow_unused=True)
            grads = []
            floor = _round_off([c for _, c in pairs])
            for g in true:
                if g is None:
                    grads.append(None)
                    continue
                bad = corrupt(g)
                scale = float(g.abs().max()) if g.numel() else 0.0
                if scale > floor:  # a gradient that is round-off (corrcoef of 2 numbers is 1) changes nothing
                    effect[0] = max(effect[0], float((bad - g).abs().max()) / scale)
                grads.append(bad)
            return tuple(grads)

    def wrapped(*inputs: torch.Tensor) -> Any:
        outputs = Planted.apply(*inputs)
        return pytree.tree_unflatten(list(outputs), spec_box[0])

    wrapped.__name__ = getattr(case.func, "__name__", "planted")
    return OpCase(
        case.name, case.op, case.dtype, wrapped, case.inputs, case.nondet_tol, bug=bug, effect=effect
    )
