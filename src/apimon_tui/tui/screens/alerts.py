"""The alert list (`a`): the active alerts, then every fire/resolve/ack of this run, then the
alerts found in the look-back from before the run (`HistoryReplay`: never announced).

Enter on an alert closes the list with the alert (the app shows the failed
calls filtered to its cause's model/code, in the window where it fired, or
the budget panel); `x`
acknowledges the selected active alert (it stays listed, quiet) or, pressed
again, takes the acknowledgement back; `s` silences its rule for 15m, 1h or 4h
or, when the rule is silenced, ends the silence. Rows are updated by key, so the
cursor stays on its alert while the list refreshes.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, OptionList, Static
from textual.widgets.option_list import Option

from apimon_tui.alerts import Alert, AlertManager
from apimon_tui.alerts.replay import HistoryReplay
from apimon_tui.alerts.rules import format_value
from apimon_tui.core.terminal_text import identifier
from apimon_tui.core.timeutil import format_duration
from apimon_tui.tui import fmt

COLUMNS = ("severity", "rule", "scope", "value", "threshold", "window", "time", "state")
SEVERITY_STYLE = {"critical": "bold red", "warning": "bold yellow", "info": "bold"}
SILENCES = (("15 minutes", 15 * 60.0), ("1 hour", 3600.0), ("4 hours", 4 * 3600.0))
EVENT_WORDS = {"fire": "fired", "resolve": "resolved", "ack": "acknowledged", "unack": "unacknowledged"}


def _cells(alert: Alert, when: float, state: str) -> tuple[Text, ...]:
    return (
        Text(alert.severity, style=SEVERITY_STYLE.get(alert.severity, "")),
        Text(identifier(alert.rule)), Text(identifier(alert.scope)),
        Text(format_value(alert.unit, alert.value)),
        Text(format_value(alert.unit, alert.threshold, threshold=True)),
        Text(format_duration(alert.window) if alert.window else "-"),
        Text(fmt.clock_time(when)), Text(state),
    )


def _found_state(alert: Alert, found: HistoryReplay) -> str:
    """`found in look-back, resolved 02:52:00`, or how it stood where the look-back ends."""
    if alert.resolved_at is not None:
        return f"found in look-back, resolved {fmt.clock_time(alert.resolved_at)}"
    end = found.span[1] if found.span else alert.updated
    return f"found in look-back, {alert.state} at {fmt.clock_time(end)}"


class SilenceScreen(ModalScreen[float | None]):
    """Asks for how long to silence a rule; returns seconds, or None on Esc."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel_silence", tooltip="close without silencing")]

    def __init__(self, rule: str) -> None:
        super().__init__()
        self.rule = rule

    def compose(self) -> ComposeResult:
        with Vertical(id="silence-box") as box:
            box.border_title = Text(f"Silence {identifier(self.rule)} for · Enter picks, Esc cancels")
            yield OptionList(*(Option(label, id=str(seconds)) for label, seconds in SILENCES), id="silence-options")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(float(event.option.id))

    def action_cancel(self) -> None:
        self.dismiss(None)


class AlertsScreen(Screen[Alert | None]):
    """Returns the selected alert on Enter (its cause and when it fired), None when closed with Esc."""

    DEFAULT_CSS = """
    AlertsScreen #alerts-title { height: 1; padding: 0 1; text-style: bold; }
    AlertsScreen .alerts-heading { height: 1; padding: 0 1; color: $text-muted; }
    AlertsScreen #alerts-active { height: auto; max-height: 50%; }
    AlertsScreen #alerts-history { height: 1fr; }
    SilenceScreen { align: center middle; }
    SilenceScreen #silence-box { width: 50; height: auto; border: round $accent; background: $surface; }
    SilenceScreen #silence-options { height: auto; }
    """
    BINDINGS = [
        Binding("escape", "close", "Back", id="close_alerts", tooltip="back to the main view"),
        Binding("x", "acknowledge", "(Un)acknowledge", id="acknowledge_alert",
                tooltip="acknowledge the selected alert (stays listed, quiet); again to take it back"),
        Binding("s", "silence", "(Un)silence rule", id="silence_rule",
                tooltip="silence the selected alert's rule for 15m, 1h or 4h; on a silenced rule, end it"),
    ]

    def __init__(self, manager: AlertManager, found: HistoryReplay | None = None) -> None:
        super().__init__()
        self.manager = manager
        self.found = found
        self._rows: dict[str, dict[str, tuple[Text, ...]]] = {"alerts-active": {}, "alerts-history": {}}
        self._alerts: dict[str, Alert] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="alerts-title")
        yield Static("Active", classes="alerts-heading")
        yield DataTable(id="alerts-active", cursor_type="row")
        yield Static("This run, then found in the look-back before it (newest first)", classes="alerts-heading")
        yield DataTable(id="alerts-history", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        for table in self.query(DataTable):
            for name in COLUMNS:
                table.add_column(name, key=name)
        self.refresh_rows()
        self.query_one("#alerts-active", DataTable).focus()
        self.set_interval(1.0, self.refresh_rows, name="alerts-refresh")

    def refresh_rows(self) -> None:
        """Bring both tables up to date with the manager, keeping each cursor on its row."""
        now = self.manager.clock()
        active = self.manager.active()
        history = self.manager.history()
        self._alerts = {f"active:{a.key}": a for a in active}
        rows = {}
        for key, alert in self._alerts.items():
            until = self.manager.silenced_until(alert.rule, now)
            state = alert.state + (", acknowledged" if alert.acknowledged else "")
            if alert.began is not None:
                state += f", began {fmt.clock_time(alert.began)} in the look-back"
            if until is not None:
                state += f", rule silenced to {fmt.clock_time(until)}"
            rows[key] = _cells(alert, alert.since, state)
        self._show("alerts-active", rows)
        rows = {}
        for i in range(len(history) - 1, -1, -1):
            event = history[i]
            key = f"event:{event.ts}:{i}"
            self._alerts[key] = event.alert
            rows[key] = _cells(event.alert, event.ts, EVENT_WORDS.get(event.kind, event.kind))
        found = self.found.listed() if self.found is not None else []
        for alert in found:
            key = f"found:{alert.key}:{alert.since}"
            self._alerts[key] = alert
            rows[key] = _cells(alert, alert.since, _found_state(alert, self.found))
        self._show("alerts-history", rows)
        silenced = sum(1 for r in {a.rule for a in self._alerts.values()} if self.manager.silenced_until(r, now))
        title = f"Alerts · {len(active)} active · {len(history)} events this run"
        if found:
            title += f" · {len(found)} found in the look-back"
        if silenced:
            title += f" · {silenced} rule(s) silenced"
        self.query_one("#alerts-title", Static).update(
            Text(title + " · Enter: cause · x: (un)acknowledge · s: (un)silence · Esc: back"))

    def _show(self, table_id: str, rows: dict[str, tuple[Text, ...]]) -> None:
        table = self.query_one(f"#{table_id}", DataTable)
        shown = self._rows[table_id]
        if list(shown) != list(rows):
            selected = self._selected_key(table)
            table.clear()
            for key, cells in rows.items():
                table.add_row(*cells, key=key)
            if selected in rows:
                table.move_cursor(row=table.get_row_index(selected), animate=False)
        else:
            for key, cells in rows.items():
                for column, was, now in zip(COLUMNS, shown[key], cells):
                    if was != now:
                        table.update_cell(key, column, now, update_width=True)
        self._rows[table_id] = rows

    @staticmethod
    def _selected_key(table: DataTable) -> str | None:
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def selected(self) -> Alert | None:
        """The alert under the cursor of the focused table (the active one by default)."""
        key = self._selected_row()
        return self._alerts.get(key) if key else None

    def _selected_row(self) -> str | None:
        """The key of the row under the cursor of the focused table (the active one by default)."""
        table = self.focused if isinstance(self.focused, DataTable) else self.query_one("#alerts-active", DataTable)
        return self._selected_key(table)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        alert = self._alerts.get(event.row_key.value)
        if alert is not None:
            self.dismiss(alert)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_acknowledge(self) -> None:
        if (self._selected_row() or "").startswith("found:"):
            self.notify("an alert found in the look-back is not live: nothing to acknowledge", timeout=3)
            return
        alert = self.selected()
        if alert is None or self.manager.get(alert.key) is None:
            self.notify("no active alert selected", severity="warning", timeout=3)
            return
        if self.manager.acknowledge(alert.key) is not None:
            self.notify(f"acknowledged {alert.rule} {identifier(alert.scope)}", timeout=3, markup=False)
        else:
            self.manager.unacknowledge(alert.key)
            self.notify(f"{alert.rule} {identifier(alert.scope)} no longer acknowledged", timeout=3, markup=False)
        self.refresh_rows()

    def action_silence(self) -> None:
        alert = self.selected()
        if alert is None:
            self.notify("no alert selected", severity="warning", timeout=3)
            return
        if self.manager.unsilence(alert.rule):
            self.notify(f"{alert.rule} no longer silenced", timeout=4, markup=False)
            self.refresh_rows()
            return

        def chosen(seconds: float | None) -> None:
            if seconds is None:
                return
            until = self.manager.silence(alert.rule, seconds)
            self.notify(f"{alert.rule} silenced for {format_duration(seconds)} (to {fmt.clock_time(until)})",
                        timeout=4, markup=False)
            self.refresh_rows()

        self.app.push_screen(SilenceScreen(alert.rule), chosen)
