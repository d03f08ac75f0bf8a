"""Start-up: the CPU time of a 3-element check against that of ``python -c "import torch"``, whole-process.

    python benchmarks/startup.py [--repeats 5]

Runs, alternately and ``--repeats`` times each, ``gradcheck run sample_functions/tutorial.py:calc --x 1,2,3``
and ``python -c "import torch"`` as fresh processes, and prints the median user+system CPU time of each
(children's rusage: every thread counted, steadier than wall time on a shared machine), the wall times, and
the ratio ours/import. Also says whether the check imported ``torch._dynamo`` (``-X importtime``).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import results

REPO = Path(__file__).resolve().parents[1]
CHECK = [sys.executable, "-m", "gradcheck_cli", "run", "sample_functions/tutorial.py:calc", "--x", "1,2,3"]
IMPORT = [sys.executable, "-c", "import torch"]


def run(command: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run(
        command, cwd=REPO, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)}
    )
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, wall


def imports_dynamo() -> bool:
    found = subprocess.run(
        [sys.executable, "-X", "importtime", *CHECK[1:]],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return "torch._dynamo" in found.stderr


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5, help="runs of each command (medians)")
    results.add_flag(parser)
    args = parser.parse_args()
    run(IMPORT)  # warm the file cache for both
    run(CHECK)
    ours, torch_only = [], []
    for _ in range(args.repeats):
        ours.append(run(CHECK))
        torch_only.append(run(IMPORT))
    cpu, wall = (statistics.median(t[0] for t in ours), statistics.median(t[1] for t in ours))
    cpu_t, wall_t = (statistics.median(t[0] for t in torch_only), statistics.median(t[1] for t in torch_only))
    with results.recording("startup", args.record):
        print(f"load: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; median of {args.repeats}")
        print(f"3-element check      CPU {cpu:6.2f} s  wall {wall:6.2f} s")
        print(f"python -c 'import torch'  CPU {cpu_t:6.2f} s  wall {wall_t:6.2f} s")
        print(f"ratio (check / import torch): CPU {cpu / cpu_t:.2f}x  wall {wall / wall_t:.2f}x")
        print(
            f"each run, CPU s: check {[round(t[0], 2) for t in ours]}  import {[round(t[0], 2) for t in torch_only]}"
        )
        print(f"the check imports torch._dynamo: {imports_dynamo()}")


if __name__ == "__main__":
    main()
