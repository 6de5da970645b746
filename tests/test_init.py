"""`apimon-tui init`: a commented, valid, 0600 config from flags or answers, never over an existing one."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from apimon_tui.core import config as config_mod
from apimon_tui.commands.init import Answers, render
from apimon_tui.commands.config_check import validate
from apimon_tui.costs.usage.settings import provider_settings

KEY = "sk-admin-" + "k" * 32 + "7f3e"


@pytest.fixture
def home(tmp_path):
    """A clean environment whose default config path is under tmp_path."""
    env = {k: v for k, v in os.environ.items() if k != config_mod.ENV_PATH and not k.endswith("_KEY")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    return env, tmp_path / "xdg" / "apimon-tui" / "config.toml"


def init(env, *args, answers: str | None = None):
    return subprocess.run([sys.executable, "-m", "apimon_tui", "init", *args], input=answers or "",
                          capture_output=True, text=True, env=env, timeout=60)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_flags_write_a_valid_private_commented_file_at_the_default_path(home):
    env, path = home
    result = init(env, "--yes", "--source", "/var/log/app/calls.jsonl", "--source", "cmd:kubectl logs -f x",
                  "--provider", "openai", "--provider", "anthropic:ANT_ADMIN", "--budget", "250")
    assert result.returncode == 0, result.stderr
    assert mode(path) == 0o600
    text = path.read_text()
    assert text.startswith("# apimon-tui configuration, written by `apimon-tui init`")
    assert "# Monthly budget in USD" in text
    config = config_mod.load(path)
    assert config["sources"]["paths"] == ["/var/log/app/calls.jsonl", "cmd:kubectl logs -f x"]
    assert config["budget"]["monthly_usd"] == 250.0
    assert [(p.name, p.key_env) for p in provider_settings(config)] == [
        ("openai", "OPENAI_ADMIN_KEY"), ("anthropic", "ANT_ADMIN")]
    assert validate(text, mode=path.stat().st_mode) == []
    assert f"Wrote {path} (readable only by you)." in result.stdout
    assert "export OPENAI_ADMIN_KEY=..." in result.stdout
    assert "apimon-tui demo" in result.stdout and "apimon-tui config check" in result.stdout


def test_never_overwrites_without_force(home):
    env, path = home
    assert init(env, "--yes", "--budget", "10").returncode == 0
    before = path.read_text()
    again = init(env, "--yes", "--budget", "99")
    assert again.returncode == 1
    assert "already exists" in again.stderr and "--force" in again.stderr
    assert path.read_text() == before
    path.chmod(0o644)
    forced = init(env, "--yes", "--budget", "99", "--force")
    assert forced.returncode == 0
    assert config_mod.load(path)["budget"]["monthly_usd"] == 99.0
    assert mode(path) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]  # no temporary file left behind


def test_interactive_answers_with_bad_ones_asked_again(home, tmp_path):
    env, _ = home
    path = tmp_path / "elsewhere" / "apimon.toml"
    answers = "\n".join([
        "~/logs/a.jsonl, ~/logs/b-*.jsonl",   # logs
        "openai, litellm",                     # providers
        KEY,                                   # a key instead of its variable's name: refused
        "",                                    # the default variable name
        "LITELLM_KEY",
        "localhost:4000",                      # not an address: refused
        "http://localhost:4000/",
        "lots",                                # not a number: refused
        "$1,200",
    ]) + "\n"
    result = init(env, "--path", str(path), answers=answers)
    assert result.returncode == 0, result.stderr
    assert "looks like a key itself" in result.stdout
    assert "is not an address" in result.stdout
    assert "'lots' is not an amount of USD" in result.stdout
    config = config_mod.load(path)
    assert config["sources"]["paths"] == ["~/logs/a.jsonl", "~/logs/b-*.jsonl"]
    assert config["budget"]["monthly_usd"] == 1200.0
    settings = {p.name: p for p in provider_settings(config)}
    assert settings["openai"].key_env == "OPENAI_ADMIN_KEY"
    assert (settings["litellm"].key_env, settings["litellm"].base_url) == ("LITELLM_KEY", "http://localhost:4000")
    assert mode(path) == 0o600
    assert KEY not in path.read_text() and KEY not in result.stdout + result.stderr
    assert f"apimon-tui --config {path}" in result.stdout


def test_defaults_when_every_answer_is_empty(home):
    env, path = home
    result = init(env, answers="\n\n\n")
    assert result.returncode == 0, result.stderr
    config = config_mod.load(path)
    assert config["sources"]["paths"] == ["~/.local/state/apimon/calls.jsonl"]
    assert provider_settings(config) == []
    assert config["budget"]["monthly_usd"] == 0.0


def test_bad_flags_and_closed_stdin_write_nothing(home):
    env, path = home
    for args, message in [
        (["--yes", "--provider", f"openai:{KEY}"], "looks like a key itself"),
        (["--yes", "--provider", "azure"], "unknown provider 'azure'"),
        (["--yes", "--provider", "litellm"], "--litellm-url"),
        ([], "no answer on standard input"),
    ]:
        result = init(env, *args)
        assert result.returncode == 2
        assert message in result.stderr and "Traceback" not in result.stderr
        assert KEY not in result.stderr
        assert not path.exists()


def test_rendered_file_parses_and_keeps_its_comments():
    text = render(Answers(["a.jsonl"], {"openrouter": "OPENROUTER_API_KEY"}, "", 50.0))
    assert "# OpenRouter: any API key of the account." in text
    assert validate(text, mode=0o100600) == []
