"""A table fitted to a width: headers wrap, then columns drop in the policy's order, then pairs stack;
numbers are never cut."""

from __future__ import annotations

import io

from rich.console import Console
from rich.text import Text

from gradcheck_cli.render.fit import Column, FittedTable, Policy, choose, table_width

COLUMNS = (
    Column("name", (Text("out[0]"), Text("out[12]")), label=True),
    Column("value", (Text("0.123456789012"), Text("-1.5")), "right"),
    Column("reference value", (Text("0.123456789013"), Text("-1.25")), "right"),
    Column("spare", (Text("9.99e-01"), Text("0")), "right"),
    Column("error", (Text("1.00e-12"), Text("2.50e-01")), "right"),
)
POLICY = Policy(drops=("spare",), stacks=(("value", "reference value"),))


def _drawn(table: FittedTable, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(table)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_layouts_give_way_in_the_policy_order() -> None:
    widths = {}
    for width in (100, 70, 60, 50):
        layout, fits = choose(COLUMNS, POLICY, width, edges=True)
        assert fits and table_width(layout, edges=True) <= width
        widths[width] = ([" / ".join(c.header for c in stack) for stack in layout.shown], layout.dropped)
    assert widths[100] == (["name", "value", "reference value", "spare", "error"], ())
    assert widths[60][1] == ("spare",) and "spare" not in widths[60][0]
    assert widths[50] == (["name", "value / reference value", "error"], ("spare",))


def test_every_number_is_drawn_whole_at_any_width() -> None:
    table = FittedTable(COLUMNS, POLICY, title="t", dropped_note="gone: {dropped}")
    for width in (100, 60, 50, 40, 30):
        text = _drawn(table, width)
        assert "…" not in text
        cells = set(text.split())
        assert {"0.123456789012", "0.123456789013", "-1.25", "2.50e-01"} <= cells, (width, text)
        assert ("gone: spare" in text) is (width < 70)
