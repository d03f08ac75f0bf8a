"""Models as targets: an ``nn.Module`` (class, instance, or factory function) checked as a function of its
input and of every parameter, by name.

The module becomes ``f(x, *parameters)`` through :func:`torch.func.functional_call`, so that the gradient
with respect to each parameter is checked like the gradient with respect to an argument, and the report's
inputs are ``x`` and the parameter names (``layers.0.weight``...). The module is put in eval mode (no
dropout, batch norm uses its running statistics) and converted to the check's dtype and device; classes and
factories are instantiated with ``torch.manual_seed(seed)`` so that the parameters are reproducible.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from gradcheck_cli.errors import TargetError
from gradcheck_cli.user_code import call_user


@dataclass(frozen=True)
class ModuleTarget:
    """A module ready to check: the function of ``(x, *parameters)``, the input names and the parameters."""

    func: Callable[..., Any]
    names: tuple[str, ...]
    parameters: tuple[np.ndarray, ...]


class ModuleFunction:
    """``f(x, *parameters) = module(x)`` with the module's parameters replaced by the given tensors."""

    def __init__(self, module: torch.nn.Module, names: tuple[str, ...]) -> None:
        self.module = module
        self.names = names
        self.__name__ = type(module).__name__

    def __call__(self, x: torch.Tensor, *parameters: torch.Tensor) -> Any:
        return torch.func.functional_call(self.module, dict(zip(self.names, parameters)), (x,))


def _is_factory(obj: Any) -> bool:
    if not callable(obj) or isinstance(obj, torch.nn.Module):
        return False
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return False
    if inspect.isclass(obj):  # a module class: its __init__ takes nothing required
        return all(
            p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            for p in signature.parameters.values()
        )
    return not signature.parameters  # a function of nothing cannot be checked itself: a factory


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
            module = call_user(obj, what=what)
        if not isinstance(module, torch.nn.Module):
            if inspect.isclass(obj):
                raise TargetError(
                    f"{spec}: instantiating it gave a {type(module).__name__}, not an nn.Module"
                )
            return None
    else:
        return None
    return module.to(dtype=getattr(torch, dtype), device=device).eval()


def module_target(module: torch.nn.Module) -> ModuleTarget:
    """The function of ``(x, *parameters)`` and the parameters' names and values (float64 numpy)."""
    named = [(name, p) for name, p in module.named_parameters() if p.requires_grad]
    names = tuple(name for name, _ in named)
    return ModuleTarget(
        func=ModuleFunction(module, names),
        names=("x", *names),
        parameters=tuple(p.detach().double().cpu().numpy() for _, p in named),
    )
