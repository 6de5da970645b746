"""`apimon-tui config check`: every problem of a file reported at once, each with its key and line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import tomli_w

from apimon_tui.core.config import DEFAULTS
from apimon_tui.commands.config_check import KeyLines, validate

ROOT = Path(__file__).resolve().parents[1]

BROKEN = """\
# a config with many problems
[sources]
paths = ["~/logs/app.jsonl"]
format = "nativ"
since = "an hour"
from_start = "yes"

[budget]
monthly_usdd = 100
monthly_usd = -5

[providers.openai]
enabled = true
interval = "5 minutes"

[alerts.budget]
clear = 3.0

[[alerts.rules]]
kind = "error_rate"
warning = 2.0
modle = "gpt-4o"

[[alerts.rules]]
kind = "latncy"

[pricing]
my-model = {input_per_mtok = 2.5, output_per_mtok = -1}

[ui]
refresh = "fast"
"""

EXPECTED = [
    (3, "sources.paths[0]", "~/logs/app.jsonl does not exist (the monitor stops on it unless run with --wait)"),
    (4, "sources.format", "must be one of auto, native"),
    (5, "sources.since", "must be a duration"),
    (6, "sources.from_start", "must be true or false"),
    (9, "budget.monthly_usdd", "unknown key (did you mean 'monthly_usd'?)"),
    (10, "budget.monthly_usd", "must not be negative"),
    (14, "providers.openai.interval", "must be a duration"),
    (17, "alerts.budget.clear", "must be a fraction of the threshold"),
    (22, "alerts.rules[0].modle", "unknown key (did you mean 'model'?)"),
    (25, "alerts.rules[1].kind", "must be one of budget, forecast"),
    (28, "pricing.my-model.output_per_mtok", "must not be negative"),
    (31, "ui.refresh", "must be a number"),
]


def check(path, *extra):
    return subprocess.run([sys.executable, "-m", "apimon_tui", "config", "check", "--config", str(path), *extra],
                          capture_output=True, text=True, timeout=60)


def test_every_problem_is_reported_with_key_and_line(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(BROKEN)
    path.chmod(0o600)
    result = check(path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    for line, key, message in EXPECTED:
        assert any(out.startswith(f"{path}:{line}: {key}: {message}") for out in lines), (line, key, lines)
    assert len(lines) == len(EXPECTED)
    assert f"{len(EXPECTED)} problems in {path}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_clean_file_passes(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[sources]\npaths = ["calls.jsonl"]\nformat = "native"\nsince = "1h"\n\n'
                    '[budget]\nmonthly_usd = 500\n\n[providers.openai]\nenabled = true\n\n'
                    '[[alerts.rules]]\nkind = "latency"\nname = "slow gpt-4o"\nmodel = "gpt-4o"\nwarning = 4000\n')
    path.chmod(0o600)
    result = check(path)
    assert (result.returncode, result.stdout.strip()) == (0, f"{path}: no problems")


def test_every_default_is_valid():
    assert validate(tomli_w.dumps(DEFAULTS), mode=0o100600) == []


def test_a_key_inline_is_a_problem_only_when_others_can_read_the_file(tmp_path):
    key = "sk-proj-" + "Q" * 40 + "a1b2"
    path = tmp_path / "config.toml"
    path.write_text(f'[alerts.notify]\nwarning = "curl -H \'Authorization: Bearer {key}\' https://hooks.example"\n')
    path.chmod(0o600)
    assert check(path).returncode == 0
    path.chmod(0o644)
    result = check(path)
    assert result.returncode == 1
    assert f"{path}:2: alerts.notify.warning: holds an API key and other users can read this file" in result.stdout
    assert key not in result.stdout + result.stderr


def test_a_key_where_an_env_var_name_belongs(tmp_path):
    key = "sk-admin-" + "z" * 30 + "9f9f"
    problems = validate(f'[providers.openai]\nenabled = true\nadmin_key_env = "{key}"\n', mode=0o100600)
    assert [(p.line, p.key) for p in problems] == [(3, "providers.openai.admin_key_env")]
    assert "must name an environment variable" in problems[0].message
    assert key not in problems[0].message


def test_missing_file_and_broken_toml(tmp_path):
    missing = check(tmp_path / "nope.toml")
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "apimon-tui init" in missing.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text('[sources]\nformat = "native"\npaths = [\n')
    result = check(broken)
    assert result.returncode == 1 and "not valid TOML" in result.stdout and "Traceback" not in result.stderr


def test_key_lines_follow_tables_dotted_keys_inline_tables_and_arrays():
    where = KeyLines(
        '[providers]\nopenai.enabled = true\nanthropic = {enabled = true, interval = "1m"}\n'
        '[[alerts.rules]]\nkind = "latency"\n[[alerts.rules]]\n"kind" = "budget"\n'
        'text = """\nfake = 1\n"""\n[ui]\nrefresh = 2\n'
    )
    assert where.find("providers.openai.enabled") == 2
    assert where.find("providers.anthropic.interval") == 3
    assert where.find("alerts.rules[0].kind") == 5
    assert where.find("alerts.rules[1].kind") == 7
    assert where.find("alerts.rules[1].fake") == 6  # inside a multi-line string: not a key, so its table
    assert where.find("ui.refresh") == 12
    assert where.find("ui.theme") == 11
    assert where.find("nowhere") is None


def test_env_override_is_the_default_path(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[ui]\nthem = 'x'\n")
    env = {**os.environ, "APIMON_CONFIG": str(path)}
    result = subprocess.run([sys.executable, "-m", "apimon_tui", "config", "check"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert result.returncode == 1
    assert f"{path}:2: ui.them: unknown key (did you mean 'theme'?)" in result.stdout


def test_keys_section_names_real_binding_ids_and_keys_textual_reads(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[keys]\nquit = "ctrl+q"\nhelp = "F1"\npuase = "space"\nfilter = "Ctrl+f"\n'
                    'zoom = "ctrl+Z"\nalerts = "f2,pgup"\nsources = 5\nnext_theme = "question_mark,f10"\n')
    path.chmod(0o600)
    result = check(path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{path}:3: keys.help: 'F1' is not a key name: Textual's names are lower case ('f1')",
        f"{path}:4: keys.puase: no such binding id (did you mean 'pause'?)",
        f"{path}:5: keys.filter: 'Ctrl' is not a modifier: Textual's are lower case ('ctrl')",
        f"{path}:6: keys.zoom: 'ctrl+Z' never matches: with a modifier the letter is lower case ('ctrl+z')",
        f"{path}:7: keys.alerts: 'pgup' is not a key name (did you mean 'pageup'?)",
        f'{path}:8: keys.sources: must be a key like "ctrl+q", not 5',
    ]


def test_the_binding_ids_config_check_knows_are_the_monitors():
    from apimon_tui.core.key_names import BINDING_IDS
    from apimon_tui.tui.app import MonitorApp

    assert BINDING_IDS == {binding.id for _, binding in MonitorApp.all_bindings()}


def test_every_key_the_monitor_binds_and_every_key_textual_names_passes():
    from textual.keys import Keys, _character_to_key

    from apimon_tui.core.key_names import key_problem
    from apimon_tui.tui.app import MonitorApp

    for _, binding in MonitorApp.all_bindings():
        assert key_problem(binding.key) is None, binding.key
    for key in Keys:
        if not key.value.startswith("<") and key.value not in ("ctrl+@", "ctrl-at"):
            assert key_problem(key.value) is None, key.value
    for char in map(chr, range(33, 127)):
        assert key_problem(_character_to_key(char)) is None, char


def test_the_files_it_names_theme_key_file_history_folder_and_sources(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.jsonl").write_text("")
    path = tmp_path / "config.toml"
    path.write_text(f'[sources]\npaths = ["{logs / "app.jsonl"}", "{logs}", "{logs}/*.jsonl", "cmd:tail -F x",\n'
                    f'         "{tmp_path / "gone.jsonl"}"]\n\n'
                    '[providers.openai]\nenabled = true\nkey_file = "openai.key"\n\n'
                    '[alerts]\nhistory_file = "nowhere/alerts.jsonl"\n\n[ui]\ntheme = "apimon-drak"\n')
    path.chmod(0o600)
    result = check(path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{path}:2: sources.paths[1]: {logs} is a folder, not a file",
        f"{path}:2: sources.paths[4]: {tmp_path / 'gone.jsonl'} does not exist "
        "(the monitor stops on it unless run with --wait)",
        f"{path}:7: providers.openai.key_file: openai.key does not exist",
        f"{path}:10: alerts.history_file: its folder nowhere does not exist",
        f"{path}:13: ui.theme: no theme of that name in {ROOT / 'src' / 'apimon_tui' / 'themes'} or "
        f"{tmp_path / 'themes'} (did you mean 'apimon-dark'?)",
    ]
    # the same names, once the files are there (a theme of one's own in the config folder's themes/)
    (tmp_path / "openai.key").write_text("sk-test")
    (tmp_path / "nowhere").mkdir()
    (tmp_path / "themes").mkdir()
    (tmp_path / "themes" / "mine.toml").write_text('name = "apimon-drak"\nprimary = "#112233"\n')
    (tmp_path / "gone.jsonl").write_text("")
    path.write_text(path.read_text().replace(f'"{logs}", ', ""))
    result = check(path)
    assert (result.returncode, result.stdout.strip()) == (0, f"{path}: no problems")


def test_a_theme_file_with_a_bad_colour_in_the_config_folder(tmp_path):
    (tmp_path / "themes").mkdir()
    (tmp_path / "themes" / "mine.toml").write_text('name = "mine"\nprimary = "bluish"\n')
    (tmp_path / "themes" / "fine.toml").write_text('name = "fine"\nprimary = "#112233"\nerror = "rgb(200, 0, 0)"\n')
    path = tmp_path / "config.toml"
    path.write_text('[ui]\ntheme = "fine"\n')
    path.chmod(0o600)
    result = check(path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{path}: themes: {tmp_path / 'themes'}: theme mine.toml skipped: primary = 'bluish' is not a colour"]
