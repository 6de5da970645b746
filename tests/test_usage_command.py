"""`apimon-tui usage` as a real subprocess against the fake provider server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from usage_fixtures import ENV

from apimon_tui.fakes.provider_server import DEFAULT_KEYS, FakeProviderServer
from apimon_tui.costs.usage.base import parse_iso

PROVIDER_KEYS = {"month_to_date_usd", "last_bucket_end", "error"}
OVERALL_KEYS = {"budget_usd", "spent_usd", "spent_pct", "burn_rate_usd_per_hour", "forecast_month_end_usd"}


@pytest.fixture(scope="module")
def fake():
    with FakeProviderServer() as srv:
        yield srv


def write_config(tmp_path, srv: FakeProviderServer, budget: float = 900.0) -> str:
    lines = [f"[budget]\nmonthly_usd = {budget}\n\n[budget.providers]\nopenai = 400.0\n"]
    for name in ENV:
        option = "admin_key_env" if name in ("openai", "anthropic") else "key_env"
        lines.append(f'[providers.{name}]\nenabled = true\nbase_url = "{srv.url_for(name)}"\n{option} = "{ENV[name]}"\n'
                     'interval = "5m"\n')
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines))
    return str(path)


def run_usage(*args: str, keys: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ENV.values()}
    env.update({ENV[name]: key for name, key in (keys or DEFAULT_KEYS).items()})
    return subprocess.run([sys.executable, "-m", "apimon_tui", "usage", *args], capture_output=True, text=True,
                          env=env, timeout=60)


def test_json_with_every_provider_answering_exits_0(fake, tmp_path):
    result = run_usage("--config", write_config(tmp_path, fake), "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert OVERALL_KEYS <= set(out)
    assert set(out["providers"]) == {"openai", "anthropic", "litellm", "openrouter"}
    for name, provider in out["providers"].items():
        assert PROVIDER_KEYS <= set(provider) and provider["error"] is None, name
    openai = out["providers"]["openai"]
    month_start, last_end = parse_iso(out["month_start"]), parse_iso(openai["last_bucket_end"])
    assert openai["month_to_date_usd"] == pytest.approx(fake.total("openai", month_start, last_end), abs=1e-5)
    assert openai["budget_usd"] == 400.0
    assert out["budget_usd"] == 900.0
    assert out["spent_usd"] == pytest.approx(sum(p["month_to_date_usd"] for p in out["providers"].values()), abs=1e-4)
    assert out["spent_pct"] == pytest.approx(out["spent_usd"] / 9.0, abs=0.01)
    assert out["burn_rate_usd_per_hour"] > 0 and out["forecast_month_end_usd"] >= out["spent_usd"]


def test_one_failing_provider_exits_3_and_the_others_still_print(fake, tmp_path):
    wrong = "sk-ant-admin01-WRONGwrongWRONG0000"
    result = run_usage("--config", write_config(tmp_path, fake), "--json",
                       keys={**DEFAULT_KEYS, "anthropic": wrong})
    assert result.returncode == 3
    out = json.loads(result.stdout)
    assert out["providers"]["anthropic"]["error"] == "401: admin key rejected - check TEST_ANTHROPIC_KEY"
    assert out["providers"]["anthropic"]["month_to_date_usd"] is None
    assert out["providers"]["openai"]["error"] is None and out["providers"]["openai"]["month_to_date_usd"] > 0
    for key in (wrong, *DEFAULT_KEYS.values()):
        assert key not in result.stdout + result.stderr


def test_text_output_shows_budget_and_each_provider(fake, tmp_path):
    result = run_usage("--config", write_config(tmp_path, fake), keys={**DEFAULT_KEYS, "litellm": "sk-bad00000000000000"})
    assert result.returncode == 3
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Budget    $900.00 for ")
    assert any(line.startswith("Spent     $") for line in lines)
    assert any(line.startswith("Forecast  $") for line in lines)
    assert "  litellm     error: 401: master key rejected - check TEST_LITELLM_KEY" in lines
    assert any(line.startswith("  openai") and "billed to" in line and "of $400.00" in line for line in lines)
    assert "Traceback" not in result.stderr and "sk-bad00000000000000" not in result.stdout


def test_unreachable_provider_is_named_and_exits_3(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[providers.openrouter]\nenabled = true\nbase_url = "http://127.0.0.1:9/api/v1"\n'
                    f'key_env = "{ENV["openrouter"]}"\ninterval = "5m"\ntimeout = "2s"\n')
    result = run_usage("--config", str(path), "--json")
    assert result.returncode == 3
    error = json.loads(result.stdout)["providers"]["openrouter"]["error"]
    assert error.startswith("connection refused to http://127.0.0.1:9/api/v1")


def test_unsafe_config_is_refused_with_one_line(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[providers.openai]\nenabled = true\nadmin_key_env = "sk-admin-abcdef0123456789"\n')
    os.chmod(path, 0o644)
    result = run_usage("--config", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"apimon-tui usage: config: {path} holds an API key")
    assert len(result.stderr.strip().splitlines()) == 1 and "abcdef0123456789" not in result.stderr


def test_no_providers_enabled_prints_the_logs_free_budget(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[budget]\nmonthly_usd = 50\n")
    result = run_usage("--config", str(path), "--json")
    assert result.returncode == 0
    out = json.loads(result.stdout)
    assert out["providers"] == {} and out["spent_usd"] == 0.0 and out["budget_usd"] == 50.0
