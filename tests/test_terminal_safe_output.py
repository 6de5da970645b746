"""`report`, `check` and `usage`, run as the real console script on logs and providers carrying escape
sequences: what they print holds no escape byte, and the text around the sequences is still there."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
from usage_fixtures import ENV

from apimon_tui.fakes.provider_server import DEFAULT_KEYS, FakeProviderServer
from apimon_tui.formats.native import to_record
from apimon_tui.core.model import Call

T0 = 1_700_000_000.0
E = "\x1b"
# Clipboard (OSC 52), window title (OSC 2), clear screen (CSI 2J), 8-bit CSI, a BEL and markup.
HOSTILE = f"{E}]52;c;cm0gLXJmIH4=\x07{E}]2;owned\x07{E}[2J\x9b2J\x07[red]"
MODEL = f"gpt-4o{HOSTILE}-evil"
MESSAGE = f"upstream said {HOSTILE}stop"
CONTROL_BYTES = re.compile(rb"[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")  # C0 but \n, DEL, C1 in UTF-8


def console_script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    script = shutil.which("apimon-tui")
    assert script, "the apimon-tui console script is not installed"
    return subprocess.run([script, *args], capture_output=True, env=env, timeout=120)


def assert_no_control(proc: subprocess.CompletedProcess) -> None:
    for stream in (proc.stdout, proc.stderr):
        assert E.encode() not in stream
        assert CONTROL_BYTES.search(stream) is None, stream


@pytest.fixture
def hostile_log(tmp_path):
    """Ten calls a second for a minute, the failures with a hostile model and message; a raw ESC line too."""
    path = tmp_path / f"calls{E}]2;title\x07.jsonl"
    with open(path, "w") as f:
        f.write(f'{{"apimon": 1, "ts": "x {E}]52;c;aGk=\x07 not a call {E}[2J"}}\n')
        for i in range(600):
            failed = i % 2 == 0
            call = Call(ts=T0 + i / 10, provider="openai", model=MODEL if failed else "gpt-4o",
                        status=500 if failed else 200, latency_ms=300.0, input_tokens=10, output_tokens=5,
                        error_message=MESSAGE if failed else None)
            f.write(json.dumps(to_record(call)) + "\n")
    return path


def test_report_table_has_no_escape_byte_and_keeps_the_text(hostile_log):
    proc = console_script("report", str(hostile_log))
    assert proc.returncode == 0, proc.stderr
    assert_no_control(proc)
    out = proc.stdout.decode()
    assert "gpt-4o\\x1b]52;c;cm0gLXJmIH4=\\x07" in out  # a hostile name is written out, apart from gpt-4o
    assert "not a call" in out  # the unparsed line's sample, cleaned


def test_report_json_escapes_controls_as_json_does(hostile_log):
    proc = console_script("report", "--json", str(hostile_log))
    assert proc.returncode == 0, proc.stderr
    assert_no_control(proc)
    assert MODEL in json.loads(proc.stdout)["models"]  # the data itself is not altered


def test_report_errors_about_a_path_have_no_escape_byte(tmp_path):
    proc = console_script("report", str(tmp_path / f"missing{E}]2;title\x07{E}c.log"))
    assert proc.returncode == 2
    assert_no_control(proc)
    assert b"no such file" in proc.stderr


def test_check_alert_lines_have_no_escape_byte(hostile_log, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_ADMIN_KEY") and k != "APIMON_CONFIG"}
    proc = console_script("check", "--config", str(config), str(hostile_log), env=env)
    assert proc.returncode == 2, proc.stderr
    assert_no_control(proc)
    lines = proc.stdout.decode().splitlines()
    assert any(line.startswith("CRITICAL") and "gpt-4o\\x1b]52;c;" in line for line in lines), lines


def test_usage_error_from_a_provider_has_no_escape_byte(tmp_path):
    body = json.dumps({"error": {"message": MESSAGE, "type": "invalid_request_error"}}).encode()
    with FakeProviderServer() as srv:
        srv.inject("/v1/organization/costs", status=400, body=body, times=None)
        lines = []
        for name in ENV:
            option = "admin_key_env" if name in ("openai", "anthropic") else "key_env"
            lines.append(f'[providers.{name}]\nenabled = true\nbase_url = "{srv.url_for(name)}"\n'
                         f'{option} = "{ENV[name]}"\n')
        config = tmp_path / "config.toml"
        config.write_text("\n".join(lines))
        env = {k: v for k, v in os.environ.items() if k not in ENV.values()}
        env.update({ENV[name]: key for name, key in DEFAULT_KEYS.items()})
        proc = console_script("usage", "--config", str(config), env=env)
    assert proc.returncode == 3, proc.stderr
    assert_no_control(proc)
    openai = next(line for line in proc.stdout.decode().splitlines() if line.strip().startswith("openai"))
    assert "error: 400: upstream said" in openai and "stop" in openai
