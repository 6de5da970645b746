"""`apimon-tui serve --metrics`: the real console script scraped over HTTP, and its counters on their own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from apimon_tui.costs.budget import month_bounds
from apimon_tui.commands.serve import parse_listen
from apimon_tui.ingest.engine import Engine
from apimon_tui.commands.exposition import CallMetrics, ExposingStore
from apimon_tui.fakes.provider_server import DEFAULT_KEYS, FakeProviderServer
from apimon_tui.formats.native import to_record
from apimon_tui.core.model import Call, RateLimit
from apimon_tui.costs.pricing import Pricer
from test_otlp_receiver import OTLPSpanExporter, emit_fleet_traffic, free_port, sdk_tracer

DATA = Path(__file__).parent / "data"
T0 = 1_790_000_000.0


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of a text exposition."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def total(scraped: dict, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    return sum(v for (n, ls), v in scraped.items() if n == name and labels.items() <= dict(ls).items())


def write_calls(path: Path, start: int, count: int) -> None:
    """`count` gpt-4o calls: every fifth a 429; 100/20 tokens, $0.25 and 0.5 s each (exact in binary)."""
    with open(path, "a") as f:
        for i in range(start, start + count):
            failed = i % 5 == 4
            call = Call(ts=T0 + i, model="gpt-4o", provider="openai", status=429 if failed else 200,
                        latency_ms=500.0, input_tokens=100, output_tokens=0 if failed else 20,
                        cost_usd=0.0 if failed else 0.25)
            f.write(json.dumps(to_record(call)) + "\n")


class Agent:
    """`apimon-tui serve` as a real process; its first stderr line gives the metrics address."""

    def __init__(self, *sources: str, config: str = os.devnull, env_extra: dict[str, str] | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if k != "APIMON_CONFIG" and not k.endswith("_ADMIN_KEY")}
        env.update(env_extra or {})
        env["PYTHONPATH"] = str(Path(__file__).parents[1] / "src")
        self.proc = subprocess.Popen([sys.executable, "-m", "apimon_tui", "serve", "--metrics", "127.0.0.1:0",
                                      "--config", config, *sources],
                                     stderr=subprocess.PIPE, text=True, env=env)
        line = self.proc.stderr.readline()
        assert line.startswith("apimon-tui serve: metrics at http://127.0.0.1:"), line
        self.url = line.split(" at ")[1].strip()
        self.scrapes: list[dict] = []

    def scrape(self) -> dict:
        reply = httpx.get(self.url)
        assert reply.status_code == 200
        assert reply.headers["Content-Type"].startswith("text/plain; version=")
        scraped = samples(reply.text)
        self.scrapes.append(scraped)
        return scraped

    def scrape_until(self, name: str, value: float, **labels: str) -> dict:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            scraped = self.scrape()
            if total(scraped, name, **labels) >= value:
                return scraped
            time.sleep(0.1)
        raise AssertionError(f"{name} {labels} never reached {value}: {total(scraped, name, **labels)}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def test_serve_scraped_over_http_counts_every_call_through_rotation_and_stops_on_sigterm(tmp_path):
    log = tmp_path / "calls.jsonl"
    log.touch()
    otlp_port = free_port()
    agent = Agent(str(log), f"otlp://127.0.0.1:{otlp_port}")
    try:
        write_calls(log, 0, 50)
        agent.scrape_until("apimon_source_calls_total", 50, source=str(log))
        log.rename(tmp_path / "calls.jsonl.1")  # rotation by rename, then a new file at the path
        write_calls(log, 50, 30)
        provider, tracer = sdk_tracer(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{otlp_port}/v1/traces"))
        emit_fleet_traffic(tracer)
        provider.shutdown()
        scraped = agent.scrape_until("apimon_calls_total", 85)

        file_calls = {"provider": "openai", "model": "gpt-4o"}
        assert total(scraped, "apimon_calls_total", **file_calls, status="200") == 64
        assert total(scraped, "apimon_calls_total", **file_calls, status="429") == 16
        assert total(scraped, "apimon_calls_total", **file_calls, status="OK") == 2  # spans carry no HTTP code
        assert total(scraped, "apimon_calls_total", **file_calls, status="ERR") == 1
        assert total(scraped, "apimon_calls_total", model="gpt-4o-mini", status="OK") == 1
        assert total(scraped, "apimon_tokens_total", model="gpt-4o", kind="input") == 80 * 100 + 400
        assert total(scraped, "apimon_tokens_total", model="gpt-4o", kind="output") == 64 * 20 + 60
        span_costs = sum(Pricer(None).estimate(Call(ts=T0, provider="openai", model="gpt-4o", input_tokens=i,
                                                    output_tokens=o)) for i, o in ((100, 20), (300, 40)))
        assert total(scraped, "apimon_cost_usd_total", model="gpt-4o") == pytest.approx(64 * 0.25 + span_costs)
        latency = {"provider": "openai", "model": "gpt-4o"}
        assert total(scraped, "apimon_call_latency_seconds_count", **latency) == 80 + 3
        assert total(scraped, "apimon_call_latency_seconds_sum", **latency) == pytest.approx(40.0 + 1.234 + 0.5 + 0.08)
        assert total(scraped, "apimon_call_latency_seconds_bucket", **latency, le="0.32") == 1  # the 80 ms span
        assert total(scraped, "apimon_call_latency_seconds_bucket", **latency, le="0.64") == 82
        assert total(scraped, "apimon_source_lines_total", source=str(log)) == 80
        receiver = f"otlp://127.0.0.1:{otlp_port}"
        assert total(scraped, "apimon_source_calls_total", source=receiver) == 5
        assert total(scraped, "apimon_source_events_total", source=receiver, event="genai_spans") == 5
        assert total(scraped, "apimon_source_events_total", source=receiver, event="ignored_spans") == 3
        assert total(scraped, "apimon_source_events_total", source=receiver, event="refused_spans") == 0

        for name in ("apimon_calls_total", "apimon_tokens_total", "apimon_cost_usd_total", "apimon_source_lines_total"):
            series = defaultdict(list)
            for one in agent.scrapes:
                for (n, labels), value in one.items():
                    if n == name:
                        series[labels].append(value)
            assert all(values == sorted(values) for values in series.values()), name  # never went down

        health = httpx.get(agent.url.replace("/metrics", "/healthz"))
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        assert [s["source"] for s in health.json()["sources"]] == [str(log), f"otlp://127.0.0.1:{otlp_port}"]

        agent.proc.send_signal(signal.SIGTERM)
        assert agent.proc.wait(timeout=10) == 0
        assert agent.proc.stderr.read() == ""
        with pytest.raises(httpx.ConnectError):
            httpx.get(agent.url)
    finally:
        agent.close()


def test_bulk_calls_of_a_one_line_format_are_counted_by_status():
    """nginx hands successes over in bulk: no provider, no tokens, so of unknown cost."""
    registry = CollectorRegistry()
    engine = Engine([str(DATA / "nginx-1.22-json.log")], store=ExposingStore(CallMetrics(registry)),
                    follow=False, from_start=True)
    engine.read_to_end()
    scraped = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in registry.collect() for s in family.samples}
    expected = json.loads((DATA / "nginx-1.22-json.expected.json").read_text())
    by_status = defaultdict(float)
    for (name, labels), value in scraped.items():
        if name == "apimon_calls_total":
            by_status[dict(labels)["status"]] += value
    assert by_status == expected["status"]
    assert total(scraped, "apimon_calls_uncosted_total") == expected["status"]["200"]
    assert total(scraped, "apimon_call_latency_seconds_count") == expected["calls"]
    assert total(scraped, "apimon_cost_usd_total") == 0  # nothing was priced: nothing is claimed


def test_model_labels_are_capped_so_a_log_cannot_explode_the_series():
    registry = CollectorRegistry()
    metrics = CallMetrics(registry, max_models=2)
    metrics.count_calls([Call(ts=T0, provider="openai", model=f"model-{i}", status=200) for i in range(5)])
    models = {s.labels["model"]: s.value for f in registry.collect() if f.name == "apimon_calls"
              for s in f.samples if s.name == "apimon_calls_total"}
    assert models == {"model-0": 1, "model-1": 1, "_other": 3}


@pytest.mark.parametrize(("addr", "listen"), [
    ("9464", ("127.0.0.1", 9464)), (":9464", ("127.0.0.1", 9464)), ("0.0.0.0:9464", ("0.0.0.0", 9464)),
    ("[::]:9464", ("::", 9464)),
])
def test_listen_addresses(addr, listen):
    assert parse_listen(addr) == listen


@pytest.mark.parametrize("addr", ["host", ":port", "1.2.3.4:99999", ":9464/metrics"])
def test_bad_listen_addresses_say_how_to_write_one(addr):
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_listen(addr)


def test_serve_exposes_the_alerts_firing_rate_limit_headroom_and_the_months_spend(tmp_path):
    log = tmp_path / "calls.jsonl"
    log.touch()
    config = tmp_path / "config.toml"
    config.write_text('[budget]\nmonthly_usd = 100.0\n'
                      '[alerts.error_rate]\nmin_calls = 1\nfor = "0s"\nper_model = false\n')
    agent = Agent(str(log), config=str(config))
    try:
        now = time.time()
        with open(log, "a") as f:
            for i in range(10):
                call = Call(ts=now - 30 + i, model="gpt-4o", provider="openai", status=500 if i % 2 else 200,
                            latency_ms=400.0, input_tokens=100, output_tokens=20, cost_usd=0.5,
                            ratelimit=RateLimit(limit_requests=500, remaining_requests=490 - i))
                f.write(json.dumps(to_record(call)) + "\n")
        scraped = agent.scrape_until("apimon_alerts_firing", 1, rule="error_rate", severity="critical")
        assert total(scraped, "apimon_alerts_firing", rule="error_rate", severity="warning") == 0
        assert total(scraped, "apimon_alerts_firing", rule="latency", severity="warning") == 0
        assert total(scraped, "apimon_ratelimit_remaining_requests", model="gpt-4o") == 481
        assert total(scraped, "apimon_ratelimit_limit_requests", model="gpt-4o") == 500
        assert total(scraped, "apimon_ratelimit_remaining_tokens") == 0  # not reported: no series at all
        assert not any(name == "apimon_ratelimit_remaining_tokens" for name, _ in scraped)
        assert total(scraped, "apimon_budget_usd") == 100.0
        assert total(scraped, "apimon_budget_spent_usd") == 5.0
        assert not any(name == "apimon_budget_billed_usd" for name, _ in scraped)  # no provider polled: unknown
    finally:
        agent.close()


def test_serve_polls_the_providers_usage_and_exposes_the_billed_month(tmp_path):
    with FakeProviderServer() as fake:
        config = tmp_path / "config.toml"
        config.write_text(f'[providers.openai]\nenabled = true\nbase_url = "{fake.url_for("openai")}"\n'
                          f'admin_key_env = "TEST_SERVE_OPENAI_KEY"\ninterval = "5m"\n')
        agent = Agent(str(tmp_path / "none-yet.jsonl"), config=str(config),
                      env_extra={"TEST_SERVE_OPENAI_KEY": DEFAULT_KEYS["openai"]})
        try:
            scraped = agent.scrape_until("apimon_usage_last_bucket_end_seconds", 1, provider="openai")
            month_start = month_bounds(time.time(), 1)[0]
            last_end = total(scraped, "apimon_usage_last_bucket_end_seconds", provider="openai")
            billed = total(scraped, "apimon_usage_month_to_date_usd", provider="openai")
            assert billed == pytest.approx(fake.total("openai", month_start, last_end), abs=1e-5)
            assert billed > 0
            scraped = agent.scrape_until("apimon_budget_billed_usd", billed)
            assert total(scraped, "apimon_budget_billed_usd") == pytest.approx(billed, abs=1e-5)
            body = httpx.get(agent.url).text + httpx.get(agent.url.replace("/metrics", "/healthz")).text
            assert DEFAULT_KEYS["openai"] not in body
            agent.proc.send_signal(signal.SIGTERM)
            assert agent.proc.wait(timeout=15) == 0
        finally:
            agent.close()


@pytest.mark.parametrize(("args", "message"), [
    (["--metrics", "nope", "x.log"], "apimon-tui serve: --metrics nope: write PORT, :PORT or HOST:PORT, "
                                     "e.g. :9464 or 0.0.0.0:9464\n"),
    (["--metrics", ":0"], "apimon-tui serve: nothing to follow: name sources or set [sources] paths in the config\n"),
    (["--metrics", ":0", "otlp://:4318/v1/traces"], "apimon-tui serve: otlp://:4318/v1/traces: write "
     "otlp://HOST:PORT, e.g. otlp://:4318, and ?for=5m to listen for a while (spans are taken at /v1/traces)\n"),
])
def test_what_cannot_be_served_is_one_line_and_exit_2(args, message):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    out = subprocess.run([sys.executable, "-m", "apimon_tui", "serve", "--config", os.devnull, *args],
                         capture_output=True, text=True, env=env, timeout=60)
    assert (out.returncode, out.stderr, out.stdout) == (2, message, "")
