"""gradcheck run on real code: constant arguments (--arg, --wrt), structured outputs, complex functions,
models with integer inputs and factories (the sample_functions for each)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradcheck_cli.cli import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def point(*args: str) -> dict:
    code, out, err = run(*args, "--format", "json")
    assert code in (0, 1), err
    return json.loads(out)["targets"][0]["points"][0]


def test_constant_arguments_pass_and_are_listed(repo_cwd: Path) -> None:
    found = point(
        "sample_functions/arguments.py:power",
        *("--x", "0.5,1.5,2", "--arg", "n=3", "--arg", "idx=tensor([0,2])"),
        *("--arg", "scale=2.5", "--arg", "flag=True"),
    )
    assert found["verdict"] == "PASS"
    constants = {a["name"]: a["reason"] for a in found["arguments"] if not a["differentiated"]}
    assert constants == {"n": "number", "idx": "integer", "scale": "number", "flag": "bool"}
    assert any("held constant: n = 3" in note for note in (n["text"] for n in found["notes"]))


def test_an_int_exponent_given_as_x_is_perturbed_and_fails(repo_cwd: Path) -> None:
    # Without --arg, n is a differentiated float tensor and int(n) hides its derivative: a false gradient.
    code, _, _ = run("sample_functions/arguments.py:power", "--x", "0.5,1.5,2", "--x", "3")
    assert code == 1


def test_wrt_chooses_the_differentiated_argument(repo_cwd: Path) -> None:
    found = point("sample_functions/arguments.py:weighted", "--x", "1,2,3", "--x", "0.5,0.5,2", "--wrt", "w")
    assert found["verdict"] == "PASS" and list(found["values"]) == ["w"]
    code, _, err = run("sample_functions/arguments.py:weighted", "--x", "1", "--x", "2", "--wrt", "v")
    assert code == 2 and "wrt names 'v'" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("target", "x", "skipped"),
    [
        ("outputs.py:column_max", "[[1,5],[4,2],[3,6]]", {"out.indices": "integer"}),
        ("outputs.py:probabilities", "0.5,-1,2", {"out1": "integer", "out2": "no-history"}),
        ("outputs.py:statistics", "1,2,4", {"out['count']": "not-a-tensor"}),
    ],
)
def test_structured_outputs_pass_with_a_note_per_skipped_output(repo_cwd: Path, target, x, skipped) -> None:
    found = point(f"sample_functions/{target}", "--x", x)
    assert found["verdict"] == "PASS"
    assert {s["name"]: s["reason"] for s in found["skipped_outputs"]} == skipped
    assert sum("not checked" in note for note in (n["text"] for n in found["notes"])) == len(skipped)


@pytest.mark.parametrize(
    "args",
    [
        ("complex_functions.py:square", "--x", "1+2j,3-1j"),
        ("complex_functions.py:spectrum", "--x", "1,2,0.5,-1", "--dtype", "complex128"),
        ("complex_functions.py:phase", "--x", "0.1,0.7,2"),
    ],
)
def test_complex_functions_pass_without_the_complex_step(repo_cwd: Path, args) -> None:
    found = point(f"sample_functions/{args[0]}", *args[1:])
    assert found["verdict"] == "PASS" and found["method"] != "complex-step"
    assert any("real and imaginary parts" in note for note in (n["text"] for n in found["notes"]))


def test_a_wrong_complex_backward_names_the_part_and_the_entry(repo_cwd: Path) -> None:
    code, out, _ = run("sample_functions/complex_functions.py:wrong_square", "--x", "1+2j,3-1j,0.5j")
    rows = [line for line in out.splitlines() if "|" in line and line.rstrip().endswith("FAIL")]
    failing = [row.split("|")[:2] for row in rows]
    assert code == 1 and failing
    assert {(o.strip(), i.strip()) for o, i in failing} <= {
        (f"out.{a}[1]", f"z.{b}[1]") for a in ("real", "imag") for b in ("real", "imag")
    }


def test_an_embedding_model_checks_its_parameters_with_ids_constant(repo_cwd: Path) -> None:
    found = point("sample_functions/embedding.py:Tagger", "--arg", "ids=tensor([0,3,3,1])")
    assert found["verdict"] == "PASS" and list(found["values"]) == ["emb.weight", "head.weight", "head.bias"]
    assert any("eval mode" in note for note in (n["text"] for n in found["notes"]))


@pytest.mark.parametrize("factory", ["make", "resnet_style"])
def test_factories_with_defaulted_parameters_are_models(repo_cwd: Path, factory: str) -> None:
    found = point(f"sample_functions/embedding.py:{factory}", "--x-shape", "4,3")
    assert found["verdict"] == "PASS" and "0.weight" in found["values"]


def test_train_keeps_training_mode(repo_cwd: Path) -> None:
    found = point("sample_functions/embedding.py:resnet_style", "--x-shape", "4,3", "--train")
    assert found["verdict"] == "PASS" and any(
        "training mode" in note for note in (n["text"] for n in found["notes"])
    )


def test_a_loss_closing_over_a_linear_layer_passes_with_forward_mode(write_module) -> None:
    write_module(
        "loss",
        "import torch\ntorch.manual_seed(0)\nlayer = torch.nn.Linear(3, 2).double()\n"
        "def loss(x):\n    return layer(x).tanh().sum()\n",
    )
    code, out, err = run("loss.py:loss", "--x", "1,2,3", "--forward")
    assert code == 0 and "forward mode also checked" in out, err


def test_a_wrong_batching_rule_of_torch_passes_with_the_note(repo_cwd: Path) -> None:
    code, out, _ = run(
        "sample_functions/batching_bug.py:nearest", "--x", "[[0.1,0.2],[1,-1],[0.5,2],[-1,0.3],[2,2]]"
    )
    assert code == 0 and "batching-rule failure" in out and "CdistBackward0" in out
