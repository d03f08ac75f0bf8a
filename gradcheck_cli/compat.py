"""Drop-ins for ``torch.autograd.gradcheck`` and ``torch.autograd.gradgradcheck``: torch's signatures and
return/raise behaviour, our verdicts.

``gradcheck(func, inputs)`` returns True when every Jacobian entry and every contract check passes, and
otherwise raises :class:`GradcheckFailure` (a ``RuntimeError``, and a subclass of torch's own
``GradcheckError``, so ``except``/``pytest.raises`` written for torch keep working) whose message is our
table of the failing entries and broken contracts; ``raise_exception=False`` returns False instead.

Only tensors with ``requires_grad=True`` are differentiated; other arguments are passed as they are, and only
outputs with a graph are checked (as in torch). Where the caller gives ``eps``, ``atol`` or ``rtol`` they
mean what they mean in torch: central differences at the fixed step ``eps``, and an entry passes when
``|autograd - numerical| <= atol + rtol * |numerical|`` (torch's defaults fill the one not given). Where the
caller gives none, our error-bar reference and its tolerances decide. ``fast_mode=True`` is our probe mode.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.autograd.gradcheck import GradcheckError as TorchGradcheckError

from gradcheck_cli.engine.call import output_names
from gradcheck_cli.engine.check import check
from gradcheck_cli.engine.contracts import DEFAULT_CONTRACTS
from gradcheck_cli.engine.contracts import grad_outputs as grad_outputs_contract
from gradcheck_cli.engine.second_order import GradientFunction
from gradcheck_cli.errors import GradcheckError, InputError
from gradcheck_cli.result import CheckResult
from gradcheck_cli.user_code import argument_names

__all__ = ["GradcheckFailure", "gradcheck", "gradgradcheck", "patch_torch"]

# torch's tolerances, used for the ones a caller leaves out when it gives another.
TORCH_EPS, TORCH_ATOL, TORCH_RTOL = 1e-6, 1e-5, 1e-3


class GradcheckFailure(TorchGradcheckError):
    """A gradient check failed: a wrong or unverifiable Jacobian entry, or a broken contract. The message is
    the table of the failing entries; :attr:`result` holds the whole :class:`CheckResult`."""

    def __init__(self, message: str, result: CheckResult) -> None:
        super().__init__(message)
        self.result = result


def _tupled(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _differentiable(inputs: tuple[Any, ...]) -> list[int]:
    """The positions of the tensors that require grad (at least one, as torch demands)."""
    found = [i for i, x in enumerate(inputs) if isinstance(x, torch.Tensor) and x.requires_grad]
    if not found:
        raise ValueError(
            "gradcheck expects at least one input tensor to require gradient, "
            "but none of them have requires_grad=True."
        )
    for i in found:
        if inputs[i].is_sparse or inputs[i].layout != torch.strided:
            raise InputError(
                f"input {i} has layout {inputs[i].layout}: only strided (dense) tensors can be checked"
            )
    return found


def _floating(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and (value.is_floating_point() or value.is_complex())


class _Partial:
    """``func`` with its constant arguments bound: called with the differentiable tensors only, returning
    only the outputs that had a graph at the point. Where none has one (``zero``), as torch: every floating
    output, whose numerical Jacobian must then be zero (the check's ``zero_check``)."""

    def __init__(self, func: Callable[..., Any], inputs: tuple[Any, ...], positions: list[int]) -> None:
        self.func, self.inputs, self.positions = func, inputs, positions
        self.__name__ = getattr(func, "__name__", type(func).__name__)
        with torch.enable_grad():
            raw = func(*inputs)
        outputs = _tupled(raw)
        self.bare = isinstance(raw, torch.Tensor)  # a single tensor stays one: its output is named out
        self.outputs = [k for k, o in enumerate(outputs) if isinstance(o, torch.Tensor) and o.requires_grad]
        self.zero = not self.outputs
        if self.zero:
            self.outputs = [k for k, o in enumerate(outputs) if _floating(o) and o.numel() > 0]
            self.bare = self.bare and bool(self.outputs)
        self.shapes = [tuple(outputs[k].shape) for k in self.outputs]

    def __call__(self, *values: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        args = list(self.inputs)
        for i, value in zip(self.positions, values):
            args[i] = value
        outputs = _tupled(self.func(*args))
        return outputs[0] if self.bare else tuple(outputs[k] for k in self.outputs)


def _tolerances(eps: float | None, atol: float | None, rtol: float | None) -> dict[str, Any]:
    """torch's meaning where the caller gives a tolerance; our reference and tolerances where not."""
    settings: dict[str, Any] = {}
    if eps is not None:
        settings.update(eps=eps, method="central")
    if atol is not None or rtol is not None:
        settings.update(
            atol=TORCH_ATOL if atol is None else atol,
            rtol=TORCH_RTOL if rtol is None else rtol,
        )
        if eps is None:  # torch's fixed rule is against central differences at torch's step
            settings.update(eps=TORCH_EPS, method="central")
    return settings


def _torch_arguments(
    either: tuple[str, str], requires: tuple[tuple[str, str], ...], flags: dict[str, Any]
) -> None:
    """torch's argument checks, with its AssertionError messages: one of ``either`` must be on, and each
    ``(flag, needed)`` in ``requires`` needs ``needed`` on when ``flag`` is."""
    if not (flags[either[0]] or flags[either[1]]):
        raise AssertionError(f"Expected at least one of {either[0]} or {either[1]} to be True")
    for flag, needed in requires:
        if flags[flag] and not flags[needed]:
            raise AssertionError(f"Setting {flag}=True requires {needed} to be True")


def _settings(
    tolerances: tuple[float | None, float | None, float | None],
    fast_mode: bool,
    forward: bool,
    contracts: list[str],
) -> dict[str, Any]:
    """:func:`check`'s keywords: the tolerances, probe mode for ``fast_mode``, forward mode, the contracts."""
    return {
        **_tolerances(*tolerances),
        "mode": "probe" if fast_mode else "full",
        "forward": forward,
        "contracts": contracts,
    }


def _contracts(undefined: bool, backward: bool, batched: bool, batched_forward: bool) -> list[str]:
    chosen = [c for c in DEFAULT_CONTRACTS if backward and (undefined or c != "undefined_grad")]
    return chosen + ["batched_grad"] * batched + ["batched_forward_grad"] * batched_forward


def _message(result: CheckResult, func: Callable[..., Any]) -> str:
    from gradcheck_cli.render.table import failure_text
    from gradcheck_cli.report import PointLabel

    name = getattr(func, "__name__", type(func).__name__)
    label = PointLabel(0, ", ".join(result.input_names))
    return f"gradcheck failed: {result.verdict}\n" + failure_text(result, label, name)


def _with_cotangents(
    target: _Partial, values: tuple[torch.Tensor, ...], names: list[str], grad_outputs: Any
) -> tuple[Callable[..., Any], tuple[torch.Tensor, ...], list[str]]:
    """The backward ``(inputs, grad_outputs) -> grad_inputs`` at the given output gradients (None: zeros)."""
    given = _tupled(grad_outputs)
    if len(given) != len(target.shapes):
        raise InputError(
            f"{len(given)} grad_outputs given for {len(target.shapes)} differentiable output(s): give one each"
        )
    cotangents = tuple(
        torch.zeros(shape, dtype=values[0].dtype) if v is None else v.detach().to(values[0].dtype)
        for v, shape in zip(given, target.shapes)
    )
    backward = GradientFunction(target, len(values), target.__name__)
    return backward, values + cotangents, names + [f"grad_{o}" for o in output_names(len(cotangents))]


def _result(
    func: Callable[..., Any], inputs: Any, settings: dict[str, Any], grad_outputs: Any = None
) -> CheckResult | None:
    """Check ``func`` at ``inputs`` (``settings`` are :func:`check`'s keywords); with ``grad_outputs`` (None:
    ``settings["order"] = 2`` for random ones) its backward, order 2. None: no floating output, a vacuous
    pass as in torch."""
    tupled = _tupled(inputs)
    positions = _differentiable(tupled)
    target = _Partial(func, tupled, positions)
    if not target.outputs:  # no floating output at all: torch's numerical Jacobian is empty, and passes
        return None
    every = argument_names(func, len(tupled))
    names = [every[i] for i in positions]
    values = tuple(tupled[i].detach() for i in positions)
    if grad_outputs is None:
        return check(target, values, names=names, **settings)
    backward, values, names = _with_cotangents(target, values, names, grad_outputs)
    result = check(backward, values, names=names, **settings)
    cotangents = tuple(names[len(positions) :])
    extra = grad_outputs_contract(result.blocks, cotangents, result.strict_kinks)
    return dataclasses.replace(result, contracts=(*result.contracts, extra))


Recorder = Callable[[Callable[..., Any], "CheckResult | GradcheckError"], None]
"""Called with the function and the result of each check (or the error that stopped it)."""
_RECORDERS: list[Recorder] = []


def _run(
    func: Callable[..., Any],
    inputs: Any,
    settings: dict[str, Any],
    raise_exception: bool,
    grad_outputs: Any = None,
) -> bool:
    """:func:`_result`, given to every recorder (:func:`patch_torch`), as torch returns or raises it."""
    try:
        result = _result(func, inputs, settings, grad_outputs)
    except GradcheckError as exc:  # bad input, or the function raised: recorded, and raised as before
        for record in _RECORDERS:
            record(func, exc)
        raise
    if result is None:
        return True
    for record in _RECORDERS:
        record(func, result)
    if result.passed:
        return True
    if raise_exception:
        raise GradcheckFailure(_message(result, func), result)
    return False


def gradcheck(
    func: Callable[..., torch.Tensor | Sequence[torch.Tensor]],
    inputs: torch.Tensor | Sequence[torch.Tensor],
    *,
    eps: float | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_batched_forward_grad: bool = False,
    check_forward_ad: bool = False,
    check_backward_ad: bool = True,
    fast_mode: bool = False,
    masked: bool | None = None,
) -> bool:
    """``torch.autograd.gradcheck`` with our verdicts (see the module docstring and the table of
    differences in docs/compat.md). ``nondet_tol``, ``check_grad_dtypes`` and ``masked`` are accepted: the gradient's dtype is
    always checked (``grad_metadata``), run-to-run differences are measured (NONDETERMINISTIC entries) and
    sparse inputs are refused."""
    flags = {
        "check_forward_ad": check_forward_ad,
        "check_backward_ad": check_backward_ad,
        "check_batched_grad": check_batched_grad,
        "check_batched_forward_grad": check_batched_forward_grad,
    }
    _torch_arguments(
        ("check_forward_ad", "check_backward_ad"),
        (("check_batched_grad", "check_backward_ad"), ("check_batched_forward_grad", "check_forward_ad")),
        flags,
    )
    contracts = _contracts(
        check_undefined_grad, check_backward_ad, check_batched_grad, check_batched_forward_grad
    )
    return _run(
        func, inputs, _settings((eps, atol, rtol), fast_mode, check_forward_ad, contracts), raise_exception
    )


def gradgradcheck(
    func: Callable[..., torch.Tensor | Sequence[torch.Tensor]],
    inputs: torch.Tensor | Sequence[torch.Tensor],
    grad_outputs: torch.Tensor | Sequence[torch.Tensor | None] | None = None,
    *,
    eps: float | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    gen_non_contig_grad_outputs: bool = False,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_fwd_over_rev: bool = False,
    check_rev_over_rev: bool = True,
    fast_mode: bool = False,
    masked: bool = False,
) -> bool:
    """``torch.autograd.gradgradcheck`` with our verdicts: the backward ``(inputs, grad_outputs) ->
    grad_inputs`` checked with respect to the inputs and the output gradients (order 2). ``grad_outputs``
    given are used as they are; otherwise seeded uniform(-1, 1) output gradients (1 for a scalar output)."""
    flags = {
        "check_fwd_over_rev": check_fwd_over_rev,
        "check_rev_over_rev": check_rev_over_rev,
        "check_undefined_grad": check_undefined_grad,
        "check_batched_grad": check_batched_grad,
    }
    _torch_arguments(
        ("check_fwd_over_rev", "check_rev_over_rev"),
        (("check_undefined_grad", "check_rev_over_rev"), ("check_batched_grad", "check_rev_over_rev")),
        flags,
    )
    contracts = _contracts(check_undefined_grad, check_rev_over_rev, check_batched_grad, False)
    settings = _settings((eps, atol, rtol), fast_mode, check_fwd_over_rev, contracts)
    if grad_outputs is None:
        return _run(func, inputs, {**settings, "order": 2}, raise_exception)
    return _run(func, inputs, settings, raise_exception, grad_outputs)


def patch_torch(record: Recorder | None = None) -> Callable[[], None]:
    """Make ``torch.autograd.gradcheck`` / ``gradgradcheck`` (the package attributes, which ``from
    torch.autograd import gradcheck`` reads, and those of the module ``torch.autograd.gradcheck``) ours;
    ``record`` (the pytest plugin's ``--gradcheck-report``) is given every check's result while patched.
    Returns the function that puts torch's back."""
    import sys

    if record is not None:
        _RECORDERS.append(record)

    module = sys.modules["torch.autograd.gradcheck"]
    owners = (torch.autograd, module)
    saved = [
        (owner, name, getattr(owner, name)) for owner in owners for name in ("gradcheck", "gradgradcheck")
    ]
    for owner in owners:
        owner.gradcheck = gradcheck  # type: ignore[attr-defined]
        owner.gradgradcheck = gradgradcheck  # type: ignore[attr-defined]

    def restore() -> None:
        for owner, name, value in saved:
            setattr(owner, name, value)
        if record is not None and record in _RECORDERS:
            _RECORDERS.remove(record)

    return restore
