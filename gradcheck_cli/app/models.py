"""Models as targets: an ``nn.Module`` class, instance, or factory (any callable that takes no arguments:
every parameter defaulted, keyword-only too, like ``make(pretrained=False)`` or torchvision's
``resnet18(*, weights=None)``).

Classes and factories are instantiated under ``torch.manual_seed(seed)`` (reproducible parameters) and the
module is converted to the check's (real) dtype and device. The check itself
(:mod:`gradcheck_cli.engine.canonical`) calls ``forward`` with every parameter as a further argument, by
name (``layers.0.weight``...), in eval mode unless ``train``.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

from gradcheck_cli.errors import GradcheckError, TargetError
from gradcheck_cli.user_code import call_user


def _callable_without_arguments(obj: Any) -> bool:
    """Whether ``obj`` can be called with no arguments: every parameter defaulted (keyword-only too, like
    torchvision's ``resnet18(*, weights=None)``) or variadic."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return False
    return all(
        p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        for p in signature.parameters.values()
    )


def _returns_module(obj: Any) -> bool:
    """A factory annotated to return an ``nn.Module`` (a subclass, or a string naming one)."""
    annotation = inspect.signature(obj).return_annotation
    if inspect.isclass(annotation):
        return issubclass(annotation, torch.nn.Module)
    return isinstance(annotation, str) and annotation.endswith("Module")


def _is_factory(obj: Any) -> bool:
    if not callable(obj) or isinstance(obj, torch.nn.Module):
        return False
    return _callable_without_arguments(obj)


def is_module_target(obj: Any) -> bool:
    """An ``nn.Module`` subclass or instance (a factory is only known once called: see :func:`load_module`)."""
    return isinstance(obj, torch.nn.Module) or (inspect.isclass(obj) and issubclass(obj, torch.nn.Module))


def load_module(obj: Any, spec: str, *, seed: int, dtype: str, device: str) -> torch.nn.Module | None:
    """The module ``obj`` names: an instance as it is, a class or a zero-argument factory called under
    ``torch.manual_seed(seed)``; ``None`` when ``obj`` is a plain function (not a module target)."""
    if isinstance(obj, torch.nn.Module):
        module = obj
    elif is_module_target(obj) or _is_factory(obj):
        what = f"instantiating {spec}" if inspect.isclass(obj) else f"calling the factory {spec}"
        if inspect.isclass(obj) and not _is_factory(obj):
            raise TargetError(
                f"{spec}: the nn.Module class needs constructor arguments; give a factory function that "
                "takes none (e.g. def make(): return Net(10, 4)) or an instance"
            )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            module = _instantiate(obj, what)
        if not isinstance(module, torch.nn.Module):
            if inspect.isclass(obj):
                raise TargetError(
                    f"{spec}: instantiating it gave a {type(module).__name__}, not an nn.Module"
                )
            return None
    else:
        return None
    # The mode is set per call by the check (eval unless train); complex checks keep real parameters.
    real = {"complex128": "float64", "complex64": "float32"}.get(dtype, dtype)
    return module.to(dtype=getattr(torch, real), device=device)


def _instantiate(obj: Any, what: str) -> Any:
    """Call a class or factory with no arguments. A plain function whose parameters are all defaulted is
    only known not to be a factory once called: what it raises then is not a load error (unless it is
    annotated to return a module), it is checked as a function."""
    try:
        return call_user(obj, what=what)
    except GradcheckError:
        if inspect.isclass(obj) or not inspect.signature(obj).parameters or _returns_module(obj):
            raise
        return None
