"""Every provider module against the fake server, through real httpx connections."""

from __future__ import annotations

import logging

import pytest
from usage_fixtures import ENV, MAY_20, NOW, Sleeps, ledger, poller_for, set_keys

from apimon_tui.costs.budget import Budget, BudgetConfig
from apimon_tui.commands.usage import render, to_json
from apimon_tui.fakes.provider_server import DEFAULT_KEYS, FakeProviderServer

PROVIDERS = ["openai", "anthropic", "litellm", "openrouter"]
# The endpoint each provider's billed figures come from: without its answer a poll has nothing to show.
FIRST_PATH = {"openai": "/v1/organization/costs", "anthropic": "/v1/organizations/cost_report",
              "litellm": "/global/spend/logs", "openrouter": "/api/v1/key"}
KEY_WORD = {"openai": "admin", "anthropic": "admin", "litellm": "master", "openrouter": "API"}
# May 1..19 are complete days at $1.25 each; May 20 has $1.25 so far. OpenRouter counts to now.
MONTH_TO_DATE = {"openai": 23.75, "anthropic": 23.75, "litellm": 23.75, "openrouter": 25.0}


@pytest.fixture
def fake():
    with FakeProviderServer(now=lambda: NOW, ledger=ledger(), page_size=7) as srv:
        yield srv


async def poll(srv, name, monkeypatch, sleeps=None, **extra):
    set_keys(monkeypatch)
    poller = poller_for(srv, name, sleeps=sleeps, **extra)
    try:
        state = await poller.poll(name)
    finally:
        await poller.aclose()
    return state


@pytest.mark.parametrize("name", PROVIDERS)
async def test_month_to_date_sums_every_page(fake, name, monkeypatch):
    state = await poll(fake, name, monkeypatch)
    assert state.last_error is None
    usage = state.usage
    assert usage.month_to_date_usd == pytest.approx(MONTH_TO_DATE[name])
    if name == "openrouter":
        assert usage.running_total and usage.last_bucket_end == NOW
        return
    assert usage.last_bucket_end == MAY_20
    assert usage.partial_usd == pytest.approx(1.25)
    assert len(usage.daily) == 19
    if name in ("openai", "anthropic"):
        assert fake.hits(FIRST_PATH[name]) == 3  # 20 daily buckets, 7 a page


async def test_openai_follows_pages_of_hourly_usage(fake, monkeypatch):
    await poll(fake, "openai", monkeypatch)
    assert fake.hits("/v1/organization/usage/completions") == 4  # 24 hourly buckets, 7 a page
    cursors = [q.get("page") for p, q in fake.requests if p == "/v1/organization/usage/completions"]
    assert cursors[0] is None and all(cursors[1:])


@pytest.mark.parametrize("name", ["openai", "anthropic", "litellm"])
async def test_empty_buckets_count_nothing(name, monkeypatch):
    with FakeProviderServer(now=lambda: NOW, ledger=ledger(skip={-10, -9, -8, -7, -6})) as srv:
        state = await poll(srv, name, monkeypatch)
    assert state.usage.month_to_date_usd == pytest.approx(14 * 1.25)
    assert state.usage.last_bucket_end == MAY_20


@pytest.mark.parametrize("name", PROVIDERS)
async def test_a_month_without_spend_is_zero_not_an_error(name, monkeypatch):
    with FakeProviderServer(now=lambda: NOW, ledger=[]) as srv:
        state = await poll(srv, name, monkeypatch)
    assert state.last_error is None
    assert state.usage.month_to_date_usd == 0.0


async def test_openai_tokens_and_requests_per_model_over_the_last_day(fake, monkeypatch):
    usage = (await poll(fake, "openai", monkeypatch)).usage
    assert usage.models_since == NOW - 86400
    assert {m: (u.input_tokens, u.output_tokens, u.requests) for m, u in usage.models.items()} == {
        "model-a": (4000, 1000, 10), "model-b": (800, 200, 4)}


async def test_anthropic_tokens_per_model_include_cache_reads_and_writes(fake, monkeypatch):
    usage = (await poll(fake, "anthropic", monkeypatch)).usage
    assert {m: (u.input_tokens, u.output_tokens, u.requests) for m, u in usage.models.items()} == {
        "model-a": (20 * 4000, 20 * 1000, None), "model-b": (20 * 800, 20 * 200, None)}
    assert any(q.get("group_by[]") == ["model"] for p, q in fake.requests
               if p == "/v1/organizations/usage_report/messages")


async def test_litellm_spend_per_model_and_proxy_budget(fake, monkeypatch):
    usage = (await poll(fake, "litellm", monkeypatch)).usage
    assert usage.models["model-a"].usd == pytest.approx(41.0)
    assert usage.models["model-b"].usd == pytest.approx(41 * 0.25)
    assert usage.limit_usd == 1000.0
    assert usage.limit_remaining_usd == pytest.approx(1000.0 - 31 * 1.25)  # /global/spend covers 30 days back
    assert usage.notes == ["key apimon-demo: $51.25 spent of $1000.00"]


async def test_openrouter_key_limit(fake, monkeypatch):
    usage = (await poll(fake, "openrouter", monkeypatch)).usage
    assert usage.limit_usd == 100.0
    assert usage.limit_remaining_usd == pytest.approx(75.0)


@pytest.mark.parametrize("name", PROVIDERS)
async def test_rejected_key_says_what_to_check(fake, name, monkeypatch):
    set_keys(monkeypatch, {**DEFAULT_KEYS, name: "sk-wrong-key-0123456789abcdef"})
    poller = poller_for(fake, name)
    state = await poller.poll(name)
    await poller.aclose()
    assert state.last_error == f"401: {KEY_WORD[name]} key rejected - check {ENV[name]}"
    assert state.usage is None and state.last_success is None


@pytest.mark.parametrize("name", PROVIDERS)
async def test_429_waits_as_long_as_retry_after_says(fake, name, monkeypatch):
    fake.inject(FIRST_PATH[name], status=429, retry_after=7)
    sleeps = Sleeps()
    state = await poll(fake, name, monkeypatch, sleeps=sleeps)
    assert state.last_error is None
    assert sleeps == [7.0]
    assert state.usage.month_to_date_usd == pytest.approx(MONTH_TO_DATE[name])


async def test_429_asking_for_too_long_a_wait_is_reported(fake, monkeypatch):
    fake.inject("/api/v1/key", status=429, retry_after=3600)
    state = await poll(fake, "openrouter", monkeypatch)
    assert state.last_error == f"429: rate limited by {fake.base_url}/api/v1/key; the server asks to wait 3600s"


@pytest.mark.parametrize("name", PROVIDERS)
async def test_server_error_succeeds_on_retry_after_backoff(fake, name, monkeypatch):
    fake.inject(FIRST_PATH[name], status=500)
    sleeps = Sleeps()
    state = await poll(fake, name, monkeypatch, sleeps=sleeps)
    assert state.last_error is None
    assert len(sleeps) == 1 and 0.25 <= sleeps[0] <= 0.5  # first backoff: 0.5 s, jittered down to half
    assert state.usage.month_to_date_usd == pytest.approx(MONTH_TO_DATE[name])


async def test_server_errors_that_persist_give_up_with_the_status(fake, monkeypatch):
    fake.inject("/global/spend/logs", status=503, times=None)
    sleeps = Sleeps()
    state = await poll(fake, "litellm", monkeypatch, sleeps=sleeps)
    assert state.last_error == f"503: server error from {fake.base_url}/global/spend/logs (gave up after 3 tries)"
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] * 0.9


@pytest.mark.parametrize("name", PROVIDERS)
async def test_timeout_is_reported_in_plain_words(fake, name, monkeypatch):
    fake.inject(FIRST_PATH[name], delay=5.0, times=None)
    state = await poll(fake, name, monkeypatch, retries=1, timeout="0.2s")
    assert state.last_error == f"timed out after 0.2s waiting for {fake.base_url}{FIRST_PATH[name]} (gave up after 2 tries)"


async def test_one_slow_answer_is_retried(fake, monkeypatch):
    fake.inject("/api/v1/key", delay=5.0)
    state = await poll(fake, "openrouter", monkeypatch, timeout="0.2s")
    assert state.last_error is None and state.usage.month_to_date_usd == pytest.approx(25.0)


async def test_connection_refused_names_the_base_url(monkeypatch):
    set_keys(monkeypatch)
    with FakeProviderServer(now=lambda: NOW) as srv:
        poller = poller_for(srv, "openai", retries=1)
    state = await poller.poll("openai")  # the server is gone
    await poller.aclose()
    assert state.last_error == f"connection refused to {srv.url_for('openai')} (gave up after 2 tries)"


@pytest.mark.parametrize("name", PROVIDERS)
async def test_malformed_json_keeps_the_previous_figures(fake, name, monkeypatch):
    set_keys(monkeypatch)
    poller = poller_for(fake, name)
    first = await poller.poll(name)
    good, when = first.usage, first.last_success
    fake.inject(FIRST_PATH[name], status=200, body=b'{"data": [', times=None)
    state = await poller.poll(name)
    await poller.aclose()
    assert state.last_error.startswith(f"malformed JSON from {fake.base_url}")
    assert state.usage is good and state.usage.month_to_date_usd == pytest.approx(MONTH_TO_DATE[name])
    assert state.last_success == when


async def test_valid_json_of_the_wrong_shape_is_an_unexpected_answer(fake, monkeypatch):
    fake.inject("/api/v1/key", status=200, body=b'{"data": []}')
    state = await poll(fake, "openrouter", monkeypatch)
    assert state.last_error == f"unexpected answer from {fake.base_url}/api/v1/key: no `data` object"


@pytest.mark.parametrize("name", PROVIDERS)
async def test_keys_never_reach_logs_errors_or_output(fake, name, monkeypatch, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    wrong = "sk-wrong-key-0123456789abcdef"
    set_keys(monkeypatch)
    poller = poller_for(fake, name)
    await poller.poll(name)
    fake.inject(FIRST_PATH[name], status=500)
    fake.inject(FIRST_PATH[name], status=429, retry_after=1)
    await poller.poll(name)
    fake.inject(FIRST_PATH[name], status=200, body=b"<html>", times=1)
    await poller.poll(name)
    monkeypatch.setenv(ENV[name], wrong)
    await poller.poll(name)
    await poller.aclose()
    state = Budget(BudgetConfig(100.0), clock=lambda: NOW).state(poller.usages())
    print(render(state, poller.states))
    print(to_json(state, poller.states))
    seen = caplog.text + capsys.readouterr().out + str(poller.states[name].last_error)
    assert "rejected" in seen and "malformed JSON" in seen and "429: rate limited" in caplog.text
    for key in (DEFAULT_KEYS[name], wrong):
        assert key not in seen
        assert key[4:] not in seen
