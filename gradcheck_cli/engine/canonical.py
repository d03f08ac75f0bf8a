"""The canonical call: the user's function at one point, as a function of real floating tensors.

Any call (positional and keyword arguments nested in lists, tuples and dicts, flattened and rebuilt with
torch's pytree utilities; constants; complex tensors; an ``nn.Module`` with its parameters) becomes a
function of real floating tensors (the leaves) returning a tuple of real floating tensors:

- floating and complex tensors are differentiated; everything else is passed through unchanged and held
  constant (numbers, bools, None, strings, integer and bool tensors, empty tensors, tensors marked
  ``requires_grad=False`` while other arguments require grad, as torch's gradcheck does, and arguments not
  chosen by ``wrt``);
- a complex tensor is two real leaves, its real and imaginary parts (``z.real``, ``z.imag``), and a complex
  output two real outputs: the Jacobian of the real coordinates, which is what ``torch.autograd.gradcheck``
  compares for complex functions (Wirtinger derivatives, real and imaginary parts separately);
- outputs are flattened (tuples, lists, dicts, namedtuples, nested); integer, bool, empty and non-tensor
  outputs are skipped, and outputs without autograd history too when another output has one; when none has,
  the numerical Jacobian is checked to be zero (as torch does);
- a model is ``forward`` with its parameters as further arguments, by name, in eval mode unless ``train``.

What was differentiated, held constant or skipped, and why, is data (:class:`~gradcheck_cli.result.CallSummary`).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.utils._pytree as pytree

from gradcheck_cli.engine.outputs import OutputPlan, constant_reason, path_name, plan_outputs
from gradcheck_cli.errors import InputError, NothingToCheck, UsageError, UserFunctionError
from gradcheck_cli.result import Argument, CallSummary
from gradcheck_cli.user_code import argument_names, describe_signature


class ComplexStepRefused(TypeError):
    """The complex step (complex values for real coordinates) reached a complex function: refused."""


_REFUSED = (
    "a complex function: its real and imaginary parts are real coordinates, and the complex step does not "
    "apply to it"
)


def _short(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).removeprefix("torch.")
        if value.layout != torch.strided:
            return f"{str(value.layout).removeprefix('torch.')} {dtype} tensor of shape {tuple(value.shape)}"
        if value.numel() <= 6:
            return f"{dtype} tensor {value.detach().cpu().tolist()}"
        return f"{dtype} tensor of shape {tuple(value.shape)}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_SPARSE = (
    "{} is a {} tensor: sparse and other non-strided layouts are not supported (finite differences perturb "
    "every element of a dense tensor); pass a dense tensor (x.to_dense()) or hold it constant"
)


@contextlib.contextmanager
def _mode(module: torch.nn.Module, training: bool) -> Iterator[None]:
    """``module`` (and every submodule) in training or eval mode for the duration, restored after."""
    was = [(m, m.training) for m in module.modules()]
    module.train(training)
    try:
        yield
    finally:
        for m, mode in was:
            m.training = mode


@dataclass(frozen=True)
class _Slot:
    """A differentiated value: its index in the flat arguments, and whether it is complex (two leaves)."""

    index: int
    complex: bool


class CanonicalFunction:
    """The canonical function: real floating leaves in, a tuple of real floating tensors out.

    Its output plan is fixed by its first call with leaves that require grad (the engine's first call)."""

    def __init__(
        self,
        func: Callable[..., Any],
        flat: list[Any],
        spec: pytree.TreeSpec,
        slots: tuple[_Slot, ...],
        module: torch.nn.Module | None = None,
        training: bool = False,
    ) -> None:
        self.func = func
        self.flat = flat
        self.spec = spec
        self.slots = slots
        self.module = module
        self.training = training
        self.plan: OutputPlan | None = None
        self.complex_inputs = any(slot.complex for slot in slots)
        self.__name__ = getattr(func, "__name__", type(func).__name__)

    def rebuild(self, parts: Sequence[torch.Tensor]) -> Any:
        """The user's argument tree with ``parts`` in the differentiated places."""
        values = list(self.flat)
        k = 0
        for slot in self.slots:
            if slot.complex:
                values[slot.index] = torch.complex(parts[k], parts[k + 1])
                k += 2
            else:
                values[slot.index] = parts[k]
                k += 1
        return pytree.tree_unflatten(values, self.spec)

    def raw(self, *parts: torch.Tensor) -> Any:
        """What the user's function returns at ``parts``."""
        if any(p.is_complex() for p in parts) and (
            self.complex_inputs or (self.plan is not None and any(self.plan.complex))
        ):
            raise ComplexStepRefused(_REFUSED)
        args, kwargs, parameters = self.rebuild(parts)
        if self.module is None:
            return self.func(*args, **kwargs)
        with _mode(self.module, self.training):
            return torch.func.functional_call(self.module, parameters, tuple(args), kwargs)

    def __call__(self, *parts: torch.Tensor) -> tuple[torch.Tensor, ...]:
        value = self.raw(*parts)
        tracked = torch.is_grad_enabled() and any(p.requires_grad for p in parts)
        plan = self.plan or plan_outputs(value, tracked)
        if self.plan is None and tracked:
            self.plan = plan
        leaves = pytree.tree_leaves(value)
        if len(leaves) != plan.count:
            raise UserFunctionError(
                f"the function returned {len(leaves)} values (tensors and other leaves) here and "
                f"{plan.count} at the point: its output structure must not change"
            )
        results: list[torch.Tensor] = []
        for k, is_complex in zip(plan.keep, plan.complex):
            out = leaves[k]
            # resolve_neg: the imaginary part of a conjugate view carries a negative bit numpy() refuses
            results += [out.real, out.imag.resolve_neg()] if is_complex and out.is_complex() else [out]
        if plan.zero:  # no output has history: autograd's Jacobian is zero, and so must the numerical one be
            link = sum(p.sum() for p in parts) * 0
            results = [r + link for r in results]
        return tuple(results)

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.plan.names if self.plan is not None else ()

    @property
    def partners(self) -> tuple[int, ...]:
        """Per real output, the index of the other part of its complex output (its own index if real)."""
        found: list[int] = []
        for is_complex in () if self.plan is None else self.plan.complex:
            k = len(found)
            found += [k + 1, k] if is_complex else [k]
        return tuple(found)


@dataclass(frozen=True)
class Canonical:
    """The function at the point: the canonical function, its leaves and their names, and the summary."""

    func: CanonicalFunction
    leaves: tuple[torch.Tensor, ...]
    names: tuple[str, ...]
    arguments: tuple[Argument, ...]
    module_mode: str = ""

    def summary(self) -> CallSummary:
        plan = self.func.plan
        outputs = () if plan is None else tuple(n for n, c in zip(plan.names, _flags(plan)) if c)
        inputs = tuple(n.removesuffix(".real") for n in self.names if n.endswith(".real"))
        return CallSummary(
            arguments=self.arguments,
            skipped_outputs=() if plan is None else plan.skipped,
            complex_parts=(*inputs, *(n.removesuffix(".real") for n in outputs)),
            zero_check=plan is not None and plan.zero,
            module_mode=self.module_mode,
        )


def _flags(plan: OutputPlan) -> list[bool]:
    """Per output name: whether it is the real part of a complex output."""
    flags: list[bool] = []
    for c in plan.complex:
        flags += [True, False] if c else [False]
    return flags


def _positional(inputs: Any) -> tuple[Any, ...]:
    if isinstance(inputs, tuple):
        return inputs
    if isinstance(inputs, list) and any(isinstance(v, torch.Tensor) for v in inputs):
        return tuple(inputs)
    return (inputs,)


def _bind(target: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        given = f"{len(args)} argument value(s)" + (f" and keywords {', '.join(kwargs)}" if kwargs else "")
        raise InputError(
            f"{given} given, but {describe_signature(target)} does not accept that: {exc}"
        ) from None


def _selected(name: str, wrt: Collection[str] | None) -> bool:
    return wrt is None or any(name == w or name.startswith(w + ".") for w in wrt)


def _roles(
    flat: list[tuple[Any, Any]], tops: list[str], wrt: Collection[str] | None, given: int
) -> list[str]:
    """Per flat value: "" (differentiated) or why it is held constant. The first ``given`` values are the
    user's arguments (torch's rule: where some require grad, those that do not are constant)."""
    reasons = [constant_reason(value) for _, value in flat]
    tensors = [k for k in range(given) if not reasons[k]]
    some = any(flat[k][1].requires_grad for k in tensors)
    for k, (_, value) in enumerate(flat):
        if reasons[k]:
            continue
        if not _selected(tops[k], wrt):
            reasons[k] = "not-in-wrt"
        elif k < given and some and not value.requires_grad:
            reasons[k] = "requires-grad-false"
    return reasons


def prepare(
    func: Callable[..., Any],
    inputs: Any,
    kwargs: Mapping[str, Any] | None = None,
    *,
    wrt: Collection[str] | None = None,
    names: Sequence[str] | None = None,
    train: bool = False,
) -> Canonical:
    """The canonical call of ``func(*inputs, **kwargs)`` (an ``nn.Module``: ``forward`` with every parameter
    too). ``wrt`` names the arguments (or parameters, or a parameter prefix) to differentiate; ``names``
    names the positional arguments (default: the function's parameter names)."""
    module = func if isinstance(func, torch.nn.Module) else None
    target = module.forward if module is not None else func
    args, kwargs = _positional(inputs), dict(kwargs or {})
    _bind(target, args, kwargs)
    if names is None:
        names = argument_names(target, len(args))
    elif len(names) != len(args):
        raise UsageError(f"{len(names)} names given for {len(args)} inputs")
    parameters = {} if module is None else {n: p for n, p in module.named_parameters() if p.requires_grad}
    tree = (list(args), kwargs, parameters)
    flat, spec = pytree.tree_flatten_with_path(tree)
    if not flat:
        raise InputError("no inputs: pass a tensor or a tuple of tensors")
    roots = [*names, *kwargs, *parameters]
    tops, labels = [], []
    for path, _ in flat:
        section, first = path[0].idx, path[1]
        top = names[first.idx] if section == 0 else str(first.key)
        sub = tree[section][first.idx if section == 0 else first.key]  # type: ignore[index]
        tops.append(top)
        labels.append(path_name(top, sub, path[2:]))
    _check_wrt(wrt, roots, parameters)
    given = sum(1 for path, _ in flat if path[0].idx < 2)
    reasons = _roles(flat, tops, wrt, given)
    return _assemble(func, flat, spec, list(zip(labels, reasons)), module, train)


def _check_wrt(wrt: Collection[str] | None, roots: list[str], parameters: Mapping[str, Any]) -> None:
    if wrt is None:
        return
    unknown = [w for w in wrt if w not in roots and not any(p.startswith(w + ".") for p in parameters)]
    if unknown:
        raise UsageError(
            f"wrt names {', '.join(map(repr, unknown))}, which the call does not have: expected some of "
            + ", ".join(roots)
        )


def _assemble(
    func: Callable[..., Any],
    flat: list[tuple[Any, Any]],
    spec: pytree.TreeSpec,
    named: list[tuple[str, str]],
    module: torch.nn.Module | None,
    train: bool,
) -> Canonical:
    values = [value.detach() if isinstance(value, torch.Tensor) else value for _, value in flat]
    slots, leaves, names, arguments = [], [], [], []
    for k, (value, (label, reason)) in enumerate(zip(values, named)):
        arguments.append(Argument(label, not reason, reason, _short(value) if reason else ""))
        if reason:
            continue
        if value.layout != torch.strided:
            raise InputError(_SPARSE.format(label, str(value.layout).removeprefix("torch.")))
        slots.append(_Slot(k, value.is_complex()))
        if value.is_complex():
            leaves += [value.real.clone(), value.imag.clone()]
            names += [f"{label}.real", f"{label}.imag"]
        else:
            leaves.append(value)
            names.append(label)
    if not leaves:
        _no_leaves(values, arguments)
    function = CanonicalFunction(func, values, spec, tuple(slots), module, train)
    mode = "" if module is None else "train" if train else "eval"
    return Canonical(function, tuple(leaves), tuple(names), tuple(arguments), mode)


def _no_leaves(values: list[Any], arguments: list[Argument]) -> None:
    """Raise why nothing is differentiated: :class:`NothingToCheck` where the differentiable arguments are
    all empty (a PASS with 0 entries), else an :class:`InputError`."""
    constants = ", ".join(f"{a.name}: {a.reason}" for a in arguments)
    empty = [k for k, a in enumerate(arguments) if a.reason == "empty"]
    if empty:
        dtype = str(values[empty[0]].dtype).removeprefix("torch.")
        names = tuple(arguments[k].name for k in empty)
        raise NothingToCheck(f"every differentiable argument is empty ({constants})", "inputs", names, dtype)
    raise InputError(
        f"nothing to differentiate: every argument is held constant ({constants}); give a floating-point "
        "or complex tensor argument"
    )
