"""The real openai-v2 OpenTelemetry instrumentation, around the real `openai` SDK talking to a loopback
fake of the API, exporting its spans with the real OTLP/HTTP exporter to the `otlp://` receiver.

What the receiver counts must be what the fake server answered: every call, its model, its tokens,
and the failed one (a 400 the SDK does not retry).
"""

from __future__ import annotations

import openai
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation import openai_v2 as instrumentation
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from apimon_tui.ingest.engine import Engine
from apimon_tui.fakes.openai_server import FakeOpenAI, Outcome
from apimon_tui.ingest.summary import summarize


@pytest.fixture
def instrumented():
    """The SDK instrumented for this test only, its spans exported to a fresh receiver."""
    engine = Engine(["otlp://127.0.0.1:0"])
    port = engine.readers[0].source.port
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces")))
    instrumentor = instrumentation.OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield engine
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
        engine.stop()


def test_spans_of_the_openai_v2_instrumentation_become_the_calls_the_server_answered(instrumented):
    with FakeOpenAI() as server:
        server.script([200, 200, Outcome(400, error={"code": "context_length_exceeded"}), 200])
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
        for model, words in (("gpt-4o", "one two three"), ("gpt-4o-mini", "a b"), ("gpt-4o", "too long"),
                             ("gpt-4o", "four five six seven")):
            try:
                client.chat.completions.create(model=model, messages=[{"role": "user", "content": words}])
            except openai.BadRequestError:
                pass
        answered = server.attempts
    instrumented.pump()
    summary = summarize(instrumented.store.snapshot(), instrumented.statuses(), instrumented.pricer.unpriced)
    assert summary["calls"] == len(answered) == 4
    assert summary["errors"] == 1
    ok = [a for a in answered if a.status == 200]
    assert summary["input_tokens"] == sum(a.input_tokens for a in ok)
    assert summary["output_tokens"] == sum(a.output_tokens for a in ok)
    assert {m: v["calls"] for m, v in summary["models"].items()} == {"gpt-4o": 3, "gpt-4o-mini": 1}
    assert summary["models"]["gpt-4o"]["errors"] == 1
    assert summary["latency_ms"]["max"] is not None and summary["latency_ms"]["max"] > 0
