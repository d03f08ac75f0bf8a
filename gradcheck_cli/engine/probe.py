"""Probe mode: check a large Jacobian through random projections, and localise what fails.

For each input (argument or parameter) ``k`` seeded random directions ``u`` (Rademacher or Gaussian, unit
norm, never non-negative) are paired with random output weights ``v``: the projection ``v . J . u`` is
computed three ways — from a reverse-mode VJP (``(J^T v) . u``, one VJP per probe for all inputs at once),
from a forward-mode JVP (``v . (J u)``) and by a finite difference of ``v . f`` along ``u`` — and compared.
An input whose probes fail is narrowed down by halving its element range (probing each half afresh) to a
few small ranges, whose Jacobian columns are then checked entry by entry. Reproducible from the seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from gradcheck_cli.engine.call import Call
from gradcheck_cli.engine.settings import Settings
from gradcheck_cli.errors import UsageError
from gradcheck_cli.numerics.autodiff import ForwardModeUnavailable, jvps, vjps
from gradcheck_cli.numerics.evaluate import Evaluator, Rows
from gradcheck_cli.numerics.judge import compare
from gradcheck_cli.numerics.stencils import SCHEMES, steps_for
from gradcheck_cli.result import Block

DISTRIBUTIONS = ("rademacher", "gaussian")
DEFAULT_PROBES = 4
# Localisation halves a failing range until it has at most this many elements, following at most
# MAX_RANGES failing ranges per input; the columns of the ranges found are then checked in full.
LEAF_ELEMENTS = 32
MAX_RANGES = 2
# A range that fails as a whole but in neither half is checked in full up to this many columns.
MAX_COLUMNS = 256


def probe_scheme(method: str) -> str:
    """Probe mode differences along random directions with one plain scheme."""
    return method if method in ("central", "forward", "backward") else "central"


def random_directions(generator: torch.Generator, count: int, numel: int, distribution: str) -> torch.Tensor:
    """``count`` float64 rows of ``numel`` entries, each of unit Euclidean norm."""
    if distribution == "rademacher":
        rows = torch.randint(0, 2, (count, numel), generator=generator, dtype=torch.float64) * 2 - 1
    elif distribution == "gaussian":
        rows = torch.randn(count, numel, generator=generator, dtype=torch.float64)
    else:
        raise UsageError(f"unknown probe distribution {distribution!r}: expected {', '.join(DISTRIBUTIONS)}")
    return rows / rows.norm(dim=1, keepdim=True).clamp_min(1e-300)


@dataclass(frozen=True)
class ProbeValues:
    """The projections of one set of probes: reverse, forward (or ``None``) and numerical, each ``(k,)``."""

    reverse: np.ndarray
    forward: np.ndarray | None
    numerical: np.ndarray
    step: float


class Prober:
    """Probes one function at one point; holds the cotangents ``v`` and the VJPs ``J^T v`` (computed once)."""

    def __init__(self, call: Call, settings: Settings) -> None:
        if settings.probes < 1:
            raise UsageError(f"--probes must be at least 1, got {settings.probes}")
        self.func = call.func
        self.leaves, self.outputs = call.leaves, call.outputs
        self.point = tuple(x.detach() for x in call.leaves)
        self.base = call.base
        self.scheme, self.eps = SCHEMES[probe_scheme(settings.method)], settings.eps
        self.atol, self.rtol = settings.fixed_atol, settings.fixed_rtol
        self.budget, self.progress = settings.budget, settings.progress
        self.distribution = settings.distribution
        self.probes = probes = settings.probes
        self.generator = torch.Generator().manual_seed(settings.seed)
        self.forward_reason: str | None = None if settings.forward else "disabled"
        self.output_numel = sum(out.numel() for out in self.base)
        weights = random_directions(self.generator, probes, self.output_numel, self.distribution)
        self.cotangents = self._split(weights)
        grads = vjps(
            self.outputs, self.leaves, [c.to(out.dtype) for c, out in zip(self.cotangents, self.outputs)]
        )
        self.grads = [
            torch.zeros(probes, x.numel(), dtype=torch.float64, device=x.device)
            if g is None
            else g.reshape(probes, -1).double()
            for g, x in zip(grads, self.point)
        ]
        self.evaluate = Evaluator(
            call.func, self.point, budget=self.budget, progress=self.progress, task="probes"
        )

    def _split(self, weights: torch.Tensor) -> list[torch.Tensor]:
        parts, start = [], 0
        for out in self.base:
            parts.append(weights[:, start : start + out.numel()].reshape(-1, *out.shape).to(out.device))
            start += out.numel()
        return parts

    def _weigh(self, values: Sequence[torch.Tensor]) -> torch.Tensor:
        """``v . values`` per probe, for values ``(k, *out.shape)`` per output."""
        return sum(
            (val.double().reshape(len(val), -1) * c.reshape(len(c), -1)).sum(1)
            for val, c in zip(values, self.cotangents)
        )  # type: ignore[return-value]

    def step(self, index: int, lo: int, hi: int) -> float:
        """One step for the probes of flat elements ``lo:hi``: the default step of the largest of them."""
        return float(steps_for(self.point[index].detach().reshape(-1)[lo:hi], self.scheme, self.eps).max())

    def project(self, index: int, lo: int, hi: int, *, forward: bool = True) -> ProbeValues:
        """Probe input ``index`` along fresh directions supported on its flat elements ``lo:hi`` (the JVPs
        only with ``forward``)."""
        x = self.point[index]
        n = x.numel()
        local = random_directions(self.generator, self.probes, hi - lo, self.distribution).to(x.device)
        reverse = (self.grads[index][:, lo:hi] * local).sum(1)
        projected = None
        if forward and self.forward_reason is None:
            directions = torch.zeros(self.probes, n, dtype=x.dtype, device=x.device)
            directions[:, lo:hi] = local
            tangents: list[torch.Tensor | None] = [None] * len(self.point)
            tangents[index] = directions.reshape(self.probes, *x.shape)
            try:
                projected = self._weigh(jvps(self.func, self.point, tangents))
            except ForwardModeUnavailable as exc:
                self.forward_reason = str(exc)
        h = self.step(index, lo, hi)
        offsets = [offset for offset in self.scheme.offsets if offset != 0.0]
        rows = x.detach().double().reshape(1, -1).repeat(self.probes * len(offsets), 1)
        for j, offset in enumerate(offsets):  # every perturbed point of every probe in one batch
            rows[j * self.probes : (j + 1) * self.probes, lo:hi] += (offset * h) * local
        rows = rows.to(x.dtype).reshape(len(rows), *x.shape)
        outputs = self.evaluate(index, Rows(len(rows), lambda a, b: rows[a:b]), self.output_numel)
        total = torch.zeros(self.probes, dtype=torch.float64, device=x.device)
        for offset, weight in zip(self.scheme.offsets, self.scheme.weights):
            if offset == 0.0:
                values = self._weigh([out.unsqueeze(0).expand(self.probes, *out.shape) for out in self.base])
            else:
                j = offsets.index(offset)
                values = self._weigh([out[j * self.probes : (j + 1) * self.probes] for out in outputs])
            total = total + weight * values
        return ProbeValues(
            reverse=reverse.cpu().numpy(),
            forward=None if projected is None else projected.cpu().numpy(),
            numerical=(total / h).cpu().numpy(),
            step=h,
        )

    def failing(self, values: ProbeValues) -> tuple[bool, bool]:
        """Whether the reverse and the forward projections fail."""
        forward = values.forward is not None and self._fails(values.forward, values.numerical)
        return self._fails(values.reverse, values.numerical), forward

    def _fails(self, autograd: np.ndarray, numerical: np.ndarray) -> bool:
        comparison = compare(autograd[:, None], numerical[:, None], atol=self.atol, rtol=self.rtol)
        return bool((comparison.abs_err > comparison.tolerance).any())

    def probe_blocks(self, values: ProbeValues, label: str) -> list[Block]:
        blocks = []
        for mode, autograd in (("reverse", values.reverse), ("forward", values.forward)):
            if autograd is None:
                continue
            comparison = compare(autograd[:, None], values.numerical[:, None], atol=self.atol, rtol=self.rtol)
            blocks.append(
                Block(
                    output_name="v·out",
                    input_name=f"{label}·u",
                    output_shape=(self.probes,),
                    input_shape=(),
                    autograd=autograd[:, None],
                    numerical={self.scheme.name: values.numerical[:, None]},
                    steps={self.scheme.name: np.array([values.step])},
                    reference=self.scheme.name,
                    **comparison.fields(),
                    mode=mode,
                    probes=True,
                )
            )
        return blocks

    def localise(self, index: int, reverse: bool, forward: bool) -> list[tuple[int, int]]:
        """Halve the failing element ranges of input ``index`` down to at most ``LEAF_ELEMENTS`` each."""
        ranges = [(0, self.point[index].numel())]
        final: list[tuple[int, int]] = []
        while ranges:
            wide = [(lo, hi) for lo, hi in ranges if hi - lo > LEAF_ELEMENTS]
            final += [(lo, hi) for lo, hi in ranges if hi - lo <= LEAF_ELEMENTS]
            found: list[tuple[float, int, int]] = []
            for lo, hi in wide:
                mid = (lo + hi) // 2
                halves = []
                for a, b in ((lo, mid), (mid, hi)):
                    values = self.project(index, a, b, forward=forward)
                    rev, fwd = self.failing(values)
                    if (reverse and rev) or (forward and fwd):
                        halves.append((self._excess(values, reverse, forward), a, b))
                if halves:
                    found += halves
                else:  # the error shows only over the whole range: check it as it is
                    final.append((lo, hi))
            found.sort(reverse=True)
            ranges = [(a, b) for _, a, b in found[: max(0, MAX_RANGES - len(final))]]
        return sorted(final)[:MAX_RANGES]

    def _excess(self, values: ProbeValues, reverse: bool, forward: bool) -> float:
        worst = 0.0
        for flag, autograd in ((reverse, values.reverse), (forward, values.forward)):
            if flag and autograd is not None:
                c = compare(autograd[:, None], values.numerical[:, None], atol=self.atol, rtol=self.rtol)
                worst = max(worst, float(np.max(c.abs_err / c.tolerance)))
        return worst

    def columns(
        self, index: int, columns: np.ndarray, reverse: bool, forward: bool, names: tuple[str, Sequence[str]]
    ) -> list[Block]:
        """The Jacobian columns ``columns`` (flat elements) of input ``index``, checked entry by entry."""
        name, out_names = names
        x = self.point[index]
        cols = torch.as_tensor(columns, device=x.device)
        count = len(columns)
        steps = steps_for(x, self.scheme, self.eps)[columns]
        shifts = torch.as_tensor(steps, dtype=torch.float64, device=x.device)
        flat = x.detach().double().reshape(1, -1)
        total: list[torch.Tensor] | None = None
        for offset, weight in zip(self.scheme.offsets, self.scheme.weights):
            if offset == 0.0:
                values = [out.double().reshape(1, -1) for out in self.base]
            else:

                def make(a: int, b: int, offset: float = offset) -> torch.Tensor:
                    rows = flat.repeat(b - a, 1)
                    rows[torch.arange(b - a), cols[a:b]] += offset * shifts[a:b]
                    return rows.to(x.dtype).reshape(b - a, *x.shape)

                outs = self.evaluate(index, Rows(count, make), self.output_numel)
                values = [out.double().reshape(count, -1) for out in outs]
            total = (
                [weight * v for v in values]
                if total is None
                else [t + weight * v for t, v in zip(total, values)]
            )
        assert total is not None
        numerical = [(t / shifts.reshape(-1, 1)).T.cpu().numpy() for t in total]
        autograd: dict[str, list[np.ndarray]] = {}
        if reverse:
            autograd["reverse"] = self._reverse_columns(index, cols)
        if forward:
            tangents: list[torch.Tensor | None] = [None] * len(self.point)
            basis = torch.zeros(count, x.numel(), dtype=x.dtype, device=x.device)
            basis[torch.arange(count), cols] = 1
            tangents[index] = basis.reshape(count, *x.shape)
            outs = jvps(self.func, self.point, tangents)
            autograd["forward"] = [out.reshape(count, -1).T.double().cpu().numpy() for out in outs]
        blocks = []
        for mode, parts in autograd.items():
            for k, out in enumerate(self.base):
                comparison = compare(parts[k], numerical[k], atol=self.atol, rtol=self.rtol)
                blocks.append(
                    Block(
                        output_name=out_names[k],
                        input_name=name,
                        output_shape=tuple(out.shape),
                        input_shape=tuple(x.shape),
                        autograd=parts[k],
                        numerical={self.scheme.name: numerical[k]},
                        steps={self.scheme.name: steps},
                        reference=self.scheme.name,
                        **comparison.fields(),
                        mode=mode,
                        columns=np.asarray(columns),
                    )
                )
        return blocks

    def _reverse_columns(self, index: int, cols: torch.Tensor) -> list[np.ndarray]:
        """Rows of ``J`` w.r.t. input ``index`` by VJPs with basis cotangents, keeping columns ``cols``."""
        leaf = self.leaves[index]
        parts = []
        for k, out in enumerate(self.outputs):
            m = out.numel()
            rows = []
            chunk = self.budget.rows(leaf.numel() + m, leaf.element_size(), limit=m)
            for start in range(0, m, chunk):
                count = min(chunk, m - start)
                cotangents = [
                    torch.zeros(count, *o.shape, dtype=o.dtype, device=o.device) for o in self.outputs
                ]
                flat = cotangents[k].reshape(count, -1)
                flat[torch.arange(count), torch.arange(start, start + count)] = 1
                (grad,) = vjps(self.outputs, [leaf], cotangents)
                if grad is None:
                    rows.append(torch.zeros(count, len(cols), dtype=torch.float64))
                else:
                    rows.append(grad.reshape(count, -1)[:, cols].double())
            parts.append(torch.cat(rows).cpu().numpy())
        return parts


def probe_blocks(call: Call, settings: Settings, notes: list[str]) -> list[Block]:
    """Per input: the probes, and where they fail, the localised columns checked in full."""
    prober = Prober(call, settings)
    blocks: list[Block] = []
    names = call.names
    for i, name in enumerate(names):
        settings.progress("probes", i, len(names))
        values = prober.project(i, 0, call.leaves[i].numel())
        blocks += prober.probe_blocks(values, name)
        reverse, forward = prober.failing(values)
        if not (reverse or forward):
            continue
        ranges = prober.localise(i, reverse, forward)
        columns = np.unique(np.concatenate([np.arange(lo, hi) for lo, hi in ranges]))[:MAX_COLUMNS]
        blocks += prober.columns(i, columns, reverse, forward, (name, call.out_names))
        wrong = " and ".join(mode for mode, bad in (("reverse", reverse), ("forward", forward)) if bad)
        where = ", ".join(f"{lo}:{hi}" for lo, hi in ranges)
        notes.append(
            f"{name}: probes fail in {wrong} mode; localised to flat element range(s) {where}, "
            f"whose {len(columns)} Jacobian column(s) were checked in full"
        )
    settings.progress("probes", len(names), len(names))
    notes.insert(
        0,
        f"probe mode: {settings.probes} {settings.distribution} probe(s) v·J·u per input, seed {settings.seed}"
        + (
            "" if prober.forward_reason is None else f"; forward-mode AD not checked: {prober.forward_reason}"
        ),
    )
    return blocks
