"""--gradcheck-patch-torch (and the ini's gradcheck_patch_torch): a suite written for
torch.autograd.gradcheck gets the same pass/fail from our drop-ins, with our table in the failure message."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from typing import Any

import pytest
import torch

from gradcheck_cli.compat import gradcheck, gradgradcheck, patch_torch

PLUGIN = "gradcheck_cli.pytest_plugin"

SUITE = """
import sys

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck
from torch.autograd.gradcheck import GradcheckError

X = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64, requires_grad=True)
Y = torch.tensor([-1.0, 0.25, 3.0], dtype=torch.float64, requires_grad=True)


class Square(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * x * grad


class Exp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        out = torch.exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return out * grad


class Mul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        return grad * y, grad * x


class Sine(torch.autograd.Function):  # the bug: 1% off
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.sin(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * torch.cos(x) * 1.01


def test_square():
    assert gradcheck(Square.apply, (X,))


def test_exp_through_the_package_attribute():
    assert torch.autograd.gradcheck(Exp.apply, (X,), eps=1e-6, atol=1e-5)


def test_mul_through_the_module_attribute():
    assert sys.modules["torch.autograd.gradcheck"].gradcheck(Mul.apply, (X, Y))


def test_second_order():
    assert gradgradcheck(Square.apply, (X,))


def test_the_bug_is_caught_as_torch_catches_it():
    with pytest.raises(GradcheckError):
        torch.autograd.gradcheck(Sine.apply, (X,))


def test_the_bug():
    assert gradcheck(Sine.apply, (X,))
"""


@pytest.fixture(autouse=True, scope="module")
def _torch_loaded_before_pytester() -> None:
    """Import what a check of a custom Function imports lazily before the in-process runs: pytester unloads
    the modules a run imported, and torch crashes when its C-backed modules are imported twice."""
    from sample_functions.wrong_backward import cube

    x = torch.tensor([0.5, 2.0], dtype=torch.float64, requires_grad=True)
    assert (
        gradcheck(torch.sin, x)
        and gradgradcheck(torch.sin, x)
        and not gradcheck(cube, x, raise_exception=False)
    )
    assert gradcheck(
        torch.sin, x, check_forward_ad=True, check_batched_grad=True, check_batched_forward_grad=True
    )


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    installed = any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))
    return pytester.runpytest(*([] if installed else ["-p", PLUGIN]), "-p", "no:cacheprovider", *args)


def _failure(result: pytest.RunResult) -> str:
    text = result.stdout.str()
    return text[text.index("test_the_bug ___") : text.index("short test summary")]


def test_a_torch_suite_gives_the_same_verdicts_with_our_table(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    torchs = _run(pytester)
    torchs.assert_outcomes(passed=5, failed=1)
    assert "Jacobian mismatch" in _failure(torchs)
    ours = _run(pytester, "--gradcheck-patch-torch")
    ours.assert_outcomes(passed=5, failed=1)
    failure = _failure(ours)
    assert (
        "gradcheck failed: FAIL" in failure and "| status" in failure and "Jacobian mismatch" not in failure
    )
    assert sys.modules["torch.autograd.gradcheck"].gradcheck is not gradcheck  # put back after the session
    assert torch.autograd.gradcheck is not gradcheck


def test_the_ini_switch(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    pytester.makeini("[pytest]\ngradcheck_patch_torch = true\n")
    result = _run(pytester, "-k", "test_the_bug")
    result.assert_outcomes(passed=1, failed=1)
    assert "gradcheck failed: FAIL" in _failure(result)


def test_patch_torch_replaces_both_names_and_puts_them_back() -> None:
    module: Any = sys.modules["torch.autograd.gradcheck"]
    before = (torch.autograd.gradcheck, torch.autograd.gradgradcheck, module.gradcheck, module.gradgradcheck)
    restore = patch_torch()
    try:
        assert (torch.autograd.gradcheck, module.gradgradcheck) == (gradcheck, gradgradcheck)
    finally:
        restore()
    assert (
        torch.autograd.gradcheck,
        torch.autograd.gradgradcheck,
        module.gradcheck,
        module.gradgradcheck,
    ) == before


def test_the_report_lists_every_patched_call_and_fails_where_one_failed(pytester: pytest.Pytester) -> None:
    import json

    pytester.makepyfile(test_suite=SUITE)
    result = _run(pytester, "--gradcheck-patch-torch", "--gradcheck-report", "report.json")
    result.assert_outcomes(passed=5, failed=1)
    report = json.loads((pytester.path / "report.json").read_text())
    verdicts = {t["target"].split("::")[1]: t["verdict"] for t in report["targets"]}
    assert verdicts == {
        "test_square": "PASS",
        "test_exp_through_the_package_attribute": "PASS",
        "test_mul_through_the_module_attribute": "PASS",
        "test_second_order": "PASS",
        # raised and caught by pytest.raises: the test passes, the check failed, and the report says so
        "test_the_bug_is_caught_as_torch_catches_it": "FAIL",
        "test_the_bug": "FAIL",
    }
    assert len(report["targets"]) == 6 and report["targets"][0]["target"].endswith("::Square.apply")
    assert report["verdict"] == "FAIL"
