"""The real `apimon-tui usage` console script against a hostile stand-in provider, one mode at a time.

Each run must end within 40 s and under 200 MB, exit 0 when every provider's
billed spend is known and 3 when one gave none, print strict JSON, say what went
wrong in one line, and keep the healthy provider's figures. Peak memory is the
script's own ru_maxrss, taken by a small launcher process: Linux counts in a
child's peak the memory of the process it was forked from, and a child forked
straight from a long test run would carry the test run's hundreds of MB.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from usage_fixtures import ENV

from apimon_tui.fakes.provider_server import BILLED_PATHS, DEFAULT_KEYS, FakeProviderServer

LIMIT_S = 40
# Runs argv[2:] and writes its peak resident memory (KiB) to the file argv[1].
LAUNCHER = ("import resource, subprocess, sys\n"
            "code = subprocess.call(sys.argv[2:])\n"
            "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
            "sys.exit(code)\n")
LIMIT_RSS_MB = 200
HOSTILE = "openai"
# mode -> the start of the hostile provider's error, after its URL's path
ERRORS = {
    "drip": "no complete answer from {url}",
    "endless-429": "429: rate limited by {url}",
    "nan-amount": "openai sent an amount of nan in /organization/costs: not a finite, non-negative number",
    "negative-amount": "openai sent an amount of -5.0 in /organization/costs: not a finite, non-negative number",
    "huge-body": "{url}",
    "deep-nesting": "the answer from {url}",
    "escapes": "400: quota",
}
ERROR_ENDS = {
    "drip": "within this poll's 30s deadline",
    "endless-429": "; the server asks to wait 100s, past this poll's 30s deadline",
    "huge-body": "sent more than 4 MB, the most one answer or listing may be (max_body_mb)",
    "deep-nesting": "is nested too deeply to read",
}


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float


def console_script() -> str:
    """The installed `apimon-tui` entry point itself (not a version manager's shim in front of it)."""
    beside = Path(sys.executable).parent / "apimon-tui"
    return str(beside) if beside.exists() else shutil.which("apimon-tui")


def run_usage(config: Path, *args: str) -> Run:
    """Run the console script through the launcher; kill both past the limit."""
    env = {k: v for k, v in os.environ.items() if k not in ENV.values()}
    env.update({ENV[name]: key for name, key in DEFAULT_KEYS.items()})
    peak_file = config.parent / "peak-kib"
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(peak_file),
                                 console_script(), "usage", "--config", str(config), *args],
                                stdout=out, stderr=err, env=env, start_new_session=True)
        started = time.monotonic()
        try:
            proc.wait(timeout=LIMIT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail(f"apimon-tui usage {' '.join(args)} still running after {LIMIT_S}s")
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        peak_mb = int(peak_file.read_text()) / 1024
        return Run(proc.returncode, out.read().decode(), err.read().decode(), seconds, peak_mb)


def write_config(tmp_path: Path, srv: FakeProviderServer, *names: str) -> Path:
    lines = []
    for name in names:
        option = "admin_key_env" if name in ("openai", "anthropic") else "key_env"
        lines.append(f'[providers.{name}]\nenabled = true\nbase_url = "{srv.url_for(name)}"\n'
                     f'{option} = "{ENV[name]}"\n')
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines))
    return path


def strict_json(text: str) -> dict:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in --json output")
    return json.loads(text, parse_constant=refuse)


def check_limits(run: Run) -> None:
    assert run.peak_mb < LIMIT_RSS_MB, f"peak memory {run.peak_mb:.0f} MB"
    assert "Traceback" not in run.stderr
    print(f"{run.seconds:.1f}s {run.peak_mb:.0f}MB")  # shown with -s: the figures for the report


@pytest.fixture
def fake():
    with FakeProviderServer() as srv:
        yield srv


@pytest.mark.parametrize("mode", list(ERRORS))
def test_a_hostile_billed_endpoint_exits_3_in_time_and_keeps_the_other_provider(mode, fake, tmp_path):
    fake.hostile(mode, HOSTILE)
    run = run_usage(write_config(tmp_path, fake, HOSTILE, "openrouter"), "--json")
    check_limits(run)
    assert run.returncode == 3, run.stderr
    out = strict_json(run.stdout)
    healthy, hostile = out["providers"]["openrouter"], out["providers"][HOSTILE]
    assert healthy["error"] is None and healthy["month_to_date_usd"] > 0
    assert hostile["month_to_date_usd"] is None and hostile["warnings"] == []
    url = fake.base_url + BILLED_PATHS[HOSTILE]
    error = hostile["error"]
    assert error.startswith(ERRORS[mode].format(url=url)), error
    assert error.endswith(ERROR_ENDS.get(mode, "")), error
    assert run.stderr.splitlines() == [f"apimon-tui usage: {HOSTILE}: error: {error}"]
    assert "\n" not in error and "\r" not in error
    assert DEFAULT_KEYS[HOSTILE] not in run.stdout + run.stderr


@pytest.mark.parametrize("mode", [m for m in ERRORS if m != "drip"])  # drip takes the whole deadline
def test_a_hostile_billed_endpoint_in_the_text_output_is_one_error_line(mode, fake, tmp_path):
    fake.hostile(mode, HOSTILE)
    run = run_usage(write_config(tmp_path, fake, HOSTILE, "openrouter"))
    check_limits(run)
    assert run.returncode == 3
    lines = run.stdout.splitlines()
    at = lines.index("Providers") + 1
    expected = ERRORS[mode].format(url=fake.base_url + BILLED_PATHS[HOSTILE])
    assert lines[at].startswith(f"  {HOSTILE}      error: {expected}"), lines[at]
    assert lines[at + 1].startswith("  openrouter ") and "as of" in lines[at + 1]  # the error took one line
    assert len(lines) == at + 2


def test_403_on_usage_endpoints_keeps_the_billed_spend_and_exits_0(fake, tmp_path):
    for name in ("openai", "anthropic", "litellm"):
        fake.hostile("usage-403", name)
    run = run_usage(write_config(tmp_path, fake, "openai", "anthropic", "litellm", "openrouter"), "--json")
    check_limits(run)
    assert run.returncode == 0, run.stderr
    out = strict_json(run.stdout)
    base = fake.base_url
    expected = {
        "openai": [f"completions tokens per model not shown: 403: admin key may not read "
                   f"{base}/v1/organization/usage/completions - check {ENV['openai']}",
                   f"embeddings tokens per model not shown: 403: admin key may not read "
                   f"{base}/v1/organization/usage/embeddings - check {ENV['openai']}"],
        "anthropic": [f"tokens per model not shown: 403: admin key may not read "
                      f"{base}/v1/organizations/usage_report/messages - check {ENV['anthropic']}"],
        "litellm": [f"the proxy's budget not shown: 403: master key may not read {base}/global/spend "
                    f"- check {ENV['litellm']}"],
        "openrouter": [],
    }
    for name, warnings in expected.items():
        provider = out["providers"][name]
        assert provider["error"] is None and provider["month_to_date_usd"] > 0, name
        assert provider["warnings"] == warnings
    assert out["providers"]["openai"]["models"] == {} and out["providers"]["litellm"]["limit_usd"] is None
    assert out["spent_usd"] == pytest.approx(sum(p["month_to_date_usd"] for p in out["providers"].values()), abs=1e-4)
    assert run.stderr.splitlines() == [f"apimon-tui usage: {name}: warning: {w}"
                                       for name, ws in expected.items() for w in ws]


def test_403_on_usage_endpoints_in_the_text_output(fake, tmp_path):
    fake.hostile("usage-403", "openai")
    run = run_usage(write_config(tmp_path, fake, "openai"))
    check_limits(run)
    assert run.returncode == 0
    lines = run.stdout.splitlines()
    openai = lines.index(next(line for line in lines if line.startswith("  openai ")))
    assert "billed to" in lines[openai] and "error" not in lines[openai]
    assert lines[openai + 1].startswith("             warning: completions tokens per model not shown: 403: ")
    assert lines[openai + 2].startswith("             warning: embeddings tokens per model not shown: 403: ")
