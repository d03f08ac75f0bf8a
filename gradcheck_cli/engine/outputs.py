"""The outputs of a call: which are checked and under what names, which are skipped and why.

Outputs are flattened with torch's pytree utilities (tuples, lists, dicts, namedtuples, nested). A flat tuple
of tensors keeps the names ``out0``, ``out1``...; nested outputs are named by path (``out['a']``,
``out.values``, ``out[1][0]``). Integer, bool, empty and non-tensor outputs are skipped, and outputs without
autograd history too where another output has one (torch's rule); where none has, every floating output is
kept and the numerical Jacobian must be zero. A complex output is checked as its ``.real`` and ``.imag``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.utils._pytree as pytree
from torch.overrides import TorchFunctionMode

from gradcheck_cli.errors import GradcheckError, NothingToCheck, UserFunctionError
from gradcheck_cli.result import SkippedOutput
from gradcheck_cli.user_code import call_user


def path_name(root: str, tree: Any, path: Sequence[Any]) -> str:
    """``x``, ``x[1]``, ``opts['scale']``, ``out.values`` for the pytree ``path`` from ``tree``."""
    name, node = root, tree
    for key in path:
        if isinstance(key, pytree.SequenceKey):
            fields = getattr(type(node), "__match_args__", None) if isinstance(node, tuple) else None
            name += f".{fields[key.idx]}" if fields else f"[{key.idx}]"
            node = node[key.idx]
        elif isinstance(key, pytree.MappingKey):
            name += f"[{key.key!r}]"
            node = node[key.key]
        elif isinstance(key, pytree.GetAttrKey):
            name += f".{key.name}"
            node = getattr(node, key.name)
        else:
            name += str(key)
    return name


def constant_reason(value: Any) -> str:
    """Why a non-tensor or non-floating value is held constant ("" for a floating or complex tensor)."""
    if isinstance(value, torch.Tensor):
        if not (value.is_floating_point() or value.is_complex()):
            return "integer"
        return "empty" if value.numel() == 0 else ""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float, complex)):
        return "number"
    return "none" if value is None else "string" if isinstance(value, str) else "other"


@dataclass(frozen=True)
class OutputPlan:
    """Which flat outputs are checked (and which of them are complex), and whether none has history."""

    count: int
    keep: tuple[int, ...]
    complex: tuple[bool, ...]
    zero: bool
    names: tuple[str, ...]
    skipped: tuple[SkippedOutput, ...]


def plan_outputs(value: Any, tracked: bool) -> OutputPlan:
    """The outputs to check in ``value`` (the function's return value); ``tracked``: it was computed with
    leaves that require grad (outputs without history are then skippable)."""
    leaves, _ = pytree.tree_flatten_with_path(value)
    plain = isinstance(value, (tuple, list)) and not hasattr(type(value), "__match_args__")
    plain = plain and all(isinstance(v, torch.Tensor) for v in value)
    names = []
    for path, _leaf in leaves:
        if plain:  # a flat tuple of tensors: out0, out1... as before
            names.append(f"out{path[0].idx}")
        else:
            names.append(path_name("out", value, path))
    candidates, skipped, quiet = [], [], []
    for k, (_path, leaf) in enumerate(leaves):
        reason = constant_reason(leaf)
        if not isinstance(leaf, torch.Tensor):
            reason = "not-a-tensor"
        elif reason == "integer":
            reason = "bool" if leaf.dtype == torch.bool else "integer"
        elif not reason and tracked and not leaf.requires_grad:
            quiet.append(k)
            continue
        if reason:
            skipped.append(SkippedOutput(names[k], reason))
        else:
            candidates.append(k)
    zero = not candidates and bool(quiet)
    if zero:
        candidates = quiet
    else:
        skipped += [SkippedOutput(names[k], "no-history") for k in quiet]
    if not candidates:
        _raise_empty(leaves, names, skipped)
        raise UserFunctionError(_nothing_to_check(value, skipped))
    keep = tuple(candidates)
    is_complex = tuple(bool(leaves[k][1].is_complex()) for k in keep)
    out_names: list[str] = []
    for k, c in zip(keep, is_complex):
        out_names += [f"{names[k]}.real", f"{names[k]}.imag"] if c else [names[k]]
    return OutputPlan(len(leaves), keep, is_complex, zero, tuple(out_names), tuple(skipped))


def _raise_empty(leaves: list[Any], names: list[str], skipped: list[SkippedOutput]) -> None:
    """A :class:`NothingToCheck` where the floating outputs are all empty (the others skipped as usual)."""
    empty = [k for k, (_path, leaf) in enumerate(leaves) if constant_reason(leaf) == "empty"]
    if empty:
        dtype = str(leaves[empty[0]][1].dtype).removeprefix("torch.")
        listed = ", ".join(f"{s.name} ({s.reason})" for s in skipped)
        raise NothingToCheck(
            f"every floating output is empty: nothing to check ({listed})",
            "outputs",
            tuple(names[k] for k in empty),
            dtype,
        )


def _nothing_to_check(value: Any, skipped: list[SkippedOutput]) -> str:
    if isinstance(value, torch.Tensor) and value.numel() == 0:
        return (
            f"the function returned an empty tensor (shape {tuple(value.shape)}, 0 elements): nothing to "
            "check; return at least one element"
        )
    if isinstance(value, torch.Tensor):
        return f"the function returned a {value.dtype} tensor: expected a floating or complex tensor"
    if len(skipped) == 1 and skipped[0].name == "out":
        return (
            f"the function returned {type(value).__name__}: expected a torch.Tensor (a Python number or "
            "numpy array has no autograd history)"
        )
    if not skipped:
        return (
            f"the function returned an empty {type(value).__name__}: expected a tensor or a tuple of tensors"
        )
    listed = ", ".join(f"{s.name} ({s.reason})" for s in skipped)
    return f"the function returned no floating or complex tensor: nothing to check ({listed})"


class _GradModes(TorchFunctionMode):
    """Records the autograd mode each torch operation runs under."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def __torch_function__(
        self, func: Any, types: Any, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None
    ) -> Any:
        if torch.is_inference_mode_enabled():
            self.seen.add("inference_mode")
        elif not torch.is_grad_enabled():
            self.seen.add("no_grad")
        return func(*args, **(kwargs or {}))


def grad_disabled(func: Callable[..., Any], originals: Sequence[torch.Tensor]) -> str:
    """Whether the function, called with grad enabled on leaves that require grad, turns autograd off for
    its torch operations itself: ``inference_mode``, ``no_grad`` (``torch.no_grad()``,
    ``set_grad_enabled(False)``) or ``""`` (on throughout, or the call raised)."""
    modes = _GradModes()
    leaves = tuple(x.detach().clone().requires_grad_(True) for x in originals)
    try:
        with torch.enable_grad(), modes:
            call_user(func, *leaves)
    except GradcheckError:
        return ""
    return "inference_mode" if "inference_mode" in modes.seen else next(iter(modes.seen), "")
