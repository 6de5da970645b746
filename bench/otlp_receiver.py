"""How many GenAI spans/s the `otlp://` receiver takes on one core, from decoding to calls in the store.

The receiver and its engine run in this process, pinned to one core; a client
process pinned to another core posts pre-built requests (built with the real
SDK encoder: `--spans` GenAI chat spans per request, plus as many ordinary
spans, which are decoded and ignored) over `--connections` keep-alive
connections. The figure is GenAI spans counted as calls per second of wall
time, from the first post to the last call in the store, and the receiver
process's CPU seconds beside it.

    python bench/otlp_receiver.py [--requests 200] [--spans 100] [--encoding protobuf|json|both]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import time

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from apimon_tui.ingest.engine import Engine

T0 = 1_760_000_000_000_000_000


def request_body(spans: int, encoding: str) -> bytes:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    for i in range(spans):
        span = tracer.start_span("chat gpt-4o", kind=SpanKind.CLIENT, start_time=T0 + i * 1_000_000, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.response.id": f"chatcmpl-{i}",
            "gen_ai.usage.input_tokens": 100 + i, "gen_ai.usage.output_tokens": 20, "server.address": "api.openai.com"})
        span.end(end_time=T0 + i * 1_000_000 + 700_000_000)
        other = tracer.start_span("GET /v1/things", kind=SpanKind.SERVER, start_time=T0,
                                  attributes={"http.request.method": "GET", "http.route": "/v1/things"})
        other.end(end_time=T0 + 5_000_000)
    provider.shutdown()
    request = encode_spans(memory.get_finished_spans())
    return request.SerializeToString() if encoding == "protobuf" else json_format.MessageToJson(request).encode()


def post_all(port: int, body: bytes, content_type: str, requests: int, core: int) -> None:
    os.sched_setaffinity(0, {core})
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(requests):
        conn.request("POST", "/v1/traces", body, {"Content-Type": content_type})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"answered {response.status}")
    conn.close()


def run(encoding: str, requests: int, spans: int, connections: int) -> None:
    body = request_body(spans, encoding)
    content_type = "application/x-protobuf" if encoding == "protobuf" else "application/json"
    engine = Engine(["otlp://127.0.0.1:0"])
    port = engine.readers[0].source.port
    per_client = requests // connections
    expected = per_client * connections * spans
    clients = [multiprocessing.Process(target=post_all, args=(port, body, content_type, per_client, 1))
               for _ in range(connections)]
    cpu0, t0 = time.process_time(), time.perf_counter()
    for client in clients:
        client.start()
    engine.start()
    while engine.store.snapshot().total.calls < expected:
        time.sleep(0.01)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    for client in clients:
        client.join()
    engine.stop()
    print(f"{encoding:8}  {len(body):>9,} B/request  {expected:>8,} GenAI spans (+{expected:,} others)  "
          f"{elapsed:6.2f} s  {expected / elapsed:>9,.0f} spans/s  receiver CPU {cpu:5.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--spans", type=int, default=100, help="GenAI spans per request (as many others)")
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--encoding", choices=["protobuf", "json", "both"], default="both")
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})
    for encoding in (["protobuf", "json"] if args.encoding == "both" else [args.encoding]):
        run(encoding, args.requests, args.spans, args.connections)


if __name__ == "__main__":
    main()
