"""Many checks in parallel: 8 independent configured checks, ``gradcheck run --jobs 2`` against ``--jobs 1``.

    python benchmarks/parallel.py [--repeats 3] [--workload small|dense] [--points 24] [--size 160] [--jobs 2]

Writes a project with eight ``[[tool.gradcheck.checks]]`` into a temporary directory and runs ``gradcheck
run`` on it as a fresh process, alternately with ``--jobs 1`` and ``--jobs N``, ``--repeats`` times each.
Prints every wall time, the ratio jobs1/jobsN of each pair and their median, whether the two JSON reports are
the same bytes (they hold no timings), and the load average.

Workloads:

- ``small`` (the default): eight small operators (softmax, logsumexp, cumsum of tanh, layer_norm, a 6x6
  matrix product...) of 6 elements, each checked at ``--points`` seeded random points. This is the CI
  workload of a test suite -- many small operator checks -- and the honest test of process parallelism: a
  small check is Python- and small-op-bound, one core per check, so two worker processes can use two cores.
- ``dense``: ``tanh(W @ x) * x`` for eight seeded ``W`` of ``--size`` squared. A BLAS-bound check already
  uses every core through torch's intra-op threads at ``--jobs 1``, so process parallelism can gain little
  there (each of N workers gets cores // N threads); kept to show that.

The machine may be shared: the numbers of each pair are measured back to back.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import results

REPO = Path(__file__).resolve().parents[1]

DENSE = """
import torch

SIZE = {size}


def layer(seed):
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(SIZE, SIZE, generator=generator, dtype=torch.float64) / SIZE**0.5

    def f(x):
        return torch.tanh(weight @ x) * x

    return f


{checks}
"""

SMALL = """
import torch

M = torch.randn(6, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
f0 = lambda x: torch.softmax(x, 0) * torch.arange(6.0, dtype=x.dtype)
f1 = lambda x: torch.logsumexp(x.reshape(2, 3), 1)
f2 = lambda x: torch.tanh(x).cumsum(0)
f3 = lambda x: (x.sin() * x).sum()
f4 = lambda x: torch.nn.functional.layer_norm(x, (6,))
f5 = lambda x: x / x.norm()
f6 = lambda x: M @ torch.sigmoid(x)
f7 = lambda x: torch.nn.functional.softplus(x).prod()
"""

CHECK = """
[[tool.gradcheck.checks]]
name = "{name}{index}"
target = "funcs.py:f{index}"
random = {points}
shape = ["{size}"]
seed = {index}
"""


def project(root: Path, workload: str, size: int, points: int, count: int = 8) -> None:
    if workload == "dense":
        checks = "\n".join(f"f{i} = layer({i})" for i in range(count))
        (root / "funcs.py").write_text(DENSE.format(size=size, checks=checks))
        name, points = "layer", 1
    else:
        (root / "funcs.py").write_text(SMALL)
        name, size = "op", 6
    text = "[tool.gradcheck]\n" + "".join(
        CHECK.format(name=name, index=i, size=size, points=points) for i in range(count)
    )
    (root / "pyproject.toml").write_text(text)


def run(root: Path, jobs: int, output: str) -> float:
    """Wall seconds of one ``gradcheck run --jobs N`` as a fresh process."""
    command = [sys.executable, "-m", "gradcheck_cli", "run", "--jobs", str(jobs), "--format", "json"]
    began = time.perf_counter()
    done = subprocess.run(
        [*command, "--output", output],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    wall = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"gradcheck run --jobs {jobs} exited {done.returncode}:\n{done.stderr}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workload", choices=("small", "dense"), default="small")
    parser.add_argument("--points", type=int, default=24, help="random points per check (small)")
    parser.add_argument("--size", type=int, default=160, help="W is size x size (dense)")
    parser.add_argument("--jobs", type=int, default=2)
    results.add_flag(parser)
    args = parser.parse_args()
    with results.recording("parallel", args.record):
        print(f"load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        with tempfile.TemporaryDirectory() as directory:
            root = Path(directory)
            project(root, args.workload, args.size, args.points)
            ratios = []
            for repeat in range(args.repeats):
                serial = run(root, 1, "serial.json")
                parallel = run(root, args.jobs, "parallel.json")
                same = (root / "serial.json").read_bytes() == (root / "parallel.json").read_bytes()
                ratios.append(serial / parallel)
                print(
                    f"run {repeat + 1}: --jobs 1 {serial:.2f} s, --jobs {args.jobs} {parallel:.2f} s, "
                    f"ratio {serial / parallel:.2f}x, same report bytes: {same}"
                )
        what = f"size {args.size}" if args.workload == "dense" else f"{args.points} points each"
        print(
            f"8 {args.workload} checks ({what}) on {os.cpu_count()} cores: --jobs 1 / --jobs {args.jobs} wall "
            f"time, median {statistics.median(ratios):.2f}x (all: {', '.join(f'{r:.2f}' for r in ratios)}); "
            f"load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )


if __name__ == "__main__":
    main()
