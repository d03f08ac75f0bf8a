"""The step-size study behind gradcheck sweep."""

from __future__ import annotations

import numpy as np
import torch
from rich.console import Console

from gradcheck_cli.engine.sweep import sweep
from gradcheck_cli.render.sweep_chart import render
from sample_functions.models import TinyNet
from sample_functions.tutorial import calc


def test_the_error_is_v_shaped_and_the_chosen_step_sits_near_its_bottom() -> None:
    result = sweep(calc, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    assert result.reference == "complex-step" and result.steps[0] == 1.0 and result.steps[-1] <= 1e-16
    for method in ("forward", "central"):
        errors = result.errors[method]
        bottom = int(np.argmin(errors))
        assert 0 < bottom < len(errors) - 1
        assert errors[0] > 1e3 * errors[bottom] and errors[-1] > 1e3 * errors[bottom]  # both arms rise
        chosen = result.chosen[method]
        assert abs(np.log10(chosen) - np.log10(result.best(method))) <= 1.6  # within a decade and a half
    assert min(result.errors["central"]) < 1e-9 < min(result.errors["forward"])


def test_the_chart_marks_the_chosen_steps() -> None:
    result = sweep(calc, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    console = Console(width=200, record=True, no_color=True)
    console.print(render(result, "calc", ascii=True))
    text = console.export_text()
    assert "the steps the checker chose" in text and "^" in text
    assert "<- central chosen" in text and "<- forward chosen" in text
    assert text.count("c") > 20 and "1e-16" in text


def test_a_model_is_swept_along_its_input_with_its_parameters_fixed() -> None:
    torch.manual_seed(0)
    model = TinyNet().double()
    result = sweep(model, torch.linspace(-1, 1, 10, dtype=torch.float64))
    for method in ("forward", "central"):
        errors = result.errors[method]
        bottom = int(np.argmin(errors))
        assert errors[0] > 1e3 * errors[bottom] and errors[-1] > 1e3 * errors[bottom]
    assert result.taylor is not None and 1.8 < result.taylor.slope < 2.2
