"""The checks people run every day, ours against ``torch.autograd.gradcheck`` at its defaults, in one run.

    nice python benchmarks/daily.py                         # every section (~15 min on 2 shared cores)
    nice python benchmarks/daily.py --sections function,plain --repeats 7
    ... --save-verdicts before.json / --compare-verdicts before.json   # the OpInfo verdicts before/after

Sections (``--sections``, comma-separated):

- ``function``: a custom ``torch.autograd.Function`` (elementwise ``x**3 + sin x``, it cannot be vmapped) at
  n = 3, 10, 100: the time ratio and the calls of its ``forward`` per input element, ours and torch's.
- ``big``: the same Function at n = 1000 with the gradient of one element 1% off: both must FAIL; the time
  ratio (each side run once: it is the slow one).
- ``plain``: small plain functions (vmappable) at n = 3, 10, 30, 100.
- ``opinfo``: the first sample of every OpInfo operator in float64 with at most ``--max-elements`` input
  elements (148 cases on torch 2.13), through ``benchmarks/small_checks.py``'s corpus: per-case median and
  p90 of the ratios, and the total.
- ``startup``: a 3-element CLI check against ``python -c "import torch"`` (CPU time of fresh processes,
  ``benchmarks/startup.py``).
- ``jobs``: 8 small configured checks, ``gradcheck run --jobs 2`` against ``--jobs 1`` (wall time of fresh
  processes, ``benchmarks/parallel.py``; meaningful only where two cores are free: the load is printed).

Ours runs at its defaults: full mode, forward-mode check, error bars, contracts and the nondeterminism re-run
all on. Each case is run once first (its verdicts, and first-use costs out of the way), then ``--repeats``
times alternately ours and torch; the ratio is that of the medians, of CPU time (``time.process_time``:
steadier than wall time when other work shares the cores) and of wall time. The load average is printed
with every section. The last lines restate each figure against the target of the issue that set it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gradcheck_cli

SECTIONS = ("function", "big", "plain", "opinfo", "startup", "jobs")
SUMMARY: list[str] = []


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


@dataclass
class Timed:
    """Median CPU and wall seconds of each side, and each side's verdict."""

    ours_cpu: float
    ours_wall: float
    torch_cpu: float
    torch_wall: float
    ours_verdict: str
    torch_verdict: str

    @property
    def cpu(self) -> float:
        return self.ours_cpu / self.torch_cpu

    @property
    def wall(self) -> float:
        return self.ours_wall / self.torch_wall


def _clock(run: Callable[[], Any]) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return time.process_time() - cpu, time.perf_counter() - wall


def ours(func: Callable[..., Any], inputs: tuple[torch.Tensor, ...]) -> str:
    try:
        return gradcheck_cli.check(func, inputs).verdict
    except Exception as exc:  # an input ours cannot check, or a crash: named in the verdict
        return f"error: {type(exc).__name__}"


def theirs(func: Callable[..., Any], inputs: tuple[torch.Tensor, ...]) -> str:
    leaves = tuple(x.detach().clone().requires_grad_(True) for x in inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return "PASS" if torch.autograd.gradcheck(func, leaves, raise_exception=False) else "FAIL"
        except Exception as exc:  # torch's check cannot run it
            return f"error: {type(exc).__name__}"


def timed(func: Callable[..., Any], inputs: tuple[torch.Tensor, ...], repeats: int) -> Timed:
    """Both checks once (their verdicts), then ``repeats`` times alternately; medians."""
    verdicts = ours(func, inputs), theirs(func, inputs)
    mine, peer = [], []
    for _ in range(repeats):
        mine.append(_clock(lambda: ours(func, inputs)))
        peer.append(_clock(lambda: theirs(func, inputs)))
    med = [statistics.median(t[j] for t in side) for side in (mine, peer) for j in (0, 1)]
    return Timed(*med, *verdicts)


class Counted:
    """A custom ``autograd.Function`` ``x**3 + sin x`` elementwise (``bad``: element 0's gradient 1% off),
    counting the calls of its forward."""

    calls = 0

    @staticmethod
    def make(bad: bool) -> Callable[[torch.Tensor], torch.Tensor]:
        class Cube(torch.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
                Counted.calls += 1
                ctx.save_for_backward(x)
                return x**3 + torch.sin(x)

            @staticmethod
            def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
                (x,) = ctx.saved_tensors
                grad = g * (3 * x**2 + torch.cos(x))
                if bad:
                    grad = grad.clone()
                    grad[..., 0] = grad[..., 0] * 1.01
                return grad

        return Cube.apply


def calls_per_element(check: Callable[..., str], func: Callable[..., Any], x: torch.Tensor) -> float:
    Counted.calls = 0
    check(func, (x,))
    return Counted.calls / x.numel()


def function_section(repeats: int) -> None:
    print(f"\ncustom autograd.Function (x**3 + sin x, not vmappable)   {load()}")
    func = Counted.make(bad=False)
    for n in (3, 10, 100):
        x = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
        ours_calls, torch_calls = calls_per_element(ours, func, x), calls_per_element(theirs, func, x)
        t = timed(func, (x,), repeats)
        print(
            f"  n={n:<4} ours {t.ours_wall * 1e3:8.1f} ms  torch {t.torch_wall * 1e3:7.1f} ms  "
            f"CPU ratio {t.cpu:5.2f}x  wall {t.wall:5.2f}x  calls/element ours {ours_calls:5.1f} "
            f"torch {torch_calls:4.1f}  verdicts {t.ours_verdict}/{t.torch_verdict}"
        )
        SUMMARY.append(
            f"Function n={n}: {t.cpu:.2f}x torch CPU (target <=1.5x), {ours_calls:.1f} calls/element "
            f"(target <=4), {t.ours_verdict}"
        )


def big_section() -> None:
    print(f"\n1000-input custom Function, element 0's gradient 1% off (must FAIL)   {load()}")
    func = Counted.make(bad=True)
    x = torch.randn(1000, dtype=torch.float64, generator=torch.Generator().manual_seed(1000))
    Counted.calls = 0
    (ours_cpu, ours_wall), mine = _timed_once(lambda: ours(func, (x,)))
    ours_calls = Counted.calls / 1000
    Counted.calls = 0
    (torch_cpu, torch_wall), peer = _timed_once(lambda: theirs(func, (x,)))
    print(
        f"  ours {ours_wall:7.2f} s ({mine}, {ours_calls:.1f} calls/element)  torch {torch_wall:6.2f} s "
        f"({peer}, {Counted.calls / 1000:.1f})  CPU ratio {ours_cpu / torch_cpu:.2f}x  wall "
        f"{ours_wall / torch_wall:.2f}x"
    )
    SUMMARY.append(
        f"1000-input Function 1% off: {mine}, {ours_cpu / torch_cpu:.2f}x torch CPU (target FAIL, <=2x)"
    )


def _timed_once(run: Callable[[], str]) -> tuple[tuple[float, float], str]:
    found: list[str] = []
    clock = _clock(lambda: found.append(run()))
    return clock, found[0]


def plain_cases() -> list[tuple[str, Callable[..., Any], torch.Tensor]]:
    found = []
    for n in (3, 10, 30, 100):
        generator = torch.Generator().manual_seed(n)
        x = torch.randn(n, dtype=torch.float64, generator=generator)
        w = torch.randn(n, n, dtype=torch.float64, generator=generator) / n**0.5
        weights = torch.arange(n, dtype=torch.float64)
        found += [
            (f"sum(sin(x)*x) n={n}", lambda v: (torch.sin(v) * v).sum(), x),
            (f"softmax(x)*k n={n}", lambda v, k=weights: torch.softmax(v, 0) * k, x),
            (f"tanh(W@x) n={n}", lambda v, w=w: torch.tanh(w @ v), x),
        ]
    return found


def plain_section(repeats: int) -> None:
    print(f"\nplain small functions (vmappable)   {load()}")
    ratios = []
    for name, func, x in plain_cases():
        t = timed(func, (x,), repeats)
        ratios.append(t.cpu)
        print(
            f"  {name:22} ours {t.ours_wall * 1e3:7.1f} ms  torch {t.torch_wall * 1e3:6.1f} ms  "
            f"CPU ratio {t.cpu:5.2f}x  wall {t.wall:5.2f}x  verdicts {t.ours_verdict}/{t.torch_verdict}"
        )
    SUMMARY.append(
        f"plain n=3..100: CPU ratio median {statistics.median(ratios):.2f}x, worst {max(ratios):.2f}x "
        "(target <=1x)"
    )


def opinfo_section(repeats: int, max_elements: int, verdicts: dict[str, Path | None]) -> None:
    import small_checks

    cases = [
        c for c in small_checks.corpus([], None, 0, 1) if sum(x.numel() for x in c.inputs) <= max_elements
    ]
    print(
        f"\nsmall OpInfo operators: {len(cases)} cases (first sample, <= {max_elements} elements)   {load()}"
    )
    rows = {}
    for k, case in enumerate(cases):
        print(f"\r{k + 1}/{len(cases)} {case.name:50}", end="", file=sys.stderr, flush=True)
        rows[case.name] = timed(case.func, case.inputs, repeats)
    print(file=sys.stderr)
    _opinfo_report(rows)
    _verdicts({name: t.ours_verdict for name, t in rows.items()}, verdicts)


def _quantiles(ratios: list[float]) -> tuple[float, float]:
    return statistics.median(ratios), statistics.quantiles(ratios, n=10)[-1]


def _opinfo_report(rows: dict[str, Timed]) -> None:
    checked = {name: t for name, t in rows.items() if not t.ours_verdict.startswith("error")}
    cpu_median, cpu_p90 = _quantiles([t.cpu for t in checked.values()])
    wall_median, wall_p90 = _quantiles([t.wall for t in checked.values()])
    total_cpu = sum(t.ours_cpu for t in checked.values()) / sum(t.torch_cpu for t in checked.values())
    total_wall = sum(t.ours_wall for t in checked.values()) / sum(t.torch_wall for t in checked.values())
    print(f"  {len(rows) - len(checked)} cases our check cannot run (left out)   {load()}")
    print(f"  per case CPU ratio: median {cpu_median:.2f}x  p90 {cpu_p90:.2f}x   total {total_cpu:.2f}x")
    print(f"  per case wall ratio: median {wall_median:.2f}x  p90 {wall_p90:.2f}x   total {total_wall:.2f}x")
    counts: dict[str, int] = {}
    for t in checked.values():
        counts[f"{t.ours_verdict}/{t.torch_verdict}"] = (
            counts.get(f"{t.ours_verdict}/{t.torch_verdict}", 0) + 1
        )
    print(f"  verdicts ours/torch: {counts}")
    print("  slowest 8 by CPU ratio:")
    for name, t in sorted(checked.items(), key=lambda item: item[1].cpu, reverse=True)[:8]:
        print(
            f"    {name:44} ours {t.ours_wall * 1e3:7.1f} ms  torch {t.torch_wall * 1e3:6.1f} ms  {t.cpu:5.1f}x"
        )
    SUMMARY.append(
        f"OpInfo small: CPU ratio median {cpu_median:.2f}x (<=1), p90 {cpu_p90:.2f}x (<=2), "
        f"total {total_cpu:.2f}x (<=1)"
    )


def _verdicts(found: dict[str, str], files: dict[str, Path | None]) -> None:
    if files["save"]:
        files["save"].write_text(json.dumps(found, indent=1))
    if files["compare"]:
        before = json.loads(files["compare"].read_text())
        changed = [(n, before[n], v) for n, v in found.items() if n in before and before[n] != v]
        print(f"  verdicts compared with {files['compare']}: {len(changed)} of {len(before)} changed")
        for name, old, new in changed:
            print(f"    {name}: {old} -> {new}")
        SUMMARY.append(f"OpInfo small: {len(changed)} verdicts changed against {files['compare']}")


def startup_section(repeats: int) -> None:
    import startup

    print(f"\nstart-up: 3-element CLI check against python -c 'import torch' (fresh processes)   {load()}")
    startup.run(startup.IMPORT)
    startup.run(startup.CHECK)
    mine, peer = [], []
    for _ in range(repeats):
        mine.append(startup.run(startup.CHECK))
        peer.append(startup.run(startup.IMPORT))
    cpu = statistics.median(t[0] for t in mine) / statistics.median(t[0] for t in peer)
    wall = statistics.median(t[1] for t in mine) / statistics.median(t[1] for t in peer)
    print(f"  check CPU {[round(t[0], 2) for t in mine]} s, import torch {[round(t[0], 2) for t in peer]} s")
    print(f"  ratio of medians: CPU {cpu:.2f}x  wall {wall:.2f}x   {load()}")
    SUMMARY.append(f"start-up: 3-element check {cpu:.2f}x the CPU of import torch (target <=1.3x)")


def jobs_section(repeats: int) -> None:
    import tempfile

    import parallel

    print(f"\n--jobs 2 against --jobs 1, 8 small configured checks (24 points each)   {load()}")
    ratios = []
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        parallel.project(root, "small", 6, 24)
        for _ in range(repeats):
            serial, two = parallel.run(root, 1, "serial.json"), parallel.run(root, 2, "parallel.json")
            ratios.append(serial / two)
            print(f"  --jobs 1 {serial:.2f} s  --jobs 2 {two:.2f} s  ratio {serial / two:.2f}x   {load()}")
    SUMMARY.append(
        f"--jobs 2: {statistics.median(ratios):.2f}x faster than --jobs 1 (target >=1.5x where 2 cores "
        f"are free; {load()})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"some of {', '.join(SECTIONS)}")
    parser.add_argument("--repeats", type=int, default=5, help="alternate runs per case (medians)")
    parser.add_argument("--max-elements", type=int, default=64, help="OpInfo cases up to this many inputs")
    parser.add_argument("--save-verdicts", type=Path, help="write our OpInfo verdicts to this JSON file")
    parser.add_argument("--compare-verdicts", type=Path, help="compare our OpInfo verdicts with a saved file")
    args = parser.parse_args()
    sections = [s for s in args.sections.split(",") if s]
    warnings.simplefilter("ignore")
    print(f"torch {torch.__version__}, {os.cpu_count()} cores, {torch.get_num_threads()} threads, {load()}")
    ours(torch.tanh, (torch.randn(3, dtype=torch.float64),))  # first-use set-up on both sides
    theirs(torch.tanh, (torch.randn(3, dtype=torch.float64),))
    if "function" in sections:
        function_section(args.repeats)
    if "big" in sections:
        big_section()
    if "plain" in sections:
        plain_section(args.repeats)
    if "opinfo" in sections:
        files = {"save": args.save_verdicts, "compare": args.compare_verdicts}
        opinfo_section(max(1, args.repeats // 2), args.max_elements, files)
    if "startup" in sections:
        startup_section(args.repeats)
    if "jobs" in sections:
        jobs_section(max(1, args.repeats // 2))
    print(f"\nsummary ({load()}):")
    for line in SUMMARY:
        print("  " + line)


if __name__ == "__main__":
    main()
