"""The real `apimon-tui` monitor in tmux with an `otlp://` receiver, fed by the OpenTelemetry SDK's exporter."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from test_monitor_tmux import SCRIPT, TMUX, _keys, _new_session, _tmux, _wait_for

pytestmark = pytest.mark.e2e

CHAT = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")
@pytest.mark.skipif(SCRIPT is None, reason="the apimon-tui console script is not installed (pip install -e .)")
def test_monitor_shows_spans_pushed_to_its_receiver(tmp_path: Path):
    port = free_port()
    (tmp_path / "empty.toml").write_text("", encoding="utf-8")
    session = _new_session(f"{SCRIPT} otlp://127.0.0.1:{port}; echo apimon-exit=$?; sleep 60",
                           tmp_path / "empty.toml", (160, 40))
    try:
        _wait_for(session, lambda s: "listening" in s and "Requests" in s, "the receiver listening")
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces")))
        tracer = provider.get_tracer("apimon-e2e")
        now = time.time_ns()
        for i in range(3):
            span = tracer.start_span("chat gpt-4o", kind=SpanKind.CLIENT, start_time=now - 900_000_000,
                                     attributes=CHAT)
            span.end(end_time=now - i * 1_000_000)
        failed = tracer.start_span("chat gpt-4o", kind=SpanKind.CLIENT, start_time=now - 300_000_000,
                                   attributes={**CHAT, "error.type": "rate_limit_exceeded"})
        failed.set_status(Status(StatusCode.ERROR, "Rate limit reached [red]plain[/red]"))
        failed.end(end_time=now)
        with tracer.start_as_current_span("GET /health"):
            pass
        provider.shutdown()
        screen = _wait_for(session, lambda s: "4 GenAI spans" in s and "rate_limit_exceeded" in s,
                           "the spans as calls, and the failed one in the error feed")
        assert "otlp · listening · 4 GenAI spans · 1 other spans ignored" in screen
        assert "gpt-4o" in screen

        _keys(session, "e", "Enter")
        detail = _wait_for(session, lambda s: "raw log line" in s, "the detail screen")
        assert "Rate limit reached [red]plain[/red]" in detail  # shown as sent, not as markup
        _keys(session, "Escape")
        _wait_for(session, lambda s: "Requests" in s, "the main screen again")
        _keys(session, "q")
        _wait_for(session, lambda s: "apimon-exit=0" in s, "a clean exit")
    finally:
        _tmux(session, "kill-server", capture_output=True)
