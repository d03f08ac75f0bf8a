"""The archive inside a JSON report gives the report back exactly (every renderer prints the same), and
builds nothing but this package's data classes."""

from __future__ import annotations

import base64
import json
import zlib

import numpy as np
import pytest

from gradcheck_cli.app.archive import FORMAT, pack, unpack
from gradcheck_cli.app.runner import PointSource, run_target
from gradcheck_cli.errors import InputError
from gradcheck_cli.options import CheckOptions
from gradcheck_cli.render.formats import render
from gradcheck_cli.report import Report, TargetReport


def test_a_report_comes_back_as_every_renderer_sees_it(repo_cwd) -> None:
    """A passing function, a wrong one (patterns, blame, Taylor test), probes, one that cannot run."""
    report = Report(
        (
            run_target("sample_functions/tutorial.py:calc", PointSource(x=("1,2,3",)), CheckOptions()),
            run_target(
                "sample_functions/wrong_backward.py:cube", PointSource(x=("0.5,1,2",)), CheckOptions()
            ),
            run_target(
                "sample_functions/vector_output.py:softmax_tanh",
                PointSource(x=("1,2,3",)),
                CheckOptions(mode="probe"),
            ),
            TargetReport(
                target="pkg:broken", error="the function raised ValueError: boom", error_traceback="T\n"
            ),
        )
    )
    back = unpack(json.loads(json.dumps(pack({"report": report}))))["report"]
    for format in ("table", "json", "junit", "markdown", "github"):
        assert render(back, format) == render(report, format)


def test_numpy_values_keep_their_type_and_non_finite_floats_survive() -> None:
    value = {"a": np.float32(1.5), "b": (float("inf"), float("nan")), "c": np.arange(6).reshape(2, 3)}
    back = unpack(pack(value))
    assert type(back["a"]) is np.float32 and back["a"] == 1.5
    assert back["b"][0] == float("inf") and back["b"][1] != back["b"][1]
    assert back["c"].dtype == np.arange(1).dtype and back["c"].tolist() == [[0, 1, 2], [3, 4, 5]]


def _archive(tree: object) -> dict[str, str]:
    data = base64.b64encode(zlib.compress(json.dumps(tree).encode())).decode()
    return {"format": FORMAT, "data": data}


def test_a_class_outside_the_package_is_refused() -> None:
    with pytest.raises(InputError, match="'os:system', not a class of gradcheck-cli"):
        unpack(_archive({"$c": "os:system", "f": {}}))


def test_an_archive_of_another_format_is_refused() -> None:
    with pytest.raises(InputError, match="expected 'gradcheck-cli/archive 1'"):
        unpack({"format": "other", "data": ""})
