"""Notes are data (kind and values) from the engine, worded only by render/notes.py."""

from __future__ import annotations

import json

import torch

import gradcheck_cli
from gradcheck_cli.render.notes import structured, word, worded
from gradcheck_cli.result import Note


def test_an_independent_output_is_a_note_with_its_names_worded_in_render() -> None:
    result = gradcheck_cli.check(
        lambda a, b: (a.sin(), b * 2),
        (torch.rand(2, dtype=torch.float64), torch.rand(3, dtype=torch.float64)),
    )
    independent = [note for note in result.notes if note.kind == "independent"]
    assert {(n.values["output"], n.values["input"]) for n in independent} == {("out0", "b"), ("out1", "a")}
    assert "out0 does not depend on b (autograd): a zero block" in worded(result)


def test_probe_notes_hold_the_probes_and_the_localised_ranges_as_numbers() -> None:
    x = torch.linspace(-1, 1, 80, dtype=torch.float64)

    class Wrong(torch.autograd.Function):
        @staticmethod
        def forward(ctx, v):  # type: ignore[no-untyped-def]
            ctx.save_for_backward(v)
            return v.sin()

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            (v,) = ctx.saved_tensors
            grad = g * v.cos()
            grad[7] *= 2  # a wrong element
            return grad

    # Past the memory bound (no escalation to the full check) the probe check localises the failure itself.
    result = gradcheck_cli.check(Wrong.apply, x, mode="probe", forward=False, seed=1, max_memory=str(2**20))
    kinds = [note.kind for note in result.notes]
    assert kinds[0] == "probes" and result.notes[0].values["count"] == 4
    (found,) = [note for note in result.notes if note.kind == "localised"]
    assert found.values["modes"] == ("reverse",)
    assert any(lo <= 7 < hi for lo, hi in found.values["ranges"])


def test_the_json_report_carries_kind_values_and_text() -> None:
    note = Note("strict-kinks", {"count": 2})
    assert word(note) == "--strict-kinks: 2 KINK entries counted as failing"
    result = gradcheck_cli.check(torch.abs, torch.tensor([0.0, 1.0], dtype=torch.float64), strict_kinks=True)
    (kinks,) = [n for n in structured(result) if n["kind"] == "strict-kinks"]
    assert kinks["values"] == {"count": 1} and kinks["text"].startswith("--strict-kinks: 1 KINK entry")
    assert json.dumps(structured(result))  # plain JSON data
