"""Many small checks: the OpInfo float64 corpus, ours against ``torch.autograd.gradcheck`` and the batched floor.

    nice python benchmarks/small_checks.py                      # one sample per op (~540 cases)
    nice python benchmarks/small_checks.py --limit 80 --seed 1  # a seeded random subset of ops
    nice python benchmarks/small_checks.py --ops softmax,sin    # named ops
    ... --save-verdicts before.json / --compare-verdicts before.json   # our verdicts before/after a change

Per case (one OpInfo sample input, float64, the sample's ``gradcheck_wrapper`` and ``output_process_fn_grad``
applied as PyTorch's own gradient tests do), in the same process, the best of ``--repeats`` wall times of:

- ours: ``gradcheck_cli.check`` at its defaults (full mode, forward-mode check, error bars, the
  nondeterminism re-run all on);
- torch: ``torch.autograd.gradcheck`` at its defaults, and with ``check_forward_ad=True``;
- the floor: one ``vmap`` evaluation of the 2n perturbed points (central differences) plus one batched VJP
  (``torch.autograd.grad(..., is_grads_batched=True)``) along the output basis: the arithmetic a check that
  batches everything cannot avoid.

Printed: per-case median and p90 of the ratios ours/torch, ours/torch+forward and ours/floor, and the corpus
totals. Cases where our check raises (an input or output it does not support) are counted and left out of
the ratios; cases the floor cannot vmap are left out of the floor ratio. Timings on a shared machine are
noisy: compare the ratios (both sides measured in the same run, interleaved) and repeat; ``uptime`` is
printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import results

import gradcheck_cli
from gradcheck_cli.errors import GradcheckError


@dataclass(frozen=True)
class Case:
    """One OpInfo sample: ``func(*inputs)`` with the tensors that require grad as positional inputs."""

    name: str
    func: Callable[..., Any]
    inputs: tuple[torch.Tensor, ...]


def corpus(ops: Sequence[str], limit: int | None, seed: int, samples: int) -> list[Case]:
    """The float64 cases of the shared enumeration (``benchmarks/opinfo_corpus.py``): ``samples`` sample
    inputs of each op named in ``ops`` (default: every op), or of a seeded random ``limit`` of them."""
    import opinfo_corpus

    found = []
    for op in opinfo_corpus.select_ops(ops or None, limit, seed):
        try:
            found += [
                Case(c.name, c.func, c.inputs) for c in opinfo_corpus.cases(op, "float64", samples, seed)
            ]
        except Exception:  # an OpInfo whose samples cannot be made on this build
            continue
    return found


def best(run: Callable[[], Any], repeats: int) -> float:
    """The least wall time of ``repeats`` runs: the steadiest figure on a machine shared with others."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return min(times)


def _floating(value: Any) -> list[torch.Tensor]:
    values = value if isinstance(value, (list, tuple)) else [value]
    return [v for v in values if isinstance(v, torch.Tensor) and v.is_floating_point()]


def floor(case: Case, step: float = 1e-6) -> None:
    """One vmap evaluation of the 2n centrally perturbed points and one batched VJP along the output basis."""
    n = sum(x.numel() for x in case.inputs)
    rows, start = [], 0
    for x in case.inputs:
        batch = x.detach().reshape(1, -1).repeat(2 * n, 1)
        index = torch.arange(start, start + x.numel())
        batch[index, index - start] += step
        batch[index + n, index - start] -= step
        rows.append(batch.reshape(2 * n, *x.shape))
        start += x.numel()
    with torch.no_grad():
        values = _floating(torch.func.vmap(case.func)(*rows))
    _ = [(v[:n] - v[n:]) / (2 * step) for v in values]
    leaves = [x.detach().clone().requires_grad_(True) for x in case.inputs]
    outputs = [out for out in _floating(case.func(*leaves)) if out.requires_grad]
    m = sum(out.numel() for out in outputs)
    basis = torch.eye(m, dtype=torch.float64)
    cotangents, at = [], 0
    for out in outputs:
        cotangents.append(basis[:, at : at + out.numel()].reshape(m, *out.shape))
        at += out.numel()
    torch.autograd.grad(outputs, leaves, cotangents, is_grads_batched=True, allow_unused=True)


@dataclass
class Row:
    name: str
    ours: float
    torch: float
    torch_forward: float
    floor: float | None
    verdict: str


def measure(case: Case, repeats: int) -> Row:
    def torch_check(forward: bool) -> None:
        leaves = tuple(x.detach().clone().requires_grad_(True) for x in case.inputs)
        try:
            torch.autograd.gradcheck(case.func, leaves, raise_exception=False, check_forward_ad=forward)
        except Exception:  # torch's own check cannot run it (forward AD not implemented, ...)
            pass

    try:
        verdict = gradcheck_cli.check(case.func, case.inputs).verdict
    except GradcheckError as exc:
        verdict = f"error: {type(exc).__name__}"
    except Exception as exc:  # a crash of ours: counted as an error, named in the verdicts
        verdict = f"error: crash {type(exc).__name__}"
    ours = best(lambda: _ours(case), repeats)
    plain = best(lambda: torch_check(False), repeats)
    forward = best(lambda: torch_check(True), repeats)
    try:
        floor(case)
        lowest: float | None = best(lambda: floor(case), repeats)
    except Exception:
        lowest = None
    return Row(case.name, ours, plain, forward, lowest, verdict)


def _ours(case: Case) -> None:
    try:
        gradcheck_cli.check(case.func, case.inputs)
    except Exception:  # GradcheckError, or a crash (counted by measure())
        pass


def _quantiles(ratios: list[float]) -> str:
    if not ratios:
        return "n/a"
    p90 = statistics.quantiles(ratios, n=10)[-1] if len(ratios) > 1 else ratios[0]
    return f"median {statistics.median(ratios):6.2f}x  p90 {p90:6.2f}x"


def report(rows: list[Row], slowest: int) -> None:
    checked = [r for r in rows if not r.verdict.startswith("error")]
    floored = [r for r in checked if r.floor is not None]
    print(f"\n{len(rows)} cases, {len(rows) - len(checked)} our check cannot run (left out of the ratios)")
    print(
        f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1 and 5 min), {torch.get_num_threads()} threads"
    )
    print("per case          " + "ours / torch: " + _quantiles([r.ours / r.torch for r in checked]))
    print("                  ours / torch+fwd: " + _quantiles([r.ours / r.torch_forward for r in checked]))
    print("                  ours / floor: " + _quantiles([r.ours / r.floor for r in floored if r.floor]))
    print("                  floor / torch: " + _quantiles([r.floor / r.torch for r in floored if r.floor]))
    total = {k: sum(getattr(r, k) for r in checked) for k in ("ours", "torch", "torch_forward")}
    print(
        f"total             ours {total['ours']:.2f} s, torch {total['torch']:.2f} s "
        f"({total['ours'] / total['torch']:.2f}x), torch+fwd {total['torch_forward']:.2f} s "
        f"({total['ours'] / total['torch_forward']:.2f}x); floor {sum(r.floor or 0 for r in floored):.2f} s "
        f"over {len(floored)} cases (ours there {sum(r.ours for r in floored):.2f} s)"
    )
    print(f"\nslowest {slowest} by ours/torch:")
    for r in sorted(checked, key=lambda r: r.ours / r.torch, reverse=True)[:slowest]:
        print(
            f"  {r.name:40} ours {r.ours * 1e3:8.1f} ms  torch {r.torch * 1e3:7.1f} ms  {r.ours / r.torch:6.1f}x"
        )


def compare_verdicts(rows: list[Row], path: Path) -> int:
    before = json.loads(path.read_text())
    changed = [
        (r.name, before[r.name], r.verdict) for r in rows if r.name in before and before[r.name] != r.verdict
    ]
    print(f"\nverdicts compared with {path}: {len(changed)} of {sum(r.name in before for r in rows)} changed")
    for name, old, new in changed:
        print(f"  {name}: {old} -> {new}")
    return len(changed)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ops", default="", help="comma-separated OpInfo names (default: every op)")
    parser.add_argument("--limit", type=int, help="a seeded random subset of this many ops")
    parser.add_argument("--seed", type=int, default=0, help="the subset's seed")
    parser.add_argument("--samples", type=int, default=1, help="sample inputs per op")
    parser.add_argument("--repeats", type=int, default=3, help="timings per measurement (the least is kept)")
    parser.add_argument("--threads", type=int, help="torch threads for every side")
    parser.add_argument("--slowest", type=int, default=10, help="list this many cases, worst ratio first")
    parser.add_argument("--save-verdicts", type=Path, help="write our verdict per case to this JSON file")
    parser.add_argument("--compare-verdicts", type=Path, help="compare our verdicts with a saved file")
    results.add_flag(parser)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    cases = corpus([o for o in args.ops.split(",") if o], args.limit, args.seed, args.samples)
    gradcheck_cli.check(torch.tanh, torch.randn(3, dtype=torch.float64))  # first-use set-up on both sides
    torch.autograd.gradcheck(torch.tanh, torch.randn(3, dtype=torch.float64, requires_grad=True))
    rows = []
    for k, case in enumerate(cases):
        print(f"\r{k + 1}/{len(cases)} {case.name:50}", end="", file=sys.stderr, flush=True)
        rows.append(measure(case, args.repeats))
        if args.save_verdicts:  # as it goes: a case that kills the process leaves the others' verdicts
            args.save_verdicts.write_text(json.dumps({r.name: r.verdict for r in rows}, indent=1))
    print(file=sys.stderr)
    with results.recording("small-checks", args.record):
        print(f"torch {torch.__version__}, float64, best of {args.repeats}")
        report(rows, args.slowest)
        if args.compare_verdicts:
            compare_verdicts(rows, args.compare_verdicts)


if __name__ == "__main__":
    main()
