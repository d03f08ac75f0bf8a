"""Blame: the failing submodule of a model, the failing custom autograd.Function of a function."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

import gradcheck_cli
import gradcheck_cli.compat
from gradcheck_cli.engine.blame import find_blame
from gradcheck_cli.engine.canonical import prepare
from gradcheck_cli.errors import UsageError
from gradcheck_cli.render.diagnosis_text import blame_lines, diagnosis_lines
from sample_functions import diagnose


def _five_layers() -> gradcheck_cli.CheckResult:
    torch.manual_seed(0)
    model = diagnose.five_layers().double()
    return gradcheck_cli.check(model, torch.randn(3, 4, dtype=torch.float64))


def test_the_failing_submodule_is_named_with_its_class_and_pattern() -> None:
    result = _five_layers()
    assert result.verdict == "FAIL" and result.failed_inputs == ("2.weight",)
    blame = result.diagnosis.blame
    assert blame is not None and blame.kind == "module"
    (culprit,) = blame.culprits
    assert (culprit.name, culprit.cls, culprit.failed_inputs) == ("2", "ScaledWeight", ("weight",))
    assert [(name, p.kind) for name, p in culprit.patterns] == [("weight", "scaled")]
    assert abs(culprit.patterns[0][1].values["k"] - 1.01) < 1e-6
    assert [c.name for c in blame.children("2")] == ["2.act"] and blame.children("2")[0].verdict == "PASS"
    assert sorted(s.name for s in blame.passing) == ["0", "1", "2.act", "3", "4"]
    lines = "\n".join(diagnosis_lines(result))
    assert (
        "blame: 2 (ScaledWeight): gradient wrong w.r.t. weight (scaled by 1.01); its children pass: 2.act (Tanh)"
        in lines
    )
    assert "pattern: d out / d 2.weight (reverse): scaled by 1.01" in lines


def test_the_failing_function_is_named_with_its_call_line_and_pattern() -> None:
    result = gradcheck_cli.check(diagnose.chain, torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64))
    blame = result.diagnosis.blame
    assert blame is not None and blame.kind == "function"
    (culprit,) = blame.culprits
    source, start = inspect.getsourcelines(diagnose.chain)
    line = start + next(i for i, text in enumerate(source) if "Mix.apply" in text)
    assert (culprit.cls, culprit.line, culprit.file) == ("Mix", line, diagnose.__file__)
    assert culprit.source == "y = Mix.apply(y)"
    assert [(n, p.kind) for n, p in culprit.patterns] == [("input 0", "transposed")]
    assert sorted(s.cls for s in blame.passing) == ["Exp", "Sin"]


def test_a_passing_check_runs_no_blame_and_off_turns_it_off() -> None:
    x = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    assert gradcheck_cli.check(lambda v: diagnose.Exp.apply(v), x).diagnosis is None
    off = gradcheck_cli.check(diagnose.chain, x, blame="off")
    assert off.verdict == "FAIL" and off.diagnosis is not None and off.diagnosis.blame is None
    with pytest.raises(UsageError, match=r"blame = .maybe. is invalid"):
        gradcheck_cli.check(diagnose.chain, x, blame="maybe")


def test_the_bound_skips_large_pieces_and_says_so() -> None:
    torch.manual_seed(0)
    big = nn.Sequential(nn.Linear(70, 70), nn.Tanh()).double()
    call = prepare(big, torch.randn(1, 70, dtype=torch.float64))
    bounded = find_blame(call.func, call.leaves, bounded=True)
    assert bounded.skipped == 1 and [s.name for s in bounded.suspects] == ["1"]
    # Nothing failing was found, but not everything was checked: never "the wrong gradient is outside them".
    (line,) = [line for line in blame_lines(bounded) if "fails" in line or "outside" in line]
    assert "1 past the bound were not checked" in line
    assert find_blame(call.func, call.leaves, bounded=False).skipped == 0


def test_a_function_without_custom_functions_says_every_piece_passes() -> None:
    result = gradcheck_cli.check(diagnose.chain, torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64))
    assert result.diagnosis.blame.culprits
    plain = find_blame(torch.sin, (torch.tensor([0.5], dtype=torch.float64),))
    assert plain.suspects == () and plain.culprits == ()


def test_a_custom_function_passed_as_its_apply_is_blamed() -> None:
    # MyFunction.apply bound before blame runs (the target itself, or an alias made at import time)
    x = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    mix = diagnose.Mix.apply
    for target in (diagnose.Mix.apply, lambda v: mix(v).exp()):
        result = gradcheck_cli.check(target, x)
        assert result.verdict == "FAIL"
        (culprit,) = result.diagnosis.blame.culprits
        assert culprit.cls == "Mix" and [p.kind for _, p in culprit.patterns] == ["transposed"]
    with pytest.raises(gradcheck_cli.compat.GradcheckFailure, match="blame: Mix called at"):
        gradcheck_cli.gradcheck(diagnose.Mix.apply, (x.clone().requires_grad_(True),))
