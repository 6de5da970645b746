"""Shared pieces of the alert tests: a fixed clock, synthetic traffic, a driver that steps time."""

from __future__ import annotations

from collections.abc import Callable

from apimon_tui.alerts import AlertManager
from apimon_tui.alerts.rules import parse_rule, rules_from_config
from apimon_tui.core.config import DEFAULTS
from apimon_tui.core.model import Call
from apimon_tui.store import MetricsStore

T0 = 1_700_000_000.0  # a multiple of 10 and of 60


class Clock:
    def __init__(self, t: float = T0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def shipped(name: str):
    """The rule `name` exactly as the defaults ship it (enabled, even when off by default)."""
    rule = next(r for r in rules_from_config(DEFAULTS) if r.name == name)
    rule.enabled = True
    return rule


def custom(**table):
    return parse_rule(table, "test", table.get("name"))


def ok(ts: float, model: str = "gpt-4o", **kw) -> Call:
    return Call(ts=ts, source=kw.pop("source", "app.log"), model=model, status=kw.pop("status", 200),
                latency_ms=kw.pop("latency_ms", 800.0), **kw)


def every_nth_error(n: int, status: int = 400, model: str = "gpt-4o") -> Callable[[int], list[Call]]:
    """One call a second; the call of every second divisible by `n` fails with `status`."""
    def plan(sec: int) -> list[Call]:
        return [ok(sec + 0.5, model, status=status if n and sec % n == 0 else 200)]
    return plan


class Sim:
    """Feeds a real store second by second and evaluates the manager every `step` seconds."""

    def __init__(self, rules, step: int = 5, clock: Clock | None = None, **manager_kw):
        self.clock = clock or Clock()
        self.store = MetricsStore()
        self.manager = AlertManager(list(rules), self.clock, **manager_kw)
        self.step = step
        self.sec = int(self.clock.t)
        self.events = []

    def run(self, seconds: int, plan: Callable[[int], list[Call]] | None = None, **inputs) -> list:
        """Advance `seconds`, adding `plan(sec)` each second; returns the events announced meanwhile."""
        out = []
        for _ in range(seconds):
            if plan is not None:
                self.store.add_many(plan(self.sec))
            self.sec += 1
            if self.sec % self.step == 0:
                self.clock.t = float(self.sec)
                out += self.manager.evaluate(self.store, **inputs)
        self.events += out
        return out

    def at(self, seconds_from_t0: float) -> float:
        return T0 + seconds_from_t0
