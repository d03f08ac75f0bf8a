"""A table that fits the width it is drawn at without cutting a cell: first its headers wrap at their
spaces, then the least important columns are dropped, then pairs of columns are stacked (two values in
one cell, one above the other); only if that is still too wide do the label columns fold. Numbers are
never cut, wrapped or ended with an ellipsis.

The table is a rich renderable that lays itself out when drawn, at the console's (or the enclosing
renderable's) width: ``--format table --output FILE`` and logs, drawn wide, keep every column."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text


@dataclass(frozen=True)
class Column:
    """One column: its header and cells; ``label`` columns (names, statuses) may fold as a last resort,
    the others hold numbers and never do."""

    header: str
    cells: tuple[Text, ...]
    justify: str = "left"
    label: bool = False


@dataclass(frozen=True)
class Policy:
    """How a table gives way: ``drops`` (headers, the first dropped first), then ``stacks`` (pairs of
    headers ``(upper, lower)``: the lower column is drawn under the upper one, the first pair first)."""

    drops: tuple[str, ...] = ()
    stacks: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Layout:
    """The columns drawn, each a stack of one or two source columns, and the headers left out."""

    shown: tuple[tuple[Column, ...], ...]
    dropped: tuple[str, ...] = ()
    wrap_headers: bool = False


def _line_width(text: Text | str) -> int:
    plain = text.plain if isinstance(text, Text) else text
    return max((Text(line).cell_len for line in plain.split("\n")), default=0)


def _header_width(header: str, wrap: bool) -> int:
    return max((len(word) for word in header.split()), default=0) if wrap else len(header)


def content_width(stack: Sequence[Column], wrap_headers: bool) -> int:
    """The width a stacked column needs: its widest cell, and its header (whole, or its longest word)."""
    cells = max((_line_width(cell) for column in stack for cell in column.cells), default=0)
    return max(cells, *(_header_width(column.header, wrap_headers) for column in stack))


def table_width(layout: Layout, edges: bool) -> int:
    """The drawn width: contents, one space of padding each side, the rules between columns, the edges."""
    columns = len(layout.shown)
    contents = sum(content_width(stack, layout.wrap_headers) for stack in layout.shown)
    return contents + 2 * columns + max(columns - 1, 0) + (2 if edges else 0)


def _stacked(shown: tuple[tuple[Column, ...], ...], upper: str, lower: str) -> tuple[tuple[Column, ...], ...]:
    below = [stack for stack in shown if stack[0].header == lower and len(stack) == 1]
    if not below or not any(stack[0].header == upper and len(stack) == 1 for stack in shown):
        return shown
    return tuple(
        (*stack, below[0][0]) if stack[0].header == upper else stack
        for stack in shown
        if stack is not below[0]
    )


def layouts(columns: Sequence[Column], policy: Policy) -> Iterator[Layout]:
    """Every layout, widest first: as is, headers wrapped, then one drop and one stack at a time."""
    shown = tuple((column,) for column in columns)
    yield Layout(shown)
    yield Layout(shown, wrap_headers=True)
    dropped: tuple[str, ...] = ()
    for header in policy.drops:
        if any(stack[0].header == header for stack in shown):
            shown = tuple(stack for stack in shown if stack[0].header != header)
            dropped += (header,)
            yield Layout(shown, dropped, wrap_headers=True)
    for upper, lower in policy.stacks:
        stacked = _stacked(shown, upper, lower)
        if stacked != shown:
            shown = stacked
            yield Layout(shown, dropped, wrap_headers=True)


def choose(columns: Sequence[Column], policy: Policy, width: int, edges: bool) -> tuple[Layout, bool]:
    """The widest layout that fits ``width``, and whether it fits (else the narrowest, to be folded)."""
    last = Layout(())
    for layout in layouts(columns, policy):
        if table_width(layout, edges) <= width:
            return layout, True
        last = layout
    return last, False


def _cells(stack: Sequence[Column], row: int) -> Text:
    return Text("\n").join(column.cells[row] for column in stack)


@dataclass(frozen=True)
class FittedTable:
    """A table laid out at the width it is drawn at (see the module's docstring)."""

    columns: tuple[Column, ...]
    policy: Policy = Policy()
    title: str | None = None
    caption: tuple[str, ...] = ()
    ascii: bool = False
    dropped_note: str = "{dropped}: not shown at this width"

    def table(self, width: int) -> Table:
        """The rich table for ``width`` columns of text."""
        layout, fits = choose(self.columns, self.policy, width, edges=not self.ascii)
        caption = [*self.caption]
        if layout.dropped:
            caption.append(self.dropped_note.format(dropped=", ".join(layout.dropped)))
        table = Table(
            title=self.title,
            title_justify="left",
            caption="\n".join(caption) or None,
            caption_justify="left",
            box=box.ASCII if self.ascii else box.ROUNDED,
            show_edge=not self.ascii,
        )
        for stack in layout.shown:
            table.add_column(
                "\n".join(column.header for column in stack),
                justify=stack[0].justify,  # type: ignore[arg-type]
                width=content_width(stack, layout.wrap_headers) if fits or not stack[0].label else None,
                overflow="fold",
            )
        for row in range(min((len(column.cells) for column in self.columns), default=0)):
            table.add_row(*(_cells(stack, row) for stack in layout.shown))
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.table(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.table(options.max_width))
