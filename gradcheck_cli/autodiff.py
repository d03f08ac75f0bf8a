"""The autograd side: the full Jacobian of every output w.r.t. every input, by reverse mode.

Rows are computed as vector-Jacobian products with the basis vectors, batched (``is_grads_batched``) where
the backward supports vmap and one row at a time where it does not. An output that does not depend on an
input gives ``None`` for that block (the caller reports a zero block).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from gradcheck_cli.errors import UserFunctionError
from gradcheck_cli.user_code import describe, user_traceback


def _rows(output: torch.Tensor, inputs: Sequence[torch.Tensor], basis: torch.Tensor, batched: bool) -> tuple:
    return torch.autograd.grad(
        output,
        inputs,
        grad_outputs=basis if batched else basis.reshape(output.shape),
        retain_graph=True,
        allow_unused=True,
        is_grads_batched=batched,
    )


def _grad(output: torch.Tensor, inputs: Sequence[torch.Tensor], basis: torch.Tensor, batched: bool) -> tuple:
    try:
        return _rows(output, inputs, basis, batched)
    except Exception as exc:
        if batched:
            raise
        raise UserFunctionError(f"the backward pass raised {describe(exc)}", user_traceback(exc)) from exc


def reverse_jacobian(
    outputs: Sequence[torch.Tensor], inputs: Sequence[torch.Tensor], chunk_rows: int = 1024
) -> list[list[np.ndarray | None]]:
    """Blocks ``[output][input]``, each ``(output numel, input numel)`` float64, or ``None`` if independent."""
    blocks: list[list[np.ndarray | None]] = []
    for k, output in enumerate(outputs):
        if not output.requires_grad:
            name = f"output {k}" if len(outputs) > 1 else "the result"
            raise UserFunctionError(
                f"{name} has no autograd history (requires_grad is False): the function left torch "
                "(through numpy, .item(), float() or .detach()) or does not use its inputs"
            )
        m = output.numel()
        rows: list[list[torch.Tensor | None]] = [[] for _ in inputs]
        for start in range(0, m, chunk_rows):
            count = min(chunk_rows, m - start)
            basis = torch.zeros(count, m, dtype=output.dtype, device=output.device)
            basis[torch.arange(count), torch.arange(start, start + count)] = 1
            basis = basis.reshape(count, *output.shape)
            try:
                grads = [_grad(output, inputs, basis, batched=True)]
            except UserFunctionError:
                raise
            except Exception:
                grads = [_grad(output, inputs, row, batched=False) for row in basis]
                grads = [
                    tuple(
                        None if g[i] is None else torch.stack([gr[i] for gr in grads])
                        for i in range(len(inputs))
                    )
                    for g in grads[:1]
                ]
            for i in range(len(inputs)):
                rows[i].append(grads[0][i])
        blocks.append(
            [
                None
                if any(r is None for r in parts)
                else torch.cat([r.reshape(r.shape[0], -1) for r in parts]).double().cpu().numpy()  # type: ignore[union-attr]
                for parts in rows
            ]
        )
    return blocks
