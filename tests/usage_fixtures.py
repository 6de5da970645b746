"""Shared set-up for the usage tests: a fixed clock, a known ledger, pollers wired to the fake server."""

from __future__ import annotations

from datetime import datetime, timezone

from apimon_tui.fakes.provider_server import DEFAULT_KEYS, FakeProviderServer, Spend
from apimon_tui.costs.usage.registry import PROVIDERS
from apimon_tui.costs.usage.client import RetryPolicy
from apimon_tui.costs.usage.poller import Poller
from apimon_tui.costs.usage.settings import provider_settings

NOW = datetime(2025, 5, 20, 12, 0, tzinfo=timezone.utc).timestamp()
DAY = 86400.0
MAY_1 = datetime(2025, 5, 1, tzinfo=timezone.utc).timestamp()
MAY_20 = datetime(2025, 5, 20, tzinfo=timezone.utc).timestamp()
ENV = {name: f"TEST_{name.upper()}_KEY" for name in PROVIDERS}


def clock() -> float:
    return NOW


def ledger(days: range = range(-40, 1), skip: set[int] = frozenset()) -> list[Spend]:
    """Every provider: $1.00 of model-a and $0.25 of model-b at 10:00 on each day (offset from May 20)."""
    out = []
    for offset in days:
        if offset in skip:
            continue
        ts = MAY_20 + offset * DAY + 10 * 3600
        for provider in PROVIDERS:
            out.append(Spend(ts, provider, "model-a", 1.0, 4000, 1000, 10))
            out.append(Spend(ts, provider, "model-b", 0.25, 800, 200, 4))
    return out


class Sleeps(list):
    """An injected sleeper that records how long it was asked to wait, and does not wait."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def config_for(srv: FakeProviderServer, *names: str, **extra: object) -> dict:
    providers = {}
    for name in names:
        module = PROVIDERS[name]
        providers[name] = {"enabled": True, "base_url": srv.url_for(name), module.KEY_OPTION: ENV[name], **extra}
    return {"providers": providers, "budget": {"month_start_day": 1}}


def set_keys(monkeypatch, keys: dict[str, str] | None = None) -> None:
    for name, env in ENV.items():
        monkeypatch.setenv(env, (keys or DEFAULT_KEYS)[name])


def poller_for(srv: FakeProviderServer, *names: str, retries: int = 2, sleeps: Sleeps | None = None,
               **extra: object) -> Poller:
    return Poller(provider_settings(config_for(srv, *names, **extra)), clock=clock,
                  sleep=sleeps if sleeps is not None else Sleeps(), retry=RetryPolicy(retries=retries))
