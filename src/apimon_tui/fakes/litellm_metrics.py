"""A stand-in for a LiteLLM proxy's `/metrics`: LiteLLM's metric names and labels, with values the test sets.

The names, types and labels are those docs/proxy/prometheus.md lists
(see reference/formats.md 4.7): counters exposed as `<name>_total` by
`prometheus-client`, the request latency histogram in seconds. `record`
moves them as a proxy would for a batch of requests; the test knows every
value it served.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

# Buckets of the shape LiteLLM's latency histograms use (fine under 1 s, half seconds to 10 s, coarse
# beyond); `prom://` reads whatever `le` bounds a histogram has, so the exact set does not matter.
LATENCY_BUCKETS = (0.005, 0.00625, 0.0125, 0.025, 0.05, 0.1, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5,
                   6.0, 6.5, 7.0, 7.5, 8.0, 8.5, 9.0, 9.5, 10.0, 15.0, 20.0, 25.0, 30.0, 60.0, 120.0, 180.0, 240.0,
                   300.0, float("inf"))
_USER_LABELS = ["end_user", "hashed_api_key", "api_key_alias", "requested_model", "team", "team_alias", "user"]


class LiteLLMMetrics:
    """One proxy's metrics, served on 127.0.0.1 at `url` until `close()`."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.total = Counter("litellm_proxy_total_requests_metric", "Total requests to the proxy",
                             [*_USER_LABELS, "status_code"], registry=registry)
        self.failed = Counter("litellm_proxy_failed_requests_metric", "Failed responses from the proxy",
                              [*_USER_LABELS, "exception_status", "exception_class"], registry=registry)
        self.latency = Histogram("litellm_request_total_latency_metric", "Total latency (seconds) of a request",
                                 [*_USER_LABELS, "model"], buckets=LATENCY_BUCKETS, registry=registry)
        self.spend = Counter("litellm_spend_metric", "Total spend on LLM requests",
                             ["end_user", "hashed_api_key", "api_key_alias", "model", "team", "team_alias", "user"],
                             registry=registry)
        self.input_tokens = Counter("litellm_input_tokens_metric", "Input tokens", [*_USER_LABELS, "model"],
                                    registry=registry)
        self.output_tokens = Counter("litellm_output_tokens_metric", "Output tokens", [*_USER_LABELS, "model"],
                                     registry=registry)
        self.remaining_requests = Gauge("litellm_remaining_requests_metric", "x-ratelimit-remaining-requests",
                                        ["model_group", "api_provider", "api_base", "litellm_model_name",
                                         "hashed_api_key", "api_key_alias"], registry=registry)
        self._server, self._thread = start_http_server(0, "127.0.0.1", registry=registry)
        self.address = f"127.0.0.1:{self._server.server_port}"
        self.url = f"http://{self.address}/metrics"

    def _user(self, model: str) -> dict[str, str]:
        return {"end_user": "", "hashed_api_key": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
                "api_key_alias": "ci", "requested_model": model, "team": "", "team_alias": "", "user": ""}

    def start(self, model: str) -> None:
        """Expose every series of `model` at 0, as a proxy does once it has seen the model."""
        self.record(model, latencies_s=(), failures=0, spend_usd=0.0, input_tokens=0, output_tokens=0)

    def record(self, model: str, *, latencies_s: Sequence[float], failures: int, spend_usd: float,
               input_tokens: int, output_tokens: int, remaining_requests: int | None = None,
               exception_status: str = "429", exception_class: str = "RateLimitError") -> None:
        """Successful requests (one per latency) and `failures` failed ones of `model`."""
        user = self._user(model)
        self.total.labels(**user, status_code="200").inc(len(latencies_s))
        self.total.labels(**user, status_code=exception_status).inc(failures)
        self.failed.labels(**user, exception_status=exception_status, exception_class=exception_class).inc(failures)
        histogram = self.latency.labels(**user, model=model)
        for value in latencies_s:
            histogram.observe(value)
        spend_labels = {k: v for k, v in user.items() if k != "requested_model"}
        self.spend.labels(**spend_labels, model=model).inc(spend_usd)
        self.input_tokens.labels(**user, model=model).inc(input_tokens)
        self.output_tokens.labels(**user, model=model).inc(output_tokens)
        if remaining_requests is not None:
            self.remaining_requests.labels(model_group=model, api_provider="openai", api_base="https://api.openai.com",
                                           litellm_model_name=model, hashed_api_key=user["hashed_api_key"],
                                           api_key_alias="ci").set(remaining_requests)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
