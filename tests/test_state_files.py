"""Files and secrets: choices on screen go to a private state file, never to the config; every file
apimon-tui writes is 0600; a config that others can read and that holds a key is warned about."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

from alerts_helpers import T0, Clock, Sim, ok, shipped
from tui_support import make_app

from apimon_tui.alerts import AlertManager
from apimon_tui.alerts.notify import Notifier
from apimon_tui.capture.jsonl_writer import JsonlWriter
from apimon_tui.core.state import UiState, default_path

SECRET = "sk-proj-abcdefghijklmnopqrstuvwxyz123456"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "apimon_tui", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


# -- the state file -------------------------------------------------------------------


def test_state_lives_under_xdg_state_home_and_is_written_0600_in_a_0700_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    state, warning = UiState.load()
    assert warning is None and state.path == tmp_path / "xdg" / "apimon-tui" / "state.json"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_path() == Path("~/.local/state/apimon-tui/state.json").expanduser()
    state.save_theme("apimon-light", "apimon-dark")
    assert mode(state.path) == 0o600 and mode(state.path.parent) == 0o700
    assert json.loads(state.path.read_text())["theme"] == {"name": "apimon-light", "config": "apimon-dark"}
    assert [p.name for p in state.path.parent.iterdir()] == ["state.json"]  # no temporary file left


def test_the_chosen_theme_wins_until_the_config_names_another(tmp_path):
    path = tmp_path / "state.json"
    UiState(path).save_theme("apimon-light", "apimon-dark")
    state, _ = UiState.load(path)
    assert state.theme("apimon-dark") == "apimon-light"
    assert state.theme("apimon-16") == "apimon-16"  # [ui] theme edited since: the config wins


def test_two_monitors_keep_each_others_choices(tmp_path):
    path = tmp_path / "state.json"
    first, _ = UiState.load(path)
    second, _ = UiState.load(path)
    first.save_theme("apimon-light", "apimon-dark")
    second.save_silence("error_rate", T0 + 600, T0)
    reread, _ = UiState.load(path)
    assert reread.theme("apimon-dark") == "apimon-light"
    assert reread.silences(T0) == {"error_rate": T0 + 600}


def test_entries_of_the_wrong_kind_are_ignored_one_by_one(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('{"theme": 5, "silences": {"a": "soon", "b": NaN, "c": Infinity, "d": true, "e": %r}}'
                    % (T0 + 60))
    state, warning = UiState.load(path)
    assert warning is None
    assert state.theme("apimon-dark") == "apimon-dark"
    assert state.silences(T0) == {"e": T0 + 60}
    state.save_silence("f", T0 + 120, T0)
    def refuse(constant):
        raise AssertionError(f"{constant} in the state file")

    assert json.loads(path.read_text(), parse_constant=refuse)["silences"] == {"e": T0 + 60, "f": T0 + 120}


async def test_a_broken_state_file_is_one_warning_on_screen_and_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    path = default_path()
    path.parent.mkdir(parents=True)
    path.write_text('{"theme": {"name": "apimon-li')
    app = make_app(tmp_path, config_text='[ui]\ntheme = "apimon-16"\n')
    assert app.theme == "apimon-16"  # the config's theme
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        warnings = [n.message for n in app._notifications if "state file" in n.message]
        assert warnings == [f"state file {path} ignored: not valid JSON"]
        await pilot.press("t")
        await pilot.pause()
    assert json.loads(path.read_text())["theme"]["name"] == app.theme  # replaced by a good one


async def test_a_theme_that_cannot_be_kept_is_said_on_screen(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    app = make_app(tmp_path, ui_state=UiState(blocker / "state.json"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        messages = [n.message for n in app._notifications]
    assert any(m.startswith(f"theme {app.theme}; not kept for the next start: cannot write ") for m in messages)


def test_a_silence_outlives_the_run_and_ends_when_it_should(tmp_path):
    path = tmp_path / "state.json"
    sim = Sim([shipped("error_rate")], state=UiState(path))
    until = sim.manager.silence("error_rate", 3600)
    assert mode(path) == 0o600

    later = Clock(T0 + 600)  # the monitor is started again ten minutes on
    restarted = AlertManager([shipped("error_rate")], later, state=UiState.load(path)[0])
    assert restarted.silenced_until("error_rate") == until
    later.t = until
    assert restarted.silenced_until("error_rate") is None
    assert AlertManager([shipped("error_rate")], Clock(until + 1), state=UiState.load(path)[0])._silenced == {}


def test_a_silence_that_cannot_be_kept_is_a_problem_for_the_screen(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    sim = Sim([shipped("error_rate")], state=UiState(blocker / "state.json"))
    sim.manager.silence("error_rate", 900)
    assert sim.manager.silenced_until("error_rate") == T0 + 900  # silenced for this run all the same
    (problem,) = sim.manager.drain_problems()
    assert problem.startswith("silence of error_rate not kept for the next run: cannot write ")


# -- files the app writes are 0600 --------------------------------------------------------


def test_alert_history_file_is_created_0600(tmp_path):
    path = tmp_path / "alerts.jsonl"
    sim = Sim([shipped("server_errors")], step=1, history_file=str(path))
    sim.store.add_many([ok(T0 + 0.5, status=500) for _ in range(6)])
    assert sim.run(1)
    assert json.loads(path.read_text().splitlines()[0])["event"] == "fire"
    assert mode(path) == 0o600


def test_a_file_written_by_a_notify_command_is_0600(tmp_path):
    out = tmp_path / "notified.json"
    sim = Sim([shipped("server_errors")], step=1, notifier=Notifier({"warning": f"cat > {out}"}))
    sim.store.add_many([ok(T0 + 0.5, status=500) for _ in range(6)])
    assert sim.run(1)
    sim.manager.notifier.join()
    assert json.loads(out.read_text())["rule"] == "server_errors"
    assert mode(out) == 0o600


def test_call_records_and_the_file_after_a_rotation_are_0600(tmp_path):
    path = tmp_path / "capture" / "calls.jsonl"
    writer = JsonlWriter(path, flush_interval=60)
    writer.submit({"n": 1})
    writer.flush()
    rotated = path.with_suffix(".jsonl.1")
    path.rename(rotated)  # logrotate's default: rename, the writer opens a new file
    writer.submit({"n": 2})
    writer.close()
    assert [json.loads(p.read_text()) for p in (rotated, path)] == [{"n": 1}, {"n": 2}]
    assert mode(path) == 0o600 and mode(rotated) == 0o600 and mode(path.parent) == 0o700


def test_the_capture_hook_writes_its_records_0600(tmp_path):
    httpx = __import__("httpx")
    from apimon_tui import capture

    path = tmp_path / "calls.jsonl"
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"model": "gpt-4o"}))
    with capture.capture_httpx(httpx.Client(transport=transport), path=path) as client:
        client.post("https://api.openai.com/v1/chat/completions", json={"model": "gpt-4o"})
    capture.flush()
    assert json.loads(path.read_text())["status"] == 200
    assert mode(path) == 0o600


# -- a config others can read that holds a key --------------------------------------------


def exposed_config(tmp_path: Path, log: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[sources]\npaths = ["{log}"]\n\n[alerts.notify]\n'
                    f'critical = "curl -H \'Authorization: Bearer {SECRET}\' https://hooks.example/x"\n')
    path.chmod(0o644)
    return path


def native_log(tmp_path: Path) -> Path:
    log = tmp_path / "calls.jsonl"
    log.write_text(json.dumps({"apimon": 1, "ts": time.time(), "model": "gpt-4o", "status": 200,
                               "latency_ms": 300.0}) + "\n")
    return log


def test_report_and_check_warn_once_about_a_readable_config_with_a_key_and_go_on(tmp_path):
    log = native_log(tmp_path)
    config = exposed_config(tmp_path, log)
    expected = (f"warning: {config} holds an API key (at alerts.notify.critical) and other users can read "
                f"it: move the key to an environment variable or a key_file, or run `chmod 600 {config}`")
    report = run_cli("report", "--config", str(config), "--json", str(log))
    assert report.returncode == 0 and json.loads(report.stdout)["calls"] == 1
    assert report.stderr.splitlines() == [f"apimon-tui report: {expected}"]
    check = run_cli("check", "--config", str(config), str(log))
    assert check.returncode == 0
    assert check.stderr.splitlines() == [f"apimon-tui check: {expected}"]
    assert SECRET[8:] not in report.stderr + check.stderr

    config.chmod(0o600)
    assert run_cli("report", "--config", str(config), str(log)).stderr == ""


def test_the_warning_on_a_stderr_that_is_a_closed_pipe_does_not_stop_report(tmp_path):
    log = native_log(tmp_path)
    config = exposed_config(tmp_path, log)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([sys.executable, "-m", "apimon_tui", "report", "--config", str(config), "--json",
                                 str(log)], stdout=subprocess.PIPE, stderr=write_end, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert result.returncode == 0 and json.loads(result.stdout)["calls"] == 1


async def test_the_monitor_shows_the_readable_config_warning_on_screen(tmp_path):
    log = native_log(tmp_path)
    config = exposed_config(tmp_path, log)
    from apimon_tui.core import config as config_mod
    from apimon_tui.ingest.engine import Engine
    from apimon_tui.tui.app import MonitorApp

    loaded = config_mod.load(config)
    app = MonitorApp(Engine([str(log)], follow=False, config=loaded), loaded, start_engine=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        shown = [n.message for n in app._notifications if "other users can read it" in n.message]
    assert len(shown) == 1 and "alerts.notify.critical" in shown[0] and SECRET[8:] not in shown[0]


def test_commands_that_would_send_the_readable_key_refuse_it_in_one_line(tmp_path):
    log = native_log(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text('[providers.openrouter]\nenabled = true\nbase_url = "http://127.0.0.1:9/api/v1"\n\n'
                      f'[alerts.notify]\ncritical = "curl -H \'Authorization: Bearer {SECRET}\' https://hooks.example/x"\n')
    config.chmod(0o644)
    for command, code in (("usage", 2), ("check", 3)):
        result = run_cli(command, "--config", str(config), *([str(log)] if command == "check" else []))
        assert result.returncode == code
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"apimon-tui {command}: config: {config} holds an API key (at alerts.notify.critical)")
        assert SECRET[8:] not in line
