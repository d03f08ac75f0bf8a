"""The function at the point: its leaves, outputs and names, prepared once for every later stage.

:func:`prepare` validates the inputs, clones them (the user's tensors are never mutated), calls the function
through :mod:`gradcheck_cli.user_code` (a function that raises is reported as such) and rejects functions that
modify their inputs in place or whose outputs have no autograd history.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from gradcheck_cli.errors import GradcheckError, InputError, UsageError, UserFunctionError
from gradcheck_cli.numerics.autodiff import Graph, check_history
from gradcheck_cli.numerics.evaluate import as_outputs, check_finite
from gradcheck_cli.user_code import argument_names, call_user, check_arity


@dataclass(frozen=True)
class Call(Graph):
    """The function at the point (a :class:`Graph`), with the names of its inputs and outputs."""

    names: tuple[str, ...] = ()
    out_names: tuple[str, ...] = ()
    partners: tuple[int, ...] = ()
    """Per output, the other part of its complex output (``.real`` and ``.imag``); empty: none is complex."""

    def magnitudes(self, k: int) -> torch.Tensor:
        """``|f|`` of output ``k``: of the complex output it is a part of (a backward's round-off in the
        imaginary part follows the complex value's size, not the imaginary part's)."""
        output = self.outputs[k].detach()
        other = self.partners[k] if self.partners else k
        return output.abs() if other == k else torch.hypot(output, self.outputs[other].detach())

    def shared(self, k: int) -> tuple[int, ...]:
        """The outputs that share output ``k``'s scale: ``k`` and the other part of its complex output."""
        return (k,) if not self.partners or self.partners[k] == k else (k, self.partners[k])

    @property
    def graph(self) -> Graph:
        return self

    @property
    def base(self) -> tuple[torch.Tensor, ...]:
        """The outputs, detached."""
        return tuple(out.detach() for out in self.graph.outputs)

    @property
    def numels(self) -> list[int]:
        return [out.numel() for out in self.graph.outputs]

    @property
    def m(self) -> int:
        """Output elements: the Jacobian's rows."""
        return sum(self.numels)

    @property
    def n(self) -> int:
        """Input elements: the Jacobian's columns."""
        return sum(x.numel() for x in self.graph.point)


def as_inputs(inputs: torch.Tensor | Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """The inputs as a tuple of non-empty floating-point tensors of one dtype, or an InputError."""
    values = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    if not values:
        raise InputError("no inputs: pass a tensor or a tuple of tensors")
    for i, value in enumerate(values):
        if not isinstance(value, torch.Tensor):
            raise InputError(f"input {i} is a {type(value).__name__}: expected a torch.Tensor")
        if not value.is_floating_point():
            raise InputError(
                f"input {i} is a {value.dtype} tensor: only floating-point inputs can be checked"
            )
        if value.numel() == 0:
            raise InputError(f"input {i} is empty (shape {tuple(value.shape)}): give at least one element")
    dtypes = {v.dtype for v in values}
    if len(dtypes) > 1:
        raise InputError(f"inputs mix dtypes {sorted(map(str, dtypes))}: give every input the same dtype")
    return values


def input_names(
    func: Callable[..., Any], originals: tuple[torch.Tensor, ...], names: Sequence[str] | None
) -> tuple[str, ...]:
    """The names given (one per input), else the function's parameter names."""
    if names is None:
        check_arity(func, len(originals))
        return tuple(argument_names(func, len(originals)))
    if len(names) != len(originals):
        raise UsageError(f"{len(names)} names given for {len(originals)} inputs")
    return tuple(names)


_IN_PLACE = (
    "the function modified {} in place (an in-place operation such as x.add_(), x[...] = ..., or one under "
    "torch.no_grad()): the gradient of a function that overwrites its inputs cannot be checked; work on a "
    "copy (x = x.clone()) or use out-of-place operations"
)


_DTYPE_WORDS = re.compile(r"dtype|scalar type|\b(double|float|half|bfloat16)\b", re.IGNORECASE)
_OTHER_DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)


def runs_at(func: Callable[..., Any], originals: tuple[torch.Tensor, ...], error: BaseException) -> str:
    """The dtype the function runs at where it raised a dtype mismatch (``error``) at the check's dtype:
    the first of the others it is called at without raising, or ``""``."""
    if not isinstance(error, RuntimeError) or not _DTYPE_WORDS.search(str(error)):
        return ""
    for dtype in _OTHER_DTYPES:
        if dtype == originals[0].dtype:
            continue
        leaves = tuple(x.detach().to(dtype).requires_grad_(True) for x in originals)
        try:
            with torch.enable_grad():
                call_user(func, *leaves)
        except GradcheckError:
            continue
        return str(dtype).removeprefix("torch.")
    return ""


def with_dtype_hint(
    func: Callable[..., Any], originals: tuple[torch.Tensor, ...], exc: UserFunctionError
) -> UserFunctionError:
    """``exc`` (the function raised at the point), naming the dtype to check at where the function raised
    a dtype mismatch and runs at another dtype (a float32 model at the float64 default, say)."""
    dtype = runs_at(func, originals, exc.__cause__) if exc.__cause__ is not None else ""
    if not dtype:
        return exc
    at = str(originals[0].dtype).removeprefix("torch.")
    return UserFunctionError(
        f"{exc} (a dtype mismatch: the function runs in {dtype}, not {at}; check it in {dtype}: "
        f"--dtype {dtype}, in the library {dtype} inputs)",
        exc.user_traceback,
    )


def output_names(count: int) -> tuple[str, ...]:
    return ("out",) if count == 1 else tuple(f"out{k}" for k in range(count))


def record(func: Callable[..., Any], originals: tuple[torch.Tensor, ...], names: tuple[str, ...]) -> Graph:
    """The function called on fresh leaves cloned from ``originals``, its graph recorded."""
    leaves = tuple(x.detach().clone().requires_grad_(True) for x in originals)
    versions = [x._version for x in leaves]
    try:
        with torch.enable_grad():
            outputs = as_outputs(call_user(func, *leaves))
    except UserFunctionError as exc:
        if "leaf Variable that requires grad is being used in an in-place operation" in str(exc):
            raise UserFunctionError(_IN_PLACE.format("an input"), exc.user_traceback) from exc
        raise
    for name, x, original, version in zip(names, leaves, originals, versions):
        if x._version != version or not torch.allclose(
            x.detach(), original.detach(), rtol=0, atol=0, equal_nan=True
        ):
            raise UserFunctionError(_IN_PLACE.format(f"its input {name}"))
    check_finite(outputs, "at the point")
    check_history(outputs)
    point = tuple(x.detach().clone() for x in originals)
    return Graph(func, point, leaves, outputs)
