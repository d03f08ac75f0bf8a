"""gradcheck run without a TARGET: the checks of [tool.gradcheck], their options and seeds, gradcheck list."""

from __future__ import annotations

import json
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from gradcheck_cli.cli import cli
from gradcheck_cli.render.json_report import schema

REPO = Path(__file__).resolve().parents[2]


TWO_CHECKS = """
[project]
name = "demo"

[tool.gradcheck]
rtol = 1e-5

[[tool.gradcheck.checks]]
target = "funcs/tutorial.py:calc"
x = ["1,2,3"]

[[tool.gradcheck.checks]]
name = "cube"
target = "funcs/wrong_backward.py:cube"
x = ["0.5,1,2"]
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose pyproject.toml configures two checks, the second with a wrong gradient; cwd is a
    subdirectory of it (the config is found by walking up)."""
    (tmp_path / "funcs").mkdir()
    for name in ("tutorial.py", "wrong_backward.py"):
        shutil.copy(REPO / "sample_functions" / name, tmp_path / "funcs" / name)
    (tmp_path / "pyproject.toml").write_text(TWO_CHECKS)
    (tmp_path / "docs").mkdir()
    monkeypatch.chdir(tmp_path / "docs")
    monkeypatch.setattr(sys, "path", list(sys.path))  # the CLI puts the project root on sys.path
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path


@pytest.fixture
def configure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write a pyproject.toml with the given checks next to copies of the samples; cwd is the project."""
    (tmp_path / "funcs").mkdir()
    for name in ("tutorial.py", "kink.py"):
        shutil.copy(REPO / "sample_functions" / name, tmp_path / "funcs" / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")

    def write(checks: str) -> Path:
        (tmp_path / "pyproject.toml").write_text(f"[tool.gradcheck]\n{checks}")
        return tmp_path

    return write


def gradcheck(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def add_check(project: Path, text: str) -> None:
    path = project / "pyproject.toml"
    path.write_text(path.read_text() + text)


def values(out: str) -> list[list[float]]:
    """The points of a JSON report, in order."""
    return [p["values"]["a"] for t in json.loads(out)["targets"] for p in t["points"]]


RANDOM_CHECK = """
[[tool.gradcheck.checks]]
target = "funcs/tutorial.py:calc"
random = 1
shape = ["3"]
seed = 1
"""


def test_run_without_target_runs_every_check_with_a_summary(project: Path) -> None:
    code, out, err = gradcheck("run")
    assert code == 1 and err == ""
    summary = out[out.index("Summary") :].splitlines()
    assert [c.strip() for c in summary[1].split("|")] == [
        "target",
        "points",
        "failed",
        "worst rel err",
        "verdict",
    ]
    rows = [[c.strip() for c in line.split("|")] for line in summary[3:5]]
    assert rows[0][0] == "funcs/tutorial.py:calc" and rows[0][1:3] == ["1", "0"] and rows[0][4] == "PASS"
    assert rows[1] == ["cube", "1", "1", "1.00e+00", "FAIL"]
    assert out.rstrip().endswith("FAIL: 1 of 2 point(s) have a wrong gradient")


def test_junit_has_two_testcases_and_one_failure(project: Path) -> None:
    code, out, _ = gradcheck("run", "--format", "junit", "--output", "report.xml")
    assert code == 1 and "Summary" in out  # the table still goes to the terminal
    root = ET.parse(project / "docs" / "report.xml").getroot()
    assert len(root.findall(".//testcase")) == 2 and len(root.findall(".//failure")) == 1
    assert root.get("failures") == "1" and root.get("tests") == "2"


def test_json_validates_and_is_not_passed(project: Path) -> None:
    code, out, _ = gradcheck("run", "--format", "json")
    assert code == 1
    data = json.loads(out)
    jsonschema.validate(data, schema())
    assert data["passed"] is False and [t["target"] for t in data["targets"]] == [
        "funcs/tutorial.py:calc",
        "cube",
    ]


def test_github_step_summary_gets_a_markdown_table(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = project / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, _ = gradcheck("run", "--format", "github")
    assert code == 1 and out.startswith("gradcheck: funcs/tutorial.py:calc: PASS")
    assert "::error file=" in out and "wrong_backward.py,line=24," in out
    text = summary.read_text()
    assert "| target | points | failed | worst rel err | verdict |" in text
    assert "| `cube` | 1 | 1 | 1.00e+00 | **FAIL** |" in text


def test_one_target_error_does_not_stop_the_others(project: Path) -> None:
    add_check(project, '\n[[tool.gradcheck.checks]]\ntarget = "no_such_module:f"\nx = ["1"]\n')
    add_check(project, '\n[[tool.gradcheck.checks]]\ntarget = "funcs/tutorial.py:calc"\nx = ["1", "2"]\n')
    code, out, err = gradcheck("run", "--format", "json")
    assert code == 1  # a wrong gradient (cube) outranks the checks that could not run
    data = json.loads(out)
    assert [t["verdict"] for t in data["targets"]] == ["PASS", "FAIL", "ERROR", "ERROR"]
    assert "module not found: 'no_such_module'" in data["targets"][2]["error"]
    assert "2 argument value(s) given" in data["targets"][3]["error"]
    assert data["targets"][3]["line"] == 14  # loaded, then the point was wrong
    assert err.splitlines()[0].startswith("gradcheck: error: no_such_module:f: module not found")


def test_command_line_options_override_the_config(project: Path) -> None:
    assert gradcheck("run", "--atol", "10", "--rtol", "0")[0] == 0
    add_check(project, "")
    text = (project / "pyproject.toml").read_text().replace("rtol = 1e-5", "atol = 10\nrtol = 0")
    (project / "pyproject.toml").write_text(text)
    assert gradcheck("run")[0] == 0  # the defaults now let the wrong cube pass
    assert gradcheck("run", "--atol", "1e-7")[0] == 1
    # an explicit target takes the defaults too, and the command line over them
    cube = str(project / "funcs" / "wrong_backward.py") + ":cube"
    assert gradcheck("run", cube, "--x", "0.5,1,2")[0] == 0
    assert gradcheck("run", cube, "--x", "0.5,1,2", "--atol", "1e-7")[0] == 1


def test_a_configured_target_by_name_runs_its_configured_points(project: Path) -> None:
    code, out, _ = gradcheck("run", "cube")
    assert code == 1 and "cube at point 0: x=[0.5, 1, 2]" in out and "tutorial" not in out


def test_list_shows_the_checks(project: Path) -> None:
    code, out, _ = gradcheck("list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == str(project / "pyproject.toml") and lines[1] == "defaults: rtol = 1e-05"
    cells = [[c.strip() for c in line.split("|")] for line in lines if "|" in line]
    assert cells[0] == ["check", "target", "points", "options"]
    assert cells[1:] == [
        ["funcs/tutorial.py:calc", "funcs/tutorial.py:calc", "--x 1,2,3", ""],
        ["cube", "funcs/wrong_backward.py:cube", "--x 0.5,1,2", ""],
    ]
    assert lines[-1] == "2 check(s): gradcheck run runs them all"


def test_config_errors_and_missing_config_exit_2(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_check(project, '\n[[tool.gradcheck.checks]]\ntarget = "m:f"\nx = ["1"]\nmethod = "sideways"\n')
    code, out, err = gradcheck("run")
    assert code == 2 and out == ""
    assert err == (
        f"gradcheck: error: {project / 'pyproject.toml'}: [tool.gradcheck] checks[2].method = 'sideways' is "
        "invalid: expected one of 'auto', 'central', 'forward', 'backward', 'richardson', 'complex-step'\n"
    )
    assert gradcheck("list")[0] == 2
    empty = project.parent / f"{project.name}_elsewhere"  # not below the project
    empty.mkdir()
    monkeypatch.chdir(empty)
    (empty / "pyproject.toml").write_text('[project]\nname = "x"\n')
    code, _, err = gradcheck("run")
    assert code == 2 and "no TARGET given and no [[tool.gradcheck.checks]] configured" in err
    code, _, err = gradcheck("run", "--x", "1")
    assert code == 2 and "--x, --points and --random need a TARGET" in err
    code, out, _ = gradcheck("list")
    assert code == 0 and out.startswith("no pyproject.toml with a [tool.gradcheck] table found")


def test_output_file_that_cannot_be_written_is_a_usage_error(project: Path) -> None:
    code, _, err = gradcheck("run", "--format", "json", "--output", str(project / "missing" / "r.json"))
    assert code == 2 and err.startswith("gradcheck: error: cannot write --output")


def test_a_single_target_that_cannot_be_checked_still_gets_its_report(project: Path) -> None:
    code, out, err = gradcheck("run", "../funcs/tutorial.py:calx", "--x", "1", "--format", "junit")
    assert code == 2 and err.startswith("gradcheck: error: ../funcs/tutorial.py:calx: ")
    error = ET.fromstring(out).find("testsuite/testcase/error")
    assert error is not None and "has no attribute 'calx'; did you mean calc?" in (error.get("message") or "")
    code, out, err = gradcheck("run", "../funcs/tutorial.py:calx", "--x", "1")
    assert code == 2 and out == "" and len(err.splitlines()) == 1  # the table format: just the one line


def test_command_line_seed_overrides_a_configured_checks_seed(configure) -> None:
    configure(RANDOM_CHECK)
    configured = values(gradcheck("run", "--format", "json")[1])
    assert values(gradcheck("run", "--format", "json", "--seed", "1")[1]) == configured
    overridden = values(gradcheck("run", "--format", "json", "--seed", "5")[1])
    assert overridden != configured
    direct = gradcheck(
        "run", "funcs/tutorial.py:calc", "--random", "1", "--shape", "3", "--seed", "5", "--format", "json"
    )
    assert values(direct[1]) == overridden  # the same points as `--random 1 --seed 5` on the command line


def test_the_default_seed_applies_where_a_check_has_none(configure) -> None:
    configure("seed = 5\n" + RANDOM_CHECK.replace("seed = 1\n", ""))
    from_defaults = values(gradcheck("run", "--format", "json")[1])
    assert from_defaults == values(gradcheck("run", "--format", "json", "--seed", "5")[1])
    assert from_defaults != values(gradcheck("run", "--format", "json", "--seed", "0")[1])


def test_a_configured_check_takes_the_options_the_command_line_takes(configure) -> None:
    kink = '[[tool.gradcheck.checks]]\ntarget = "funcs/kink.py:absolute"\nx = ["-1,0,2"]\n'
    configure(kink)
    assert gradcheck("run")[0] == 0  # a kink passes
    configure(kink + "strict-kinks = true\n")
    assert gradcheck("run")[0] == 1
    assert gradcheck("run", "--format", "json", "--no-forward")[0] == 1
    configure(kink + 'mode = "probe"\nprobes = 2\nseed = 3\nforward = false\nmax-memory = "64M"\n')
    code, out, _ = gradcheck("run", "--format", "json")
    assert code == 0 and json.loads(out)["targets"][0]["points"][0]["mode"] == "probe"
    configure(kink.replace("kink.py:absolute", "tutorial.py:calc").replace("-1,0,2", "1,2,3") + "order = 2\n")
    code, out, _ = gradcheck("run", "--format", "json")
    assert code == 0 and any(
        "order 2" in n["text"] for n in json.loads(out)["targets"][0]["points"][0]["notes"]
    )


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ('mode = "sideways"', "mode = 'sideways' is invalid: expected one of 'auto', 'full', 'probe'"),
        ("order = 7", "order = 7 is invalid: expected an integer from 1 (the gradient) to 6"),
        ('strict-kinks = "yes"', "strict-kinks = 'yes' is invalid: expected true or false"),
        ('max-memory = "lots"', "max-memory = 'lots' is invalid: expected a size such as 512M"),
    ],
)
def test_configured_check_options_are_validated(configure, option: str, message: str) -> None:
    configure(f'[[tool.gradcheck.checks]]\ntarget = "funcs/kink.py:absolute"\nx = ["1"]\n{option}\n')
    code, _, err = gradcheck("run")
    assert code == 2 and message in err and "Traceback" not in err


def test_a_configured_check_takes_keyword_arguments_and_wrt(project: Path) -> None:
    shutil.copy(REPO / "sample_functions" / "arguments.py", project / "funcs" / "arguments.py")
    add_check(
        project,
        '\n[[tool.gradcheck.checks]]\nname = "power"\ntarget = "funcs/arguments.py:power"\nx = ["0.5,1.5,2"]\n'
        'arg = ["n=3", "flag=True"]\n'
        '\n[[tool.gradcheck.checks]]\nname = "weighted"\ntarget = "funcs/arguments.py:weighted"\n'
        'x = ["1,2,3", "0.5,0.5,2"]\nwrt = ["w"]\n',
    )
    code, out, _ = gradcheck("run", "power", "--format", "json")
    found = json.loads(out)["targets"][0]["points"][0]
    assert code == 0 and [a["name"] for a in found["arguments"] if not a["differentiated"]] == ["n", "flag"]
    code, out, _ = gradcheck("run", "weighted", "--format", "json")
    assert code == 0 and list(json.loads(out)["targets"][0]["points"][0]["values"]) == ["w"]
