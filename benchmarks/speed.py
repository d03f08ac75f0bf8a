"""Speed and memory of a full check against ``torch.autograd.gradcheck`` on the same functions, in one run.

    python benchmarks/speed.py            # tanh(W@x) at n=2000 and 3000, sum(sin(x)*x) at n=10000 (~3 min)
    python benchmarks/speed.py --quick    # without gradcheck's slow mode on tanh (~36 s or more at n=3000)

For each case: the median wall time of ``gradcheck_cli.check`` (full mode: every Jacobian entry, reverse and
forward mode, central differences), of the floor (one batched reverse-mode Jacobian, ``torch.func.vjp``
under ``vmap``, plus the 2n centrally perturbed points evaluated with ``vmap`` in chunks: the
arithmetic a full check cannot avoid) and of ``torch.autograd.gradcheck`` with ``fast_mode=False`` and
``fast_mode=True``, the ratios ours/floor, slow/ours and fast/ours, and the peak memory of our check (the growth of the peak resident set size
in a fresh subprocess, from ``/proc/self/status``) against the configured bound (``--max-memory``). Timings on a shared machine are
noisy: compare the ratios, which are measured in the same run; the CPU-time ratio (both processes' threads
added up) is the steadier one when other work competes for the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import results

from gradcheck_cli import check
from gradcheck_cli.numerics.budget import DEFAULT_MAX_MEMORY, describe_bytes, parse_memory


def case(name: str, n: int) -> tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, dtype=torch.float64, generator=generator)
    if name == "tanh(W@x)":
        w = torch.randn(n, n, dtype=torch.float64, generator=generator) / n**0.5
        return (lambda v: torch.tanh(w @ v)), x
    if name == "sum(sin(x)*x)":
        return (lambda v: (torch.sin(v) * v).sum()), x
    raise ValueError(name)


def floor(func: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, step: float = 1e-6) -> None:
    """A reverse-mode Jacobian (one batched VJP along the output basis) and central differences from the 2n
    perturbed points, evaluated with vmap in chunks of about 2**22 input elements."""
    out, pullback = torch.func.vjp(func, x)
    m, n = out.numel(), x.numel()
    torch.func.vmap(pullback)(torch.eye(m, dtype=x.dtype).reshape(m, *out.shape))
    numerical = torch.empty(n, m, dtype=x.dtype)
    rows = max(1, 2**22 // n)
    batched = torch.func.vmap(func)
    with torch.no_grad():
        for start in range(0, n, rows):
            stop = min(n, start + rows)
            at = torch.arange(stop - start)
            plus = x.repeat(stop - start, 1)
            minus = plus.clone()
            plus[at, at + start] += step
            minus[at, at + start] -= step
            numerical[start:stop] = (batched(plus) - batched(minus)).reshape(stop - start, m) / (2 * step)


def timed(run: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Median wall time and median CPU time (all threads of this process: steadier on a shared machine)."""
    walls, cpus = [], []
    for _ in range(repeats):
        began, began_cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - began)
        cpus.append(time.process_time() - began_cpu)
    return statistics.median(walls), statistics.median(cpus)


def peak_memory(name: str, n: int, max_memory: int) -> int:
    """Bytes by which our check raises the peak RSS of a fresh process (after its setup)."""
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", name, str(n), str(max_memory)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(json.loads(out.strip().splitlines()[-1])["peak_bytes"])


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def memory_child(name: str, n: int, max_memory: int) -> None:
    func, x = case(name, n)
    check(torch.tanh, torch.randn(4, dtype=torch.float64))  # imports and first-use set-up
    try:  # reset the peak (VmHWM) to the current RSS: ru_maxrss is inherited across exec from the parent
        Path("/proc/self/clear_refs").write_text("5")
        before = _status_kb("VmRSS")
    except OSError:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = check(func, x, max_memory=max_memory)
    try:
        after = _status_kb("VmHWM")
    except OSError:
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_bytes": (after - before) * 1024, "passed": result.passed, "mode": result.mode}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="skip gradcheck's slow mode on tanh at n=3000")
    parser.add_argument("--repeats", type=int, default=3, help="timings per measurement (median)")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads for both sides (1 is steadier on a machine shared with others)",
    )
    parser.add_argument("--max-memory", default=str(DEFAULT_MAX_MEMORY), help="our memory bound, e.g. 1G")
    parser.add_argument("--memory-child", nargs=3, metavar=("CASE", "N", "BYTES"), help=argparse.SUPPRESS)
    results.add_flag(parser)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child[0], int(args.memory_child[1]), int(args.memory_child[2]))
        return
    bound = parse_memory(args.max_memory)
    if args.threads:
        torch.set_num_threads(args.threads)
    check(torch.tanh, torch.randn(4, dtype=torch.float64))  # warm up both sides' imports
    torch.autograd.gradcheck(torch.tanh, torch.randn(4, dtype=torch.float64, requires_grad=True))
    cases = [("tanh(W@x)", 2000), ("tanh(W@x)", 3000), ("sum(sin(x)*x)", 10000)]
    header = (
        f"{'function':<15} {'n':>6} {'ours s':>8} {'floor s':>8} {'ours/floor':>10} {'slow s':>8} {'fast s':>8} "
        f"{'slow/ours':>10} {'fast/ours':>10} {'cpu: slow/ours':>15} {'peak mem':>9} {'bound':>6}"
    )
    with results.recording("speed", args.record):
        load = " ".join(f"{v:.2f}" for v in os.getloadavg())
        print(
            f"torch {torch.__version__}, {torch.get_num_threads()} threads, float64, median of {args.repeats}, load {load}"
        )
        print(header)
        print("-" * len(header))
        for name, n in cases:
            measure(name, n, args.repeats, args.quick, bound)


def measure(name: str, n: int, repeats: int, quick: bool, bound: int) -> None:
    func, x = case(name, n)
    result = check(func, x, max_memory=bound)
    assert result.passed and result.mode == "full", (name, n, result.mode)
    ours, ours_cpu = timed(lambda: check(func, x, max_memory=bound), repeats)
    lowest, _ = timed(lambda: floor(func, x), repeats)
    leaf = x.clone().requires_grad_(True)
    fast, _ = timed(lambda: torch.autograd.gradcheck(func, leaf, fast_mode=True), repeats)
    if quick and name == "tanh(W@x)":
        slow, slow_cpu = float("nan"), float("nan")
    else:
        slow, slow_cpu = timed(lambda: torch.autograd.gradcheck(func, leaf), 1 if n >= 3000 else repeats)
    peak = peak_memory(name, n, bound)
    print(
        f"{name:<15} {n:>6} {ours:>8.3f} {lowest:>8.3f} {ours / lowest:>10.2f} {slow:>8.3f} {fast:>8.3f} {slow / ours:>10.1f} "
        f"{fast / ours:>10.2f} {slow_cpu / ours_cpu:>15.1f} {describe_bytes(peak):>9} {describe_bytes(bound):>6}",
        flush=True,
    )
    assert peak <= bound, f"peak memory {describe_bytes(peak)} over the bound {describe_bytes(bound)}"


if __name__ == "__main__":
    main()
