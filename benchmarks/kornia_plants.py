"""Planted 1e-4 relative backward errors in kornia functions, for ``benchmarks/kornia_suite.py --planted``.

Also a pytest plugin (``-p kornia_plants``, with ``KORNIA_PLANT=all|one`` in the environment): during each
test of :data:`PLANTS` the function it checks is replaced, in every loaded module that holds it, by a copy
whose first floating output passes through :class:`Scaled`: the identity forward, a backward that scales
the incoming gradient by 1 + 1e-4 (``one``: only the gradient's first element). Each planted test appends
a line to ``KORNIA_PLANT_LOG``: its node id, the function, and how many outputs the error was planted in.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

SIZE = 1e-4
# (the function, as kornia exports it; the test of it in kornia's tests/, every parametrization)
PLANTS: tuple[tuple[str, str], ...] = (
    ("kornia.filters.gaussian_blur2d", "tests/filters/test_gaussian.py::TestGaussianBlur2d::test_gradcheck"),
    ("kornia.filters.spatial_gradient", "tests/filters/test_sobel.py::TestSpatialGradient::test_gradcheck"),
    ("kornia.filters.laplacian", "tests/filters/test_laplacian.py::TestLaplacian::test_gradcheck"),
    ("kornia.filters.median_blur", "tests/filters/test_median.py::TestMedianBlur::test_gradcheck"),
    ("kornia.filters.bilateral_blur", "tests/filters/test_bilateral.py::TestBilateralBlur::test_gradcheck"),
    ("kornia.color.rgb_to_hsv", "tests/color/test_hsv.py::TestRgbToHsv::test_gradcheck"),
    ("kornia.color.rgb_to_lab", "tests/color/test_lab.py::TestRgbToLab::test_gradcheck"),
    ("kornia.color.rgb_to_luv", "tests/color/test_luv.py::TestRgbToLuv::test_gradcheck"),
    ("kornia.color.rgb_to_yuv", "tests/color/test_yuv.py::TestRgbToYuv::test_gradcheck"),
    (
        "kornia.enhance.adjust_saturation",
        "tests/enhance/test_adjust.py::TestAdjustSaturation::test_gradcheck",
    ),
    ("kornia.losses.ssim_loss", "tests/losses/test_ssim.py::TestSSIMLoss::test_gradcheck"),
    (
        "kornia.losses.total_variation",
        "tests/losses/test_total_variation.py::TestTotalVariation::test_gradcheck",
    ),
    (
        "kornia.losses.charbonnier_loss",
        "tests/losses/test_charbonnier.py::TestCharbonnierLoss::test_gradcheck",
    ),
    (
        "kornia.geometry.conversions.axis_angle_to_quaternion",
        "tests/geometry/test_conversions.py::TestAngleAxisToQuaternion::test_gradcheck",
    ),
    (
        "kornia.geometry.conversions.quaternion_to_axis_angle",
        "tests/geometry/test_conversions.py::TestQuaternionToAngleAxis::test_gradcheck",
    ),
    (
        "kornia.geometry.conversions.rotation_matrix_to_quaternion",
        "tests/geometry/test_conversions.py::TestRotationMatrixToQuaternion::test_gradcheck",
    ),
    (
        "kornia.geometry.get_perspective_transform",
        "tests/geometry/transform/test_imgwarp.py::TestGetPerspectiveTransform::test_gradcheck",
    ),
    ("kornia.geometry.depth.depth_to_3d", "tests/geometry/test_depth.py::TestDepthTo3d::test_gradcheck"),
    (
        "kornia.geometry.depth.depth_to_normals",
        "tests/geometry/test_depth.py::TestDepthToNormals::test_gradcheck",
    ),
    (
        "kornia.geometry.transform_points",
        "tests/geometry/test_linalg.py::TestTransformPoints::test_gradcheck",
    ),
    (
        "kornia.geometry.linalg.compose_transformations",
        "tests/geometry/test_linalg.py::TestComposeTransforms::test_gradcheck",
    ),
    (
        "kornia.geometry.epipolar.normalize_points",
        "tests/geometry/epipolar/test_fundamental.py::TestNormalizePoints::test_gradcheck",
    ),
    (
        "kornia.feature.harris_response",
        "tests/feature/test_responces_local_features.py::TestCornerHarris::test_gradcheck",
    ),
    (
        "kornia.geometry.subpix.spatial_soft_argmax2d",
        "tests/geometry/subpix/test_spatial_softargmax.py::TestSpatialSoftArgmax2d::test_gradcheck",
    ),
)


def plant_for(nodeid: str) -> str | None:
    """The function planted during the test ``nodeid`` (any parametrization of a test of :data:`PLANTS`)."""
    base = nodeid.partition("[")[0]
    return next((func for func, test in PLANTS if test == base), None)


def _scaled_function() -> type:
    import torch

    class Scaled(torch.autograd.Function):
        """The identity, whose backward multiplies the incoming gradient by ``factor`` (a number, or a
        tensor of the output's shape); its forward-mode derivative is the true one."""

        generate_vmap_rule = True

        @staticmethod
        def forward(x: torch.Tensor, factor: Any) -> torch.Tensor:
            return x.clone()

        @staticmethod
        def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
            ctx.factor = inputs[1]

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
            return grad * ctx.factor, None

        @staticmethod
        def jvp(ctx: Any, tangent: torch.Tensor, _: Any) -> torch.Tensor:
            return tangent.clone()

    return Scaled


def _factor(output: Any, mode: str) -> Any:
    """``1 + SIZE`` (mode ``all``), or a tensor of the output's shape, ``1 + SIZE`` at its first element only."""
    import torch

    if mode == "all":
        return 1.0 + SIZE
    first = (torch.arange(output.numel(), device=output.device) == 0).reshape(output.shape)
    return 1.0 + SIZE * first.to(output.dtype)


def planted(func: Callable[..., Any], mode: str, counter: list[int]) -> Callable[..., Any]:
    """``func`` with the error planted in its first floating tensor output (of a tuple or list: the first
    floating element); ``counter[0]`` counts the calls it was planted in."""
    import torch

    scaled = _scaled_function()

    def corrupt(value: Any) -> tuple[Any, bool]:
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            return scaled.apply(value, _factor(value, mode)), True
        return value, False

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = func(*args, **kwargs)
        values = list(result) if isinstance(result, (tuple, list)) else [result]
        for index, value in enumerate(values):
            values[index], done = corrupt(value)
            if done:
                counter[0] += 1
                break
        if isinstance(result, (tuple, list)):
            return type(result)(values) if type(result) in (tuple, list) else type(result)(*values)
        return values[0]

    return wrapper


def swap(original: Any, replacement: Any) -> list[tuple[dict[str, Any], str]]:
    """Replace ``original`` by ``replacement`` in every loaded module's namespace; the places replaced."""
    places = []
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for name, value in list(namespace.items()):
            if value is original:
                namespace[name] = replacement
                places.append((namespace, name))
    return places


def _resolve(path: str) -> Any:
    module, _, attribute = path.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Plant the error for the duration of a test of :data:`PLANTS` (the plugin's one hook)."""
    path, mode = plant_for(item.nodeid), os.environ.get("KORNIA_PLANT", "")
    if path is None or mode not in ("all", "one"):
        return (yield)
    original, counter = _resolve(path), [0]
    places = swap(original, planted(original, mode, counter))
    try:
        return (yield)
    finally:
        for namespace, name in places:
            namespace[name] = original
        log = os.environ.get("KORNIA_PLANT_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as file:
                file.write(json.dumps({"test": item.nodeid, "function": path, "planted": counter[0]}) + "\n")


def catch_lines(
    clean: dict[str, dict[str, str]], bugged: dict[str, dict[str, str]], counts: dict[str, int]
) -> list[str]:
    """Per function: each tool's clean and planted outcome (``outcome`` per tool, by function); then each
    tool's catch rate over the functions whose test passes clean under it and had the error planted."""
    tools = ("torch", "ours")
    lines = [f"{'function':<56} {'planted':>7} " + " ".join(f"{t + ' clean/bug':>18}" for t in tools)]
    caught = {t: 0 for t in tools}
    eligible = {t: 0 for t in tools}
    for func, _ in PLANTS:
        cells = []
        for tool in tools:
            before, after = (
                clean.get(tool, {}).get(func, "missing"),
                bugged.get(tool, {}).get(func, "missing"),
            )
            cells.append(f"{before + '/' + after:>18}")
            if before == "pass" and counts.get(func, 0) > 0:
                eligible[tool] += 1
                caught[tool] += after == "fail"
        lines.append(f"{func:<56} {counts.get(func, 0):>7} " + " ".join(cells))
    for tool in tools:
        rate = caught[tool] / eligible[tool] if eligible[tool] else float("nan")
        lines.append(f"{tool}: caught {caught[tool]} of {eligible[tool]} planted errors ({rate:.0%})")
    return lines


def _by_function(cases: dict[str, Any]) -> dict[str, str]:
    """A function's outcome over every parametrization of its test: fail if any fails, else error, else pass."""
    from kornia_suite import dotted

    found: dict[str, str] = {}
    rank = {"fail": 3, "error": 2, "pass": 1, "skip": 0}
    for func, test in PLANTS:
        outcomes = [c.outcome for name, c in cases.items() if name.partition("[")[0] == dotted(test)]
        found[func] = max(outcomes, key=lambda o: rank.get(o, 0)) if outcomes else "missing"
    return found


def planted_main(args: argparse.Namespace) -> int:
    """Run the tests of :data:`PLANTS` clean and with the error planted, under both tools; print the table."""
    from kornia_suite import TOOLS, load, run_session, session_env

    tests = sorted({test for _, test in PLANTS})
    results: dict[str, dict[str, dict[str, str]]] = {"clean": {}, "bug": {}}
    counts: dict[str, int] = {}
    for state in ("clean", "bug"):
        folder = args.out / f"planted-{args.planted}-{state}"
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / "plants.jsonl"
        log.unlink(missing_ok=True)
        env = {
            **session_env(),
            "KORNIA_PLANT": args.planted if state == "bug" else "",
            "KORNIA_PLANT_LOG": str(log),
        }
        for tool in TOOLS:
            if not args.reuse:
                seconds = run_session(args.kornia, tool, folder, ["-p", "kornia_plants", *tests], env)
                print(f"{state} {tool}: {seconds:.0f} s", flush=True)
            results[state][tool] = _by_function(load(folder, tool))
        if state == "bug" and log.exists():
            for line in log.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                counts[record["function"]] = max(counts.get(record["function"], 0), record["planted"])
    print("\n".join(catch_lines(results["clean"], results["bug"], counts)))
    return 0


if __name__ == "__main__":
    sys.exit(
        f"run benchmarks/kornia_suite.py KORNIA --planted all; this module is its plugin ({Path(__file__).name})"
    )
