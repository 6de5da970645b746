"""Budgets per project, workspace and key: grouped costs from the fake server across pages, LiteLLM key
info, the per-scope arithmetic with a fixed clock, the budget alert naming the scope, and `usage --json`."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import time

import pytest
from alerts_helpers import T0, Sim, custom, shipped
from usage_fixtures import DAY, ENV, MAY_1, MAY_20, NOW, Sleeps, clock, config_for, set_keys

from apimon_tui.costs.budget import Budget, BudgetConfig, BudgetState, ScopeBudget
from apimon_tui.commands.usage import render, to_json
from apimon_tui.core.config import ConfigError
from apimon_tui.commands.config_check import validate
from apimon_tui.fakes.provider_server import DEFAULT_KEYS, FakeProviderServer, Spend, VirtualKey
from apimon_tui.costs.usage.base import CostBucket, ProviderUsage, ScopeUsage, parse_iso
from apimon_tui.costs.usage.client import RetryPolicy
from apimon_tui.costs.usage.poller import Poller
from apimon_tui.costs.usage.scopes import parse_scopes
from apimon_tui.costs.usage.settings import provider_settings

H = 3600.0
JUN_1 = MAY_1 + 31 * DAY
SEARCH_KEY = "sk-team-search-0123456789abcdef0001"
CI_KEY = "sk-ci-bot-0123456789abcdef0000000002"
VIRTUAL_KEYS = [VirtualKey(SEARCH_KEY, "search", max_budget=50.0), VirtualKey(CI_KEY, "ci")]
CI_TOKEN = hashlib.sha256(CI_KEY.encode()).hexdigest()


def scoped_ledger(first_day: float, days: int) -> list[Spend]:
    """Each day at 10:00: OpenAI $1.00 (proj_search, key_a), $0.25 (proj_support, key_b), $0.50 (no project,
    key_a); Anthropic $1.00 in wrkspc_eu, $0.25 in the default workspace; LiteLLM $1.00 on the search key,
    and $0.50 on the ci key over the last five days."""
    out = []
    for i in range(days):
        ts = first_day + i * DAY + 10 * H
        out += [Spend(ts, "openai", "gpt-4o", 1.0, project="proj_search", api_key="key_a"),
                Spend(ts, "openai", "gpt-4o-mini", 0.25, project="proj_support", api_key="key_b"),
                Spend(ts, "openai", "gpt-4o", 0.5, api_key="key_a"),
                Spend(ts, "anthropic", "claude-sonnet-4", 1.0, project="wrkspc_eu"),
                Spend(ts, "anthropic", "claude-haiku", 0.25),
                Spend(ts, "litellm", "gpt-4o", 1.0, api_key="search")]
        if i >= days - 5:
            out.append(Spend(ts, "litellm", "gpt-4o", 0.5, api_key="ci"))
    return out


SCOPES = [
    {"provider": "openai", "project_id": "proj_search", "name": "search-team", "monthly_usd": 100.0},
    {"provider": "openai", "project_id": "proj_support", "name": "support", "monthly_usd": 5.0},
    {"provider": "openai", "api_key_id": "key_a", "name": "backend", "monthly_usd": 40.0},
    {"provider": "anthropic", "workspace_id": "wrkspc_eu", "name": "eu", "monthly_usd": 30.0},
    {"provider": "anthropic", "workspace_id": "default", "name": "default-ws"},
    {"provider": "litellm", "key_env": "TEST_SEARCH_VKEY", "name": "search-proxy"},
    {"provider": "litellm", "key_hash": CI_TOKEN, "name": "ci", "monthly_usd": 10.0},
]


@pytest.fixture
def fake():
    with FakeProviderServer(now=lambda: NOW, ledger=scoped_ledger(MAY_20 - 40 * DAY, 41), page_size=7,
                            litellm_keys=VIRTUAL_KEYS) as srv:
        yield srv


def scoped_config(srv: FakeProviderServer, *names: str, scopes=SCOPES) -> dict:
    config = config_for(srv, *names)
    config["budget"]["scopes"] = [s for s in scopes if s["provider"] in names]
    return config


async def poll(srv, config, monkeypatch) -> Poller:
    set_keys(monkeypatch)
    monkeypatch.setenv("TEST_SEARCH_VKEY", SEARCH_KEY)
    poller = Poller(provider_settings(config), clock=clock, sleep=Sleeps(), retry=RetryPolicy(retries=2))
    try:
        await poller.poll_all()
    finally:
        await poller.aclose()
    return poller


def figures(usage: ProviderUsage) -> dict[str, tuple]:
    return {name: (round(s.month_to_date_usd, 6), s.last_bucket_end, len(s.daily), s.error)
            for name, s in usage.scopes.items()}


# -- polling the grouped costs ------------------------------------------------------------------------


async def test_openai_groups_costs_by_project_and_key_across_pages(fake, monkeypatch):
    poller = await poll(fake, scoped_config(fake, "openai"), monkeypatch)
    state = poller.states["openai"]
    assert state.last_error is None
    usage = state.usage
    assert usage.month_to_date_usd == pytest.approx(19 * 1.75)  # the groups still add up to the whole bill
    assert figures(usage) == {"search-team": (19.0, MAY_20, 19, None), "support": (4.75, MAY_20, 19, None),
                              "backend": (28.5, MAY_20, 19, None)}
    costs = [q for p, q in fake.requests if p == "/v1/organization/costs"]
    assert len(costs) == 3  # 20 daily buckets, 7 a page: the same requests as without scopes, grouped
    assert all(sorted(q["group_by"]) == ["api_key_id", "project_id"] for q in costs)
    assert [bool(q.get("page")) for q in costs] == [False, True, True]


async def test_anthropic_groups_the_cost_report_by_workspace_across_pages(fake, monkeypatch):
    poller = await poll(fake, scoped_config(fake, "anthropic"), monkeypatch)
    usage = poller.states["anthropic"].usage
    assert usage.month_to_date_usd == pytest.approx(19 * 1.25)
    assert figures(usage) == {"eu": (19.0, MAY_20, 19, None), "default-ws": (4.75, MAY_20, 19, None)}
    reports = [q for p, q in fake.requests if p == "/v1/organizations/cost_report"]
    assert len(reports) == 3 and all(q["group_by[]"] == ["workspace_id"] for q in reports)


async def test_without_scopes_the_costs_are_not_grouped(fake, monkeypatch):
    await poll(fake, scoped_config(fake, "openai", "anthropic", scopes=[]), monkeypatch)
    for path in ("/v1/organization/costs", "/v1/organizations/cost_report"):
        assert all("group_by" not in q and "group_by[]" not in q for p, q in fake.requests if p == path)


async def test_litellm_key_info_per_scope_by_token_never_by_key(fake, monkeypatch, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    poller = await poll(fake, scoped_config(fake, "litellm"), monkeypatch)
    usage = poller.states["litellm"].usage
    search, ci = usage.scopes["search-proxy"], usage.scopes["ci"]
    assert (search.month_to_date_usd, search.limit_usd, search.running_total, search.error) == (41.0, 50.0, True, None)
    assert (ci.month_to_date_usd, ci.limit_usd) == (2.5, None)
    asked = [q.get("key", [None])[0] for p, q in fake.requests if p == "/key/info"]
    assert asked == [None, hashlib.sha256(SEARCH_KEY.encode()).hexdigest(), CI_TOKEN]
    seen = caplog.text + capsys.readouterr().out + json.dumps(to_json(
        Budget(BudgetConfig.from_config(scoped_config(fake, "litellm")), clock=clock).state(poller.usages()),
        poller.states))
    assert SEARCH_KEY not in seen and CI_KEY not in seen


async def test_a_litellm_key_the_proxy_does_not_know_is_that_scope_s_error_only(fake, monkeypatch):
    unknown = {"provider": "litellm", "key_hash": "0" * 64, "name": "gone"}
    unset = {"provider": "litellm", "key_env": "TEST_UNSET_VKEY", "name": "unset"}
    monkeypatch.delenv("TEST_UNSET_VKEY", raising=False)
    poller = await poll(fake, scoped_config(fake, "litellm", scopes=[unknown, unset]), monkeypatch)
    state = poller.states["litellm"]
    assert state.last_error is None and state.usage.month_to_date_usd > 0
    assert state.usage.scopes["gone"].error == ("the proxy does not know this key, or may not show it - "
                                                "check key_hash of key gone")
    assert state.usage.scopes["unset"].error == "no key: set TEST_UNSET_VKEY (key_env of budget scope unset)"


async def test_a_failed_poll_keeps_the_previous_scope_figures(fake, monkeypatch):
    config = scoped_config(fake, "openai")
    set_keys(monkeypatch)
    poller = Poller(provider_settings(config), clock=clock, sleep=Sleeps(), retry=RetryPolicy(retries=0))
    try:
        await poller.poll("openai")
        fake.inject("/v1/organization/costs", body=b"{not json")
        await poller.poll("openai")
    finally:
        await poller.aclose()
    state = poller.states["openai"]
    assert state.last_error == f"malformed JSON from {fake.url_for('openai')}/organization/costs"
    assert state.usage.scopes["search-team"].month_to_date_usd == 19.0


async def test_the_fake_refuses_a_grouping_the_api_does_not_take(fake, monkeypatch):
    import httpx

    async with httpx.AsyncClient() as http:
        answer = await http.get(fake.url_for("openai") + "/organization/costs",
                                params={"start_time": int(MAY_1), "group_by": "user_id"},
                                headers={"Authorization": f"Bearer {DEFAULT_KEYS['openai']}"})
    assert answer.status_code == 400 and "group_by" in answer.json()["error"]["message"]


# -- the budget per scope, with a fixed clock ----------------------------------------------------------


def days(first: float, last_end: float, usd: float) -> list[CostBucket]:
    return [CostBucket(t, t + DAY, usd) for t in range(int(first), int(last_end), int(DAY))]


def scope_state(usages, scopes=SCOPES, now: float = NOW) -> BudgetState:
    config = BudgetConfig.from_config({"budget": {"monthly_usd": 0.0, "scopes": scopes}})
    return Budget(config, clock=lambda: now).state(usages)


def test_scope_month_to_date_percent_and_forecast():
    daily = days(MAY_1, MAY_20, 1.0)[:-7] + days(MAY_20 - 7 * DAY, MAY_20, 3.0)  # $3 a day over the last week
    openai = ProviderUsage("openai", fetched_at=NOW, scopes={
        "search-team": ScopeUsage("search-team", month_to_date_usd=12 + 21.0, last_bucket_end=MAY_20, daily=daily)})
    (search,) = [s for s in scope_state({"openai": openai}).scopes if s.name == "search-team"]
    assert (search.label, search.provider, search.budget_usd) == ("project search-team", "openai", 100.0)
    assert search.spent_usd == 33.0 and search.spent_pct == pytest.approx(33.0)
    assert search.billed_until == MAY_20
    assert search.forecast_usd == pytest.approx(33.0 + 12 * 3.0)  # May 20 .. Jun 1 at the last week's $3/day


def test_scope_forecast_with_fewer_days_than_a_week_and_none_without_a_complete_day():
    early = ProviderUsage("openai", fetched_at=MAY_1 + 2.5 * DAY, scopes={
        "search-team": ScopeUsage("search-team", 4.0, MAY_1 + 2 * DAY, days(MAY_1, MAY_1 + 2 * DAY, 2.0)),
        "support": ScopeUsage("support")})
    got = {s.name: s for s in scope_state({"openai": early}, now=MAY_1 + 2.5 * DAY).scopes}
    assert got["search-team"].forecast_usd == pytest.approx(4.0 + 29 * 2.0)
    assert got["support"].spent_usd == 0.0 and got["support"].forecast_usd is None
    assert got["support"].spent_pct == 0.0


def test_scope_without_figures_says_why():
    got = {s.name: s for s in scope_state({"openai": None}).scopes}
    assert (got["search-team"].spent_usd, got["search-team"].spent_pct, got["search-team"].error) == (None, None, None)
    assert got["eu"].error == "[providers.anthropic] is not enabled"


def test_litellm_scope_uses_the_key_s_max_budget_when_none_is_set():
    litellm = ProviderUsage("litellm", fetched_at=NOW, scopes={
        "search-proxy": ScopeUsage("search-proxy", 41.0, NOW, running_total=True, limit_usd=50.0),
        "ci": ScopeUsage("ci", 2.5, NOW, running_total=True)})
    got = {s.name: s for s in scope_state({"litellm": litellm}).scopes}
    assert (got["search-proxy"].budget_usd, got["search-proxy"].spent_pct) == (50.0, pytest.approx(82.0))
    assert got["search-proxy"].forecast_usd is None  # a running total has no days to project
    assert (got["ci"].budget_usd, got["ci"].spent_pct) == (10.0, 25.0)


async def test_polled_scopes_reach_the_budget_and_the_text_output(fake, monkeypatch):
    config = scoped_config(fake, "openai", "anthropic", "litellm")
    poller = await poll(fake, config, monkeypatch)
    state = Budget(BudgetConfig.from_config(config), clock=clock).state(poller.usages())
    got = {s.name: (s.spent_usd, s.budget_usd, None if s.spent_pct is None else round(s.spent_pct, 2))
           for s in state.scopes}
    assert got == {"search-team": (19.0, 100.0, 19.0), "support": (4.75, 5.0, 95.0), "backend": (28.5, 40.0, 71.25),
                   "eu": (19.0, 30.0, 63.33), "default-ws": (4.75, None, None),
                   "search-proxy": (41.0, 50.0, 82.0), "ci": (2.5, 10.0, 25.0)}
    assert {s.name: s.forecast_usd for s in state.scopes}["support"] == pytest.approx(4.75 + 12 * 0.25)
    text = render(state, poller.states)
    assert "Scopes    (billed spend only: logs cannot tell which project or key paid)" in text
    assert any(line.startswith("  project search-team") and "$19.00 of $100.00 (19%)" in line
               for line in text.splitlines())


# -- the budget alert, per scope ---------------------------------------------------------------------


def alert_state(*scopes: ScopeBudget) -> BudgetState:
    return BudgetState(now=T0, month_start=T0 - 20 * DAY, month_end=T0 + 100 * H, budget_usd=None, billed_usd=0.0,
                       anchor=T0, live_usd=0.0, burn_1h=None, burn_24h=None, drift=None, providers=[],
                       scopes=list(scopes))


def test_budget_alert_names_the_scope_that_crossed():
    sim = Sim([shipped("budget")])
    support = ScopeBudget("support", "openai", "project support", 5.0, 1.0)
    assert sim.run(5, budget=alert_state(ScopeBudget("search-team", "openai", "project search-team", 100.0, 49.0),
                                         support)) == []
    (info,) = sim.run(5, budget=alert_state(ScopeBudget("search-team", "openai", "project search-team", 100.0, 50.0),
                                            support))
    assert info.alert.scope == "project search-team"
    assert info.alert.message == "INFO budget project search-team 50.0% >= 50% of $100.00 (openai: $50.00 billed)"
    (critical,) = sim.run(5, budget=alert_state(
        ScopeBudget("search-team", "openai", "project search-team", 100.0, 50.0),
        ScopeBudget("support", "openai", "project support", 5.0, 5.2)))
    assert (critical.alert.scope, critical.alert.severity) == ("project support", "critical")


def test_budget_alert_skips_scopes_without_a_budget_or_figures_and_honours_provider():
    scopes = [ScopeBudget("eu", "anthropic", "workspace eu", 30.0, 29.0),
              ScopeBudget("ci", "litellm", "key ci", 10.0, 9.0),
              ScopeBudget("default-ws", "anthropic", "workspace default-ws", None, 500.0),
              ScopeBudget("search-team", "openai", "project search-team", 100.0, None)]
    sim = Sim([shipped("budget"), custom(kind="budget", name="proxy_keys", provider="litellm", info=20.0)])
    events = sim.run(5, budget=alert_state(*scopes))
    got = sorted((e.alert.rule, e.alert.scope, e.alert.severity) for e in events)
    assert got == [("budget", "key ci", "warning"), ("budget", "workspace eu", "warning"),
                   ("proxy_keys", "key ci", "info")]


# -- the config -------------------------------------------------------------------------------------


@pytest.mark.parametrize("table, message", [
    ({"provider": "openrouter", "key_env": "X"}, "budget.scopes[0].provider must be one of openai, anthropic, "
                                                  "litellm, not 'openrouter'"),
    ({"provider": "openai", "name": "x"}, "budget.scopes[0] needs exactly one of project_id or api_key_id "
                                          "(openai scopes)"),
    ({"provider": "anthropic", "project_id": "p"}, "budget.scopes[0].project_id does not apply to anthropic "
                                                   "scopes (they take workspace_id)"),
    ({"provider": "litellm", "key_env": "sk-abcdef0123456789"}, "budget.scopes[0].key_env holds an API key; "
                                                                "name the environment variable that holds it "
                                                                "with key_env instead"),
    ({"provider": "litellm", "key_hash": "abc"}, "budget.scopes[0].key_hash must be the 64 hex digits LiteLLM "
                                                 "shows as the key's token"),
    ({"provider": "openai", "project_id": "p", "monthly_usd": -1}, "budget.scopes[0].monthly_usd must be a "
                                                                   "number of USD, not -1"),
    ({"provider": "openai", "project": "p"}, "budget.scopes[0].project is not a budget scope option "),
])
def test_bad_scopes_are_refused_in_one_sentence(table, message):
    with pytest.raises(ConfigError) as err:
        parse_scopes({"budget": {"scopes": [table]}})
    assert str(err.value).startswith("config: " + message)


def test_config_check_points_at_the_scope_s_line():
    text = ('[[budget.scopes]]\nprovider = "openai"\nproject_id = "proj_1"\nname = "a"\n\n'
            '[[budget.scopes]]\nprovider = "openai"\napi_key_id = "key_1"\nname = "a"\n\n'
            '[[budget.scopes]]\nprovider = "openai"\nprojectid = "proj_2"\n')
    problems = [(p.key, p.line, p.message) for p in validate(text)]
    assert problems == [("budget.scopes[2].projectid", 13, "unknown key (did you mean 'project_id'?)")]
    problems = [(p.key, p.line, p.message) for p in validate(text.rsplit("\n\n", 1)[0])]
    assert problems == [("budget.scopes[1].name", 9,
                         "'a' is taken by another budget scope; give each a different name")]


# -- `apimon-tui usage --json` as a real subprocess -----------------------------------------------------


def test_usage_json_lists_the_scopes(tmp_path):
    today = time.time() // DAY * DAY  # the ledger ends yesterday, so no entry lies ahead of the clock
    with FakeProviderServer(ledger=scoped_ledger(today - 41 * DAY, 41), litellm_keys=VIRTUAL_KEYS) as srv:
        lines = []
        for name in ("openai", "anthropic", "litellm"):
            option = "key_env" if name == "litellm" else "admin_key_env"
            lines.append(f'[providers.{name}]\nenabled = true\nbase_url = "{srv.url_for(name)}"\n'
                         f'{option} = "{ENV[name]}"\n')
        for scope in SCOPES:
            lines.append("[[budget.scopes]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in scope.items()))
        path = tmp_path / "config.toml"
        path.write_text("\n".join(lines))
        env = {**os.environ, **{ENV[n]: DEFAULT_KEYS[n] for n in ENV}, "TEST_SEARCH_VKEY": SEARCH_KEY}
        result = subprocess.run([sys.executable, "-m", "apimon_tui", "usage", "--config", str(path), "--json"],
                                capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    scopes = {s["name"]: s for s in out["scopes"]}
    assert [s["name"] for s in out["scopes"]] == [s["name"] for s in SCOPES]
    for scope in out["scopes"]:
        assert {"name", "provider", "month_to_date_usd", "budget_usd", "spent_pct"} <= set(scope)
        assert scope["error"] is None
    start = parse_iso(out["month_start"])
    billed_until = scopes["search-team"]["billed_until"]  # None on the month's first day
    complete_days = 0 if billed_until is None else (parse_iso(billed_until) - start) / DAY
    assert scopes["search-team"]["month_to_date_usd"] == pytest.approx(complete_days * 1.0)
    assert scopes["search-team"]["spent_pct"] == pytest.approx(complete_days, abs=0.01)
    assert scopes["backend"]["month_to_date_usd"] == pytest.approx(complete_days * 1.5)
    assert scopes["eu"]["provider"] == "anthropic" and scopes["eu"]["budget_usd"] == 30.0
    assert scopes["default-ws"]["spent_pct"] is None
    assert (scopes["search-proxy"]["month_to_date_usd"], scopes["search-proxy"]["budget_usd"]) == (41.0, 50.0)
    assert scopes["search-proxy"]["spent_pct"] == 82.0
    assert SEARCH_KEY not in result.stdout + result.stderr
