"""A poll cannot hang or flood, bad amounts are refused, and billed figures stand when another endpoint fails.

In-process, through real httpx connections to the fake server; waits are
recorded by an injected sleeper that moves an injected monotonic clock, so the
deadline is checked without waiting it out (except where a server really drips).
"""

from __future__ import annotations

import json
import math
import tomllib

import pytest
from usage_fixtures import NOW, clock, config_for, ledger, set_keys

from apimon_tui.core import config as config_mod
from apimon_tui.commands.usage import strict
from apimon_tui.core.config import ConfigError
from apimon_tui.commands.config_check import validate
from apimon_tui.fakes.provider_server import BILLED_PATHS, FakeProviderServer, deep_body, huge_body
from apimon_tui.costs.usage.client import RetryPolicy
from apimon_tui.costs.usage.poller import Poller
from apimon_tui.costs.usage.settings import provider_settings

MONTH_TO_DATE = {"openai": 23.75, "anthropic": 23.75, "litellm": 23.75, "openrouter": 25.0}


class Monotonic:
    """A monotonic clock that moves only when the poll sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake():
    with FakeProviderServer(now=lambda: NOW, ledger=ledger()) as srv:
        yield srv


async def poll_all(srv: FakeProviderServer, *names: str, retries: int = 3, time: Monotonic | None = None,
                   real_time: bool = False, **extra: object) -> Poller:
    time = time or Monotonic()
    clocks = {} if real_time else {"sleep": time.sleep, "monotonic": time}
    poller = Poller(provider_settings(config_for(srv, *names, **extra)), clock=clock,
                    retry=RetryPolicy(retries=retries), **clocks)
    try:
        await poller.poll_all()
    finally:
        await poller.aclose()
    return poller


# --- partial results ----------------------------------------------------------------------------

@pytest.mark.parametrize("name, warned", [
    ("openai", ["completions tokens per model", "embeddings tokens per model"]),
    ("anthropic", ["tokens per model"]),
    ("litellm", ["the proxy's budget"]),
])
async def test_403_on_the_other_endpoints_keeps_the_billed_spend_with_a_warning(fake, name, warned, monkeypatch):
    set_keys(monkeypatch)
    fake.hostile("usage-403", name)
    state = (await poll_all(fake, name)).states[name]
    assert state.last_error is None
    assert state.usage.month_to_date_usd == pytest.approx(MONTH_TO_DATE[name])
    assert [w.split(" not shown: 403: ")[0] for w in state.usage.warnings] == warned
    assert all(fake.base_url in w for w in state.usage.warnings)


async def test_404_on_openai_embeddings_keeps_completions_tokens(fake, monkeypatch):
    set_keys(monkeypatch)
    fake.inject("/v1/organization/usage/embeddings", status=404, times=None)
    usage = (await poll_all(fake, "openai")).states["openai"].usage
    assert usage.warnings == ["embeddings tokens per model not shown: 404: "
                              f"{fake.base_url}/v1/organization/usage/embeddings not found - check base_url"]
    assert usage.models["model-a"].input_tokens == 4000 and usage.month_to_date_usd == pytest.approx(23.75)


async def test_a_bad_amount_in_litellm_key_info_is_a_warning_beside_the_spend(fake, monkeypatch):
    set_keys(monkeypatch)
    fake.inject("/key/info", poison=math.nan, times=None)
    usage = (await poll_all(fake, "litellm")).states["litellm"].usage
    assert usage.month_to_date_usd == pytest.approx(23.75) and usage.limit_usd == 1000.0
    assert usage.warnings == ["this key's spend not shown: litellm sent an amount of nan in /key/info: "
                              "not a finite, non-negative number, so its figures are not used"]
    assert usage.models == {} and usage.notes == []


async def test_a_failing_litellm_scope_is_that_scopes_error(fake, monkeypatch):
    set_keys(monkeypatch)
    monkeypatch.setenv("TEAM_KEY", "sk-team-0000000000000001")
    fake.inject("/key/info", status=503, times=None)
    config = {**config_for(fake, "litellm"),
              "budget": {"month_start_day": 1, "scopes": [{"provider": "litellm", "key_env": "TEAM_KEY"}]}}
    time = Monotonic()
    poller = Poller(provider_settings(config), clock=clock, sleep=time.sleep, monotonic=time,
                    retry=RetryPolicy(retries=1))
    state = await poller.poll("litellm")
    await poller.aclose()
    assert state.last_error is None and state.usage.month_to_date_usd == pytest.approx(23.75)
    assert state.usage.scopes["TEAM_KEY"].error == (f"503: server error from {fake.base_url}/key/info "
                                                    "(gave up after 2 tries)")


# --- the deadline -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["openai", "anthropic", "litellm", "openrouter"])
async def test_endless_429_asking_for_100s_is_reported_at_once(fake, name, monkeypatch):
    set_keys(monkeypatch)
    fake.hostile("endless-429", name)
    time = Monotonic()
    state = (await poll_all(fake, name, time=time)).states[name]
    assert state.last_error == (f"429: rate limited by {fake.base_url}{BILLED_PATHS[name]}; the server asks to "
                                "wait 100s, past this poll's 30s deadline")
    assert time.sleeps == [] and fake.hits(BILLED_PATHS[name]) == 1


async def test_retry_after_is_honoured_only_inside_the_deadline(fake, monkeypatch):
    set_keys(monkeypatch)
    fake.inject("/api/v1/key", status=429, retry_after=12, times=None)
    time = Monotonic()
    state = (await poll_all(fake, "openrouter", time=time, retries=5)).states["openrouter"]
    assert time.sleeps == [12.0, 12.0]  # a third wait would end at 36s
    assert state.last_error == (f"429: rate limited by {fake.base_url}/api/v1/key; the server asks to wait 12s, "
                                "past this poll's 30s deadline")


async def test_backoff_past_the_deadline_gives_up(fake, monkeypatch):
    set_keys(monkeypatch)
    fake.inject("/api/v1/key", status=503, times=None)
    time = Monotonic()
    state = (await poll_all(fake, "openrouter", time=time, retries=20, deadline="2s")).states["openrouter"]
    assert sum(time.sleeps) < 2.0 and len(time.sleeps) >= 2
    assert state.last_error.startswith(f"503: server error from {fake.base_url}/api/v1/key (gave up after ")
    assert state.last_error.endswith(" tries: another would end past this poll's 2s deadline)")


async def test_a_dripping_usage_endpoint_is_cut_at_the_deadline_and_the_costs_stand(fake, monkeypatch):
    set_keys(monkeypatch)
    fake.inject("/v1/organization/usage/completions", drip=1.0, times=None)
    state = (await poll_all(fake, "openai", deadline="1s", real_time=True)).states["openai"]  # waits the 1s out
    url = fake.base_url + "/v1/organization/usage"
    assert state.last_error is None and state.usage.month_to_date_usd == pytest.approx(23.75)
    assert state.usage.warnings == [
        f"completions tokens per model not shown: no complete answer from {url}/completions "
        "within this poll's 1s deadline",
        f"embeddings tokens per model not shown: {url}/embeddings not asked: this poll's 1s deadline had passed"]


# --- size, shape and amounts --------------------------------------------------------------------

async def test_a_body_streamed_past_the_cap_is_one_error(fake, monkeypatch):
    set_keys(monkeypatch)
    fake.inject("/api/v1/key", stream=lambda: huge_body(50 * 2**20), times=None)
    state = (await poll_all(fake, "openrouter", max_body_mb=0.5)).states["openrouter"]
    assert state.last_error == (f"{fake.base_url}/api/v1/key sent more than 0.5 MB, the most one answer or "
                                "listing may be (max_body_mb)")


async def test_a_declared_length_past_the_cap_is_refused_unread(fake, monkeypatch):
    set_keys(monkeypatch)
    fake.inject("/api/v1/key", body=json.dumps({"data": {"pad": "x" * 20_000}}).encode(), times=None)
    state = (await poll_all(fake, "openrouter", max_body_mb=0.01)).states["openrouter"]
    assert state.last_error.startswith(f"{fake.base_url}/api/v1/key sent more than 0.01 MB")


async def test_the_cap_holds_for_all_pages_of_a_listing_together(monkeypatch):
    set_keys(monkeypatch)
    with FakeProviderServer(now=lambda: NOW, ledger=ledger(), page_size=1) as srv:
        state = (await poll_all(srv, "openai", max_body_mb=0.002)).states["openai"]  # 2 KB; a page is ~400 B
        assert srv.hits("/v1/organization/costs") < 20  # 20 daily buckets, one a page: it stopped early
    assert state.last_error.startswith(f"{srv.base_url}/v1/organization/costs sent more than 0.002 MB")


@pytest.mark.parametrize("name", ["openai", "anthropic", "litellm", "openrouter"])
@pytest.mark.parametrize("mode, shown", [("nan-amount", "nan"), ("negative-amount", "-5.0")])
async def test_non_finite_or_negative_amounts_are_refused_naming_the_provider(fake, name, mode, shown, monkeypatch):
    set_keys(monkeypatch)
    fake.hostile(mode, name)
    state = (await poll_all(fake, name)).states[name]
    where = BILLED_PATHS[name].removeprefix("/api/v1").removeprefix("/v1" if name == "openai" else "")
    quoted = f"'{shown}'" if name == "anthropic" else shown  # Anthropic sends amounts as decimal strings
    assert state.last_error == (f"{name} sent an amount of {quoted} in {where}: not a finite, non-negative "
                                "number, so its figures are not used")
    assert state.usage is None


async def test_deep_nesting_is_one_error_and_the_other_providers_stand(fake, monkeypatch):
    set_keys(monkeypatch)
    fake.hostile("deep-nesting", "anthropic")
    poller = await poll_all(fake, "openai", "anthropic", "openrouter")
    assert poller.states["anthropic"].last_error == (f"the answer from {fake.base_url}/v1/organizations/cost_report "
                                                     "is nested too deeply to read")
    assert poller.usages()["openai"].month_to_date_usd == pytest.approx(23.75)
    assert poller.usages()["openrouter"].month_to_date_usd == pytest.approx(25.0)


async def test_a_deeply_nested_error_body_is_shown_as_its_text(fake, monkeypatch):
    set_keys(monkeypatch)
    fake.inject("/api/v1/key", status=400, body=deep_body(100_000), times=None)
    error = (await poll_all(fake, "openrouter")).states["openrouter"].last_error
    assert error.startswith('400: {"has_more": false, "data": [[[[') and len(error) < 300


async def test_escapes_and_line_breaks_in_an_error_message_make_one_line(fake, monkeypatch):
    set_keys(monkeypatch)
    fake.hostile("escapes", "openrouter")
    error = (await poll_all(fake, "openrouter")).states["openrouter"].last_error
    assert error.startswith("400: quota") and error.endswith(f"billing ({fake.base_url}/api/v1/key)")
    assert "\n" not in error and "\r" not in error and "see billing" in error


async def test_a_bug_in_one_provider_loses_only_that_providers_figures(fake, monkeypatch):
    set_keys(monkeypatch)

    async def broken(*args, **kwargs):
        raise RuntimeError("a bug")
    poller = Poller(provider_settings(config_for(fake, "anthropic", "openrouter")), clock=clock)
    monkeypatch.setattr(poller.providers["anthropic"].module, "poll", broken)
    await poller.poll_all()
    await poller.aclose()
    assert poller.states["anthropic"].last_error == "anthropic poll failed: internal error (RuntimeError)"
    assert poller.usages()["openrouter"].month_to_date_usd == pytest.approx(25.0)


# --- settings -----------------------------------------------------------------------------------

def test_deadline_and_body_cap_defaults_and_overrides():
    config = config_mod.merge(config_mod.DEFAULTS, {"providers": {
        "openai": {"enabled": True}, "openrouter": {"enabled": True, "deadline": "2m", "max_body_mb": 0.5}}})
    openai, openrouter = provider_settings(config)
    assert (openai.deadline_s, openai.max_body) == (30.0, 4 * 2**20)
    assert (openrouter.deadline_s, openrouter.max_body) == (120.0, 2**19)


@pytest.mark.parametrize("option, message", [
    ('deadline = "0s"', "providers.openai.deadline must be longer than 0s"),
    ("max_body_mb = 0", "providers.openai.max_body_mb must be a number of MB from 0.001 to 1024, not 0"),
    ("max_body_mb = inf", "providers.openai.max_body_mb must be a number of MB from 0.001 to 1024, not inf"),
])
def test_config_check_names_a_bad_deadline_or_cap_at_its_line(option, message):
    text = f"[providers.openai]\nenabled = true\n{option}\n"
    [problem] = validate(text, mode=0o100600)
    assert (problem.line, f"{problem.key} {problem.message}") == (3, message)
    with pytest.raises(ConfigError, match=message):
        provider_settings(config_mod.merge(config_mod.DEFAULTS, tomllib.loads(text)))



def test_strict_json_has_null_for_every_non_finite_figure():
    out = strict({"a": math.nan, "b": [math.inf, 1.5, {"c": -math.inf}], "d": "NaN", "e": None})
    assert json.dumps(out, allow_nan=False) == '{"a": null, "b": [null, 1.5, {"c": null}], "d": "NaN", "e": null}'
