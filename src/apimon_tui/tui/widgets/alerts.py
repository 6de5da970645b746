"""The alert strip: the active alerts in a few lines above the panels, never over them.

Alerts are announced here rather than as toasts (which stacked over the data
and could not be dismissed). Each line is one alert in state-true words
(firing, holding or clearing, see `AlertManager`); past `MAX_LINES` the last
line says how many more there are (`SHORT_LINES` on a short screen, where
every row counts). `d` hides the strip until an alert fires, escalates or
changes state.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from apimon_tui.core.terminal_text import one_line
from apimon_tui.tui import fmt

MARKS = {"critical": "‼", "warning": "▲", "info": "•"}
MAX_LINES = 3
SHORT_LINES = 2  # on a screen of fewer than 34 rows (the app's `-short` layout)


class AlertArea(Static):
    DEFAULT_CSS = """
    AlertArea { height: auto; max-height: 3; display: none; text-wrap: nowrap; text-overflow: ellipsis; }
    AlertArea.-active { display: block; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: tuple = ()
        self._alerts: list = []
        self._dismissed: frozenset = frozenset()
        self._rows = 0  # lines of the text shown

    @staticmethod
    def _states(alerts: list) -> frozenset:
        return frozenset((a.key, a.severity, a.state) for a in alerts)

    def dismiss(self) -> None:
        """Hide the strip for the alerts it shows now."""
        if self.has_class("-active"):
            self._dismissed = self._states(self._alerts)
            self.set_class(False, "-active")
            self.app.refresh_bindings()

    def show(self, alerts: list) -> None:
        self._alerts = alerts
        visible = bool(self._states(alerts) - self._dismissed)
        lines = SHORT_LINES if self.screen.has_class("-short") else MAX_LINES
        key = (visible, lines, tuple((a.key, a.severity, a.state, a.message, a.acknowledged) for a in alerts))
        if key == self._shown:
            return
        self._shown = key
        toggled = visible != self.has_class("-active")
        if toggled:
            self.set_class(visible, "-active")
            self.app.refresh_bindings()  # `d` shows in the footer only while the strip does
        self.set_class(any(a.severity == "critical" for a in alerts), "-critical")
        if visible:  # the strip is as high as its lines: a layout only when their count changes
            text = self.strip_text(alerts, lines)
            rows = text.plain.count("\n") + 1
            self.update(text, layout=toggled or rows != self._rows)
            self._rows = rows

    @staticmethod
    def strip_text(alerts: list, lines: int = MAX_LINES) -> Text:
        shown = alerts if len(alerts) <= lines else alerts[:lines - 1]
        text = Text()
        for i, alert in enumerate(shown):
            if i:
                text.append("\n")
            text.append(f"{MARKS.get(alert.severity, '•')} ", style="bold")
            text.append(one_line(alert.message), style="dim" if alert.acknowledged else "")
            text.append(f" · since {fmt.clock_time(alert.since)}", style="dim")
            if alert.acknowledged:
                text.append(" · acknowledged", style="dim")
        more = len(alerts) - len(shown)
        if more:
            text.append("\n")
            text.append(f"+{more} more", style="bold")
            text.append(" · a: the alert list · d: hide", style="dim")
        return text
