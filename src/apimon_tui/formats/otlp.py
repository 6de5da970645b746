"""`otlp`: OpenTelemetry trace exports (OTLP/JSON, one export request per line).

This is what the collector's `file` exporter writes: each line is one
`{"resourceSpans": [{"resource": ..., "scopeSpans": [{"spans": [...]}]}]}`.
A span is a call when it carries the GenAI semantic conventions of an
inference or embeddings operation (`gen_ai.operation.name` = chat,
text_completion, generate_content or embeddings, or no operation name but a
`gen_ai.provider.name` / `gen_ai.system`). Agent, tool, workflow and retrieval
spans and ordinary spans (HTTP, database) are not calls: they wrap or sit
beside the inference spans, and counting them would count calls twice.

Both attribute generations are read: `gen_ai.provider.name` or the older
`gen_ai.system`, `gen_ai.usage.input_tokens` / `output_tokens` or the older
`prompt_tokens` / `completion_tokens`. 64-bit integers arrive as decimal
strings (`"intValue": "10"`, `"startTimeUnixNano": "..."`) or as numbers.
Span status code 2 (ERROR, or its enum name `STATUS_CODE_ERROR`, as the
standard protobuf JSON mapping writes it) marks the call failed, with
`status.message` as the error message and `error.type` as the error code. A line that yields no call
(only other spans, or a metrics or logs export) counts as one skipped line.
"""

from __future__ import annotations

import json
from typing import Any

from apimon_tui.formats.base import Parser, json_object
from apimon_tui.model import Call

NAME = "otlp"

CALL_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
STATUS_ERROR = 2
STATUS_ERROR_NAME = "STATUS_CODE_ERROR"  # what protobuf's own JSON mapping writes instead of 2
MAX_RAW_CHARS = 4000
_SPAN_LISTS = ("scopeSpans", "instrumentationLibrarySpans")  # the second: OTLP before 0.15


def sniff(line: str) -> bool:
    return line.startswith("{") and line[1:].lstrip().startswith(('"resourceSpans"', '"resourceMetrics"', '"resourceLogs"'))


def any_value(value: Any) -> Any:
    """The Python value of an OTLP/JSON AnyValue (`{"intValue": "10"}` -> 10)."""
    if not isinstance(value, dict):
        return None
    for kind, inner in value.items():
        if kind == "stringValue":
            return inner
        if kind == "intValue":
            return _int(inner)
        if kind == "doubleValue":
            return _float(inner)
        if kind == "boolValue":
            return inner if isinstance(inner, bool) else None
        if kind == "arrayValue":
            return [any_value(v) for v in (inner or {}).get("values", [])]
        if kind == "kvlistValue":
            return {kv.get("key"): any_value(kv.get("value")) for kv in (inner or {}).get("values", [])}
        if kind == "bytesValue":
            return inner
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)  # also "NaN" and "Infinity", as proto JSON writes them
    except (TypeError, ValueError):
        return None


def attributes(items: Any) -> dict[str, Any]:
    """A span's `attributes` list as a dict of decoded values."""
    if not isinstance(items, list):
        return {}
    return {kv["key"]: any_value(kv.get("value")) for kv in items if isinstance(kv, dict) and "key" in kv}


def is_call(attrs: dict[str, Any]) -> bool:
    operation = attrs.get("gen_ai.operation.name")
    if operation is not None:
        return operation in CALL_OPERATIONS
    return attrs.get("gen_ai.provider.name") is not None or attrs.get("gen_ai.system") is not None


def _first(attrs: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None:
            return value
    return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def span_call(span: dict[str, Any], attrs: dict[str, Any], source: str) -> Call:
    """The call a GenAI span describes; raises ValueError when its times are unreadable."""
    start = _nanos(span.get("startTimeUnixNano"))
    end = _nanos(span.get("endTimeUnixNano"))
    if start is None and end is None:
        raise ValueError(f"span {span.get('name')!r} has no start or end time")
    latency = (end - start) / 1e6 if start is not None and end is not None and end >= start else None
    ttft_s = _float(attrs.get("gen_ai.response.time_to_first_chunk"))
    status = span.get("status") if isinstance(span.get("status"), dict) else {}
    failed = _is_error_status(status.get("code"))
    http_status = _int(attrs.get("http.response.status_code"))
    call = Call(
        ts=(end if end is not None else start) / 1e9,
        source=source,
        provider=_text(_first(attrs, "gen_ai.provider.name", "gen_ai.system")),
        endpoint=_text(attrs.get("gen_ai.operation.name")),
        method=_text(attrs.get("http.request.method")),
        model=_text(_first(attrs, "gen_ai.response.model", "gen_ai.request.model")),
        status=http_status,
        latency_ms=latency,
        ttft_ms=ttft_s * 1000.0 if ttft_s is not None else None,
        input_tokens=_int(_first(attrs, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")),
        output_tokens=_int(_first(attrs, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")),
        cached_tokens=_int(attrs.get("gen_ai.usage.cache_read.input_tokens")),
        cache_write_tokens=_int(attrs.get("gen_ai.usage.cache_creation.input_tokens")),
        request_id=_text(attrs.get("gen_ai.response.id")),
        error_code=_text(attrs.get("error.type")),
        error_message=_text(status.get("message")) or None,
        failed=failed,
        stream=attrs.get("gen_ai.request.stream") if isinstance(attrs.get("gen_ai.request.stream"), bool) else None,
    )
    if call.is_error:
        call.raw = json.dumps(span, separators=(",", ":"))[:MAX_RAW_CHARS]
    return call


def _is_error_status(code: Any) -> bool:
    """Status code ERROR, as the number OTLP/JSON uses or the enum name."""
    return code == STATUS_ERROR_NAME or _int(code) == STATUS_ERROR


def _nanos(value: Any) -> int | None:
    """Unix nanoseconds (a decimal string or a number); 0 means unset in OTLP."""
    nanos = _int(value)
    return nanos if nanos else None


def _spans(obj: dict[str, Any]):
    for resource_spans in obj.get("resourceSpans") or []:
        if not isinstance(resource_spans, dict):
            continue
        for key in _SPAN_LISTS:
            for scope_spans in resource_spans.get(key) or []:
                if isinstance(scope_spans, dict):
                    yield from (s for s in scope_spans.get("spans") or [] if isinstance(s, dict))


class OtlpParser(Parser):
    name = NAME

    def feed(self, line: str) -> None:
        obj = json_object(line, self.sink)
        if obj is None:
            return
        if not isinstance(obj.get("resourceSpans"), list):
            self.sink.skip()  # metrics and logs exports, other JSON
            return
        reported = 0
        for span in _spans(obj):
            attrs = attributes(span.get("attributes"))
            if not is_call(attrs):
                continue
            try:
                call = span_call(span, attrs, self.source)
            except ValueError as exc:
                self.sink.unparsed(str(exc), json.dumps(span, separators=(",", ":")))
            else:
                self.sink.call(call)
            reported += 1
        if not reported:
            self.sink.skip()


PARSER = OtlpParser
