"""Contracts in every output: the table, JSON (against the schema), JUnit, Markdown and GitHub."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest
import torch

from gradcheck_cli import check
from gradcheck_cli.contract import CONTRACTS, Contract
from gradcheck_cli.render.contracts import TITLES, contract_line
from gradcheck_cli.render.formats import render
from gradcheck_cli.render.json_report import schema
from gradcheck_cli.report import PointLabel, Report, TargetReport
from sample_functions.ignores_grad_output import sum_of_squares

X = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)


@pytest.fixture(scope="module")
def report() -> Report:
    results = (check(sum_of_squares, X), check(torch.tanh, X))
    target = TargetReport(
        "ignores_grad_output.py:sum_of_squares",
        labels=(PointLabel(0, "x"), PointLabel(1, "x")),
        results=results,
    )
    return Report((target,))


def test_every_contract_has_a_title_and_a_sentence_for_each_way_it_breaks() -> None:
    assert set(TITLES) == set(CONTRACTS)
    assert contract_line(Contract("grad_metadata", True)).endswith(": PASS")
    shape = Contract("grad_metadata", False, input_name="x", aspect="shape", expected="(3,)", found="(2,)")
    assert "the gradient of x has shape (2,), expected (3,)" in contract_line(shape)
    raised = Contract("undefined_grad", False, output_name="*", error="TypeError: bad")
    assert contract_line(raised).endswith("FAIL: the backward raised TypeError: bad")
    for name in CONTRACTS:
        broken = contract_line(Contract(name, False, input_name="x", output_name="0", found="1"))
        assert broken.startswith(f"contract {name} (") and ": FAIL: " in broken


def test_the_table_says_which_contract_broke_and_lists_all_that_ran(report: Report) -> None:
    text = render(report, "table")
    assert (
        "contract zero_grad_output (zero output gradient gives zero): FAIL: a zero output gradient gives x"
        in text
    )
    assert "contracts: grad_metadata PASS, zero_grad_output FAIL, undefined_grad FAIL" in text
    assert "contracts: grad_metadata PASS, zero_grad_output PASS, undefined_grad PASS" in text


def test_json_holds_each_contract_and_validates(report: Report) -> None:
    document = json.loads(render(report, "json"))
    jsonschema.validate(document, schema())
    broken, right = document["targets"][0]["points"]
    assert [(c["name"], c["passed"]) for c in broken["contracts"]] == [
        ("grad_metadata", True),
        ("zero_grad_output", False),
        ("undefined_grad", False),
    ]
    assert broken["contracts"][1] | {"error": ""} == {
        "name": "zero_grad_output",
        "passed": False,
        "input": "x",
        "output": "",
        "aspect": "",
        "expected": "0",
        "found": "4",
        "error": "",
    }
    assert broken["verdict"] == "FAIL" and right["verdict"] == "PASS"
    bad = json.loads(json.dumps(document))
    bad["targets"][0]["points"][0]["contracts"][0]["name"] = "made_up"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema())


def test_junit_markdown_and_github_name_the_broken_contract(report: Report) -> None:
    failure = ET.fromstring(render(report, "junit")).find(".//failure")
    assert failure is not None and failure.get("type") == "BrokenContract"
    assert "zero_grad_output" in failure.get("message", "") and "contract undefined_grad" in (
        failure.text or ""
    )
    assert "- contract zero_grad_output" in render(report, "markdown")
    assert "contract zero_grad_output" in render(report, "github")
