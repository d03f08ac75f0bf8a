"""Forward-mode AD without importing ``torch._dynamo`` (about 2 s of CPU) where nothing can be compiling.

What imports it: forward-mode AD of a binary op with one operand that has no tangent (``a * 2``, ``x + c``)
gives that operand a ``ZeroTensor`` tangent; torch's ``ZeroTensor`` kernels find the result's shape by running
the op on meta tensors, and torch 2.13's meta kernels for these ops are its Python references, wrapped in
``torch._disable_dynamo``. That wrapper imports ``torch._dynamo`` on its first call, only to make a version of
the reference that a ``torch.compile`` trace does not enter, and caches it on the reference as
``__dynamo_disable``.

Nothing can be compiling while ``torch._dynamo`` is not imported (only it installs the frame hook), so
until then calling the reference itself is the same thing. :func:`defer_dynamo_import` caches, on each
reference wrapped so far, a stand-in that does exactly that, and hands over to torch's wrapper (which imports
``torch._dynamo`` and caches the real thing) once something else has imported it -- the user's
``torch.compile``, say. Used by the command line and its worker processes, which this package owns; a
library caller's process is left as it is. Where torch's wrapper has another shape, nothing is changed and torch imports as before.
"""

from __future__ import annotations

import gc
import sys
import types
from collections.abc import Callable
from typing import Any

_CACHE = "__dynamo_disable"  # the attribute torch._compile._disable_dynamo caches its result in


def _stand_in(wrapper: Callable[..., Any], fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` itself while ``torch._dynamo`` is not imported; after, torch's ``wrapper`` (for good)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        if "torch._dynamo" in sys.modules:
            if fn.__dict__.get(_CACHE) is call:
                del fn.__dict__[_CACHE]
            return wrapper(*args, **kwargs)
        return fn(*args, **kwargs)

    return call


def defer_dynamo_import() -> list[Callable[..., Any]]:
    """Give every function that torch has wrapped in ``_disable_dynamo`` so far the stand-in; returns those
    functions (none where ``torch._dynamo`` is already imported or torch's wrapper is not the expected one)."""
    import torch

    make = getattr(torch, "_disable_dynamo", None)
    if "torch._dynamo" in sys.modules or make is None:
        return []
    code = make(lambda: None).__code__
    if "fn" not in code.co_freevars or _CACHE not in code.co_consts + code.co_names:
        return []
    slot = code.co_freevars.index("fn")
    changed = []
    for obj in gc.get_objects():
        if type(obj) is types.FunctionType and obj.__code__ is code and obj.__closure__ is not None:
            fn = obj.__closure__[slot].cell_contents
            if hasattr(fn, "__dict__") and _CACHE not in fn.__dict__:
                fn.__dict__[_CACHE] = _stand_in(obj, fn)
                changed.append(fn)
    return changed
