"""Overhead of the capture hook per call, side by side with the bare client.

    python bench/capture_overhead.py [--calls 500] [--rounds 25]

The same requests go to an in-process `MockTransport` (no network, so the
figures are the client's own cost) that streams back either a plain JSON
answer or a 24-chunk SSE stream, with `httpx` and `httpx2`:

* client: a whole `client.post(...)` / `client.stream(...)` call, bare and
  captured, so the hook's cost is seen next to the client's own;
* transport: only `handle_request` and reading the body, bare and captured,
  which isolates the hook from the rest of the client.

Rounds alternate bare and captured and the best round of each is kept. Times
are CPU time of the calling thread (`time.thread_time`), so other load on the
machine blurs them less. The "writer" column is the work done later on the
writer's thread per record (parse, price, encode, write), timed by holding
the writer back and flushing it once per round: it is not on the request path.
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import httpx
import httpx2

from apimon_tui.capture import capture_httpx, writer_for

URL = "https://api.openai.com/v1/chat/completions"
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello in five words."}]}
HEADERS = {
    "content-type": "application/json",
    "x-request-id": "req_098973f645141d78b0f7814efa2f58db",
    "openai-processing-ms": "512",
    "x-ratelimit-limit-requests": "5000",
    "x-ratelimit-limit-tokens": "4000000",
    "x-ratelimit-remaining-requests": "4998",
    "x-ratelimit-remaining-tokens": "3999176",
    "x-ratelimit-reset-requests": "22ms",
    "x-ratelimit-reset-tokens": "12ms",
}
USAGE = {"prompt_tokens": 14, "completion_tokens": 6, "total_tokens": 20, "prompt_tokens_details": {"cached_tokens": 0}}
ANSWER = json.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1764201600, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there, how are you?"},
                 "finish_reason": "stop"}],
    "usage": USAGE,
}).encode()
CHUNK = (b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk",'
         b'"choices":[{"index":0,"delta":{"content":"word "}}],"usage":null}\n\n')
SSE = [CHUNK] * 22 + [b'data: {"id":"chatcmpl-1","choices":[],"usage":' + json.dumps(USAGE).encode() + b"}\n\n",
                      b"data: [DONE]\n\n"]


def handler(module: Any) -> Callable[[Any], Any]:
    """Answers as a network transport does: headers now, the body as a stream read later."""
    def handle(request: Any) -> Any:
        if b'"stream":true' in request.content:
            return module.Response(200, headers={**HEADERS, "content-type": "text/event-stream"}, content=iter(SSE))
        return module.Response(200, headers={**HEADERS, "content-length": str(len(ANSWER))}, content=iter([ANSWER]))
    return handle


def client_calls(client: Any, calls: int, stream: bool) -> float:
    body = {**BODY, "stream": True} if stream else BODY
    start = time.thread_time()
    for _ in range(calls):
        if stream:
            with client.stream("POST", URL, json=body) as response:
                for _line in response.iter_lines():
                    pass
        else:
            client.post(URL, json=body).read()
    return (time.thread_time() - start) / calls


def transport_calls(client: Any, calls: int, stream: bool) -> float:
    request = client.build_request("POST", URL, json={**BODY, "stream": True} if stream else BODY)
    transport = client._transport
    start = time.thread_time()
    for _ in range(calls):
        response = transport.handle_request(request)
        for _chunk in response.stream:
            pass
        response.stream.close()
    return (time.thread_time() - start) / calls


def measure(module: Any, stream: bool, level: Callable[..., float], args: argparse.Namespace,
            path: Path) -> tuple[float, float, float]:
    """(bare µs/call, captured µs/call, writer µs/record), best of the rounds."""
    writer = writer_for(path)
    writer.flush_interval, writer.batch = 3600.0, 10**9  # hold records back to time the writer apart
    bare = module.Client(transport=module.MockTransport(handler(module)))
    captured = capture_httpx(module.Client(transport=module.MockTransport(handler(module))), path)
    level(bare, 200, stream), level(captured, 200, stream)  # warm up: imports, the pricing table
    writer.flush()
    before = writer.written
    bare_s, captured_s, writer_s = [], [], []
    for _ in range(args.rounds):
        gc.collect()
        bare_s.append(level(bare, args.calls, stream))
        gc.collect()
        captured_s.append(level(captured, args.calls, stream))
        start = time.thread_time()
        writer.flush()
        writer_s.append((time.thread_time() - start) / args.calls)
    assert writer.written - before == args.calls * args.rounds and writer.failed == 0, "records went missing"
    return min(bare_s) * 1e6, min(captured_s) * 1e6, min(writer_s) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args()
    print(f"{'level':<10} {'client':<7} {'answer':<6} {'bare µs':>8} {'captured µs':>12} {'overhead µs':>12} "
          f"{'writer µs/rec':>14}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, level in (("client", client_calls), ("transport", transport_calls)):
            for module in (httpx, httpx2):
                for stream in (False, True):
                    kind = "sse" if stream else "json"
                    path = Path(tmp) / f"{name}-{module.__name__}-{kind}.jsonl"
                    bare, captured, writer = measure(module, stream, level, args, path)
                    print(f"{name:<10} {module.__name__:<7} {kind:<6} {bare:>8.1f} {captured:>12.1f} "
                          f"{captured - bare:>12.1f} {writer:>14.1f}")


if __name__ == "__main__":
    main()
