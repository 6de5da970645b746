"""The `otlp://` receiver: real OpenTelemetry SDK exporters posting GenAI spans to it on 127.0.0.1.

The SDK's `SimpleSpanProcessor` exports each span as it ends and waits for
the answer, and the receiver queues a request's spans before it answers, so a
single engine pass after the exports sees every span that was answered 200.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from apimon_tui.ingest.engine import Engine
from apimon_tui.sources import open_source
from apimon_tui.sources.otlp_receiver import TOKEN_ENV, ReceiverSpec, RpcStatus, hex_id, parse_spec
from apimon_tui.ingest.summary import summarize

T0 = 1_760_000_000_000_000_000  # ns
MS = 1_000_000
PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


def chat(model: str = "gpt-4o", input_tokens: int = 100, output_tokens: int = 20, **extra) -> dict:
    return {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": input_tokens, "gen_ai.usage.output_tokens": output_tokens, **extra}


def emit(tracer, name: str, attrs: dict, start_ms: int, latency_ms: int, error: str | None = None) -> None:
    span = tracer.start_span(name, kind=SpanKind.CLIENT, start_time=T0 + start_ms * MS, attributes=attrs)
    if error:
        span.set_status(Status(StatusCode.ERROR, error))
    span.end(end_time=T0 + (start_ms + latency_ms) * MS)


def emit_fleet_traffic(tracer) -> None:
    """Four chat calls (one failed), one embeddings call, and three spans that are not calls."""
    emit(tracer, "chat gpt-4o", chat(input_tokens=100, output_tokens=20), 0, 1234)
    emit(tracer, "chat gpt-4o", chat(input_tokens=300, output_tokens=40), 10, 500)
    emit(tracer, "chat gpt-4o-mini", chat("gpt-4o-mini", 50, 5), 20, 2000)
    emit(tracer, "chat gpt-4o", chat(input_tokens=0, output_tokens=0, **{"error.type": "rate_limit_exceeded"}),
         30, 80, error="Rate limit reached")
    emit(tracer, "embeddings text-embedding-3-small",
         {"gen_ai.operation.name": "embeddings", "gen_ai.provider.name": "openai",
          "gen_ai.request.model": "text-embedding-3-small", "gen_ai.usage.input_tokens": 8}, 40, 60)
    emit(tracer, "invoke_agent helper", {"gen_ai.operation.name": "invoke_agent"}, 0, 3000)
    emit(tracer, "GET /v1/things", {"http.request.method": "GET"}, 0, 5)
    emit(tracer, "SELECT users", {"db.system": "postgresql"}, 0, 2)


def check_fleet_figures(summary: dict) -> None:
    assert summary["calls"] == 5
    assert summary["errors"] == 1
    assert summary["input_tokens"] == 100 + 300 + 50 + 0 + 8
    assert summary["output_tokens"] == 20 + 40 + 5
    assert summary["latency_ms"]["max"] == 2000.0
    assert summary["models"]["gpt-4o"]["calls"] == 3
    assert summary["models"]["gpt-4o"]["errors"] == 1
    assert summary["models"]["gpt-4o-mini"]["p95_ms"] == 2000.0
    assert summary["first_ts"] == pytest.approx((T0 + 100 * MS) / 1e9, abs=1e-6)  # the embeddings call ends first
    assert summary["last_ts"] == pytest.approx((T0 + 2020 * MS) / 1e9, abs=1e-6)


@pytest.fixture
def engine():
    engine = Engine(["otlp://127.0.0.1:0"], store=None)
    yield engine
    engine.stop()


def url(engine: Engine) -> str:
    return f"http://127.0.0.1:{engine.readers[0].source.port}/v1/traces"


def sdk_tracer(exporter):
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, provider.get_tracer("apimon-tests")


def summary_of(engine: Engine) -> dict:
    engine.pump()
    return summarize(engine.store.snapshot(), engine.statuses(), engine.pricer.unpriced)


def recorded_spans():
    """The fleet traffic as the SDK's ReadableSpans, for building request bodies by hand."""
    memory = InMemorySpanExporter()
    provider, tracer = sdk_tracer(memory)
    emit_fleet_traffic(tracer)
    provider.shutdown()
    return memory.get_finished_spans()


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_sdk_exporter_spans_become_calls_with_exact_figures(engine, compression):
    provider, tracer = sdk_tracer(OTLPSpanExporter(endpoint=url(engine), compression=compression))
    emit_fleet_traffic(tracer)
    provider.shutdown()
    summary = summary_of(engine)
    check_fleet_figures(summary)
    failed = engine.store.snapshot().failed
    assert [(c.model, c.latency_ms, c.error_code, c.error_message) for c in failed] == [
        ("gpt-4o", 80.0, "rate_limit_exceeded", "Rate limit reached")]
    status = engine.statuses()[0]
    assert status.format == "otlp"
    assert status.state == "listening · 5 GenAI spans · 3 other spans ignored"
    assert status.error is None


def test_json_posts_from_the_exporters_encoder_with_base64_ids_and_enum_names(engine):
    spans = recorded_spans()
    body = json_format.MessageToJson(encode_spans(spans))  # the standard protobuf JSON mapping
    assert '"STATUS_CODE_ERROR"' in body and '"SPAN_KIND_CLIENT"' in body
    reply = httpx.post(url(engine), content=body, headers=JSON)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == {}  # full success: partialSuccess left unset
    check_fleet_figures(summary_of(engine))
    failed_span = next(s for s in spans if s.status.status_code == StatusCode.ERROR)
    raw = json.loads(engine.store.snapshot().failed[0].raw)
    assert raw["traceId"] == f"{failed_span.context.trace_id:032x}"  # base64 in, hex as OTLP/JSON writes it
    assert raw["spanId"] == f"{failed_span.context.span_id:016x}"


def otlp_json_lines(spans) -> list[str]:
    """OTLP/JSON as the Collector's file exporter writes it: hex ids, enums as numbers, one request a line."""
    lines = []
    for span in spans:
        obj = json_format.MessageToDict(encode_spans([span]), use_integers_for_enums=True)
        for resource in obj["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                for item in scope["spans"]:
                    item["traceId"] = f"{span.context.trace_id:032x}"
                    item["spanId"] = f"{span.context.span_id:016x}"
        lines.append(json.dumps(obj))
    return lines


def test_receiver_reads_spans_exactly_as_the_otlp_file_format(engine, tmp_path):
    lines = otlp_json_lines(recorded_spans())
    for line in lines:
        assert httpx.post(url(engine), content=gzip.compress(line.encode()),
                          headers={**JSON, "Content-Encoding": "gzip"}).status_code == 200
    received = summary_of(engine)
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(lines) + "\n")
    from_file = Engine([str(path)], follow=False, from_start=True)
    from_file.read_to_end()
    read = summarize(from_file.store.snapshot(), from_file.statuses(), from_file.pricer.unpriced)
    check_fleet_figures(read)
    for summary in (received, read):
        summary.pop("sources")
        summary.pop("lines")
        summary.pop("skipped")  # the file has a line per non-GenAI span; the receiver counts them as ignored
    assert received == read


def post_json(engine: Engine, obj: dict, **headers) -> httpx.Response:
    return httpx.post(url(engine), content=json.dumps(obj), headers={**JSON, **headers})


def one_span_request(span: dict) -> dict:
    return {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": [span]}]}]}


def hand_span(code: int | str = 0, **fields) -> dict:
    return {"traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "EEE19B7EC3C1B174", "name": "chat gpt-4o",
            "kind": 3, "startTimeUnixNano": str(T0), "endTimeUnixNano": str(T0 + 700 * MS),
            "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                           {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
                           {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
                           {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "7"}}],
            "status": {"code": code}, **fields}


def status_message(reply: httpx.Response) -> str:
    if reply.headers["Content-Type"] == "application/x-protobuf":
        return RpcStatus.FromString(reply.content).message
    return reply.json()["message"]


def test_a_refused_body_is_read_so_the_next_post_on_the_connection_is_answered_right(engine):
    with httpx.Client() as client:
        refused = client.post(url(engine), content=b"{}", headers={"Content-Type": "text/plain"})
        taken = client.post(url(engine), content=json.dumps(one_span_request(hand_span())), headers=JSON)
        assert (refused.status_code, taken.status_code) == (415, 200)
        assert client.post(url(engine).replace("/v1/traces", "/v1/logs"), content=b"{}", headers=JSON).status_code \
            == 404
        assert client.post(url(engine), content=b"{}", headers=JSON).status_code == 200  # an empty export
    assert summary_of(engine)["calls"] == 1


def test_bad_posts_are_answered_and_good_posts_keep_counting(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "s3cret-token")
    engine = Engine(["otlp://127.0.0.1:0"])
    source = engine.readers[0].source
    source.max_body = 4096
    auth = {"Authorization": "Bearer s3cret-token"}
    good = one_span_request(hand_span())
    try:
        answers = [
            post_json(engine, good, **auth),
            httpx.post(url(engine), content=b"\x0a\xff\xff garbage", headers={**PROTOBUF, **auth}),
            post_json(engine, good, **auth),
            httpx.post(url(engine), content=b'{"resourceSpans": [', headers={**JSON, **auth}),
            httpx.post(url(engine), content=b"[1, 2]", headers={**JSON, **auth}),
            httpx.post(url(engine), content=b"not gzip", headers={**JSON, **auth, "Content-Encoding": "gzip"}),
            post_json(engine, good),  # no token
            post_json(engine, good, Authorization="Bearer wrong"),
            httpx.post(url(engine), content=b"x" * 5000, headers={**PROTOBUF, **auth}),  # over the cap
            httpx.post(url(engine), content=gzip.compress(b" " * 100_000), headers={**JSON, **auth,
                                                                                  "Content-Encoding": "gzip"}),
            httpx.post(url(engine), content=json.dumps(good), headers={"Content-Type": "text/plain", **auth}),
            httpx.post(url(engine), content=json.dumps(good), headers={**JSON, **auth, "Content-Encoding": "br"}),
            post_json(engine, good, **auth),
        ]
        assert [a.status_code for a in answers] == [200, 400, 200, 400, 400, 400, 401, 401, 413, 413, 415, 415, 200]
        assert status_message(answers[1]) == "not an OTLP/protobuf ExportTraceServiceRequest"
        assert status_message(answers[4]) == "the body is not a JSON object"
        assert answers[6].headers["WWW-Authenticate"] == "Bearer"
        summary = summary_of(engine)
        assert summary["calls"] == 3 and summary["input_tokens"] == 21
        state = source.state
        assert state == ("listening · 3 GenAI spans · 4 bad requests · 2 unauthorised · 2 too large "
                         "· 2 unsupported type · last: 415 send application/x-protobuf or application/json, "
                         "plain or gzip")
        assert source.error is None
        assert "s3cret" not in state + json.dumps(summary)
    finally:
        engine.stop()


def test_a_genai_span_without_times_is_rejected_in_partial_success_and_shown_unparsed(engine):
    untimed = hand_span(code="STATUS_CODE_ERROR")
    del untimed["startTimeUnixNano"], untimed["endTimeUnixNano"]
    request = {"resourceSpans": [{"scopeSpans": [{"spans": [hand_span(), untimed, hand_span(code=2)]}]}]}
    reply = post_json(engine, request)
    assert reply.status_code == 200
    assert reply.json()["partialSuccess"]["rejectedSpans"] == "1"
    summary = summary_of(engine)
    assert (summary["calls"], summary["errors"], summary["unparsed"]) == (2, 1, 1)
    assert summary["sources"][0]["unparsed_samples"][0]["reason"] == "span 'chat gpt-4o' has no usable start or end time"


def test_protobuf_partial_success_is_protobuf(engine):
    spans = recorded_spans()
    request = encode_spans(spans)
    request.resource_spans[0].scope_spans[0].spans[0].ClearField("start_time_unix_nano")
    request.resource_spans[0].scope_spans[0].spans[0].ClearField("end_time_unix_nano")
    reply = httpx.post(url(engine), content=request.SerializeToString(), headers=PROTOBUF)
    assert reply.status_code == 200 and reply.headers["Content-Type"] == "application/x-protobuf"
    assert ExportTraceServiceResponse.FromString(reply.content).partial_success.rejected_spans == 1
    assert summary_of(engine)["calls"] == 4


def test_a_full_queue_answers_429_with_retry_after_and_loses_no_span():
    """40 posts of 10 spans from 8 threads at a queue of 100 spans that nothing drains meanwhile."""
    engine = Engine(["otlp://127.0.0.1:0"])
    source = engine.readers[0].source
    source.queue.limit = 100
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [hand_span()] * 10}]}]})
    try:
        with httpx.Client() as client, ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: client.post(url(engine), content=body, headers=JSON), range(40)))
        codes = [a.status_code for a in answers]
        assert sorted(set(codes)) == [200, 429]
        assert codes.count(200) == 10
        assert all(a.headers["Retry-After"] == "1" for a in answers if a.status_code == 429)
        assert summary_of(engine)["calls"] == 100  # every span answered 200 was counted
        assert source.counts.refused == 300  # and every other one was refused, for the client to retry
        assert "300 refused: queue full" in source.state
        assert post_json(engine, json.loads(body)).status_code == 200  # drained: taken again
        assert summary_of(engine)["calls"] == 110
    finally:
        engine.stop()


@pytest.mark.parametrize(("spec", "address"), [
    ("otlp://:4318", ("127.0.0.1", 4318)),
    ("otlp://", ("127.0.0.1", 4318)),
    ("otlp://0.0.0.0:4318", ("0.0.0.0", 4318)),
    ("otlp://[::1]:9000", ("::1", 9000)),
    ("otlp://collector.internal", ("collector.internal", 4318)),
])
def test_addresses(spec, address):
    assert parse_spec(spec) == ReceiverSpec(*address)


@pytest.mark.parametrize("spec", ["otlp://:4318/v1/traces", "otlp://:http", "otlp://:99999", "otlp://:4318?for=soon",
                                  "otlp://:4318?every=5m"])
def test_bad_addresses_say_how_to_write_one(spec):
    with pytest.raises(ValueError, match="otlp://"):
        parse_spec(spec)


def test_a_busy_port_is_shown_not_raised():
    first = open_source("otlp://127.0.0.1:0")
    try:
        second = open_source(f"otlp://127.0.0.1:{first.port}")
        assert second.state == "not listening"
        assert second.error.startswith(f"cannot listen on 127.0.0.1:{first.port}: ")
        second.close()
    finally:
        first.close()


def test_a_receiver_needs_following_or_a_time_to_listen():
    with pytest.raises(ValueError, match=r"report --follow, or say how long to listen, e.g. otlp://:4318\?for=5m"):
        open_source("otlp://:4318", follow=False)
    assert parse_spec("otlp://:4318?for=1m30s") == ReceiverSpec("127.0.0.1", 4318, 90.0)


def test_report_follow_console_script_counts_sdk_spans():
    """The real `report --follow --json` on a receiver: its first summary names the port it listens on."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "apimon_tui", "report", "--follow", "--json", "--interval", "0.2",
                             "otlp://127.0.0.1:0"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        first = json.loads(proc.stdout.readline())
        label = first["sources"][0]["source"]
        assert label.startswith("otlp://127.0.0.1:")
        provider, tracer = sdk_tracer(OTLPSpanExporter(endpoint=f"http://{label[len('otlp://'):]}/v1/traces"))
        emit_fleet_traffic(tracer)
        provider.shutdown()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
        check_fleet_figures(json.loads(out.strip().splitlines()[-1]))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_receiver_given_a_time_listens_that_long_and_then_ends_a_read_to_the_end():
    now = [1000.0]
    engine = Engine(["otlp://127.0.0.1:0?for=5m"], follow=False, clock=lambda: now[0])
    source = engine.readers[0].source
    try:
        assert source.state == "listening for 5m · 0 GenAI spans"
        assert post_json(engine, one_span_request(hand_span())).status_code == 200
        engine.pump()
        assert not source.at_eof
        now[0] += 300
        assert post_json(engine, one_span_request(hand_span())).status_code == 200  # still queued before the end
        engine.read_to_end()
        assert source.at_eof and source.state == "stopped · 2 GenAI spans"
        assert summary_of(engine)["calls"] == 2
        with pytest.raises(httpx.ConnectError):
            post_json(engine, one_span_request(hand_span()))
    finally:
        engine.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_listening(port: int, proc: subprocess.Popen) -> None:
    while proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"the receiver ended before listening: {proc.returncode}")


def test_check_over_a_duration_evaluates_the_rules_on_the_spans_received(tmp_path):
    """`check otlp://...?for=4s`: the real console script listens 4 s, then the error-rate rule fires."""
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text('[alerts.error_rate]\nmin_calls = 1\nfor = "0s"\nper_model = false\ncritical = 50.0\n')
    env = {k: v for k, v in os.environ.items() if not k.endswith("_ADMIN_KEY") and k != "APIMON_CONFIG"}
    env["PYTHONPATH"] = str(Path(__file__).parents[1] / "src")
    proc = subprocess.Popen([sys.executable, "-m", "apimon_tui", "check", "--config", str(config),
                             f"otlp://127.0.0.1:{port}?for=4s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        wait_until_listening(port, proc)
        provider, tracer = sdk_tracer(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces"))
        emit_fleet_traffic(tracer)  # 1 failed call of 5
        provider.shutdown()
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (proc.returncode, err) == (1, "")
    assert out == "WARNING error_rate all 20.0% > 5% over 5m (5 calls)\n"


@pytest.mark.parametrize(("value", "size", "expected"), [
    ("5B8EFFF798038103D269B633813FC60C", 16, "5b8efff798038103d269b633813fc60c"),  # OTLP/JSON hex
    ("W47/95gDgQPSabYzgT/GDA==", 16, "5b8efff798038103d269b633813fc60c"),  # protobuf's JSON mapping: base64
    ("7uGbfsPBsXQ=", 8, "eee19b7ec3c1b174"),
    ("not an id", 8, "not an id"),  # kept as it came: ids are not what a call is read from
    (12, 8, 12),
])
def test_ids_become_hex(value, size, expected):
    assert hex_id(value, size) == expected


@pytest.mark.parametrize(("command", "prefix", "code"), [
    (["report", "otlp://127.0.0.1:4318"], "apimon-tui report: ", 2),
    (["check", "--config", os.devnull, "otlp://127.0.0.1:4318"], "apimon-tui check: ", 3),  # could not check
])
def test_report_and_check_without_a_time_to_listen_say_so_in_one_line(command, prefix, code):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    out = subprocess.run([sys.executable, "-m", "apimon_tui", *command], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == code
    assert out.stderr == (f"{prefix}otlp://127.0.0.1:4318: a receiver takes spans until it is stopped: use it with "
                          "the monitor or report --follow, or say how long to listen, e.g. "
                          "otlp://127.0.0.1:4318?for=5m\n")


def test_listening_wider_without_a_token_is_shown(monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    wide = open_source("otlp://0.0.0.0:0")
    try:
        assert wide.state == f"listening · 0 GenAI spans · open to anyone: set {TOKEN_ENV}"
    finally:
        wide.close()
    monkeypatch.setenv(TOKEN_ENV, "s3cret")
    guarded = open_source("otlp://0.0.0.0:0")
    try:
        assert guarded.state == "listening · 0 GenAI spans"
    finally:
        guarded.close()
