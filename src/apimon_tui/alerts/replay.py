"""Alerts found in history: the traffic rules replayed over the look-back the monitor loaded at start.

Someone paged at 03:00 opens the monitor at 03:10: the incident at 02:40 came
before the run, so no live evaluation saw it. The rules are replayed over the
span the store holds in full, a step (a minute) at a time in time order, by a
quiet `AlertManager`, the one `check` replays with: `for`, `clear`, `hold` and
`cooldown` mean what they mean live. It has no notifier, no history file and
no silences, and its events are not announced: an episode found in history
never rings, notifies or calls a webhook; only live firings do.

The look-back arrives newest first, so the span held in full grows backwards,
and a forward replay needs the state from the span's start. Each replay
therefore covers the whole span held so far, and is run again when that span
has doubled, and once it is all in: the newest incidents show first, and all
the replays together cost at most three replays of the whole span (one of 24 h
of minutes with the shipped rules: about 0.6 s of one core).

An episode still on where the look-back meets the run is the incident the
live rules then fire for: `carry_over` notes on that live alert when the
episode began (its Enter shows where it began), and the episode is not listed twice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from apimon_tui.alerts.manager import HISTORY_LIMIT, Alert, AlertEvent, AlertManager
from apimon_tui.alerts.rules import RANK, Rule
from apimon_tui.store.metrics import MetricsStore

STEP_S = 60.0   # the store's minute buckets: one evaluation each
GROWTH = 2.0    # replay again once the span held in full is this many times the last one replayed


class HistoryReplay:
    """The episodes the enabled traffic rules fired over the look-back before `until` (when the run's
    live evaluation began), newest first: resolved ones with `resolved_at`, ones still firing at the
    end of the span without."""

    def __init__(self, rules: Sequence[Rule], until: float, *, step_s: float = STEP_S) -> None:
        self.rules = [r for r in rules if r.enabled and r.spec.needs_store]
        self.until = until
        self.step_s = step_s
        self.episodes: list[Alert] = []
        self.span: tuple[float, float] | None = None  # the span last replayed
        self.carried: set[str] = set()  # keys of the episodes that live alerts carry on
        self.stopped = False  # no more replays (one failed)

    def span_due(self, store: MetricsStore) -> tuple[float, float] | None:
        """The span to replay now (start, end), or None when the last replay still says all there is:
        while the look-back loads, once the span held in full has grown `GROWTH` times; after, once
        more if it reaches further than the last one (an older start, a later end up to `until`)."""
        if self.stopped or not self.rules or store.oldest == math.inf:
            return None
        loaded_from, step = store.loaded_from, self.step_s
        held_from = max(store.oldest if loaded_from is None else loaded_from, store.newest - store.horizon_s)
        start = math.ceil(held_from / step) * step
        end = math.floor(min(self.until, math.ceil(store.newest / step) * step) / step) * step  # the newest call's step
        if end <= start:
            return None
        if self.span is not None:
            last_start, last_end = self.span
            if loaded_from is not None and end - start < GROWTH * (last_end - last_start):
                return None
            if loaded_from is None and start >= last_start and end <= last_end:
                return None  # all in, and no more than the last replay covered (only older minutes pruned)
        return start, end

    def replay(self, store: MetricsStore, start: float, end: float) -> list[Alert]:
        """Replay the rules from `start` to `end` and keep the episodes found (replacing the last ones)."""
        quiet = AlertManager(self.rules, clock=lambda: end)
        events = quiet.replay(store, start, end, self.step_s, complete_from=start)
        self.episodes = episodes(events, quiet.active())[:HISTORY_LIMIT]
        self.span = (start, end)
        return self.episodes

    def listed(self) -> list[Alert]:
        """The episodes to list: all but those a live alert carries on."""
        return [a for a in self.episodes if a.resolved_at is not None or a.key not in self.carried]

    def carry_over(self, manager: AlertManager) -> None:
        """A live alert that fired as the run began (within its rule's `for` and two steps of the look-back's
        end), for an episode still on there, is that episode going on: it notes when the episode began."""
        if self.span is None or self.span[1] < math.floor(self.until / self.step_s) * self.step_s:
            return  # the look-back ends before the run (a log that went quiet): nothing goes on into it
        rules = {r.name: r for r in self.rules}
        for episode in self.episodes:
            alert = manager.get(episode.key) if episode.resolved_at is None else None
            if alert is None or alert.since > self.span[1] + rules[episode.rule].for_s + 2 * self.step_s:
                continue
            alert.began = episode.since
            self.carried.add(episode.key)


def episodes(events: list[AlertEvent], active: list[Alert]) -> list[Alert]:
    """One alert per episode, newest first: as it stood at its peak, resolved when it resolved;
    those in `active` as they stand at the end."""
    peaks: dict[str, Alert] = {}
    found: list[Alert] = []
    for event in events:
        alert, peak = event.alert, peaks.get(event.alert.key)
        if event.kind == "fire":
            if peak is None or RANK[alert.severity] >= RANK[peak.severity]:
                peaks[alert.key] = alert
        elif event.kind == "resolve" and peak is not None:
            found.append(replace(peak, resolved_at=event.ts, state="resolved"))
            del peaks[alert.key]
    found += [replace(alert) for alert in active]
    return sorted(found, key=lambda a: a.since, reverse=True)
