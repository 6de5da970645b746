"""`AlertManager`: the state machine that turns rule readings into alerts that are right and quiet.

Per alert (one rule, one scope) the condition must hold for the rule's `for`
before it fires; once active it resolves only after the value has been back
past `clear` x the threshold for `hold`; it escalates at once when a higher
threshold is crossed and steps down silently; and after firing it cannot fire
again before its `cooldown`. Silencing a rule holds back its new alerts until
the silence ends (with a `UiState`, silences outlive the run); acknowledging
an alert keeps it listed but quiet.

An active alert is in one of three states, and its message says which, so it
never reads as a false sum: `firing` (the value is past the threshold),
`holding` (back under the threshold but not past the clear point) and
`clearing` (past the clear point, resolving once it has stayed there `hold`).

`evaluate` returns the events worth announcing (toast, bell, notify): fires and
resolves of alerts not acknowledged, outside a silence. `history()` keeps every
event of the run, and the optional history file gets them as JSON lines.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import Any

from apimon_tui.alerts.notify import Notifier
from apimon_tui.alerts.readings import Inputs, Reading, readings
from apimon_tui.alerts.rules import RANK, Cause, Rule, format_value, rules_from_config
from apimon_tui.core.files import private_opener
from apimon_tui.core.redact import redact
from apimon_tui.core.state import UiState
from apimon_tui.core.terminal_text import identifier
from apimon_tui.core.timeutil import format_duration

HISTORY_LIMIT = 1000


@dataclass(slots=True)
class Alert:
    key: str
    rule: str
    kind: str
    severity: str
    scope: str
    value: float
    threshold: float
    unit: str
    window: float | None
    since: float
    message: str
    cause: Cause
    acknowledged: bool = False
    updated: float = 0.0
    resolved_at: float | None = None
    state: str = "firing"         # firing, holding or clearing
    began: float | None = None    # when its incident began, when that was before the run (`HistoryReplay`)

    def to_dict(self) -> dict[str, Any]:
        """The alert as `check --json`, notify commands and the history file see it."""
        return {
            "rule": self.rule, "kind": self.kind, "severity": self.severity, "scope": self.scope,
            "value": round(self.value, 4), "threshold": self.threshold, "unit": self.unit,
            "window": format_duration(self.window) if self.window else None,
            "since": round(self.since, 3), "message": self.message, "state": self.state,
            "acknowledged": self.acknowledged, "key": self.key,
        }


@dataclass(slots=True)
class AlertEvent:
    kind: str        # fire, resolve or ack
    alert: Alert     # the alert as it was at that moment
    ts: float


@dataclass(slots=True)
class _Track:
    pending_since: float | None = None
    clear_since: float | None = None
    last_fired: float | None = None
    peak: int = -1
    alert: Alert | None = None


def _crosses(rule: Rule, reading: Reading, threshold: float, clearing: bool) -> bool:
    """Is the reading past `threshold` (or, when `clearing`, past its clear point)?"""
    if reading.below:
        return reading.value < (threshold / rule.clear if clearing else threshold)
    limit = threshold * rule.clear if clearing else threshold
    return reading.value >= limit if rule.spec.inclusive else reading.value > limit


def _level(rule: Rule, reading: Reading | None, clearing: bool = False) -> str | None:
    """The highest severity the reading reaches, None when it reaches none."""
    if reading is None:
        return None
    levels = reading.levels or rule.levels
    if reading.failing:
        return levels[0][0]
    best = None
    for severity, threshold in levels:
        if _crosses(rule, reading, threshold, clearing):
            best = severity
    return best


def _head(rule: str, scope: str, severity: str) -> str:
    return f"{severity.upper()} {rule} {identifier(scope)}"  # a hostile model is not gpt-4o


def _message(rule: Rule, reading: Reading, severity: str, threshold: float) -> str:
    """`CRITICAL error_rate gpt-4o 23.1% > 20% over 5m (412 calls)`."""
    head = _head(rule.name, reading.scope, severity)
    if reading.text:
        return redact(f"{head} {reading.text}")
    unit = reading.unit or rule.spec.unit
    op = "<" if reading.below else (">=" if rule.spec.inclusive else ">")
    parts = [head, format_value(unit, reading.value)]
    if reading.noun:
        parts.append(reading.noun)
    parts += [op, format_value(unit, threshold, threshold=True)]
    if reading.detail:
        parts.append(reading.detail)
    return " ".join(parts)


def _settling_message(rule: Rule, alert: Alert, reading: Reading | None, state: str, left_s: float) -> str:
    """An active alert whose value no longer crosses its threshold, in words that stay true:
    `WARNING error_rate gpt-4o 4.9% holding: fired > 5%, clears at <= 4.5%`,
    `... 3.1% clearing: resolves in 40s unless it rises past 4.5%`."""
    head = _head(rule.name, alert.scope, alert.severity)
    if reading is None:
        return f"{head} clearing: no reading now, resolves in {format_duration(left_s)}"
    if reading.text:
        return redact(f"{head} {state}: {reading.text}")
    below, unit = reading.below, alert.unit
    if below:
        fired, clear_op, back_op, clear_point = "<", ">=", "<", alert.threshold / rule.clear
    else:
        fired = ">=" if rule.spec.inclusive else ">"
        clear_op, back_op = ("<", ">=") if rule.spec.inclusive else ("<=", ">")
        clear_point = alert.threshold * rule.clear
    value = format_value(unit, reading.value)
    if reading.noun:
        value += f" {reading.noun}"
    point = format_value(unit, clear_point, threshold=True)
    if state == "holding":
        return f"{head} {value} holding: fired {fired} {format_value(unit, alert.threshold, threshold=True)}, " \
               f"clears at {clear_op} {point}"
    return f"{head} {value} clearing: resolves in {format_duration(left_s)} unless back {back_op} {point}"


class AlertManager:
    def __init__(
        self,
        rules: list[Rule],
        clock: Callable[[], float] = time.time,
        *,
        history_file: str | None = None,
        notifier: Notifier | None = None,
        state: UiState | None = None,
    ) -> None:
        self.rules = rules
        self.clock = clock
        self.history_file = history_file
        self.notifier = notifier
        self.state = state
        self._tracks: dict[str, _Track] = {}
        self._silenced: dict[str, float] = state.silences(clock()) if state is not None else {}
        self._history: deque[AlertEvent] = deque(maxlen=HISTORY_LIMIT)
        self._problems: deque[str] = deque(maxlen=100)

    @classmethod
    def from_config(cls, config: dict[str, Any], clock: Callable[[], float] = time.time, *,
                    state: UiState | None = None) -> AlertManager:
        """The manager for `[alerts]`; raises ConfigError on a bad rule."""
        section = config.get("alerts") or {}
        return cls(rules_from_config(config), clock, history_file=section.get("history_file") or None,
                   notifier=Notifier.from_config(section), state=state)

    # -- evaluation ---------------------------------------------------------

    def evaluate(
        self,
        store=None,
        budget=None,
        usage=None,
        now: float | None = None,
        *,
        unpriced: Collection[str] = (),
        complete_from: float | None = None,
    ) -> list[AlertEvent]:
        """Evaluate every enabled rule at `now` (default: the clock); returns the events to announce.

        `budget` is a `BudgetState`, `usage` the poller's states (a dict or a list),
        `unpriced` the models seen without a known price. A traffic rule whose window
        reaches before the store's `loaded_from` (or `complete_from`, when later) is not judged.
        """
        now = self.clock() if now is None else now
        states = list(usage.values() if hasattr(usage, "values") else usage or ())
        inputs = Inputs(store, now, budget, states, unpriced)
        announce: list[AlertEvent] = []
        edges = (getattr(store, "loaded_from", None), complete_from)  # look-back still being read, newest first
        loaded_from = max((edge for edge in edges if edge is not None), default=None)
        for rule in self.rules:
            if not rule.enabled:
                continue
            if rule.spec.needs_store and loaded_from is not None and now - (rule.window_s or 0) < loaded_from:
                continue  # its window is not all read yet: a low count there is not a fall in traffic
            seen = {f"{rule.name}|{r.scope}": r for r in readings(rule, inputs)}
            keys = set(seen) | {k for k, t in self._tracks.items() if t.alert and t.alert.rule == rule.name}
            for key in sorted(keys):
                self._step(rule, key, seen.get(key), now, announce)
        self._prune(now)
        return announce

    def replay(self, store, start: float, end: float, step: float, **inputs: Any) -> list[AlertEvent]:
        """Evaluate at every `step` from `start` to `end` (as if watching live), for one-shot checks."""
        count = max(0, math.ceil((end - start) / step)) if step > 0 else 0
        events: list[AlertEvent] = []
        for k in range(count, -1, -1):
            events += self.evaluate(store, now=end - k * step, **inputs)
        return events

    def _step(self, rule: Rule, key: str, reading: Reading | None, now: float, announce: list) -> None:
        track = self._tracks.get(key)
        if track is None:
            if reading is None or _level(rule, reading) is None:
                return
            track = self._tracks[key] = _Track()
        if track.alert is None:
            self._maybe_fire(rule, key, track, reading, now, announce)
        else:
            self._follow(rule, track, reading, now, announce)

    def _maybe_fire(self, rule: Rule, key: str, track: _Track, reading: Reading | None, now: float,
                    announce: list) -> None:
        level = _level(rule, reading)
        if level is None:
            track.pending_since = None
            return
        if track.pending_since is None:
            track.pending_since = now
        if now - track.pending_since < rule.for_s or self.silenced_until(rule.name, now):
            return
        if track.last_fired is not None and now - track.last_fired < rule.cooldown_s:
            return
        threshold = dict(reading.levels or rule.levels)[level]
        track.alert = Alert(
            key=key, rule=rule.name, kind=rule.kind, severity=level, scope=reading.scope,
            value=reading.value, threshold=threshold, unit=reading.unit or rule.spec.unit,
            window=rule.window_s, since=now, message=_message(rule, reading, level, threshold),
            cause=reading.cause, updated=now,
        )
        track.last_fired, track.peak, track.clear_since = now, RANK[level], None
        self._emit("fire", track.alert, now, announce)

    def _follow(self, rule: Rule, track: _Track, reading: Reading | None, now: float, announce: list) -> None:
        alert = track.alert
        held = _level(rule, reading, clearing=True)
        if held is None:
            if track.clear_since is None:
                track.clear_since = now
            if now - track.clear_since >= rule.hold_s:
                self._resolve(track, now, announce)
                return
            alert.state, alert.updated = "clearing", now
            if reading is not None:
                alert.value = reading.value
            alert.message = _settling_message(rule, alert, reading, "clearing",
                                              rule.hold_s - (now - track.clear_since))
            return
        track.clear_since = None
        level = _level(rule, reading)
        if level is not None and RANK[level] > RANK[alert.severity]:
            new = level
        elif RANK[held] < RANK[alert.severity]:
            new = held   # stepped down past the clear point of its level: quietly
        else:
            new = alert.severity
        alert.severity = new
        alert.threshold = dict(reading.levels or rule.levels)[new]
        alert.value, alert.updated = reading.value, now
        firing = level is not None and RANK[level] >= RANK[new]
        alert.state = "firing" if firing else "holding"
        alert.message = (_message(rule, reading, new, alert.threshold) if firing
                         else _settling_message(rule, alert, reading, "holding", 0.0))
        if RANK[new] > track.peak:
            track.peak = RANK[new]
            self._emit("fire", alert, now, announce, quiet=self.silenced_until(rule.name, now) is not None)

    def _resolve(self, track: _Track, now: float, announce: list) -> None:
        alert = track.alert
        alert.resolved_at, alert.state = now, "resolved"
        head = _head(alert.rule, alert.scope, alert.severity)
        alert.message = f"{head} resolved after {format_duration(now - alert.since)}"
        track.alert, track.pending_since, track.clear_since, track.peak = None, None, None, -1
        self._emit("resolve", alert, now, announce)

    def _prune(self, now: float) -> None:
        """Forget tracks with nothing pending, active or cooling down."""
        rules = {r.name: r for r in self.rules}
        for key in [k for k, t in self._tracks.items() if t.alert is None and t.pending_since is None]:
            track, rule = self._tracks[key], rules.get(key.split("|", 1)[0])
            if track.last_fired is None or rule is None or now - track.last_fired >= rule.cooldown_s:
                del self._tracks[key]

    # -- events and history -------------------------------------------------

    def _emit(self, kind: str, alert: Alert, now: float, announce: list | None, quiet: bool = False) -> AlertEvent:
        event = AlertEvent(kind, replace(alert), now)
        self._history.append(event)
        self._write(event)
        if announce is not None and not alert.acknowledged and not quiet:
            announce.append(event)
            if kind == "fire" and self.notifier is not None:
                rule = next((r for r in self.rules if r.name == alert.rule), None)
                self.notifier.send(event.alert, rule.cooldown_s if rule else 0.0)
        return event

    def _write(self, event: AlertEvent) -> None:
        if not self.history_file:
            return
        line = json.dumps({"ts": round(event.ts, 3), "event": event.kind, **event.alert.to_dict()})
        try:
            with open(self.history_file, "a", encoding="utf-8", opener=private_opener) as fh:
                fh.write(redact(line) + "\n")
        except OSError as exc:
            self._problems.append(f"alert history: cannot write {self.history_file}: {exc.strerror}")

    # -- what the screen asks -----------------------------------------------

    def active(self) -> list[Alert]:
        """Active alerts, most severe first, then the oldest first."""
        alerts = [t.alert for t in self._tracks.values() if t.alert is not None]
        return sorted(alerts, key=lambda a: (-RANK[a.severity], a.since, a.key))

    def get(self, key: str) -> Alert | None:
        track = self._tracks.get(key)
        return track.alert if track else None

    def acknowledge(self, key: str) -> AlertEvent | None:
        """Mark an active alert seen: it stays listed, no more toasts or notifications."""
        alert = self.get(key)
        if alert is None or alert.acknowledged:
            return None
        alert.acknowledged = True
        return self._emit("ack", alert, self.clock(), None)

    def unacknowledge(self, key: str) -> AlertEvent | None:
        """Undo `acknowledge`: the alert announces its escalation and resolve again."""
        alert = self.get(key)
        if alert is None or not alert.acknowledged:
            return None
        alert.acknowledged = False
        return self._emit("unack", alert, self.clock(), None)

    def silence(self, rule: str, seconds: float) -> float:
        """Hold back new alerts of `rule` for `seconds`; returns when the silence ends."""
        now = self.clock()
        until = now + seconds
        self._silenced[rule] = until
        if self.state is not None:
            try:
                self.state.save_silence(rule, until, now)
            except OSError as exc:
                self._problems.append(f"silence of {rule} not kept for the next run: "
                                      f"cannot write {self.state.path}: {exc.strerror or exc}")
        return until

    def unsilence(self, rule: str) -> bool:
        """End a silence early; False when the rule was not silenced."""
        silenced = self.silenced_until(rule) is not None
        self._silenced.pop(rule, None)
        return silenced

    def silenced_until(self, rule: str, now: float | None = None) -> float | None:
        until = self._silenced.get(rule)
        if until is None or until <= (self.clock() if now is None else now):
            return None
        return until

    def history(self) -> list[AlertEvent]:
        """Every fire, resolve, ack and unack of this run, oldest first."""
        return list(self._history)

    def drain_problems(self) -> list[str]:
        """One-line problems since the last call (history file, notify commands), for the screen."""
        out = list(self._problems)
        self._problems.clear()
        if self.notifier is not None:
            out += self.notifier.drain_failures()
        return out
