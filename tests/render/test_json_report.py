"""The JSON report: the shipped schema, every entry, error estimates, probe columns."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from gradcheck_cli.cli import cli
from gradcheck_cli.render.formats import render
from gradcheck_cli.render.json_report import SCHEMA_VERSION, document, schema
from gradcheck_cli.report import Report
from gradcheck_cli.result import Status
from sample_functions.tutorial import calc


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


TUTORIAL = "sample_functions/tutorial.py:calc"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


def test_json_validates_against_the_shipped_schema_and_holds_every_entry(report: Report) -> None:
    data = json.loads(render(report, "json"))
    jsonschema.Draft202012Validator.check_schema(schema())
    jsonschema.validate(data, schema())
    assert (data["version"], data["verdict"], data["passed"], data["exit_code"]) == (
        SCHEMA_VERSION,
        "FAIL",  # a wrong gradient outranks a target that could not be checked
        False,
        1,
    )
    assert data["summary"] == {
        "targets": 3,
        "points": 3,
        "failed_points": 2,
        "wrong_points": 2,
        "unverified_points": 0,
        "errors": 1,
    }
    right, wrong, broken = data["targets"]
    assert [t["verdict"] for t in data["targets"]] == ["PASS", "FAIL", "ERROR"]
    assert [p["verdict"] for p in wrong["points"]] == ["FAIL", "FAIL"]
    assert right["file"].endswith("tutorial.py") and right["line"] == inspect.getsourcelines(calc)[1]
    entry = right["points"][0]["entries"][0]
    assert (entry["output"], entry["input"], entry["status"], entry["mode"]) == (
        "out",
        "a[0]",
        "PASS",
        "reverse",
    )
    assert entry["autograd"] == pytest.approx(8 / 121, rel=1e-12)
    assert set(entry["numerical"]) == {"central", "forward", "richardson"}
    assert entry["reference"] == "richardson"  # settled by the first pass (engine/first_pass.py)
    cube = wrong["points"][0]
    assert cube["size"] == len(cube["entries"]) == 9 and cube["counts"]["FAIL"] == 2
    failing = {(e["output"], e["input"]): e for e in cube["entries"] if e["status"] == "FAIL"}
    assert set(failing) == {("out[0]", "x[0]"), ("out[2]", "x[2]")}
    assert failing["out[2]", "x[2]"]["autograd"] == 6.0
    flat = wrong["points"][1]["entries"][0]
    assert flat["rel_err"] == "inf" and wrong["points"][1]["max_rel_err"] == "inf"  # JSON has no inf
    assert broken["points"] == [] and broken["error"].startswith("the function raised")


def test_schema_admits_every_status_and_rejects_a_malformed_report(report: Report) -> None:
    pattern = schema()["$defs"]["status"]["pattern"]
    assert all(re.fullmatch(pattern, status.value) for status in Status)
    data = document(report)
    data["targets"][0]["points"][0]["entries"][0]["status"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema())
    del data["targets"][1]["points"][0]["entries"][0]["autograd"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema())


def test_json_report_of_a_failing_probe_check_holds_the_full_check_it_escalated_to(repo_cwd: Path) -> None:
    code, out, _ = run(
        "sample_functions/wrong_backward.py:cube",
        "--x",
        "[0.5,1,2,3,4]",
        "--mode",
        "probe",
        "--format",
        "json",
    )
    assert code == 1
    import json

    (target,) = json.loads(out)["targets"]
    (point,) = target["points"]
    assert point["mode"] == "full" and point["failed_modes"] == ["reverse"]
    assert "escalated" in {note["kind"] for note in point["notes"]}
    failing = sorted(
        {e["input"] for e in point["entries"] if e["status"] == "FAIL" and "·" not in e["input"]}
    )
    assert failing == ["x[0]", "x[2]", "x[3]", "x[4]"]


def test_json_carries_the_error_estimates_the_details_and_the_reference_dtype(repo_cwd: Path) -> None:
    import json

    import jsonschema

    from gradcheck_cli.render.json_report import schema

    code, out = invoke("run", "sample_functions/kink.py:absolute", "--x", "-1,0,2", "--format", "json")
    data = json.loads(out)
    assert code == 0
    jsonschema.validate(data, schema())
    (point,) = data["targets"][0]["points"]
    assert point["reference_dtype"] == "float64" and point["counts"]["KINK"] >= 1
    kinks = [e for e in point["entries"] if e["status"] == "KINK"]
    assert kinks and all("one-sided slopes -1 (left) and 1 (right)" in e["detail"] for e in kinks)
    assert all(isinstance(e["reference_error"], float) for e in point["entries"])
    code, out = invoke("run", TUTORIAL, "--x", "1,2,3", "--dtype", "float32", "--format", "json")
    assert code == 0 and json.loads(out)["targets"][0]["points"][0]["reference_dtype"] == "float64"


def test_every_entry_carries_its_named_error_terms(report: Report) -> None:
    data = document(report)
    entries = [e for t in data["targets"] for p in t["points"] for e in p["entries"]]
    assert entries and all("terms" in e for e in entries)
    estimated = [e for e in entries if "truncation" in e["terms"]]
    assert estimated
    for entry in estimated:
        parts = [entry["terms"].get(n, 0.0) for n in ("truncation", "roundoff", "noise", "scales")]
        assert sum(parts) == pytest.approx(entry["reference_error"], rel=1e-12)
        assert entry["terms"]["autograd"] > 0
