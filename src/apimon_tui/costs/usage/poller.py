"""Polls every enabled provider on its own interval and keeps each one's state.

A provider's next poll is armed only after its last one ended, and a poll asked
for while one is running (`poll_now`, `r` in the TUI) waits for that one instead
of starting a second. A failed poll keeps the previous figures and records the
failure as one plain sentence; `stale` says the figures are older than three
intervals. Each provider's poll is fenced: whatever it raises, even a bug,
becomes that provider's error, and the other providers' figures stand.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import httpx

from apimon_tui.costs.budget import month_bounds
from apimon_tui.costs.usage.base import ProviderError, ProviderUsage, check_figures, utc
from apimon_tui.costs.usage.client import ProviderClient, RetryPolicy, scrub
from apimon_tui.costs.usage.settings import ProviderSettings, check_config_secrets, provider_settings

log = logging.getLogger("apimon_tui.costs.usage")

STALE_AFTER_INTERVALS = 3


@dataclass(slots=True)
class ProviderState:
    """What the status line and the Budget panel show about one provider."""

    name: str
    interval_s: float
    usage: ProviderUsage | None = None
    last_success: float | None = None
    last_attempt: float | None = None
    last_error: str | None = None
    polling: bool = False

    def age(self, now: float) -> float | None:
        """Seconds since the last successful poll, None before the first."""
        return None if self.last_success is None else max(0.0, now - self.last_success)

    def stale(self, now: float) -> bool:
        """Figures older than three intervals (or none, three intervals after the first try)."""
        since = self.last_success if self.last_success is not None else self.last_attempt
        return since is not None and now - since > STALE_AFTER_INTERVALS * self.interval_s


class Poller:
    """Owns one `httpx.AsyncClient` and the per-provider loops and locks."""

    def __init__(
        self,
        providers: list[ProviderSettings],
        *,
        month_start_day: int = 1,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        retry: RetryPolicy | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.providers = {p.name: p for p in providers}
        self.month_start_day = month_start_day
        self.clock = clock
        self.sleep = sleep
        self.monotonic = monotonic
        self.retry = retry or RetryPolicy()
        self.states = {p.name: ProviderState(p.name, p.interval_s) for p in providers}
        self._locks: dict[str, asyncio.Lock] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._http: httpx.AsyncClient | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any], **kwargs: Any) -> "Poller":
        """A poller for the enabled providers; raises `ConfigError` on a bad or unsafe config."""
        check_config_secrets(config)
        return cls(provider_settings(config),
                   month_start_day=int((config.get("budget") or {}).get("month_start_day", 1)), **kwargs)

    def usages(self) -> dict[str, ProviderUsage | None]:
        return {name: state.usage for name, state in self.states.items()}

    async def poll_all(self) -> None:
        """Poll every provider once, at the same time; never raises for a provider's failure."""
        await asyncio.gather(*(self.poll(name) for name in self.providers))

    async def poll(self, name: str) -> ProviderState:
        """Poll one provider, or wait for the poll already running for it."""
        lock = self._locks.setdefault(name, asyncio.Lock())
        if lock.locked():
            async with lock:
                return self.states[name]
        async with lock:
            await self._poll_once(self.providers[name], self.states[name])
        return self.states[name]

    def poll_now(self) -> None:
        """Ask every running loop to poll at once instead of waiting out its interval."""
        for event in self._wake.values():
            event.set()

    async def run(self) -> None:
        """Poll each provider forever on its interval, until cancelled."""
        try:
            await asyncio.gather(*(self._loop(name) for name in self.providers))
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _loop(self, name: str) -> None:
        wake = self._wake.setdefault(name, asyncio.Event())
        while True:
            wake.clear()
            await self.poll(name)
            try:
                await asyncio.wait_for(wake.wait(), self.providers[name].interval_s)
            except asyncio.TimeoutError:
                pass

    async def _poll_once(self, settings: ProviderSettings, state: ProviderState) -> None:
        state.polling, state.last_attempt = True, self.clock()
        key = None
        try:
            key = settings.load_key()
            scoped = {"scopes": settings.scopes} if settings.scopes else {}  # only providers that take scopes
            usage = await settings.module.poll(self._client(settings, key), *self._month_window(), **scoped)
            check_figures(usage)
        except ProviderError as exc:
            state.last_error = scrub(str(exc), key)
        except (AttributeError, KeyError, TypeError, ValueError, ArithmeticError, RecursionError) as exc:
            state.last_error = f"unexpected answer from {settings.base_url} ({type(exc).__name__})"
        except Exception as exc:  # a bug must not lose the other providers' figures
            log.debug("%s: poll failed", settings.name, exc_info=True)
            state.last_error = f"{settings.name} poll failed: internal error ({type(exc).__name__})"
        else:
            usage.warnings = [scrub(w, key) for w in usage.warnings]
            state.usage, state.last_success, state.last_error = usage, self.clock(), None
            log.info("%s: $%.2f billed month to date", settings.name, usage.month_to_date_usd)
            for warning in usage.warnings:
                log.info("%s: %s", settings.name, warning)
        finally:
            state.polling = False
        if state.last_error:
            log.info("%s: %s", settings.name, state.last_error)

    def _month_window(self):
        now = self.clock()
        start, _ = month_bounds(now, self.month_start_day)
        return utc(start), utc(now)

    def _client(self, settings: ProviderSettings, key: str) -> ProviderClient:
        if self._http is None:
            self._http = httpx.AsyncClient()
        return ProviderClient(
            self._http, settings.base_url, key=key, key_source=settings.key_source,
            key_kind=settings.module.KEY_KIND, headers=settings.module.headers(key),
            retry=self.retry, timeout=settings.timeout_s, deadline_s=settings.deadline_s, max_body=settings.max_body,
            sleep=self.sleep, clock=self.clock, monotonic=self.monotonic,
        )
