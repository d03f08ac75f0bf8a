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

from gradcheck_cli.engine.blocks import Estimates, build_block
from gradcheck_cli.engine.call import Call
from gradcheck_cli.engine.settings import Settings
from gradcheck_cli.errors import UsageError
from gradcheck_cli.numerics.autodiff import ForwardModeUnavailable, Graph, basis, jacobian, products
from gradcheck_cli.numerics.evaluate import Evaluator, Rows
from gradcheck_cli.numerics.judge import Comparison, Evidence, Rule, compare, judge
from gradcheck_cli.numerics.precision import ROUNDOFF_ULPS, epsilon
from gradcheck_cli.numerics.status import Status
from gradcheck_cli.numerics.stencils import SCHEMES, apply, perturbed, split_rows, steps_for, summing
from gradcheck_cli.result import Block, Note

DISTRIBUTIONS = ("rademacher", "gaussian")
DEFAULT_PROBES = 4
# Localisation halves a failing range until it has at most this many elements, following at most
# MAX_RANGES failing ranges per input; the columns of the ranges found are then checked in full.
LEAF_ELEMENTS = 32
MAX_RANGES = 2
# A range that fails as a whole but in neither half is checked in full up to this many columns.
MAX_COLUMNS = 256


def _maybe_abs(values: torch.Tensor, absolute: bool) -> torch.Tensor:
    return values.abs() if absolute else values


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
    error: np.ndarray | None = None
    """The numerical projections' error bar: truncation (the same quotient at twice the step) and
    round-off (the projected values' size); None: judged by the fixed rule alone."""


class Prober:
    """Probes one function at one point; holds the cotangents ``v`` and the VJPs ``J^T v`` (computed once)."""

    def __init__(self, call: Call, settings: Settings) -> None:
        self.call, self.settings = call, settings
        self.graph = call.graph
        self.base = call.base
        self.scheme = SCHEMES[probe_scheme(settings.method)]
        # Columns are judged by the fixed rule atol + rtol * |reference|; projections by their error bar,
        # never tighter than that rule (:meth:`evidence`).
        self.rule = Rule(settings.dtype, settings.dtype, settings.fixed_atol, settings.fixed_rtol)
        self.estimated = Rule(settings.dtype, settings.dtype)
        self.probes = settings.probes
        self.generator = torch.Generator().manual_seed(settings.seed)
        self.forward_reason: str | None = None if settings.forward else "disabled"
        self.output_numel = call.m
        self.values = max(
            float(out.detach().double().abs().nan_to_num(posinf=0.0).max()) for out in self.base
        )
        weights = random_directions(self.generator, self.probes, self.output_numel, settings.distribution)
        self.cotangents = self._split(weights)
        grads = products(self.graph, "reverse", self.cotangents)
        self.grads = [
            torch.zeros(self.probes, x.numel(), dtype=torch.float64, device=x.device)
            if g is None
            else g.reshape(self.probes, -1).double()
            for g, x in zip(grads, call.point)
        ]
        self.evaluate = Evaluator(
            call.func, call.point, budget=settings.budget, progress=settings.progress, task="probes"
        )

    def _split(self, weights: torch.Tensor) -> list[torch.Tensor | None]:
        parts: list[torch.Tensor | None] = []
        start = 0
        for out in self.base:
            parts.append(weights[:, start : start + out.numel()].reshape(-1, *out.shape).to(out.device))
            start += out.numel()
        return parts

    def _weigh(self, values: Sequence[torch.Tensor | None], size: bool = False) -> torch.Tensor:
        """``v . values`` per probe, for values ``(k, *out.shape)`` per output (``|v| . |values|``: ``size``)."""
        return sum(
            (
                _maybe_abs(val.double().reshape(len(val), -1), size) * _maybe_abs(c.reshape(len(c), -1), size)
            ).sum(1)  # type: ignore[union-attr]
            for val, c in zip(values, self.cotangents)
        )  # type: ignore[return-value]

    def step(self, index: int, lo: int, hi: int) -> float:
        """One step for the probes of flat elements ``lo:hi``: the default step of the largest of them."""
        flat = self.call.point[index].reshape(-1)[lo:hi]
        return float(steps_for(flat, self.scheme, self.settings.eps).max())

    def _forward(self, index: int, directions: torch.Tensor) -> torch.Tensor | None:
        """``v . J u`` per probe by JVPs (None once forward mode is found unavailable)."""
        if self.forward_reason is not None:
            return None
        tangents: list[torch.Tensor | None] = [None] * len(self.call.point)
        tangents[index] = directions
        try:
            return self._weigh(products(self.graph, "forward", tangents))
        except ForwardModeUnavailable as exc:
            self.forward_reason = str(exc)
            return None

    def _difference(
        self, index: int, directions: torch.Tensor, h: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``v . (f(x + o h u) ...) / h`` per probe by the scheme, and its error bar: truncation from the same
        quotient at ``2 h`` (Richardson's estimate), round-off from the size of the values; every perturbed
        point in one batch."""
        x = self.call.point[index]
        shifts = [(f, o) for f in (1.0, 2.0) for o in self.scheme.offsets if o != 0.0]
        flat = directions.reshape(self.probes, -1)
        rows = torch.cat([x.detach().double().reshape(1, -1) + (o * f * h) * flat for f, o in shifts])
        rows = rows.to(x.dtype).reshape(len(rows), *x.shape)
        outputs = self.evaluate(index, Rows(len(rows), lambda a, b: rows[a:b]), self.output_numel)

        def sample(factor: float, offset: float, size: bool = False) -> torch.Tensor:
            if offset == 0.0:
                base = [out.unsqueeze(0).expand(self.probes, *out.shape) for out in self.base]
                return self._weigh(base, size)
            j = shifts.index((factor, offset))
            return self._weigh([out[j * self.probes : (j + 1) * self.probes] for out in outputs], size)

        def quotient(factor: float) -> torch.Tensor:
            step = torch.tensor(factor * h, dtype=torch.float64)
            return apply(self.scheme, summing(lambda o: sample(factor, o)), step)

        near, far = quotient(1.0), quotient(2.0)
        truncation = (near - far).abs() / (2**self.scheme.order - 1)
        size = sum(
            abs(w) * sample(1.0, o, size=True) for o, w in zip(self.scheme.offsets, self.scheme.weights)
        )
        roundoff = ROUNDOFF_ULPS * epsilon(self.settings.dtype) * size / h
        return near, truncation + roundoff  # type: ignore[return-value]

    def project(self, index: int, lo: int, hi: int, *, forward: bool = True) -> ProbeValues:
        """Probe input ``index`` along fresh directions supported on its flat elements ``lo:hi`` (the JVPs
        only with ``forward``)."""
        x = self.call.point[index]
        local = random_directions(self.generator, self.probes, hi - lo, self.settings.distribution)
        local = local.to(x.device)
        reverse = (self.grads[index][:, lo:hi] * local).sum(1)
        directions = torch.zeros(self.probes, x.numel(), dtype=torch.float64, device=x.device)
        directions[:, lo:hi] = local
        directions = directions.reshape(self.probes, *x.shape)
        projected = self._forward(index, directions) if forward else None
        h = self.step(index, lo, hi)
        numerical, error = self._difference(index, directions, h)
        return ProbeValues(
            reverse=reverse.cpu().numpy(),
            forward=None if projected is None else projected.cpu().numpy(),
            numerical=numerical.cpu().numpy(),
            step=h,
            error=error.cpu().numpy(),
        )

    def failing(self, values: ProbeValues) -> tuple[bool, bool]:
        """Whether the reverse and the forward projections fail (or cannot be told from the reference)."""
        forward = values.forward is not None and self._fails(values.forward, values)
        return self._fails(values.reverse, values), forward

    def evidence(self, autograd: np.ndarray, values: ProbeValues) -> Evidence:
        """A projection's evidence: the numerical projection with its error bar."""
        return Evidence(
            autograd[:, None], values.numerical[:, None], values.error[:, None], values=self.values
        )  # type: ignore[index]

    def _compare(self, autograd: np.ndarray, values: ProbeValues) -> Comparison:
        """A projection passes within the fixed rule (``--atol``/``--rtol``, torch's ``eps``/``atol``, else
        the dtype's defaults) and otherwise as its error bar says: a tolerance from the bar, INCONCLUSIVE
        where the bar is too wide to tell (a step past the smooth region)."""
        estimated = judge(self.evidence(autograd, values), self.estimated)
        fixed = compare(
            autograd[:, None], values.numerical[:, None], atol=self.rule.atol, rtol=self.rule.rtol
        )  # type: ignore[arg-type]
        within = fixed.abs_err <= fixed.tolerance
        status = np.where(within, Status.PASS.code, estimated.status).astype(np.int8)
        tolerance = np.maximum(fixed.tolerance, estimated.tolerance)
        return Comparison(estimated.abs_err, estimated.rel_err, tolerance, status)

    def _fails(self, autograd: np.ndarray, values: ProbeValues) -> bool:
        return bool((self._compare(autograd, values).status != Status.PASS.code).any())

    def probe_blocks(self, values: ProbeValues, label: str) -> list[Block]:
        blocks = []
        estimates = Estimates(
            {self.scheme.name: values.numerical[:, None]},
            {self.scheme.name: np.array([values.step])},
            self.scheme.name,
        )
        for mode, autograd in (("reverse", values.reverse), ("forward", values.forward)):
            if autograd is None:
                continue
            blocks.append(
                build_block(
                    self.estimated,
                    self.evidence(autograd, values),
                    estimates,
                    self._compare(autograd, values),
                    output_name="out",
                    input_name=label,
                    output_shape=(self.probes,),
                    input_shape=(),
                    mode=mode,
                    output_kind="probe",
                    input_kind="probe",
                )
            )
        return blocks

    def localise(self, index: int, reverse: bool, forward: bool) -> list[tuple[int, int]]:
        """Halve the failing element ranges of input ``index`` down to at most ``LEAF_ELEMENTS`` each."""
        ranges = [(0, self.call.point[index].numel())]
        final: list[tuple[int, int]] = []
        while ranges:
            wide = [(lo, hi) for lo, hi in ranges if hi - lo > LEAF_ELEMENTS]
            final += [(lo, hi) for lo, hi in ranges if hi - lo <= LEAF_ELEMENTS]
            found: list[tuple[float, int, int]] = []
            for lo, hi in wide:
                halves = self._failing_halves(index, (lo, hi), reverse, forward)
                if halves:
                    found += halves
                else:  # the error shows only over the whole range: check it as it is
                    final.append((lo, hi))
            found.sort(reverse=True)
            ranges = [(a, b) for _, a, b in found[: max(0, MAX_RANGES - len(final))]]
        return sorted(final)[:MAX_RANGES]

    def _failing_halves(
        self, index: int, span: tuple[int, int], reverse: bool, forward: bool
    ) -> list[tuple[float, int, int]]:
        """The halves of ``span`` whose fresh probes fail, with how far they exceed their tolerance."""
        lo, hi = span
        mid = (lo + hi) // 2
        halves = []
        for a, b in ((lo, mid), (mid, hi)):
            values = self.project(index, a, b, forward=forward)
            rev, fwd = self.failing(values)
            if (reverse and rev) or (forward and fwd):
                halves.append((self._excess(values, reverse, forward), a, b))
        return halves

    def _excess(self, values: ProbeValues, reverse: bool, forward: bool) -> float:
        worst = 0.0
        for flag, autograd in ((reverse, values.reverse), (forward, values.forward)):
            if flag and autograd is not None:
                c = self._compare(autograd, values)
                worst = max(worst, float(np.max(c.abs_err / c.tolerance)))
        return worst

    def _column_differences(self, index: int, columns: np.ndarray, steps: np.ndarray) -> list[np.ndarray]:
        """The scheme's differences along the basis vectors ``columns`` of input ``index``, per output
        ``(m_k, len(columns))``."""
        x = self.call.point[index]
        count = len(columns)
        base = torch.cat([out.double().reshape(1, -1) for out in self.base], dim=1).expand(count, -1)

        def sample(offset: float) -> torch.Tensor:
            if offset == 0.0:
                return base
            outs = self.evaluate(index, perturbed(x, offset * steps, columns), self.output_numel)
            return torch.cat([out.double().reshape(count, -1) for out in outs], dim=1)

        shifts = torch.as_tensor(steps, dtype=torch.float64, device=x.device).reshape(-1, 1)
        total = apply(self.scheme, summing(sample), shifts)
        return split_rows(total.T.cpu().numpy(), self.call.numels)

    def _autograd_columns(
        self, index: int, columns: np.ndarray, reverse: bool, forward: bool
    ) -> dict[str, list[np.ndarray]]:
        """The autograd columns ``columns`` of input ``index`` per output, by each mode asked for."""
        x = self.call.point[index]
        cols = torch.as_tensor(columns, device=x.device)
        autograd: dict[str, list[np.ndarray]] = {}
        if reverse:  # rows of J by VJPs with basis cotangents, w.r.t. this input only, keeping ``cols``
            graph = self.graph
            sub = Graph(
                graph.func, (graph.point[index],), (graph.leaves[index],), graph.outputs, graph.faults
            )
            found = jacobian(sub, "reverse", self.settings.budget, keep=cols)
            autograd["reverse"] = [
                np.zeros((out.numel(), len(cols))) if row[0] is None else row[0]
                for row, out in zip(found, self.base)
            ]
        if forward:
            tangents: list[torch.Tensor | None] = [None] * len(self.call.point)
            tangents[index] = basis(cols, x)
            outs = products(self.graph, "forward", tangents)
            autograd["forward"] = [out.reshape(len(cols), -1).T.double().cpu().numpy() for out in outs]  # type: ignore[union-attr]
        return autograd

    def columns(self, index: int, columns: np.ndarray, reverse: bool, forward: bool) -> list[Block]:
        """The Jacobian columns ``columns`` (flat elements) of input ``index``, checked entry by entry."""
        x = self.call.point[index]
        steps = steps_for(x, self.scheme, self.settings.eps)[columns]
        numerical = self._column_differences(index, columns, steps)
        blocks = []
        for mode, parts in self._autograd_columns(index, columns, reverse, forward).items():
            for k, out in enumerate(self.base):
                name = self.scheme.name
                evidence = Evidence(parts[k], numerical[k], None)
                blocks.append(
                    build_block(
                        self.rule,
                        evidence,
                        Estimates({name: numerical[k]}, {name: steps}, name),
                        output_name=self.call.out_names[k],
                        input_name=self.call.names[index],
                        output_shape=tuple(out.shape),
                        input_shape=tuple(x.shape),
                        mode=mode,
                        columns=np.asarray(columns),
                    )
                )
        return blocks


def probe_blocks(call: Call, settings: Settings, notes: list[Note]) -> list[Block]:
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
        blocks += prober.columns(i, columns, reverse, forward)
        wrong = tuple(mode for mode, bad in (("reverse", reverse), ("forward", forward)) if bad)
        found = {"input": name, "modes": wrong, "ranges": tuple(ranges), "columns": len(columns)}
        notes.append(Note("localised", found))
    settings.progress("probes", len(names), len(names))
    probes = {"count": settings.probes, "distribution": settings.distribution, "seed": settings.seed}
    notes.insert(0, Note("probes", {**probes, "forward": prober.forward_reason}))
    return blocks
