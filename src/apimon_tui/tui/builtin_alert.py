"""The one built-in alert the monitor shows while no alert rules are configured.

Error rate above 5% over the last 5 minutes with at least 20 calls. It speaks
the same interface as `apimon_tui.alerts.AlertManager` (`evaluate()` returning
fire/resolve events, `active()`), so the alert area and toasts work unchanged
when the full rules engine replaces it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

RULE = "error_rate"
WINDOW_S = 300.0
THRESHOLD = 0.05
MIN_CALLS = 20


@dataclass(slots=True)
class Alert:
    rule: str
    severity: str
    scope: str
    value: float
    threshold: float
    window: float
    since: float
    message: str
    acknowledged: bool = False

    @property
    def key(self) -> str:
        return f"{self.rule}:{self.scope}"


@dataclass(slots=True)
class AlertEvent:
    kind: str  # fire, resolve or ack
    alert: Alert


class ErrorRateAlert:
    """Fires once when the error rate crosses the threshold, resolves once when it falls back."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._active: Alert | None = None

    def evaluate(self, store, budget=None, usage=None, now: float | None = None) -> list[AlertEvent]:
        now = self.clock() if now is None else now
        total = store.snapshot(WINDOW_S, now, points=1, failed_limit=0).total
        rate = total.error_rate
        firing = total.calls >= MIN_CALLS and rate > THRESHOLD
        if firing and self._active is None:
            self._active = Alert(
                RULE, "warning", "all", rate, THRESHOLD, WINDOW_S, now,
                f"error rate {rate:.1%} over 5m ({total.errors} of {total.calls} calls), above {THRESHOLD:.0%}",
            )
            return [AlertEvent("fire", self._active)]
        if firing and self._active is not None:
            self._active.value = rate
            return []
        if not firing and self._active is not None:
            resolved, self._active = self._active, None
            resolved.value = rate
            resolved.message = f"error rate back to {rate:.1%} over 5m"
            return [AlertEvent("resolve", resolved)]
        return []

    def active(self) -> list[Alert]:
        return [self._active] if self._active is not None else []
