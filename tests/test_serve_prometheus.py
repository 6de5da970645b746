"""`serve` scraped by a real Prometheus (the Debian package), started by the test on loopback.

Prometheus scrapes the agent every second; the figures are read back from its
HTTP API as instant queries, which give the last scraped sample exactly (no
extrapolation), and `resets()` is Prometheus's own check that no counter went
down through a log rotation. Without the `prometheus` binary the test is
skipped with that reason (CI installs it).
"""

from __future__ import annotations

import shutil
import subprocess
import time

import httpx
import pytest

from test_otlp_receiver import free_port
from test_serve import Agent, write_calls

PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(PROMETHEUS is None, reason="needs the prometheus binary (Debian package prometheus)")


class Prometheus:
    def __init__(self, tmp_path, target: str) -> None:
        config = tmp_path / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                          "scrape_configs:\n  - job_name: apimon\n    static_configs:\n"
                          f"      - targets: ['{target}']\n")
        port = free_port()
        self.api = f"http://127.0.0.1:{port}/api/v1"
        self.proc = subprocess.Popen([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                      f"--web.listen-address=127.0.0.1:{port}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def query(self, promql: str) -> dict[tuple, float]:
        """{labels as sorted items: value} of an instant query; {} while Prometheus is not up or not ready yet."""
        try:
            reply = httpx.get(f"{self.api}/query", params={"query": promql}, timeout=5)
        except httpx.TransportError:
            return {}
        if reply.status_code != 200:  # 503 "Service Unavailable" while its storage starts
            return {}
        data = reply.json()["data"]["result"]
        return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in data}

    def wait_for(self, promql: str, expected: dict[tuple, float]) -> None:
        deadline = time.monotonic() + 60
        got: dict = {}
        while time.monotonic() < deadline:
            got = self.query(promql)
            if got == expected:
                return
            time.sleep(0.5)
        raise AssertionError(f"{promql}: {got} != {expected}")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def test_prometheus_scraping_serve_reads_the_same_figures_through_a_rotation(tmp_path):
    log = tmp_path / "calls.jsonl"
    log.touch()
    agent = Agent(str(log))
    prometheus = Prometheus(tmp_path, agent.url.removeprefix("http://").removesuffix("/metrics"))
    try:
        write_calls(log, 0, 50)
        by_status = "sum by (status) (apimon_calls_total)"
        prometheus.wait_for(by_status, {(("status", "200"),): 40.0, (("status", "429"),): 10.0})
        log.rename(tmp_path / "calls.jsonl.1")
        write_calls(log, 50, 30)
        prometheus.wait_for(by_status, {(("status", "200"),): 64.0, (("status", "429"),): 16.0})
        assert prometheus.query('sum by (kind) (apimon_tokens_total{model="gpt-4o"})') == {
            (("kind", "input"),): 8000.0, (("kind", "output"),): 1280.0}
        assert prometheus.query("sum(apimon_cost_usd_total)") == {(): 16.0}
        assert prometheus.query("sum(apimon_call_latency_seconds_sum) / sum(apimon_call_latency_seconds_count)") \
            == {(): 0.5}
        assert prometheus.query("sum(resets(apimon_calls_total[5m]))") == {(): 0.0}  # never went down
        assert prometheus.query(f'apimon_source_lines_total{{source="{log}"}}')[
            (("__name__", "apimon_source_lines_total"), ("instance", agent.url.split("/")[2]), ("job", "apimon"),
             ("source", str(log)))] == 80.0
    finally:
        prometheus.close()
        agent.close()
