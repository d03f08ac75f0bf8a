"""The import rules between the subpackages and the code budgets, read from the source (ast, nothing run
but the one subprocess that imports the numerical core).

Data flows one way: options -> app -> engine -> numerics -> result -> report -> render. ``numerics/`` is
torch and numpy only; ``render/`` words things and decides nothing; only the entry points reach ``app/``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "gradcheck_cli"

# What each part of the package may import from the package: a subpackage ("numerics") or a top-level
# module ("errors"); a part always imports itself.
ALLOWED = {
    "numerics": {"errors", "user_code"},
    "engine": {"numerics", "errors", "user_code", "result", "diagnosis", "contract", "options", "report"},
    "render": {"result", "diagnosis", "contract", "report", "options"},
    "result": {
        "numerics",
        "diagnosis",
        "contract",
    },  # the Status codes; the diagnosis and contracts it carries
    "contract": set(),  # frozen data beside result.py: the contract checks of a point
    "diagnosis": {"numerics"},  # frozen data beside result.py: patterns, blame, the Taylor curve
    "report": {"result", "diagnosis", "numerics"},
    "options": {"numerics", "option_spec"},  # the dtype table: pure Python
    "option_spec": {"errors", "numerics"},  # the memory-size parser: pure Python
    "errors": set(),
    "user_code": {"errors"},
}
ENTRY_POINTS = ("cli", "pytest_plugin", "__init__", "__main__")
HEAVY = ("torch", "click", "rich")  # never at the top of an entry point: `gradcheck --help` stays instant
MAX_FUNCTION_LINES = 60
MAX_PARAMETERS = 6
MAX_MODULE_LINES = 400


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, relative to the package: "engine/check.py"
    target: str  # what it imports: "gradcheck_cli.numerics.judge", "torch"
    top_level: bool  # at module level (not inside a function, not under TYPE_CHECKING)


def _part(relative: str) -> str:
    """``numerics`` for ``numerics/judge.py``, ``cli`` for ``cli.py``."""
    return relative.split("/")[0].removesuffix(".py")


def _modules() -> dict[str, ast.Module]:
    return {
        path.relative_to(PACKAGE).as_posix(): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def _imports(relative: str, tree: ast.Module) -> list[Import]:
    top = {id(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [Import(relative, name, id(node) in top) for name in names]
    return found


def _package_part(target: str) -> str | None:
    """``numerics`` for ``gradcheck_cli.numerics.judge``; None outside the package."""
    parts = target.split(".")
    return parts[1] if parts[0] == "gradcheck_cli" and len(parts) > 1 else None


ALL_IMPORTS = [found for relative, tree in _modules().items() for found in _imports(relative, tree)]


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_each_part_imports_only_what_sits_below_it(part: str) -> None:
    wrong = sorted(
        f"{found.module} imports {found.target}"
        for found in ALL_IMPORTS
        if _part(found.module) == part
        and (target := _package_part(found.target)) is not None
        and target != part
        and target not in ALLOWED[part]
    )
    assert not wrong, "\n".join(wrong)


def test_only_the_entry_points_reach_the_application_layer() -> None:
    wrong = sorted(
        f"{found.module} imports {found.target}"
        for found in ALL_IMPORTS
        if _package_part(found.target) == "app" and _part(found.module) not in (*ENTRY_POINTS, "app")
    )
    assert not wrong, "\n".join(wrong)


def test_the_core_and_the_engine_import_neither_click_nor_rich() -> None:
    wrong = sorted(
        f"{found.module} imports {found.target}"
        for found in ALL_IMPORTS
        if _part(found.module) in ("numerics", "engine", "result", "diagnosis", "report", "options")
        and found.target.split(".")[0] in ("click", "rich")
    )
    assert not wrong, "\n".join(wrong)


def test_the_entry_points_import_no_torch_click_or_rich_at_module_level() -> None:
    # cli.py imports click at the top (it is the click application); torch and rich it imports lazily.
    heavy = {"cli.py": ("torch", "rich"), "pytest_plugin.py": HEAVY, "__init__.py": HEAVY}
    wrong = sorted(
        f"{found.module} imports {found.target} at module level"
        for found in ALL_IMPORTS
        if found.top_level and found.target.split(".")[0] in heavy.get(found.module, ())
    )
    assert not wrong, "\n".join(wrong)


def test_the_numerical_core_imports_neither_rich_nor_click() -> None:
    """At run time too: importing every numerics module loads neither."""
    modules = sorted(p.stem for p in (PACKAGE / "numerics").glob("*.py") if p.stem != "__init__")
    code = (
        "import sys\n"
        + "".join(f"import gradcheck_cli.numerics.{name}\n" for name in modules)
        + "print(sorted(m for m in ('rich', 'click') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def _is_click_command(node: ast.FunctionDef) -> bool:
    return any("command" in ast.unparse(decorator) for decorator in node.decorator_list)


# Drop-ins whose signatures are another library's (torch.autograd.gradcheck's keywords): the point of them.
FOREIGN_SIGNATURES = {("compat.py", "gradcheck"), ("compat.py", "gradgradcheck")}


def _offences(relative: str, tree: ast.Module, lines: int) -> list[str]:
    found = [f"{relative}: {lines} lines (> {MAX_MODULE_LINES})"] if lines > MAX_MODULE_LINES else []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        length = node.end_lineno - node.lineno + 1 if node.end_lineno else 0
        if length > MAX_FUNCTION_LINES:
            found.append(f"{relative}:{node.lineno} {node.name}(): {length} lines (> {MAX_FUNCTION_LINES})")
        args = node.args
        named = [
            a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs) if a.arg not in ("self", "cls")
        ]
        count = len(named) + (args.vararg is not None) + (args.kwarg is not None)
        foreign = (relative, node.name) in FOREIGN_SIGNATURES
        if count > MAX_PARAMETERS and not _is_click_command(node) and not foreign:
            found.append(f"{relative}:{node.lineno} {node.name}(): {count} parameters (> {MAX_PARAMETERS})")
    return found


def _budget_offences(parts: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if _part(relative) in parts:
            text = path.read_text(encoding="utf-8")
            found += _offences(relative, ast.parse(text), len(text.splitlines()))
    return found


PARTS = tuple(sorted({_part(relative) for relative in _modules()}))
REDUCING = ("engine", "numerics")  # brought within budget by the engine restructuring: checked apart


@pytest.mark.parametrize(
    "parts",
    [
        tuple(p for p in PARTS if p not in REDUCING),
        REDUCING,
    ],
    ids=["outside-engine-and-numerics", "engine-and-numerics"],
)
def test_code_budgets(parts: tuple[str, ...]) -> None:
    """Every function at most 60 lines, every signature at most 6 parameters (click commands aside:
    their parameters are the command line's options), every module at most 400 lines. Lists every
    offender."""
    offences = _budget_offences(parts)
    assert not offences, "\n".join(offences)


def test_every_renderer_shows_the_entries_select_picks() -> None:
    """The entries a point shows are chosen once (``render/text.py: select()``), never per renderer."""
    calls = sorted(
        f"render/{path.name}:{node.lineno}"
        for path in sorted((PACKAGE / "render").glob("*.py"))
        if path.name != "text.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr == "worst"
    )
    assert not calls, calls


def test_no_test_file_is_named_after_a_batch_of_work() -> None:
    batches = ("test_fix", "test_scale_", "test_ci_", "test_verdicts_")
    named = sorted(
        str(path.relative_to(REPO))
        for path in (REPO / "tests").rglob("test_*.py")
        if path.name.startswith(batches)
    )
    assert not named, named
