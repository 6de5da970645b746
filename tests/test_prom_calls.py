"""How `prom://` turns Prometheus's aggregates into calls, and reads its address and answers (no Prometheus here)."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apimon_tui.ingest.engine import Sink
from apimon_tui.core.model import RateLimit, SourceCounts
from apimon_tui.costs.pricing import Pricer
from apimon_tui.sources.prom import PromSource, fold, parse_spec, step_increases
from apimon_tui.sources.prom_calls import NOT_SINGLE_CALLS, Figures, StepFolder, scaled
from apimon_tui.sources.prom_client import PromClient, PromError, Series
from apimon_tui.store import MetricsStore


def stored(calls) -> MetricsStore:
    """The calls through the engine's sink into a store, as the native lines of the source would be."""
    store = MetricsStore()
    sink = Sink(SourceCounts(label="prom"), Pricer(None), None)
    for call in calls:
        sink.call(call)
    sink.commit(store)
    return store


def test_a_step_becomes_its_calls_with_the_served_counts_tokens_spend_and_buckets():
    figures = Figures(ok={None: 40.0}, failed={(429, "RateLimitError"): 5.0}, failed_total=5.0,
                      buckets={0.1: 0.0, 0.5: 30.0, 1.0: 30.0, 1.5: 40.0, float("inf"): 40.0},
                      input_tokens=4000.0, output_tokens=800.0, cost_usd=0.5,
                      headroom=RateLimit(remaining_requests=4900))
    figures.ok[None] += 5.0  # LiteLLM's total counts the failures too
    calls = StepFolder().calls("litellm", "proxy-1:4000", "gpt-4o-mini", 1000.0, 10.0, figures)
    total = stored(calls).snapshot().total
    assert (total.calls, total.errors, total.input_tokens, total.output_tokens) == (45, 5, 4000, 800)
    assert round(total.cost_usd, 9) == 0.5 and total.uncosted_calls == 0
    assert all(990.0 < c.ts < 1000.0 for c in calls)
    p50, p90 = total.latency.percentiles((50, 90))
    assert 100 < p50 <= 500 and 1000 < p90 <= 1500  # inside the buckets of the served 0.2 s and 1.2 s
    failed = [c for c in calls if c.failed]
    assert {(c.status, c.error_code, c.error_message) for c in failed} == {(429, "RateLimitError", NOT_SINGLE_CALLS)}
    assert calls[-1].ratelimit.remaining_requests == 4900


def test_fractions_are_carried_to_the_next_step_so_steps_add_up():
    folder = StepFolder()
    counts = [len(folder.calls("apimon", "h", "m", 10.0 * i, 10.0, Figures(ok={200: 2.5}))) for i in range(1, 5)]
    assert counts == [2, 3, 2, 3]


def test_calls_of_unknown_cost_stay_unknown_and_tokens_wait_for_a_call():
    folder = StepFolder()
    assert folder.calls("apimon", "h", "m", 10.0, 10.0, Figures(input_tokens=300.0, cost_usd=0.3)) == []
    calls = folder.calls("apimon", "h", "m", 20.0, 10.0, Figures(ok={200: 3.0}, uncosted=1.0, cost_usd=0.0))
    total = stored(calls).snapshot().total
    assert total.input_tokens == 300 and round(total.cost_usd, 9) == 0.3
    assert (total.costed_calls, total.uncosted_calls) == (2, 1)


def test_counters_are_differenced_per_step_through_a_restart_without_extrapolation():
    raw = [Series({"instance": "a", "model": "m", "status": "200", "job": "x"}, [(0, 10), (5, 14), (10, 3), (15, 3)]),
           Series({"instance": "a", "model": "m", "status": "200", "job": "y"}, [(5, 1), (10, 2)])]
    [series] = step_increases(raw, "calls", ("instance", "model", "status"))
    assert series.labels == {"instance": "a", "model": "m", "status": "200"}
    # 3 after the restart; the second series's first point is its baseline
    assert series.samples == [(5, 4), (10, 4), (15, 0)]
    steps = fold("apimon", "instance", {"calls": [series]})
    assert steps[10][("apimon", "a", "m")].ok == {200: 4}


@pytest.mark.parametrize("spec, url, by", [
    ("prom://127.0.0.1:9090", "http://127.0.0.1:9090", "instance"),
    ("proms://prom.example:443/prometheus?by=job&every=10s", "https://prom.example:443/prometheus", "job"),
    ("prom://[::1]", "http://[::1]:9090", "instance"),
])
def test_addresses(spec, url, by):
    parsed = parse_spec(spec)
    assert (parsed.url, parsed.by) == (url, by)


@pytest.mark.parametrize("spec, message", [
    ("prom://", "write prom://HOST:PORT"),
    ("prom://h:9090?by=bad-label", "not a Prometheus label name"),
    ("prom://h:9090?every=0.5s", "every= must be at least 1s"),
    ("prom://h:9090?only=datadog", "only= takes litellm, apimon or both"),
    ("prom://user:pw@h:9090", "write prom://HOST:PORT"),
    ("prom://h:9090?ca=/etc/hostname", "ca= names the PEM file"),
    ("proms://h:9090?ca=/no/such/ca.pem", "ca= names the PEM file"),
])
def test_bad_addresses_are_one_sentence(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_spec(spec)


class Answers(BaseHTTPRequestHandler):
    """A Prometheus API stand-in: answers `body` after checking the bearer token."""

    def do_GET(self):  # noqa: N802 - the http.server name
        if self.headers.get("Authorization") != "Bearer s3cret-token":
            self.send_response(401)
            self.end_headers()
            return
        payload = json.dumps(self.server.body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_odd_series_are_left_out_and_counted_and_the_token_is_never_shown(api):
    api.body = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"model": "m"}, "value": [1.5, "7"]},
        {"metric": {"model": "m"}, "value": [1.5, "NaN"]},
        {"metric": {"model": 3}, "value": [1.5, "1"]},
        {"metric": {"model": "m"}, "value": "junk"},
    ]}}
    client = PromClient(f"http://127.0.0.1:{api.server_port}", token="s3cret-token")
    assert [s.samples for s in client.query("up", 2.0)] == [[(1.5, 7.0)]]
    assert client.bad_values == 3
    refused = PromClient(f"http://127.0.0.1:{api.server_port}", token="wrong-token")
    with pytest.raises(PromError) as caught:
        refused.query("up", 2.0)
    assert str(caught.value) == "refused: HTTP 401 (check the token in $APIMON_PROM_TOKEN)"
    assert "wrong-token" not in repr(caught.value) and "s3cret" not in repr(caught.value)


@pytest.fixture
def tls_api(tmp_path):
    """The API stand-in over https, with a certificate for 127.0.0.1 signed by nobody the system trusts."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.body = {"status": "success", "data": {"resultType": "vector", "result": []}}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, cert
    server.shutdown()
    server.server_close()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_proms_verifies_the_certificate_and_sends_the_token_from_the_environment(tls_api, monkeypatch):
    server, cert = tls_api
    monkeypatch.setenv("APIMON_PROM_TOKEN", "s3cret-token")
    untrusted = PromSource(f"proms://127.0.0.1:{server.server_port}", follow=False, since=0.0, until=60.0)
    while not untrusted.at_eof:
        untrusted.read_batches()
    assert untrusted.state == "down" and "CERTIFICATE_VERIFY_FAILED" in untrusted.error
    assert "s3cret" not in untrusted.error and "\n" not in untrusted.error
    trusted = PromSource(f"proms://127.0.0.1:{server.server_port}?ca={cert}", follow=False, since=0.0, until=60.0)
    while not trusted.at_eof:
        trusted.read_batches()
    assert trusted.error is None and trusted.state == "done · 0 calls from metrics"
    for source in (untrusted, trusted):
        source.close()


def test_a_range_handed_on_in_parts_gives_the_totals_of_one_step():
    figures = Figures(ok={200: 1234.6}, failed={(500, ""): 10.2}, buckets={0.5: 600.0, 1.0: 1244.8},
                      input_tokens=98765.4, output_tokens=4321.0, cost_usd=12.5,
                      headroom=RateLimit(remaining_requests=7))
    whole = stored(StepFolder().calls("apimon", "h", "m", 100.0, 100.0, figures, last=True)).snapshot().total
    folder = StepFolder()
    parts = [folder.calls("apimon", "h", "m", 100.0 + 25 * i, 25.0, scaled(figures, 0.25, last=i == 3), last=i == 3)
             for i in range(4)]
    store = stored([call for part in parts for call in part])
    split = store.snapshot().total
    assert (split.calls, split.errors, split.input_tokens, split.output_tokens) == (1245, 10, 98765, 4321)
    assert (whole.calls, whole.errors, whole.input_tokens, whole.output_tokens) == (1245, 10, 98765, 4321)
    assert round(split.cost_usd, 6) == round(whole.cost_usd, 6) == 12.5
    assert [r.ratelimit.remaining_requests for r in store.snapshot().ratelimits] == [7]


def test_spend_of_a_model_no_request_counter_names_is_said_not_dropped_silently():
    folder = StepFolder()
    folder.calls("litellm", "p", "gpt-4o", 10.0, 10.0, Figures(ok={None: 3.0}, cost_usd=0.3))
    assert folder.calls("litellm", "p", "openai/gpt-4o", 10.0, 10.0,
                        Figures(cost_usd=1.25, input_tokens=500.0), last=True) == []
    assert folder.without_calls() == (["openai/gpt-4o"], 1.25, 500)
