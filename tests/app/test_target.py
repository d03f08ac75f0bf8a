"""Loading targets: module and file targets, qualnames, and what a bad target says."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradcheck_cli.app.target import load_target
from gradcheck_cli.errors import TargetError, UserFunctionError

SOURCE = """
import math

class Box:
    scale = 2.0

    @staticmethod
    def double(x):
        return x * 2

def square(x):
    return x * x

VALUE = 3
"""


def test_a_method_named_through_its_class_is_a_target_error(write_module) -> None:
    from gradcheck_cli.app.target import load_target
    from gradcheck_cli.errors import TargetError

    path = write_module(
        "methods",
        "class K:\n    def m(self, x):\n        return x\n\n    @staticmethod\n    def s(x):\n        return x\n\n"
        "    def plain(x):\n        return x\n\nk = K()\n",
    )
    with pytest.raises(
        TargetError, match=r"K\.m is a method of class K \(it takes self\): name a @staticmethod"
    ):
        load_target(f"{path}:K.m")
    assert load_target(f"{path}:K.s").func(2) == 2
    assert load_target(f"{path}:K.plain").func(3) == 3  # no self: callable through the class
    assert load_target(f"{path}:k.m").func(4) == 4  # the method of an instance


def test_loads_a_module_target_from_the_current_directory(write_module) -> None:
    write_module("usermod_a", SOURCE)
    target = load_target("usermod_a:square")
    assert target.func(3) == 9
    assert target.spec == "usermod_a:square"
    assert target.file is not None and target.file.endswith("usermod_a.py")
    assert target.line == 11


def test_loads_a_file_target_and_dotted_qualnames(write_module) -> None:
    path = write_module("usermod_b", SOURCE)
    assert load_target(f"{path}:Box.double").func(4) == 8
    assert load_target("usermod_b.py:square").func(2) == 4


def test_loads_the_tutorial_sample(repo_cwd: Path) -> None:
    assert load_target("sample_functions.tutorial:calc").func.__name__ == "calc"
    assert load_target("sample_functions/tutorial.py:calc").func.__name__ == "calc"


@pytest.mark.parametrize("spec", ["calc", ":calc", "mod:", "mod:1abc", "mod:a-b", "bad mod:calc"])
def test_malformed_targets(spec: str) -> None:
    with pytest.raises(TargetError, match="malformed target"):
        load_target(spec)


def test_module_not_found_is_told_apart_from_an_import_error_inside(write_module) -> None:
    with pytest.raises(TargetError, match="module not found: 'no_such_module_xyz'"):
        load_target("no_such_module_xyz:f")
    write_module("usermod_c", "import no_such_dependency_xyz\n\ndef f(x):\n    return x\n")
    with pytest.raises(UserFunctionError, match="importing usermod_c raised ModuleNotFoundError") as info:
        load_target("usermod_c:f")
    assert "usermod_c.py" in info.value.user_traceback
    assert "import no_such_dependency_xyz" in info.value.user_traceback
    assert "gradcheck_cli" not in info.value.user_traceback


def test_an_exception_at_import_shows_the_users_traceback(write_module) -> None:
    write_module("usermod_d", "def f(x):\n    return x\n\nraise RuntimeError('setup failed')\n")
    with pytest.raises(UserFunctionError, match="RuntimeError: setup failed") as info:
        load_target("usermod_d.py:f")
    assert "line 4" in info.value.user_traceback


def test_syntax_error_names_file_and_line(write_module) -> None:
    write_module("usermod_e", "def f(x):\n    return x +\n")
    with pytest.raises(TargetError, match=r"syntax error in .*usermod_e\.py:2"):
        load_target("usermod_e.py:f")


def test_missing_attribute_suggests_close_names(write_module) -> None:
    write_module("usermod_f", SOURCE)
    with pytest.raises(TargetError, match="has no attribute 'sqare'; did you mean square"):
        load_target("usermod_f:sqare")
    with pytest.raises(TargetError, match=r"usermod_f\.Box has no attribute 'tripple'"):
        load_target("usermod_f:Box.tripple")


def test_not_callable(write_module) -> None:
    write_module("usermod_g", SOURCE)
    with pytest.raises(TargetError, match="VALUE is int 3, not a callable"):
        load_target("usermod_g:VALUE")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="file not found"):
        load_target(f"{tmp_path}/nope.py:f")
