"""The live monitor app: samples the store at the refresh rate and feeds the panels.

Ingestion runs in the engine's own thread; the UI only takes snapshots of the
store, at most once per refresh and only when the data, the window, the filter
or the window's time step changed. Every binding has an id, so `[keys]` in the
config can remap it.
"""

from __future__ import annotations

import gc
import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.worker import Worker, WorkerState

from apimon_tui.costs import pricing
from apimon_tui.alerts import AlertManager
from apimon_tui.alerts.replay import HistoryReplay
from apimon_tui.costs.budget import Budget, BudgetConfig
from apimon_tui.core.config import default_path
from apimon_tui.ingest.engine import Engine, failure_reason
from apimon_tui.core.key_names import key_problem
from apimon_tui.core.model import Call
from apimon_tui.core.state import UiState
from apimon_tui.store.bursts import error_bursts
from apimon_tui.store.metrics import CallFilter, failed_kept_from, store_intervals
from apimon_tui.core.terminal_text import identifier, lines, one_line
from apimon_tui.core.timeutil import format_duration
from apimon_tui.tui import fmt
from apimon_tui.tui import themes as theme_files
from apimon_tui.tui import time_cursor
from apimon_tui.tui.filter_query import describe, parse_filter
from apimon_tui.tui.palette import BindingCommands, key_names
from apimon_tui.tui.fmt import WINDOWS
from apimon_tui.tui.screens.alerts import AlertsScreen, SilenceScreen
from apimon_tui.tui.screens.detail import DetailScreen
from apimon_tui.tui.screens.filter import FilterScreen
from apimon_tui.tui.screens.help import HelpScreen
from apimon_tui.tui.screens.sources import SourcesScreen
from apimon_tui.tui.terminal import MonitorDriver, Shutdown
from apimon_tui.tui.widgets.alerts import AlertArea
from apimon_tui.tui.widgets.budget import BudgetPanel
from apimon_tui.tui.widgets.errors import MAX_ROWS, ErrorFeed, FeedTable
from apimon_tui.tui.widgets.footer import FittedFooter
from apimon_tui.tui.widgets.latency import LatencyPanel
from apimon_tui.tui.widgets.models import ModelsPanel
from apimon_tui.tui.widgets.overview import OverviewStrip
from apimon_tui.tui.widgets.ratelimits import RateLimitsPanel
from apimon_tui.tui.widgets.requests import RequestsPanel
from apimon_tui.tui.widgets.status import StatusLine

DEFAULT_WINDOW = 1  # 5m
PANELS = (RequestsPanel, LatencyPanel, ErrorFeed, BudgetPanel, RateLimitsPanel, ModelsPanel)
SLOW_EVERY_S = 5.0  # budget and idle alert evaluation
ALERTS_EVERY_S = 2.0  # at most this often while data flows: rules span minutes, evaluation is not free
CHART_POINTS = 60
# With no new calls, the panels change only as time moves the window on: they
# are redrawn for that at most this often (each redraw of all panels costs
# some 75 ms of CPU; every 5 s, that was 2.4% of a core on an idle log).
IDLE_REDRAW_S = 15.0
# The garbage collector's first two thresholds while the monitor runs (Python's are 700 and 10).
# At 10,000 lines/s Python's made a full pass (40-90 ms) every 3-4 s; these made none in 30 s,
# with young passes of at most 24 ms and 43 ms.
GC_YOUNG = (20_000, 3)

# A refresh's steps run back to back until they have taken this long, then one per screen update: at
# 1,000 lines/s all of them fit in one update (each update has a cost of its own, some 1% of a core
# a second for the seven of a refresh); at 10,000 a key waits for at most this and one step.
STEP_BUDGET_S = 0.008

OVERVIEW_EVERY_S = 5.0  # the overview strip, while data flows (a key that moves the view redraws it at once)
CURSOR_ACTIONS = {"cursor_step", "cursor_burst", "live", "leave_past"}
MAIN_VIEW_ACTIONS = {"focus_errors", "toggle_grouped", "filter", "copy_request_id", "help", "zoom", *CURSOR_ACTIONS}


class MonitorApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "apimon-tui"
    COMMANDS = {BindingCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide"), (160, "-wider")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-medium"), (50, "-tall")]
    ALLOW_IN_MAXIMIZED_VIEW = "Footer, StatusLine, AlertArea"

    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit", tooltip="quit"),
        Binding("ctrl+c", "quit", "Quit", id="quit_ctrl_c", show=False, priority=True,
                tooltip="quit, from any screen"),
        Binding("question_mark", "help", "Help", id="help", tooltip="this list of keys"),
        Binding("z", "zoom", "Zoom", id="zoom",
                tooltip="the focused panel full screen, and back (Tab moves between panels)"),
        Binding("d", "dismiss_alerts", "Hide alerts", id="dismiss_alerts",
                tooltip="hide the alert strip until an alert fires or changes state"),
        Binding("ctrl+p", "command_palette", "Commands", id="command_palette", show=False, priority=True,
                tooltip="search every action and its key"),
        *(Binding(str(i + 1), f"window({i})", f"Window {label}", id=f"window_{label}", show=False,
                  tooltip=f"window: the last {label}")
          for i, (label, _) in enumerate(WINDOWS)),
        Binding("p", "pause", "Pause", id="pause", tooltip="pause / resume the display (reading goes on)"),
        Binding("e", "focus_errors", "Errors", id="focus_errors", tooltip="move to the error feed"),
        Binding("g", "toggle_grouped", "Group", id="toggle_grouped",
                tooltip="failed calls one by one / grouped by status, code and model"),
        Binding("slash", "filter", "Filter", id="filter",
                tooltip="filter every panel: model: status: code: source: or text"),
        Binding("t", "next_theme", "Theme", id="next_theme", tooltip="next theme (remembered for the next start)"),
        Binding("y", "copy_request_id", "Copy id", id="copy_request_id",
                tooltip="copy the selected call's request id (OSC 52)"),
        Binding("r", "poll_usage", "Poll", id="poll_usage", show=False,
                tooltip="poll the providers' usage and cost now"),
        Binding("s", "sources", "Sources", id="sources", show=False,
                tooltip="every source: format, state, lines, unparsed lines and bad values"),
        Binding("a", "alerts", "Alerts", id="alerts",
                tooltip="the alert list: Enter shows the cause, x (un)acknowledges, s (un)silences the rule"),
        Binding("[", "cursor_step(-1)", "Earlier", id="cursor_back", show=False,
                tooltip="time cursor: the window one width earlier"),
        Binding("]", "cursor_step(1)", "Later", id="cursor_forward", show=False,
                tooltip="time cursor: the window one width later (up to live)"),
        Binding("{", "cursor_burst(0)", "Previous burst", id="previous_burst", show=False,
                tooltip="time cursor: the window ending just after the previous error burst"),
        Binding("}", "cursor_burst(1)", "Next burst", id="next_burst", show=False,
                tooltip="time cursor: the window ending just after the next error burst (or live)"),
        Binding("L", "live", "Live", id="live", show=False,
                tooltip="time cursor back to live (and the filter an alert set cleared)"),
        Binding("escape", "leave_past", "Live", id="leave_past", show=False,
                tooltip="back to live from a past window or an alert's calls"),
    ]

    def __init__(
        self,
        engine: Engine,
        config: dict[str, Any],
        *,
        clock: Callable[[], float] = time.time,
        refresh_s: float | None = None,
        alerts=None,
        budget: Budget | None = None,
        poller=None,
        config_path: str | Path | None = None,
        theme_dirs: list[Path] | None = None,
        start_engine: bool = True,
        ui_state: UiState | None = None,
        terminal: TextIO | None = None,
        step_budget_s: float = STEP_BUDGET_S,
    ) -> None:
        super().__init__(driver_class=MonitorDriver if terminal is not None else None)
        self.terminal = terminal  # where the screen is drawn (see tui/terminal.py); None: Textual's choice
        self.shutdown = Shutdown(self, self._stop_sources)
        state_problem = None
        if ui_state is None:
            ui_state, state_problem = UiState.load()
        self.ui_state = ui_state
        self.engine = engine
        self.store = engine.store
        self.config = config
        self.clock = clock
        self.refresh_s = refresh_s or float(config.get("ui", {}).get("refresh", 1.0))
        self.alerts = alerts or AlertManager.from_config(config, clock, state=ui_state)
        self.found = HistoryReplay(self.alerts.rules, until=clock())  # alerts of the look-back, before the run
        self._found_said = 0
        self.budget = budget or Budget(BudgetConfig.from_config(config), clock=clock,
                                       live_cost=self.store.cost_between, logs_since=self.store.logs_since,
                                       live_uncosted=self.store.uncosted_between)
        self.poller = poller
        self.config_path = Path(config_path or config.get("_path") or default_path())
        self.theme_dirs = theme_dirs if theme_dirs is not None else theme_files.theme_dirs(self.config_path)
        self.start_engine = start_engine
        self.window_index = DEFAULT_WINDOW
        self.filter = CallFilter()
        self.paused = False
        self.theme_names: list[str] = []
        self._drawn: tuple | None = None  # the data last drawn: store version, window, filter
        self._drawn_step = -1  # ... its chart step, and when
        self._drawn_at = -math.inf
        self._slow_at = -float("inf")
        self._alert_version = -1
        self._alerts_at = -math.inf
        self._budget_state = None
        self._panels: dict[type, Any] = {}
        self._pending_steps: list[Callable[[], None]] = []
        self.step_budget_s = step_budget_s
        self._start_problems = [*config.get("_warnings", ()), *filter(None, [state_problem]), *self._load_themes()]
        self.applied_keys: dict[str, str] = {}  # `[keys]` as applied: the ids and keys that passed
        self.cursor: float | None = None  # the time cursor: the viewed window's end; None: live
        self._alert_filter: CallFilter | None = None  # the filter Enter on an alert set; live clears it
        self._edge_said = ""  # the last edge the cursor was stopped at, said once
        self._overview_drawn: tuple | None = None
        self._overview_at = -math.inf

    # -- layout ------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        yield OverviewStrip(id="overview")
        yield AlertArea(id="alerts")
        with VerticalScroll(id="main"):
            with Horizontal(id="row-top", classes="row"):
                yield RequestsPanel(id="requests", classes="panel")
                yield LatencyPanel(id="latency", classes="panel")
            with Horizontal(id="row-mid", classes="row"):
                yield ErrorFeed(id="errors", classes="panel")
                with Vertical(id="side"):
                    yield BudgetPanel(id="budget", classes="panel")
                    yield RateLimitsPanel(id="ratelimits", classes="panel")
            yield ModelsPanel(id="models", classes="panel")
        yield FittedFooter()

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every toast (screens' too) is cleaned of terminal controls: alerts, problems and errors carry
        log, config and file text. Such text must also be shown with `markup=False`."""
        super().notify(lines(message), title=one_line(title), severity=severity, timeout=timeout, markup=markup)

    def on_mount(self) -> None:
        for problem in self._start_problems:
            self.notify(problem, severity="warning", timeout=10, markup=False)
        self._apply_keymap()
        if self.start_engine:
            self.engine.start()
        if self.poller is not None:
            self.run_worker(self.poller.run(), name="usage-poller", group="usage", exclusive=True)
        self.query_one("#error-rows").focus(scroll_visible=False)
        self.tick()
        self.set_interval(self.refresh_s, partial(self.tick, spread=True), name="refresh")

    def on_requests_panel_chart_ready(self) -> None:
        """The screen is up and plotext loaded: build the help screen, load the price table in a thread,
        then freeze the start's heap."""
        self._prebuild_help()
        threading.Thread(target=self._load_prices, name="apimon-prices", daemon=True).start()

    def _load_prices(self) -> None:
        pricing.load_table()
        if self.is_running:  # not quit meanwhile
            self.call_from_thread(self._freeze_start)

    def _freeze_start(self) -> None:
        """Make the garbage collector's full passes rare and short: each one stops every thread.

        The start leaves some 170,000 objects that live as long as the app;
        frozen, full passes no longer scan them (they took 100-200 ms at 10,000
        lines/s, and a key pressed meanwhile waited as long). Larger young
        generations (`GC_YOUNG`) let the objects of a refresh die before they
        are promoted, so the 25% growth that starts a full pass comes rarely.
        Skipped headless, where many apps share one process.
        """
        if not self.is_headless:
            gc.freeze()
            gc.set_threshold(*GC_YOUNG)

    def on_unmount(self) -> None:
        self._stop_sources()

    def _stop_sources(self) -> None:
        """Stop reading (ending `cmd:` processes): on the way out, and by `Shutdown` when it forces an exit."""
        if self.start_engine:
            self.engine.stop()

    # -- themes and keys -------------------------------------------------------

    def _load_themes(self) -> list[str]:
        """Register the theme files and choose the theme; returns the problems to show once mounted.

        Done before the app starts, so the stylesheet is parsed once, with the
        chosen theme's colours, rather than again after the first screen.
        """
        loaded = theme_files.load_themes(self.theme_dirs)
        for theme in loaded.themes:
            self.register_theme(theme)
        self.theme_names = loaded.names
        problems = list(loaded.problems)
        wanted = self.ui_state.theme(self._configured_theme())
        if wanted not in self.available_themes:
            problems.append(f"theme {wanted!r} not found; using the default")
            wanted = theme_files.DEFAULT_THEME
        if wanted in self.available_themes:
            self.theme = wanted
        return problems

    def _configured_theme(self) -> str:
        return self.config.get("ui", {}).get("theme") or theme_files.DEFAULT_THEME

    @classmethod
    def all_bindings(cls) -> list[tuple[str, Binding]]:
        """Every binding of the app and its screens with where it works, for help and `[keys]` checks
        (`key_names.BINDING_IDS` lists their ids for `config check`, which runs without Textual)."""
        return [
            *(("anywhere", b) for b in cls.BINDINGS),
            *(("error feed", b) for b in FeedTable.BINDINGS),
            *(("call detail", b) for b in DetailScreen.BINDINGS),
            *(("filter", b) for b in FilterScreen.BINDINGS),
            *(("help", b) for b in HelpScreen.BINDINGS),
            *(("alert list", b) for b in AlertsScreen.BINDINGS),
            *(("silence choice", b) for b in SilenceScreen.BINDINGS),
            *(("sources", b) for b in SourcesScreen.BINDINGS),
        ]

    def _apply_keymap(self) -> None:
        keymap = {str(k): str(v) for k, v in (self.config.get("keys") or {}).items()}
        known = {b.id for _, b in self.all_bindings()}
        for unknown in sorted(set(keymap) - known):
            self.notify(f"[keys] {unknown}: no such binding id (see ? for the ids)", severity="warning", timeout=10,
                        markup=False)
            del keymap[unknown]
        for binding_id, keys in sorted(keymap.items()):
            problem = key_problem(keys)
            if problem:  # Textual would bind it and it would never match: keep the default key
                self.notify(f"[keys] {binding_id}: {problem}; the default key stays", severity="warning",
                            timeout=10, markup=False)
                del keymap[binding_id]
        self.applied_keys = keymap
        self.set_keymap(keymap)

    def help_rows(self) -> list[tuple[str, str, str, str]]:
        keymap = self.applied_keys
        rows = []
        for where, binding in self.all_bindings():
            keys = keymap.get(binding.id, binding.key)
            shown = key_names(keys)
            rows.append((shown, where, binding.tooltip or binding.description, binding.id or ""))
        return rows

    # -- sampling ----------------------------------------------------------

    @property
    def window(self) -> tuple[str, float]:
        return WINDOWS[self.window_index]

    def _view_end(self, now: float) -> float:
        """Where the window ends: at the time cursor, or live."""
        return self._live_end(now) if self.cursor is None else self.cursor

    def _live_end(self, now: float) -> float:
        """Where the live window ends: now, or at the newest call when that is older than the
        window, so a quiet or old log is shown as it was rather than as empty panels."""
        newest = self.store.newest
        return newest if newest > -math.inf and now - newest > self.window[1] else now

    def _view_label(self, now: float) -> Text:
        parts = [f"window {self.window[0]}"]
        if not self.filter.is_empty():
            parts.append(f"filter: {one_line(describe(self.filter))}")
        if self.paused:
            parts.append("PAUSED (p resumes)")
        progress = self.engine.history_progress
        if progress is not None:
            parts.append(f"loading history {math.floor(progress * 100)}%")
        label = Text(" · ".join(parts), style="bold")
        end = self._view_end(now)
        if self.cursor is not None:
            label.append(" · ")
            label.append(self._past_label(now), style="bold reverse")
        elif end < now:  # not live: said in reverse video, which no live figure uses
            label.append(" · ")
            label.append(f"newest call {format_duration(now - end)} ago", style="bold reverse")
        return label

    def tick(self, spread: bool = False) -> None:
        """One refresh: redraw what changed since the last one.

        With `spread` (the refresh timer) its steps (the budget, the alert
        rules, the store's snapshot, then each panel) run until they have
        taken `step_budget_s`, the rest one screen update each. Under heavy
        traffic every panel changes each second, and a key pressed meanwhile
        waits for one step (the snapshot or the requests chart, some 20-30 ms
        each at 10,000 lines/s), not for all of them.
        Redraws asked for by a key are drawn at once.
        """
        now = self.clock()
        self._tick_status(now)
        if self.paused:
            return
        steps: list[Callable[[], None]] = []
        slow_due = now - self._slow_at >= SLOW_EVERY_S
        if slow_due:
            self._slow_at = now
            steps.append(self._tick_budget)
        fresh_data = self.store.version != self._alert_version and now - self._alerts_at >= ALERTS_EVERY_S
        if slow_due or fresh_data:
            self._alert_version, self._alerts_at = self.store.version, now
            steps.append(partial(self._tick_alerts, now))
        label, window_s = self.window
        step = max(1.0, window_s / CHART_POINTS)
        end = self._view_end(now)
        key = (self.store.version, self.store.loaded_from, self.window_index, describe(self.filter))
        moved_on = int(end // step) != self._drawn_step and now - self._drawn_at >= IDLE_REDRAW_S
        if key != self._drawn or moved_on:
            steps.append(partial(self._tick_panels, end, spread, (key, int(end // step), now)))
        if self._overview_due(now):
            steps.append(partial(self._tick_overview, now))
        if spread:
            self._pending_steps = steps  # a newer refresh replaces what is left of an older one
            self._run_next_step()
            return
        self._pending_steps = []
        with self.batch_update():
            for run in steps:
                run()

    def _tick_panels(self, end: float, spread: bool, drawn: tuple) -> None:
        """The panels from one snapshot of the store, of the window ending at `end`: queued one
        per screen update with `spread`.

        What is drawn (`drawn`: data key, chart step, time) is noted once the
        last panel shows it: a newer refresh that replaces the queue before
        then queues the panels again.
        """
        label, window_s = self.window
        snap = self.store.snapshot(window_s, end, self.filter, points=CHART_POINTS, failed_limit=MAX_ROWS)
        shows = [
            partial(self._panel(RequestsPanel).show, snap, label, self._chart_end_label(end)),
            partial(self._panel(LatencyPanel).show, snap, label),
            partial(self._panel(ErrorFeed).show, snap, label, self._feed_note(snap)),
            partial(self._panel(ModelsPanel).show, snap, label),
            partial(self._panel(RateLimitsPanel).show, snap),
            partial(self._note_drawn, drawn),
        ]
        if spread:
            self._pending_steps.extend(shows)
            return
        for show in shows:
            show()

    def _note_drawn(self, drawn: tuple) -> None:
        self._drawn, self._drawn_step, self._drawn_at = drawn

    def _run_next_step(self) -> None:
        """The refresh's next steps, within `step_budget_s` (at least one); the rest after the screen update."""
        started = time.perf_counter()
        while self._pending_steps:
            self._pending_steps.pop(0)()
            if time.perf_counter() - started >= self.step_budget_s:
                break
        if self._pending_steps:
            self.call_after_refresh(self._run_next_step)

    def _panel(self, widget_type):
        """A panel of the main screen, found once (other screens may be on top later)."""
        panel = self._panels.get(widget_type)
        if panel is None:
            panel = self._panels[widget_type] = self.screen_stack[0].query_one(widget_type)
        return panel

    def _providers(self) -> list:
        return list(self.poller.states.values()) if self.poller is not None else []

    def _tick_status(self, now: float) -> None:
        status = self._panel(StatusLine)
        status.set_class(self.cursor is not None, "-past")
        status.show(self.engine.statuses(), self._providers(), self._view_label(now), now)

    def _tick_budget(self) -> None:
        usages = self.poller.usages() if self.poller is not None else {}
        self._budget_state = self.budget.state(usages)
        loaded_from = self.store.loaded_from
        partial = loaded_from is not None and loaded_from > self._budget_state.anchor
        self._panel(BudgetPanel).show(self._budget_state, self._providers(), partial)

    def _tick_alerts(self, now: float) -> None:
        usage = self.poller.states if self.poller is not None else None
        events = self.alerts.evaluate(self.store, budget=self._budget_state, usage=usage, now=now,
                                      unpriced=self.engine.pricer.unpriced)
        ring = self.config.get("alerts", {}).get("bell")
        if ring and any(e.kind == "fire" and e.alert.severity == "critical" for e in events):
            self.bell()
        for problem in self.alerts.drain_problems():
            self.notify(problem, severity="warning", timeout=10, markup=False)
        self.found.carry_over(self.alerts)
        self._panel(AlertArea).show(self.alerts.active())
        self._replay_history()

    def _replay_history(self) -> None:
        """Replay the rules over the look-back held so far, in a thread, when its span has grown enough
        (`HistoryReplay`); one replay at a time, and none while a file is still read forward to its end
        (one that cannot be searched by time: its calls come oldest first)."""
        if self.engine.behind or any(w.group == "alert-replay" for w in self.workers):
            return
        span = self.found.span_due(self.store)
        if span is not None:
            self.run_worker(partial(self.found.replay, self.store, *span), name="alert-replay",
                            group="alert-replay", thread=True, exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A replay of the look-back ended: say once how many alerts it found, or why it failed."""
        if event.worker.group != "alert-replay":
            return
        if event.state == WorkerState.ERROR:
            self.found.stopped = True  # not again: once is enough to say it
            self.notify(f"alerts of the look-back not found: the replay failed ({failure_reason(event.worker.error)})",
                        severity="warning", timeout=10, markup=False)
        elif event.state == WorkerState.SUCCESS:
            self.found.carry_over(self.alerts)
            found = len(self.found.listed())
            if found > self._found_said:
                self._found_said = found
                self.notify(f"{found} alert(s) found in the look-back, before this run: a lists them",
                            timeout=10, markup=False)

    def redraw_now(self) -> None:
        self._drawn = None
        self._overview_drawn = None
        self.tick()

    # -- actions -----------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keys that act on the main view's panels do nothing over the detail, help or filter screens;
        `d` is there only while the alert strip shows."""
        if action in MAIN_VIEW_ACTIONS and len(self.screen_stack) > 1:
            return False
        if action == "leave_past":  # Esc is free for the screens' own uses otherwise
            return self.cursor is not None or self._alert_filter is not None
        if action == "dismiss_alerts":  # in the footer only while the strip shows
            return self._panel(AlertArea).has_class("-active")
        return True

    def action_help(self) -> None:
        self._install_help()
        self.push_screen("help")

    def _install_help(self) -> None:
        """The help screen is built once and kept: the bindings do not change while the app runs."""
        if not self.is_screen_installed("help"):
            self.install_screen(HelpScreen(self.help_rows()), name="help")

    def _prebuild_help(self) -> None:
        """Compose and lay out the help screen off screen, so that the first `?` costs what later ones do.

        A screen is composed, styled and laid out the first time it is pushed
        (some 100 ms at 10,000 lines/s, against 10-20 ms once built). Pushed and
        popped in one callback, it is never drawn: it only builds itself.
        """
        if self.is_screen_installed("help") or len(self.screen_stack) > 1:
            return
        self._install_help()
        self.push_screen("help")
        self.pop_screen()

    def action_sources(self) -> None:
        self.push_screen(SourcesScreen(self.engine.statuses, self.clock))

    def action_alerts(self) -> None:
        self.push_screen(AlertsScreen(self.alerts, self.found), self.show_cause)

    def show_cause(self, alert) -> None:
        """Where Enter in the alert list leads: the budget panel, or the failed calls it names in the
        window where it first fired (once it is over, live would show nothing of it)."""
        self._panel(AlertArea).show(self.alerts.active())  # acknowledged while the list was open
        if alert is None:
            return
        cause = alert.cause
        if cause.target == "budget":
            self._panel(BudgetPanel).scroll_visible(animate=False)
            return
        self.filter = self._alert_filter = cause.filter()
        if cause.window_s:
            self.window_index = next((i for i, (_, s) in enumerate(WINDOWS) if s >= cause.window_s),
                                     len(WINDOWS) - 1)
        now = self.clock()
        began = alert.since if alert.began is None else alert.began  # an incident going on since before the run
        self.cursor = None if began >= self._live_end(now) - time_cursor.SAME_S else began
        self._edge_said = ""
        self.redraw_now()
        self.action_focus_errors()

    def action_zoom(self) -> None:
        """The focused panel (the error feed when none is) fills the screen; again, back to all panels."""
        screen = self.screen
        if screen.maximized is not None:
            screen.minimize()
            return
        focused = screen.focused
        panel = next((w for w in (focused, *focused.ancestors) if isinstance(w, PANELS)), None) if focused else None
        screen.maximize(panel or self._panel(ErrorFeed), container=False)

    def action_dismiss_alerts(self) -> None:
        self._panel(AlertArea).dismiss()

    def action_window(self, index: int) -> None:
        self.window_index = index
        self.redraw_now()

    def action_pause(self) -> None:
        """The display holds as it is when `p` is pressed: panels a spread refresh had not reached yet stay too.

        (Drawing them would also have delayed the status line's PAUSED.)
        """
        self.paused = not self.paused
        self._pending_steps = []
        self.redraw_now()

    def action_poll_usage(self) -> None:
        if self.poller is None:
            self.notify("no provider is enabled: see [providers] in the config", timeout=5)
            return
        self.poller.poll_now()
        self.notify("polling the providers now", timeout=3)

    def action_focus_errors(self) -> None:
        feed = self._panel(ErrorFeed)
        feed.focus_feed()
        feed.scroll_visible(animate=False)

    def action_toggle_grouped(self) -> None:
        feed = self._panel(ErrorFeed)
        feed.toggle_grouped()
        self.redraw_now()

    def on_key(self, event: events.Key) -> None:
        """Keys typed or pasted fast after `/` were queued on the main screen before the filter
        opened, and come back here unhandled: they belong to the filter."""
        if isinstance(self.screen, FilterScreen):
            self.screen.take_key(event)

    def on_paste(self, event: events.Paste) -> None:
        if isinstance(self.screen, FilterScreen):
            self.screen.take_paste(event)

    def action_filter(self) -> None:
        def apply(text: str) -> None:
            self.filter = parse_filter(text)
            self.redraw_now()

        self.push_screen(FilterScreen(one_line(describe(self.filter))), apply)

    def action_next_theme(self) -> None:
        names = self.theme_names or [self.theme]
        current = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(current + 1) % len(names)]
        self._drawn = None
        try:
            self.ui_state.save_theme(self.theme, self._configured_theme())
        except OSError as exc:
            self.notify(f"theme {self.theme}; not kept for the next start: cannot write {self.ui_state.path}: "
                        f"{exc.strerror or exc}", severity="warning", timeout=6, markup=False)
            return
        self.notify(f"theme {self.theme} (kept in {self.ui_state.path})", timeout=3, markup=False)

    def action_copy_request_id(self) -> None:
        self.copy_request_id(self._panel(ErrorFeed).selected_call())

    def copy_request_id(self, call: Call | None) -> None:
        """Copy through OSC 52, which the terminal (even over SSH) puts on the clipboard."""
        if call is None or not call.request_id:
            self.notify("no request id to copy", severity="warning", timeout=3)
            return
        request_id = identifier(call.request_id)  # pasted later into a shell, perhaps
        self.copy_to_clipboard(request_id)
        self.notify(f"copied request id {request_id}", timeout=3, markup=False)

    def on_models_panel_filter_model(self, message: ModelsPanel.FilterModel) -> None:
        self.filter = replace(self.filter, model=message.model)
        self.redraw_now()
        self.notify(f"filter: {one_line(describe(self.filter))} (/ edits it, Esc there clears it)", timeout=4,
                    markup=False)

    def on_error_feed_open_call(self, message: ErrorFeed.OpenCall) -> None:
        chosen = message.call
        wanted = chosen.group_key()
        with self.store.lock:
            group = [c for c in reversed(self.store.failed) if c.group_key() == wanted]
        index = next((i for i, c in enumerate(group) if c is chosen), None)
        if index is None:
            group, index = [chosen, *group], 0
        self.push_screen(DetailScreen(group, index, self.engine.recall))

    # -- time cursor ---------------------------------------------------------

    def _past_label(self, now: float) -> str:
        """`12:00-12:05 · 2h ago · L: live`: what a past window shows, and the key back."""
        live_key = key_names(self.applied_keys.get("live", "L"))
        return f"{time_cursor.describe_view(self.cursor - self.window[1], self.cursor, now)} · {live_key}: live"

    def _chart_end_label(self, end: float) -> str:
        return "now" if self.cursor is None else fmt.clock_time(end)

    def _feed_note(self, snap) -> str:
        """Said in the feed when the window had failures from before the oldest one the ring kept."""
        start = snap.now - (snap.window_s or math.inf)
        if snap.total.errors and start < failed_kept_from(self.store):
            return "older failed calls not kept"
        return ""

    def _overview_due(self, now: float) -> bool:
        if self._overview_drawn is None:
            return True
        return self._overview_key(now) != self._overview_drawn and now - self._overview_at >= OVERVIEW_EVERY_S

    def _overview_key(self, now: float) -> tuple:
        return (self.store.version, self.window_index, self.cursor, describe(self.filter),
                int(self._view_end(now) // 60))

    def _tick_overview(self, now: float) -> None:
        self._overview_drawn, self._overview_at = self._overview_key(now), now
        end, live_end = self._view_end(now), self._live_end(now)
        oldest = max(self.store.oldest, self.store.newest - self.store.horizon_s)
        fetch = partial(store_intervals, self.store, flt=self.filter)
        self._panel(OverviewStrip).show(fetch, max(0.0, live_end - oldest), self.store.fine_s,
                                        end - self.window[1], end)

    def action_cursor_step(self, direction: int) -> None:
        """`[` / `]`: the window one width earlier or later."""
        now = self.clock()
        live_end = self._live_end(now)
        earliest = self._earliest_end(store_intervals(self.store, flt=self.filter), live_end)
        self._move_cursor(time_cursor.step(self._view_end(now), direction * self.window[1], earliest, live_end))

    def action_cursor_burst(self, forward: int) -> None:
        """`{` / `}`: the window ending just after the previous or next error burst (under the filter)."""
        now = self.clock()
        bursts = error_bursts(store_intervals(self.store, flt=self.filter), 60, gap_s=self.window[1])
        move = time_cursor.jump(bursts, self._view_end(now), bool(forward), self._live_end(now))
        progress = self.engine.history_progress
        if move.edge and not forward and progress is not None:  # an earlier burst may not be read yet
            move = time_cursor.Move(move.end, f"{move.edge} yet: history is still loading ({math.floor(progress * 100)}%)")
        self._move_cursor(move)

    def action_live(self) -> None:
        """`L`: back to live; the filter an alert's Enter set goes too (one the user typed stays)."""
        if self._alert_filter is not None and self.filter == self._alert_filter:
            self.filter = CallFilter()
        self._alert_filter = None
        self._move_cursor(time_cursor.Move(None))

    def action_leave_past(self) -> None:
        self.action_live()

    def _earliest_end(self, intervals: list, live_end: float) -> float:
        oldest = max(self.store.oldest, intervals[0].start) if intervals else live_end
        return time_cursor.earliest_end(oldest, self.window[1], live_end)

    def _move_cursor(self, move: time_cursor.Move) -> None:
        """Put the cursor where `move` says; an edge that stopped it is said once, not at every press."""
        self.cursor = move.end
        if move.edge and move.edge != self._edge_said:
            self.notify(move.edge, timeout=4)
        self._edge_said = move.edge
        self.redraw_now()
