"""The SDK capture hook: native call records from any httpx-based client.

    from apimon_tui.capture import capture_httpx
    client = openai.OpenAI(http_client=capture_httpx(httpx.Client(), path="~/.local/state/apimon/calls.jsonl"))

`capture_httpx` wraps the client's transports (the default one and every
mount) and returns the same client object, so any SDK that accepts the
client still does: `httpx.Client`/`httpx.AsyncClient` (openai 1.x and 2.x)
and `httpx2.Client`/`httpx2.AsyncClient` (openai 3.x, which accepts either
kind; anthropic 2.x, which takes only httpx2, best as
`anthropic.DefaultHttpxClient()`, a subclass keeping the SDK's defaults).
Hooking the transport sees every attempt, retries included, and sees
streamed bodies as the application consumes them.

On the request path the hook only takes timestamps and references; each
attempt is queued when its body ends (or its response is closed) and turned
into a record on a shared writer's thread (`exchange.py`, `jsonl_writer.py`).
A body the application never finishes or closes is queued when its response
is garbage-collected, or at interpreter exit with whatever was read of it
(a stream's record then says `"stream_ended": "abandoned"`); only a process
killed outright (SIGKILL, `os._exit`) loses it.
The hook never raises into the application: if its own bookkeeping fails,
the request goes on unobserved and the failure is logged once.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from apimon_tui.capture.exchange import BODY_LIMIT, CaptureOptions, Exchange, JsonTap, RecordBuilder, SseTap
from apimon_tui.capture.jsonl_writer import JsonlWriter

from apimon_tui.costs.pricing import Pricer

DEFAULT_PATH = "~/.local/state/apimon/calls.jsonl"
ERROR_DRAIN_LIMIT = 64 * 1024  # bytes of an unread error body read at close

log = logging.getLogger(__name__)
_ClientT = TypeVar("_ClientT")
_perf = time.perf_counter
_wall = time.time

_writers: dict[Path, JsonlWriter] = {}
_writers_lock = threading.Lock()
_hook_failure_reported = False
_unfinished: dict[_Observation, bool] = {}  # bodies not yet queued; popping one claims it (atomic)


def capture_httpx(client: _ClientT, path: str | os.PathLike[str] = DEFAULT_PATH, *,
                  include_bodies: bool = False, tags: dict[str, str] | None = None) -> _ClientT:
    """Make `client` write one native call record per HTTP attempt to `path`; returns `client`.

    `include_bodies=True` also stores request and response bodies (redacted of keys);
    `tags` are added to every record. Clients capturing to the same path share one writer.
    """
    module = _httpx_module(client)
    wrappers = _wrappers(module)
    transport_type = wrappers.async_transport if isinstance(client, module.AsyncClient) else wrappers.transport
    capture = _Capture(writer_for(path), CaptureOptions(include_bodies, dict(tags) if tags else None))
    inner = client._transport  # type: ignore[attr-defined]
    client._transport = transport_type(inner, capture)  # type: ignore[attr-defined]
    client._mounts = {  # type: ignore[attr-defined]
        pattern: None if mounted is None else transport_type(mounted, capture)
        for pattern, mounted in client._mounts.items()  # type: ignore[attr-defined]
    }
    return client


def writer_for(path: str | os.PathLike[str]) -> JsonlWriter:
    """The one writer for a path (shared by every client capturing to it)."""
    key = Path(path).expanduser().absolute()
    with _writers_lock:
        writer = _writers.get(key)
        if writer is None:
            writer = _writers[key] = JsonlWriter(key, RecordBuilder(Pricer()).record)
        return writer


def flush() -> None:
    """Write every queued record now (also done on a timer, on client close and at exit)."""
    with _writers_lock:
        writers = list(_writers.values())
    for writer in writers:
        writer.flush()


def _httpx_module(client: Any) -> ModuleType:
    """`httpx` or `httpx2`, whichever package the client's class comes from."""
    for cls in type(client).__mro__:
        root = cls.__module__.split(".", 1)[0]
        if root in ("httpx", "httpx2") and cls.__name__ in ("Client", "AsyncClient"):
            return sys.modules[root]
    raise TypeError(f"capture_httpx needs an httpx or httpx2 Client or AsyncClient, not {type(client).__name__}")


def _report_hook_failure(exc: BaseException) -> None:
    global _hook_failure_reported
    if not _hook_failure_reported:
        _hook_failure_reported = True
        log.warning("apimon-tui capture: a request could not be observed (%s: %s); it went on unrecorded",
                    type(exc).__name__, exc)


class _Capture:
    """Per-`capture_httpx` state: where records go and what to keep."""

    __slots__ = ("writer", "options")

    def __init__(self, writer: JsonlWriter, options: CaptureOptions) -> None:
        self.writer = writer
        self.options = options

    def begin(self, request: Any) -> Exchange:
        return Exchange(request, self.options, _perf())

    def failed(self, ex: Exchange, exc: BaseException) -> None:
        """The transport raised (timeout, connection error): a record with no status."""
        ex.ended, ex.ended_at, ex.exception = _perf(), _wall(), exc
        self.writer.submit(ex)

    def observe(self, ex: Exchange, response: Any, stream_type: type) -> None:
        """Attach a tap to the response body; the record is queued when the body ends."""
        try:
            ex.status, ex.headers = response.status_code, response.headers
            content_type = ex.headers.get("content-type", "")
            if "text/event-stream" in content_type:
                ex.stream = True
                ex.tap = SseTap()
            elif "json" in content_type or not content_type:
                ex.tap = JsonTap()
            if self.options.include_bodies:
                ex.kept = []
            if response.is_closed:  # the transport read the body itself (MockTransport, caches)
                seen = _Observation(ex, self.writer)
                seen.chunk(response.content)
                seen.finish(read=True)
            else:
                response.stream = stream_type(response.stream, ex, self.writer)
        except Exception as exc:
            _report_hook_failure(exc)


class _Observation:
    """Body-side bookkeeping shared by the sync and async stream wrappers.

    Each is listed in `_unfinished` until its exchange is queued, so that at
    exit the ones still open are queued too.
    """

    __slots__ = ("ex", "writer", "size")

    def __init__(self, ex: Exchange, writer: JsonlWriter) -> None:
        self.ex = ex
        self.writer = writer
        self.size = 0
        _unfinished[self] = True

    def chunk(self, chunk: bytes) -> None:
        ex = self.ex
        if ex.first_byte is None and chunk:
            ex.first_byte = _perf()
        self.size += len(chunk)
        tap, kept = ex.tap, ex.kept
        try:
            if tap is not None:
                tap.feed(chunk)
            if kept is not None and self.size <= BODY_LIMIT:
                kept.append(chunk)
        except Exception as exc:
            ex.tap = ex.kept = None
            _report_hook_failure(exc)

    def broken(self, exc: BaseException) -> None:
        """The body stopped with an error part-way: the attempt failed after its status."""
        self.ex.exception = exc
        self.finish()

    def should_drain(self) -> bool:
        """An error body nobody read (an SDK about to retry): read it for the error fields."""
        return self.size == 0 and self.ex.status >= 400 and self in _unfinished

    def finish(self, read: bool = False) -> None:
        """Queue the exchange once: when its body was `read` to the end, closed, collected or left at exit."""
        if _unfinished.pop(self, False):
            ex = self.ex
            ex.ended, ex.ended_at, ex.body_read = _perf(), _wall(), read
            self.writer.submit(ex)


@atexit.register
def _finish_unfinished() -> None:
    """At exit, queue the bodies still open (with what was read of them) and write every record.

    Registered after `jsonl_writer`'s own exit flush, so it runs before it.
    """
    for seen in list(_unfinished):
        seen.finish()
    flush()


@functools.cache
def _wrappers(module: ModuleType) -> Any:
    """Transport and byte-stream wrappers subclassing `module`'s own base classes.

    httpx checks the type of a transport's response stream, so each package
    (httpx, httpx2) gets its own subclasses, built once.
    """

    class CaptureStream(module.SyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, inner: Any, ex: Exchange, writer: JsonlWriter) -> None:
            self._inner = inner
            self._seen = _Observation(ex, writer)

        def __iter__(self) -> Any:
            seen = self._seen
            try:
                for chunk in self._inner:
                    seen.chunk(chunk)
                    yield chunk
            except Exception as exc:
                seen.broken(exc)
                raise
            seen.finish(read=True)

        def __del__(self) -> None:
            _let_go(self)

        def close(self) -> None:
            seen = self._seen
            try:
                if seen.should_drain():
                    for chunk in self._inner:
                        seen.chunk(chunk)
                        if seen.size > ERROR_DRAIN_LIMIT:
                            break
            except Exception:  # the drain is best effort; closing is what the caller asked
                pass
            try:
                self._inner.close()
            finally:
                seen.finish()

    class AsyncCaptureStream(module.AsyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, inner: Any, ex: Exchange, writer: JsonlWriter) -> None:
            self._inner = inner
            self._seen = _Observation(ex, writer)

        async def __aiter__(self) -> Any:
            seen = self._seen
            try:
                async for chunk in self._inner:
                    seen.chunk(chunk)
                    yield chunk
            except Exception as exc:
                seen.broken(exc)
                raise
            seen.finish(read=True)

        def __del__(self) -> None:
            _let_go(self)

        async def aclose(self) -> None:
            seen = self._seen
            try:
                if seen.should_drain():
                    async for chunk in self._inner:
                        seen.chunk(chunk)
                        if seen.size > ERROR_DRAIN_LIMIT:
                            break
            except Exception:  # the drain is best effort; closing is what the caller asked
                pass
            try:
                await self._inner.aclose()
            finally:
                seen.finish()

    class CaptureTransport(module.BaseTransport):  # type: ignore[name-defined,misc]
        def __init__(self, inner: Any, capture: _Capture) -> None:
            self.inner = inner
            self.capture = capture

        def handle_request(self, request: Any) -> Any:
            capture = self.capture
            ex = capture.begin(request)
            try:
                response = self.inner.handle_request(request)
            except Exception as exc:
                capture.failed(ex, exc)
                raise
            capture.observe(ex, response, CaptureStream)
            return response

        def __enter__(self) -> Any:
            self.inner.__enter__()
            return self

        def __exit__(self, *exc_info: Any) -> None:
            try:
                self.inner.__exit__(*exc_info)
            finally:
                self.capture.writer.flush()

        def close(self) -> None:
            try:
                self.inner.close()
            finally:
                self.capture.writer.flush()

    class AsyncCaptureTransport(module.AsyncBaseTransport):  # type: ignore[name-defined,misc]
        def __init__(self, inner: Any, capture: _Capture) -> None:
            self.inner = inner
            self.capture = capture

        async def handle_async_request(self, request: Any) -> Any:
            capture = self.capture
            ex = capture.begin(request)
            try:
                response = await self.inner.handle_async_request(request)
            except Exception as exc:
                capture.failed(ex, exc)
                raise
            capture.observe(ex, response, AsyncCaptureStream)
            return response

        async def __aenter__(self) -> Any:
            await self.inner.__aenter__()
            return self

        async def __aexit__(self, *exc_info: Any) -> None:
            try:
                await self.inner.__aexit__(*exc_info)
            finally:
                self.capture.writer.flush()

        async def aclose(self) -> None:
            try:
                await self.inner.aclose()
            finally:
                self.capture.writer.flush()

    return _Wrappers(CaptureTransport, AsyncCaptureTransport)


def _let_go(stream: Any) -> None:
    """A body wrapper is being collected: queue its exchange unless that was done (abandoned)."""
    try:
        stream._seen.finish()
    except Exception:  # at interpreter shutdown the module may be half torn down
        pass


class _Wrappers:
    __slots__ = ("transport", "async_transport")

    def __init__(self, transport: type, async_transport: type) -> None:
        self.transport = transport
        self.async_transport = async_transport
