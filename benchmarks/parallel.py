"""Many checks in parallel: 8 independent configured checks, ``gradcheck run --jobs 2`` against ``--jobs 1``.

    python benchmarks/parallel.py [--repeats 3] [--size 160] [--jobs 2]

Writes a project with eight ``[[tool.gradcheck.checks]]`` (``tanh(W @ x) * x`` for eight seeded ``W`` of
``--size`` squared, each a few seconds of work) into a temporary directory and runs ``gradcheck run`` on it
as a fresh process, alternately with ``--jobs 1`` and ``--jobs N``, ``--repeats`` times each. Prints every
wall time, the ratio jobs1/jobsN of each pair and their median, and whether the two JSON reports are the same
bytes (they hold no timings). The machine may be shared: the numbers of each pair are measured back to back.
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

REPO = Path(__file__).resolve().parents[1]

FUNCS = """
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

CHECK = """
[[tool.gradcheck.checks]]
name = "layer{index}"
target = "funcs.py:f{index}"
random = 1
shape = ["{size}"]
seed = {index}
"""


def project(root: Path, size: int, count: int = 8) -> None:
    checks = "\n".join(f"f{i} = layer({i})" for i in range(count))
    (root / "funcs.py").write_text(FUNCS.format(size=size, checks=checks))
    text = "[tool.gradcheck]\n" + "".join(CHECK.format(index=i, size=size) for i in range(count))
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
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        project(root, args.size)
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
    print(
        f"8 checks of size {args.size} on {os.cpu_count()} cores: --jobs 1 / --jobs {args.jobs} wall time, "
        f"median {statistics.median(ratios):.2f}x (all: {', '.join(f'{r:.2f}' for r in ratios)})"
    )


if __name__ == "__main__":
    main()
