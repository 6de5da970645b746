"""The poller's state and scheduling, and the provider settings read from the config."""

from __future__ import annotations

import asyncio
import os

import pytest
from usage_fixtures import ENV, NOW, ledger, poller_for, set_keys

from apimon_tui.core import config as config_mod
from apimon_tui.core.config import ConfigError
from apimon_tui.fakes.provider_server import DEFAULT_KEYS, FakeProviderServer
from apimon_tui.costs.usage.poller import Poller, ProviderState
from apimon_tui.costs.usage.settings import provider_settings


@pytest.fixture
def fake():
    with FakeProviderServer(now=lambda: NOW, ledger=ledger()) as srv:
        yield srv


async def wait_until(condition, tries: int = 500) -> None:
    for _ in range(tries):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never became true")


async def test_a_poll_asked_for_while_one_runs_waits_for_it(fake, monkeypatch):
    set_keys(monkeypatch)
    fake.inject("/api/v1/key", delay=0.3)
    poller = poller_for(fake, "openrouter")
    first, second = await asyncio.gather(poller.poll("openrouter"), poller.poll("openrouter"))
    await poller.aclose()
    assert first is second and first.last_error is None
    assert fake.hits("/api/v1/key") == 1


async def test_poll_all_polls_each_provider_once_and_keeps_going_past_failures(fake, monkeypatch):
    set_keys(monkeypatch, {**DEFAULT_KEYS, "anthropic": "sk-ant-admin01-wrongwrongwrong0000"})
    poller = poller_for(fake, "openai", "anthropic", "litellm", "openrouter")
    await poller.poll_all()
    await poller.aclose()
    errors = {name: state.last_error for name, state in poller.states.items()}
    assert errors == {"openai": None, "anthropic": "401: admin key rejected - check TEST_ANTHROPIC_KEY",
                      "litellm": None, "openrouter": None}
    assert poller.usages()["anthropic"] is None and poller.usages()["openai"].month_to_date_usd > 0


async def test_run_polls_at_start_and_again_on_poll_now(fake, monkeypatch):
    set_keys(monkeypatch)
    poller = poller_for(fake, "openrouter", interval="1h")
    task = asyncio.create_task(poller.run())
    await wait_until(lambda: fake.hits("/api/v1/key") == 1 and not poller.states["openrouter"].polling)
    poller.poll_now()
    await wait_until(lambda: fake.hits("/api/v1/key") == 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fake.hits("/api/v1/key") == 2  # the hour-long interval was not waited out, nor skipped
    assert poller._http is None  # the client was closed on the way out


def test_age_and_staleness_after_three_missed_intervals():
    state = ProviderState("openai", interval_s=300)
    assert state.age(NOW) is None and not state.stale(NOW)
    state.last_attempt = NOW
    assert not state.stale(NOW + 900) and state.stale(NOW + 901)  # never answered
    state.last_success = NOW
    assert state.age(NOW + 42) == 42
    assert not state.stale(NOW + 900) and state.stale(NOW + 901)


async def test_missing_key_is_an_error_for_that_provider(fake, monkeypatch):
    monkeypatch.delenv(ENV["openai"], raising=False)
    poller = poller_for(fake, "openai")
    state = await poller.poll("openai")
    await poller.aclose()
    assert state.last_error == "no key: set TEST_OPENAI_KEY (or key_file in [providers.openai])"
    assert fake.requests == []


async def test_key_file_is_read_and_named_when_rejected(fake, tmp_path, monkeypatch):
    key_file = tmp_path / "openrouter.key"
    key_file.write_text(DEFAULT_KEYS["openrouter"] + "\n")
    poller = poller_for(fake, "openrouter", key_file=str(key_file))
    assert (await poller.poll("openrouter")).last_error is None
    key_file.write_text("sk-or-v1-not-the-right-key-000000\n")
    assert (await poller.poll("openrouter")).last_error == f"401: API key rejected - check key_file {key_file}"
    key_file.unlink()
    assert (await poller.poll("openrouter")).last_error == f"cannot read key_file {key_file}: No such file or directory"
    await poller.aclose()


def test_only_enabled_providers_with_their_defaults():
    config = config_mod.merge(config_mod.DEFAULTS, {"providers": {"openai": {"enabled": True}}})
    [openai] = provider_settings(config)
    assert (openai.name, openai.base_url, openai.key_env, openai.interval_s, openai.timeout_s) == (
        "openai", "https://api.openai.com/v1", "OPENAI_ADMIN_KEY", 300.0, 30.0)


@pytest.mark.parametrize("section, message", [
    ({"litellm": {"enabled": True}}, "providers.litellm.base_url is required"),
    ({"openai": {"enabled": True, "interval": "often"}}, 'providers.openai.interval must be a duration like "5m"'),
    ({"openai": {"enabled": True, "base_url": "api.openai.com"}}, "providers.openai.base_url must be an http"),
    ({"anthropic": {"enabled": True, "admin_key_env": "sk-ant-admin01-abcdefghijklmnop"}},
     "providers.anthropic.admin_key_env must name an environment variable"),
])
def test_bad_provider_options_are_one_clear_sentence(section, message):
    config = config_mod.merge(config_mod.DEFAULTS, {"providers": section})
    with pytest.raises(ConfigError, match=message) as caught:
        provider_settings(config)
    assert "abcdefghijklmnop" not in str(caught.value)


def write_config(tmp_path, text: str, mode: int):
    path = tmp_path / "config.toml"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_config_holding_a_key_readable_by_others_is_refused(tmp_path):
    path = write_config(tmp_path, '[providers.openai]\nenabled = true\nadmin_key_env = "sk-admin-abcdef0123456789"\n',
                        0o644)
    with pytest.raises(ConfigError) as caught:
        Poller.from_config(config_mod.load(path))
    message = str(caught.value)
    assert message == (f"config: {path} holds an API key (at providers.openai.admin_key_env) and other users can "
                       f"read it: move the key to an environment variable or a key_file, or run `chmod 600 {path}`")
    assert "abcdef0123456789" not in message


def test_private_config_holding_a_key_is_only_told_to_name_a_variable(tmp_path):
    path = write_config(tmp_path, '[providers.openai]\nenabled = true\nadmin_key_env = "sk-admin-abcdef0123456789"\n',
                        0o600)
    with pytest.raises(ConfigError, match="must name an environment variable"):
        Poller.from_config(config_mod.load(path))


def test_config_readable_by_others_without_keys_is_fine(tmp_path, fake):
    text = "".join(f'[providers.{n}]\nenabled = true\nbase_url = "{fake.url_for(n)}"\n' for n in ENV)
    poller = Poller.from_config(config_mod.load(write_config(tmp_path, text, 0o644)))
    assert list(poller.states) == ["openai", "anthropic", "litellm", "openrouter"]


def test_config_values_of_the_wrong_type_are_refused(tmp_path):
    path = write_config(tmp_path, "[providers.openai]\nenabled = \"yes\"\n", 0o600)
    with pytest.raises(ConfigError, match="providers.openai.enabled must be true or false"):
        config_mod.load(path)

