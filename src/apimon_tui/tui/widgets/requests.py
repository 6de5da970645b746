"""Requests panel: successes and errors per second over the window, drawn by plotext.

Steps before the logs begin (the window can reach back past the first line)
are left blank: no data there is not zero calls.

The chart is a plotext figure built to the panel's content size and shown as
`rich.text.Text` in a `Static`; it is rebuilt only when the data, the size or
the theme changed. plotext takes ~150 ms to import, so it is imported in a
thread once the panel is mounted and the chart appears on the first refresh
after that, instead of delaying the first paint.
"""

from __future__ import annotations

import importlib
import threading
from types import ModuleType

from rich.text import Text
from textual.color import Color
from textual.message import Message
from textual.widgets import Static

from apimon_tui.store import Snapshot
from apimon_tui.tui import fmt


class RequestsPanel(Static, can_focus=True):  # Tab reaches it, `z` zooms it
    ALLOW_MAXIMIZE = True
    DEFAULT_CSS = """
    RequestsPanel { border-subtitle-align: right; }
    """

    class ChartReady(Message):
        """plotext is loaded: the last module the monitor imports as it starts."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "Requests"
        self._series: tuple[list[float], list[float], int] = ([], [], 0)  # ok/s, errors/s, first covered step
        self._ticks: tuple[list[int], list[str]] = ([], [])
        self._drawn_key: tuple | None = None
        self._plotext: ModuleType | None = None

    def on_mount(self) -> None:
        threading.Thread(target=self._load_plotext, name="apimon-plotext", daemon=True).start()

    def _load_plotext(self) -> None:
        module = importlib.import_module("plotext")
        self.app.call_from_thread(self._plotext_ready, module)

    def _plotext_ready(self, module: ModuleType) -> None:
        self._plotext = module
        self._draw()
        self.post_message(self.ChartReady())

    @property
    def chart_ready(self) -> bool:
        """True once plotext is loaded and the chart can be drawn."""
        return self._plotext is not None

    def show(self, snap: Snapshot, window_label: str, end_label: str = "now") -> None:
        """`end_label` names the window's end: `now`, or its time when the time cursor is in the past."""
        step = snap.step_s or 1.0
        ok = [(p.calls - p.errors) / step for p in snap.points]
        errors = [p.errors / step for p in snap.points]
        total = snap.total
        self.border_title = f"Requests · {window_label}{fmt.partial(snap)}"
        self.border_subtitle = (
            f"{snap.rate_per_s:.2f} req/s · {total.calls:,} calls · {fmt.pct(total.error_rate)} errors"
        )
        self._series = (ok, errors, _first_covered(snap))
        self._ticks = _ticks(len(ok), window_label, end_label)
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        width, height = self.content_size
        theme = self.app.current_theme
        key = (self._series, self._ticks, width, height, theme.name, self.app.no_color, self._plotext is None)
        if key == self._drawn_key:
            return
        self._drawn_key = key
        if width < 20 or height < 4 or not self._series[0] or self._plotext is None:
            waiting = "no calls yet" if not self._series[0] else ""
            self.update(Text(waiting, style="dim"), layout=False)
            return
        self.update(_chart(self._plotext, self._series, self._ticks, width, height,
                           (theme.success or theme.primary, theme.error or theme.primary),
                           colour=not self.app.no_color), layout=False)


def _first_covered(snap: Snapshot) -> int:
    """The first step of the chart that the logs cover, wholly or in part."""
    if snap.covered_s is None or not snap.points:
        return 0
    begins = snap.now - snap.covered_s
    step = snap.step_s or 1.0
    return next((i for i, p in enumerate(snap.points) if p.start + step > begins), len(snap.points))


def _ticks(count: int, window_label: str, end_label: str) -> tuple[list[int], list[str]]:
    """The window's two ends. (A tick with an empty label was drawn by plotext as a stray `▘`.)"""
    if count < 2:
        return [], []
    return [0, count - 1], [f"-{window_label}", end_label]


def _chart(plt: ModuleType, series, ticks, width: int, height: int, colours: tuple[str, str], colour: bool) -> Text:
    ok, errors, first = series
    fig = plt.figure
    fig.clear()
    plt.terminal.limit(False, False)
    fig.plot_size(width, height)
    fig.theme("colorless")
    xs = list(range(first, len(ok)))
    for values, name in ((ok[first:], colours[0]), (errors[first:], colours[1])) if xs else ():
        pixel = plt.pixel(foreground=Color.parse(name).rgb) if colour else None
        fig.draw(fig.signal(xs, values, marker=plt.marker("braille", pixel)).lines())
    top = max(max(ok), max(errors))
    fig.ruler("y").lim(0, top if top > 0 else 1)
    fig.ruler("x").lim(0, len(ok) - 1)
    if ticks[0]:
        fig.ruler("x").ticks(*ticks)
    built = fig.build().string(colorless=not colour)
    return Text.from_ansi(built.rstrip("\n"), no_wrap=True)

