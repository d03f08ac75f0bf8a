"""Blame: the smallest piece of a failing target whose own gradient is wrong.

For a model (a function with a ``module`` attribute that is an ``nn.Module``, or wrapping one: the
canonical function of a model, :mod:`gradcheck_cli.engine.canonical`), one forward pass with forward hooks
records the inputs each submodule receives; each submodule is then checked on its own at those inputs, with
respect to its floating-point tensor inputs and its own parameters. For a plain function,
``torch.autograd.Function.apply`` is wrapped during one forward pass to record every custom Function call
(class, tensor arguments, the calling source line); each is checked on its own at the arguments it received.
Pure: it returns a :class:`Blame`, never prints.
"""

from __future__ import annotations

import dataclasses
import linecache
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from gradcheck_cli.diagnosis import Blame, Suspect
from gradcheck_cli.errors import GradcheckError
from gradcheck_cli.user_code import call_user

MAX_PIECES = 24
"""``blame="auto"`` checks at most this many pieces."""
MAX_ELEMENTS = 4096
"""``blame="auto"`` skips a piece with more input and parameter elements than this..."""
MAX_ENTRIES = 2**18
"""... or a Jacobian (inputs and parameters times outputs) of more entries than this."""

_OURS = (os.path.dirname(os.path.dirname(__file__)), os.path.dirname(torch.__file__))


@dataclass
class _Call:
    """One recorded piece: how to call it on its float tensors, and where it sits."""

    name: str
    cls: str
    call: Callable[..., Any]
    tensors: tuple[torch.Tensor, ...]
    names: tuple[str, ...]
    parent: str | None = None
    file: str | None = None
    line: int | None = None
    outputs: int = 0
    """The elements of its output (of its tensors)."""

    @property
    def small(self) -> bool:
        inputs = sum(t.numel() for t in self.tensors)
        return inputs <= MAX_ELEMENTS and inputs * self.outputs <= MAX_ENTRIES


def _numel(value: Any) -> int:
    """The elements of every tensor in ``value`` (a tensor, or nested tuples, lists and dicts)."""
    import torch.utils._pytree as pytree

    return sum(x.numel() for x in pytree.tree_leaves(value) if isinstance(x, torch.Tensor))


def _substitute(args: tuple[Any, ...], picked: list[int]) -> Callable[..., tuple[Any, ...]]:
    """A function of the tensors at positions ``picked`` of ``args`` that rebuilds ``args``."""

    def rebuild(*tensors: torch.Tensor) -> tuple[Any, ...]:
        values = list(args)
        for position, tensor in zip(picked, tensors):
            values[position] = tensor
        return tuple(values)

    return rebuild


def _float_positions(args: tuple[Any, ...], needs_grad: bool) -> list[int]:
    return [
        k
        for k, a in enumerate(args)
        if isinstance(a, torch.Tensor) and a.is_floating_point() and (a.requires_grad or not needs_grad)
    ]


def _caller() -> tuple[str | None, int | None]:
    """The innermost frame outside torch and gradcheck_cli: the user's call."""
    frame = sys._getframe(2)
    while frame is not None:
        if not frame.f_code.co_filename.startswith(_OURS):
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return None, None


def _recorded(calls: list[_Call], cls: type, args: tuple[Any, ...], output: Any) -> None:
    """Record one custom Function call (its float arguments that require grad), to check it on its own."""
    picked = _float_positions(args, needs_grad=True)
    if not picked:
        return
    file, line = _caller()
    rebuild = _substitute(tuple(a.detach() if isinstance(a, torch.Tensor) else a for a in args), picked)
    calls.append(
        _Call(
            name=cls.__name__,
            cls=cls.__qualname__,
            call=lambda *t, c=cls, r=rebuild: c.apply(*r(*t)),
            tensors=tuple(args[k].detach().clone() for k in picked),
            names=tuple(f"input {k}" for k in picked),
            file=file,
            line=line,
            outputs=_numel(output),
        )
    )


@contextmanager
def _recording_functions(calls: list[_Call]) -> Iterator[None]:
    """Record each custom Function call. ``Function.apply`` (after binding default arguments) calls
    ``super().apply``, which resolves on the class between it and the C base: the recording sits there, so
    it also sees a ``MyFunction.apply`` bound before it was installed (``check(MyFunction.apply, ...)``, or
    ``my_function = MyFunction.apply`` at import time)."""
    base: Any = torch.autograd.function._SingleLevelFunction
    if "apply" in base.__dict__:  # another torch layout: nothing to record through
        yield
        return

    def apply(cls: type, *args: Any, **kwargs: Any) -> Any:
        output = super(base, cls).apply(*args, **kwargs)  # type: ignore[misc]
        if not kwargs:
            _recorded(calls, cls, args, output)
        return output

    base.apply = classmethod(apply)
    try:
        yield
    finally:
        del base.apply


def _module_call(
    name: str,
    module: torch.nn.Module,
    args: tuple[Any, ...],
    weights: dict[str, torch.Tensor],
    parent: str | None,
) -> _Call | None:
    """A submodule as a function of its float tensor inputs and its own parameters (at ``weights``)."""
    args = tuple(a.detach().clone() if isinstance(a, torch.Tensor) else a for a in args)
    picked = _float_positions(args, needs_grad=False)
    params = [(n, w) for n, w in weights.items() if w.is_floating_point()]
    if not picked and not params:
        return None
    rebuild = _substitute(args, picked)
    count = len(picked)

    def call(*tensors: torch.Tensor) -> Any:
        weights = {n: t for (n, _), t in zip(params, tensors[count:])}
        return torch.func.functional_call(module, weights, rebuild(*tensors[:count]))

    return _Call(
        name=name,
        cls=type(module).__name__,
        call=call,
        tensors=tuple(args[k] for k in picked) + tuple(p for _, p in params),
        names=tuple(f"input {k}" for k in picked) + tuple(n for n, _ in params),
        parent=parent,
    )


def _module_of(func: Any) -> torch.nn.Module | None:
    """The model ``func`` runs: its ``module``, or that of the function it wraps (the canonical function of
    a model target's ``f(x, *parameters)``)."""
    for candidate in (func, getattr(func, "func", None)):
        module = getattr(candidate, "module", None)
        if isinstance(module, torch.nn.Module):
            return module
    return None


def _record_modules(func: Any, module: torch.nn.Module, point: tuple[torch.Tensor, ...]) -> list[_Call]:
    """The submodules of ``module`` with the inputs and parameters each had in one forward pass of ``func``
    (the parameters it swaps in are the point's)."""
    seen: dict[str, tuple[torch.nn.Module, tuple[Any, ...], dict[str, torch.Tensor], int]] = {}

    def hook(name: str) -> Callable[..., None]:
        def record(sub: torch.nn.Module, args: tuple[Any, ...], out: Any) -> None:
            weights = {n: p.detach().clone() for n, p in sub.named_parameters()}
            seen.setdefault(name, (sub, args, weights, _numel(out)))

        return record

    handles = [sub.register_forward_hook(hook(name)) for name, sub in module.named_modules() if name]
    try:
        with torch.no_grad():
            call_user(func, *point)
    finally:
        for handle in handles:
            handle.remove()
    calls = []
    for name, (sub, args, weights, outputs) in seen.items():
        parent = name.rsplit(".", 1)[0] if "." in name else None
        while parent is not None and parent not in seen:
            parent = parent.rsplit(".", 1)[0] if "." in parent else None
        found = _module_call(name, sub, args, weights, parent)
        if found is not None:
            calls.append(dataclasses.replace(found, outputs=outputs))
    return calls


def _record(func: Any, point: tuple[torch.Tensor, ...]) -> tuple[str, list[_Call]]:
    module = _module_of(func)
    if module is not None:
        return "module", _record_modules(func, module, point)
    calls: list[_Call] = []
    leaves = tuple(x.detach().clone().requires_grad_(True) for x in point)
    with _recording_functions(calls), torch.enable_grad():
        call_user(func, *leaves)
    return "function", calls


def _suspect(call: _Call) -> Suspect:
    from gradcheck_cli.engine.check import check

    source = linecache.getline(call.file, call.line).strip() if call.file and call.line else ""
    where = {"parent": call.parent, "file": call.file, "line": call.line, "source": source}
    try:
        result = check(call.call, call.tensors, names=call.names, forward=False, blame="off")
    except GradcheckError as exc:
        return Suspect(call.name, call.cls, "ERROR", error=str(exc), **where)
    patterns = tuple(
        (block.input_name, block.pattern) for block in result.blocks if block.pattern is not None
    )
    return Suspect(call.name, call.cls, result.verdict, result.failed_inputs, patterns, **where)


def find_blame(func: Callable[..., Any], point: tuple[torch.Tensor, ...], *, bounded: bool = True) -> Blame:
    """Check every submodule (a model) or custom Function call (a function) of ``func`` at ``point`` on its
    own; with ``bounded``, at most :data:`MAX_PIECES` pieces of at most :data:`MAX_ELEMENTS` elements and
    :data:`MAX_ENTRIES` Jacobian entries."""
    try:
        kind, calls = _record(func, point)
    except GradcheckError:
        return Blame("function", ())
    kept = [c for c in calls if c.small][:MAX_PIECES] if bounded else calls
    return Blame(kind, tuple(_suspect(c) for c in kept), skipped=len(calls) - len(kept))
