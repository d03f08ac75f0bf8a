"""The device a check runs on (``--device cpu|cuda|cuda:N|mps``): validated before any work, with a one-line
error naming what is available when it is not."""

from __future__ import annotations

import re

from gradcheck_cli.errors import UsageError

_FORM = re.compile(r"^(cpu|cuda|cuda:\d+|mps)$")


def resolve_device(name: str) -> str:
    """``name`` if torch can use it here, else a :class:`UsageError` (exit 2) saying why."""
    if not _FORM.match(name):
        raise UsageError(f"unknown device {name!r}: expected cpu, cuda, cuda:N or mps")
    if name == "cpu":
        return name
    import torch

    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            built = "" if torch.version.cuda else " (this torch is built without CUDA)"
            raise UsageError(
                f"--device {name}: CUDA is not available on this machine{built}; use --device cpu"
            )
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise UsageError(
                f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here (cuda:0..); "
                f"use one of them or --device cpu"
            )
        return name
    if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise UsageError(f"--device {name}: MPS is not available on this machine; use --device cpu")
    return name
