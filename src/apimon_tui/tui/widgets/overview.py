"""The overview strip: the whole retained span in one row, traffic as block heights, failures in
the theme's error colour, and a marker on the window being viewed (the time cursor's place).

Cells are whole slices of the store (seconds for a span the per-second tier holds,
minutes beyond), aligned so the last cell holds the newest data; the strip's left part
may stay empty, which is what it is: no data kept there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from apimon_tui.store.metrics import Interval
from apimon_tui.core.timeutil import format_duration

LEVELS = "▁▂▃▄▅▆▇█"
FINE_STEPS = (1, 2, 5, 10, 15, 20, 30)  # seconds that divide a minute
LABEL_CELLS = 8  # the span's label, right of the cells


def slice_for(span_s: float, cells: int, fine_s: float) -> int:
    """The step to ask the store for: the finest that lets `cells` cells hold `span_s`, in
    seconds only within the per-second tier (`fine_s`), whole minutes beyond."""
    if span_s <= fine_s:
        need = span_s / max(1, cells)
        for step in FINE_STEPS:
            if step >= need:
                return step
    return 60


@dataclass(slots=True)
class StripLayout:
    """What each cell of the strip holds: where it starts, its calls and failures, the marked cells."""

    start: float
    cell_s: int
    calls: list[int]
    errors: list[int]
    marker: range

    @property
    def span_s(self) -> float:
        return self.cell_s * len(self.calls)


def strip_layout(intervals: list[Interval], step_s: int, cells: int, view_start: float,
                 view_end: float) -> StripLayout:
    """Fold `intervals` of `step_s` (oldest first) into `cells` cells of whole steps, the last
    one holding the newer of the newest interval and `view_end`; mark the cells the view
    overlaps (at least one, so the marker never vanishes)."""
    cells = max(1, cells)
    newest = max(view_end, intervals[-1].start + step_s if intervals else view_end)
    oldest = intervals[0].start if intervals else newest - step_s
    cell_s = step_s * max(1, math.ceil((newest - oldest) / step_s / cells))
    last_start = (math.ceil(newest / cell_s) - 1) * cell_s
    start = last_start - (cells - 1) * cell_s
    calls, errors = [0] * cells, [0] * cells
    for piece in intervals:
        i = int((piece.start - start) // cell_s)
        if 0 <= i < cells:
            calls[i] += piece.calls
            errors[i] += piece.errors
    first = min(cells - 1, max(0, int((view_start - start) // cell_s)))
    last = min(cells - 1, max(first, math.ceil((view_end - start) / cell_s) - 1))
    return StripLayout(float(start), cell_s, calls, errors, range(first, last + 1))


class OverviewStrip(Widget):
    """One row: the retained span at a glance, and where the view is in it."""

    DEFAULT_CSS = """
    OverviewStrip { height: 1; background: $panel; color: $foreground 60%; }
    OverviewStrip > .overview--error { color: $error; text-style: bold; }
    OverviewStrip > .overview--marker { background: $accent 60%; color: $foreground; }
    OverviewStrip > .overview--label { color: $foreground 70%; }
    """
    COMPONENT_CLASSES = {"overview--error", "overview--marker", "overview--label"}

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.layout_shown: StripLayout | None = None
        self._fetch: Callable[[int], list[Interval]] = lambda step_s: []
        self._span = (0.0, 0.0)  # the retained span, and how far back the store keeps seconds
        self._view = (0.0, 0.0)
        self._fetched: tuple[int, list[Interval]] | None = None

    def show(self, fetch: Callable[[int], list[Interval]], span_s: float, fine_s: float, view_start: float,
             view_end: float) -> None:
        """`fetch(step)` reads the store's intervals: called when drawn, at the step the width asks for."""
        self._fetch, self._span, self._view, self._fetched = fetch, (span_s, fine_s), (view_start, view_end), None
        self.refresh()

    def _intervals(self) -> tuple[int, list[Interval]]:
        span_s, fine_s = self._span
        step = slice_for(span_s, self.cells(), fine_s)
        if self._fetched is None or self._fetched[0] != step:
            self._fetched = (step, self._fetch(step))
        return self._fetched

    def cells(self) -> int:
        """Cells that fit beside the span's label."""
        return max(1, self.size.width - LABEL_CELLS)

    def render(self) -> Text:
        step, intervals = self._intervals()
        layout = self.layout_shown = strip_layout(intervals, step, self.cells(), *self._view)
        peak = max(layout.calls, default=0)
        error = self.get_component_rich_style("overview--error", partial=True)
        marker = self.get_component_rich_style("overview--marker", partial=True)
        text = Text(no_wrap=True, overflow="crop")
        for i, (calls, errors) in enumerate(zip(layout.calls, layout.errors)):
            char = LEVELS[min(len(LEVELS) - 1, math.ceil(calls / peak * len(LEVELS)) - 1)] if calls else " "
            style = Style.chain(error if errors else Style(), marker if i in layout.marker else Style())
            text.append(char, style=style)
        label = f" {format_duration(layout.span_s)}"
        text.append(label.rjust(self.size.width - len(text)), style=self.get_component_rich_style("overview--label"))
        return text
