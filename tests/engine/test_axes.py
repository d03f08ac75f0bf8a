"""Block axes are data: a probe axis keeps the argument's name and says kind "probe"; labels derive from it."""

from __future__ import annotations

import torch

import gradcheck_cli


def test_probe_blocks_name_the_argument_and_mark_their_axes_as_probes() -> None:
    result = gradcheck_cli.check(
        lambda weight: weight.tanh(), torch.rand(40, dtype=torch.float64), mode="probe"
    )
    probes = [b for b in result.blocks if b.probes]
    assert probes and {b.input_name for b in probes} == {"weight"}
    assert {(b.output_axis.kind, b.input_axis.kind) for b in probes} == {("probe", "probe")}
    outs, ins = probes[0].labels()
    assert outs[0] == "v·out (probe 0)" and ins == ["weight·u"]
    assert set(result.by_input()) == {"weight"}


def test_the_other_mode_along_random_directions_has_one_probe_axis() -> None:
    x = torch.rand(40, dtype=torch.float64)  # past SECONDARY_BASIS: forward mode along random directions
    result = gradcheck_cli.check(lambda x: (x[:3] * x.sum()).sin(), x)
    (forward,) = [b for b in result.secondary if b.mode == "forward"]
    assert (forward.output_axis.kind, forward.input_axis.kind) == ("element", "probe")
    assert forward.input_name == "x" and forward.input_axis.label((2,)) == "x·u (probe 2)"
