"""`prom://`: a real Prometheus (Debian package) scraping a `serve` agent and a LiteLLM stand-in, read back.

Tolerance. `report --json --since T` asks Prometheus for `increase()` over
[T, now], which extrapolates the counters' change from the samples inside
the range to its edges: by at most 1.1 scrape intervals at each end (1 s
here), and never below zero at the start (the LiteLLM stand-in starts at 0).
With the served changes well inside a range of W seconds whose samples all
exist, a figure is therefore at least what was served and at most
served * W / (W - 2.2), plus 1 for rounding to whole calls. Latency
percentiles come from histogram buckets: each must lie inside the bucket of
the served value. Following (the engine, for the monitor) differences the
raw counters per step, so its figures are exact.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from apimon_tui.ingest.engine import Engine
from apimon_tui.fakes.litellm_metrics import LiteLLMMetrics
from apimon_tui.sources.prom_calls import NOT_SINGLE_CALLS
from test_otlp_receiver import free_port
from test_serve import Agent, write_calls

PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(PROMETHEUS is None, reason="needs the prometheus binary (Debian package prometheus)")
SCRIPT = shutil.which("apimon-tui")
COMMAND = [SCRIPT] if SCRIPT else [sys.executable, "-m", "apimon_tui"]
SCRAPE_S = 1.0


class Prometheus:
    """A real Prometheus on loopback scraping `targets` (job name -> host:port) every second."""

    def __init__(self, tmp_path, targets: dict[str, str]) -> None:
        jobs = "".join(f"  - job_name: {job}\n    static_configs:\n      - targets: ['{address}']\n"
                       for job, address in targets.items())
        config = tmp_path / "prometheus.yml"
        config.write_text(f"global:\n  scrape_interval: {SCRAPE_S:g}s\nscrape_configs:\n{jobs}")
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                      f"--web.listen-address={self.address}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def value(self, promql: str) -> float | None:
        try:
            result = httpx.get(f"http://{self.address}/api/v1/query", params={"query": promql}, timeout=5).json()
        except (httpx.TransportError, ValueError):
            return None
        rows = result.get("data", {}).get("result", [])
        return float(rows[0]["value"][1]) if rows else None

    def wait_for(self, promql: str, expected: float) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.value(promql) == expected:
                return
            time.sleep(0.3)
        raise AssertionError(f"{promql} never became {expected}: {self.value(promql)}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


LITELLM_LATENCIES = [0.2] * 30 + [1.2] * 10  # p50 in (0.1, 0.5], p90 and p95 in (1.0, 1.5]


def serve_litellm(fake: LiteLLMMetrics) -> None:
    fake.record("gpt-4o-mini", latencies_s=LITELLM_LATENCIES, failures=5, spend_usd=0.5, input_tokens=4000,
                output_tokens=800, remaining_requests=4900)


@pytest.fixture
def fleet(tmp_path):
    """A LiteLLM stand-in and a `serve` agent, both scraped, each with its baseline in Prometheus."""
    log = tmp_path / "calls.jsonl"
    log.touch()
    agent = Agent(str(log))
    write_calls(log, 0, 5)  # the agent's series exist (4 x 200, 1 x 429) before the served ones
    fake = LiteLLMMetrics()
    fake.start("gpt-4o-mini")
    prometheus = Prometheus(tmp_path, {"apimon": agent.url.split("/")[2], "litellm": fake.address})
    try:
        prometheus.wait_for('sum(apimon_calls_total{job="apimon"})', 5.0)
        prometheus.wait_for('sum(litellm_proxy_total_requests_metric_total{job="litellm"})', 0.0)
        time.sleep(2 * SCRAPE_S)  # a baseline sample of each before the range starts
        yield prometheus, agent, fake, log
    finally:
        prometheus.close()
        agent.close()
        fake.close()


def within(got: float, served: float, factor: float) -> bool:
    return served <= got <= served * factor + 1


def test_report_json_gives_the_fleets_totals_within_prometheus_extrapolation(fleet):
    prometheus, agent, fake, log = fleet
    since = time.time()
    time.sleep(2 * SCRAPE_S)
    write_calls(log, 5, 50)  # 40 x 200 and 10 x 429 of gpt-4o: 100 input tokens each, 20 output, $0.25, 0.5 s
    serve_litellm(fake)
    prometheus.wait_for('sum(apimon_calls_total{job="apimon"})', 55.0)
    prometheus.wait_for('sum(litellm_proxy_total_requests_metric_total{job="litellm"})', 45.0)
    time.sleep(8 * SCRAPE_S)  # the changes well inside the range
    until = time.time()
    width = until - since
    factor = width / (width - 2.2 * SCRAPE_S)
    iso = lambda ts: datetime.fromtimestamp(ts, timezone.utc).isoformat()  # noqa: E731
    env = {**os.environ, "PYTHONPATH": os.path.join(os.path.dirname(__file__), "..", "src")}
    proc = subprocess.run([*COMMAND, "report", "--json", "--since", iso(since), "--until", iso(until),
                           f"prom://{prometheus.address}"], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout, parse_constant=lambda name: pytest.fail(f"not strict JSON: {name}"))
    mini, apimon = summary["models"]["gpt-4o-mini"], summary["models"]["gpt-4o"]
    assert within(mini["calls"], 45, factor) and within(mini["errors"], 5, factor)
    assert within(mini["input_tokens"], 4000, factor) and within(mini["output_tokens"], 800, factor)
    assert 0.5 <= mini["cost_usd"] <= 0.5 * factor + 1e-9
    assert within(apimon["calls"], 50, factor) and within(apimon["errors"], 10, factor)
    assert within(apimon["input_tokens"], 5000, factor) and within(apimon["output_tokens"], 800, factor)
    assert 10.0 <= apimon["cost_usd"] <= 10.0 * factor + 1e-9
    assert 320 < apimon["p95_ms"] <= 640  # every call took 0.5 s: the bucket (0.32, 0.64]
    assert 1000 < mini["p95_ms"] <= 1500  # the served p95 is 1.2 s: the bucket (1.0, 1.5]
    assert within(summary["status"]["429"], 15, factor)
    assert summary["sources"][0]["error"] is None


def test_the_engine_follows_exact_figures_per_host_and_keeps_them_when_prometheus_goes_down(fleet):
    prometheus, agent, fake, log = fleet
    engine = Engine([f"prom://{prometheus.address}?every=2s&back=10s"])
    engine.start()
    try:
        time.sleep(4)  # the look-back read, so the served changes come in live steps
        write_calls(log, 5, 50)
        serve_litellm(fake)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and engine.store.snapshot(points=0).total.calls < 95:
            time.sleep(0.5)
        snap = engine.store.snapshot(points=0)
        mini, apimon = snap.by_model["gpt-4o-mini"], snap.by_model["gpt-4o"]
        assert (mini.calls, mini.errors, mini.input_tokens, mini.output_tokens) == (45, 5, 4000, 800)
        assert (apimon.calls, apimon.errors, apimon.input_tokens, apimon.output_tokens) == (50, 10, 5000, 800)
        assert round(mini.cost_usd, 9) == 0.5 and round(apimon.cost_usd, 9) == 10.0
        hosts = {label.rsplit("instance=", 1)[1] for label in snap.by_source}
        assert hosts == {agent.url.split("/")[2], fake.address}  # the breakdown by scraped host
        assert {r.model: r.ratelimit.remaining_requests for r in snap.ratelimits} == {"gpt-4o-mini": 4900}
        assert snap.failed and all(c.error_message == NOT_SINGLE_CALLS for c in snap.failed)
        prometheus.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and engine.statuses()[0].state != "down":
            time.sleep(0.3)
        status = engine.statuses()[0]
        assert status.state == "down"
        assert "cannot connect" in status.error and "kept" in status.error and "\n" not in status.error
        assert engine.store.snapshot(points=0).total.calls == 95  # the last figures stay
    finally:
        engine.stop()


class StallingHandler(BaseHTTPRequestHandler):
    """A Prometheus that never answers in time."""

    def do_GET(self):  # noqa: N802 - the http.server name
        self.server.stalled.wait(30)

    def log_message(self, *args):
        pass


def test_a_down_or_slow_prometheus_gives_one_line_and_no_traceback(tmp_path):
    spec = f"prom://127.0.0.1:{free_port()}"
    down = subprocess.run([*COMMAND, "report", "--json", "--since", "1m", spec], capture_output=True, text=True,
                          timeout=60)
    assert down.returncode == 1
    assert "Traceback" not in down.stderr and len(down.stderr.strip().splitlines()) == 1
    assert down.stderr.startswith(f"apimon-tui report: {spec}: down: cannot connect")
    assert "down: cannot connect" in json.loads(down.stdout)["sources"][0]["error"]

    server = ThreadingHTTPServer(("127.0.0.1", 0), StallingHandler)
    server.stalled = threading.Event()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        slow = subprocess.run([*COMMAND, "report", "--json", "--since", "1m",
                               f"prom://127.0.0.1:{server.server_port}?timeout=1s"],
                              capture_output=True, text=True, timeout=60)
    finally:
        server.stalled.set()
        server.shutdown()
        server.server_close()
    assert slow.returncode == 1 and "Traceback" not in slow.stderr
    assert slow.stderr.strip().endswith("slow: no answer within 1 s")
