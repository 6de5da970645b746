"""Cost estimates for calls whose log does not carry a cost.

Prices come from the `genai-prices` package (a maintained table, imported on
first use so start-up stays fast) or from `[pricing]` overrides in the config
(`model = {input_per_mtok = 2.5, output_per_mtok = 10.0, cached_per_mtok = 1.25}`).
A model's per-token prices are looked up once and cached: the package's own
`calc_price` costs ~200 µs, far too slow per call. Tiered prices (e.g. above
a context length) are not modelled; the base tier is used.

A failed call that reports no output tokens costs 0 (providers do not bill
rejected requests). A call of a model with no known price is left without a
cost and its model is listed in `unpriced_models`, never priced at 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apimon_tui.model import Call

MTOK = 1_000_000
_UNKNOWN = object()


@dataclass(frozen=True, slots=True)
class UnitPrices:
    """USD per token."""

    input: float
    output: float
    cached: float


def _from_override(entry: dict[str, Any]) -> UnitPrices:
    inp = float(entry.get("input_per_mtok", 0.0)) / MTOK
    out = float(entry.get("output_per_mtok", 0.0)) / MTOK
    cached = float(entry.get("cached_per_mtok", entry.get("input_per_mtok", 0.0))) / MTOK
    return UnitPrices(inp, out, cached)


def _from_table(model: str, provider: str | None) -> UnitPrices | None:
    try:
        from genai_prices import Usage, calc_price
    except ImportError:  # pragma: no cover - the package is a dependency
        return None

    def price(usage: Usage) -> float | None:
        for pid in ([provider, None] if provider else [None]):
            try:
                return float(calc_price(usage, model_ref=model, provider_id=pid).total_price)
            except (LookupError, ValueError):
                continue
        return None

    inp = price(Usage(input_tokens=MTOK))
    if inp is None:
        return None
    out = price(Usage(output_tokens=MTOK)) or 0.0
    cached = price(Usage(input_tokens=MTOK, cache_read_tokens=MTOK))
    return UnitPrices(inp / MTOK, out / MTOK, (cached if cached is not None else inp) / MTOK)


def load_table() -> None:
    """Load the package's price table now rather than when the first call is priced.

    It takes ~0.35 s and builds some 44,000 objects that live as long as the
    program: the monitor loads it in a thread once its screen is up, before it
    freezes its start-up heap (see `MonitorApp.on_requests_panel_chart_ready`).
    """
    try:
        from genai_prices import data_snapshot
    except ImportError:  # pragma: no cover - the package is a dependency
        return
    data_snapshot.get_snapshot()


class Pricer:
    def __init__(self, overrides: dict[str, dict[str, Any]] | None = None) -> None:
        self._prices: dict[tuple[str, str | None], UnitPrices | None] = {}
        self._overrides = {name: _from_override(entry) for name, entry in (overrides or {}).items()}
        self.unpriced: set[str] = set()

    def unit_prices(self, model: str, provider: str | None = None) -> UnitPrices | None:
        key = (model, provider)
        if key not in self._prices:
            self._prices[key] = self._overrides.get(model) or _from_table(model, provider)
        return self._prices[key]

    def estimate(self, call: Call) -> float | None:
        """The call's cost in USD, or None when it cannot be known (runs per call)."""
        inp = call.input_tokens
        out = call.output_tokens
        status = call.status
        if not out and (call.failed or (status is not None and status >= 400)):
            return 0.0
        model = call.model
        if (inp is None and out is None) or not model:
            return None
        if type(model) is not str or (call.provider is not None and type(call.provider) is not str):
            return None  # a name that is no text (a list from a broken log line) has no price
        prices = self._prices.get((model, call.provider), _UNKNOWN)
        if prices is _UNKNOWN:
            prices = self.unit_prices(model, call.provider)
        if prices is None:
            self.unpriced.add(model)
            return None
        inp = inp or 0
        cached = call.cached_tokens
        cached = min(cached, inp) if cached else 0
        return (inp - cached) * prices.input + cached * prices.cached + (out or 0) * prices.output
