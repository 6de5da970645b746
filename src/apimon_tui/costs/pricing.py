"""Cost estimates for calls whose log does not carry a cost.

Prices come from the `genai-prices` package (a maintained table, imported on
first use so start-up stays fast; the sheets a run looked up are kept for the
next runs, `price_cache`) or from `[pricing]` overrides in the config
(`model = {input_per_mtok = 2.5, output_per_mtok = 10.0, cached_per_mtok = 1.25}`).

Each call is priced from its own tokens: `input_tokens` is the whole prompt,
of which `cached_tokens` were read from the provider's cache and
`cache_write_tokens` written to it (`cache_write_1h_tokens` of those with
Anthropic's 1-hour lifetime). Each part has its own rate: the table's cache
rates where it has them, else Anthropic's published multiples of the input
price (reads 0.1x, 5-minute writes 1.25x, 1-hour writes 2x) for Claude
models, else the input price.

Tiered prices are decided per call by that call's whole prompt, as the
providers bill them: past a tier's start (e.g. 200k input tokens for
`claude-sonnet-4-5`) every token of the call pays the tier's rates. A model's
prices are looked up once and kept as a `PriceSheet`, one `UnitPrices` per
tier: the package's own `calc_price` costs ~200 µs, far too slow per call.
Prices that change with the time of day (off-peak discounts) are taken as
they stand at the first lookup.

A failed call that reports no output tokens costs 0 (providers do not bill
rejected requests). A call of a model with no known price is left without a
cost and its model is listed in `unpriced_models`, never priced at 0.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from apimon_tui.core.config import ConfigError
from apimon_tui.core.columns import CallColumns
from apimon_tui.core.model import Call
from apimon_tui.costs import price_cache

MTOK = 1_000_000
_UNKNOWN = object()

# Anthropic's cache rates as multiples of the input price, for Claude models the table gives no
# cache rate for (docs.anthropic.com/en/docs/build-with-claude/prompt-caching#pricing).
ANTHROPIC_CACHE_READ = Decimal("0.1")
ANTHROPIC_CACHE_WRITE_5M = Decimal("1.25")
ANTHROPIC_CACHE_WRITE_1H = Decimal("2")

# `[pricing]` override keys, USD per million tokens; `tiers` holds entries of the same keys
# plus `above_input_tokens`.
OVERRIDE_PRICES = ("input_per_mtok", "output_per_mtok", "cached_per_mtok",
                   "cache_write_per_mtok", "cache_write_1h_per_mtok")
TIER_START = "above_input_tokens"


@dataclass(frozen=True, slots=True)
class UnitPrices:
    """USD per token, one figure per kind of token."""

    input: float
    output: float
    cached: float
    cache_write: float
    cache_write_1h: float

    def cost(self, call: Call, prompt: int) -> float:
        """The call's cost; `prompt` is its whole input, cache reads and writes included."""
        read = call.cached_tokens or 0  # each part at most what is left of the prompt (`min` is slow here)
        if read > prompt:
            read = prompt
        written = call.cache_write_tokens or 0
        if written > prompt - read:
            written = prompt - read
        long_lived = call.cache_write_1h_tokens or 0
        if long_lived > written:
            long_lived = written
        return ((prompt - read - written) * self.input + read * self.cached
                + (written - long_lived) * self.cache_write + long_lived * self.cache_write_1h
                + (call.output_tokens or 0) * self.output)


class PriceSheet:
    """A model's prices per tier: `tiers[i]` applies to a call whose prompt exceeds `starts[i]`."""

    __slots__ = ("base", "starts", "tiers", "base_up_to")

    def __init__(self, base: UnitPrices, starts: tuple[int, ...] = (), tiers: tuple[UnitPrices, ...] = ()) -> None:
        self.base = base
        self.starts = starts
        self.tiers = tiers
        self.base_up_to = starts[0] if starts else sys.maxsize  # the largest prompt the base tier prices

    def __repr__(self) -> str:
        return f"PriceSheet({self.base!r}, starts={self.starts!r}, tiers={self.tiers!r})"

    def for_prompt(self, prompt: int) -> UnitPrices:
        prices = self.base
        for start, tier in zip(self.starts, self.tiers):
            if prompt <= start:
                break
            prices = tier
        return prices


def _per_token(per_mtok: Decimal | float) -> float:
    return float(Decimal(per_mtok) / MTOK)


def _unit_prices(per_mtok: dict[str, Decimal | float | None], claude: bool) -> UnitPrices:
    """Per-token prices from per-million figures; a missing cache rate falls back as the module says."""
    inp = per_mtok["input"] or 0
    output = per_mtok.get("output") or 0
    cached, write, write_1h = per_mtok.get("cached"), per_mtok.get("cache_write"), per_mtok.get("cache_write_1h")
    if cached is None:
        cached = Decimal(inp) * ANTHROPIC_CACHE_READ if claude else inp
    if write is None:
        write = Decimal(inp) * ANTHROPIC_CACHE_WRITE_5M if claude else inp
    if write_1h is None:
        write_1h = Decimal(inp) * ANTHROPIC_CACHE_WRITE_1H if claude else write
    return UnitPrices(_per_token(inp), _per_token(output), _per_token(cached), _per_token(write),
                      _per_token(write_1h))


# -- the genai-prices table ---------------------------------------------------

_TABLE_KEYS = {
    "input": "input_mtok", "output": "output_mtok", "cached": "cache_read_mtok",
    "cache_write": "cache_write_mtok", "cache_write_5m": "cache_write_5m_mtok",
    "cache_write_1h": "cache_write_1h_mtok",
}


def _at(price: Any, prompt: int) -> Decimal | None:
    """A table price (a number or tiered prices) for a call of `prompt` input tokens."""
    if price is None or not hasattr(price, "tiers"):
        return price
    applicable = price.base
    for tier in price.tiers:
        if prompt > tier.start:
            applicable = tier.price
    return applicable


def _sheet_from_table(model_price: Any, claude: bool) -> PriceSheet | None:
    """The tiers of a table entry; None when it prices no tokens (audio hours, characters...)."""
    raw = {name: getattr(model_price, key, None) for name, key in _TABLE_KEYS.items()}
    if raw["cache_write_5m"] is not None:
        raw["cache_write"] = raw["cache_write_5m"]
    del raw["cache_write_5m"]
    if raw["input"] is None and raw["output"] is None:
        has_prices = any(v is not None for k, v in vars(model_price).items() if not k.startswith("_"))
        return None if has_prices else PriceSheet(UnitPrices(0.0, 0.0, 0.0, 0.0, 0.0))  # listed as free
    starts = sorted({tier.start for price in raw.values() if hasattr(price, "tiers") for tier in price.tiers})
    sheets = [_unit_prices({name: _at(price, prompt) for name, price in raw.items()}, claude)
              for prompt in (0, *(start + 1 for start in starts))]
    return PriceSheet(sheets[0], tuple(starts), tuple(sheets[1:]))


def _from_table(model: str, provider: str | None) -> tuple[PriceSheet | None, bool]:
    """The table's sheet for the model (None: no price), and whether that answer holds at any time
    (prices that change from a date or with the hour do not)."""
    try:
        from genai_prices import data_snapshot
    except ImportError:  # pragma: no cover - the package is a dependency
        return None, False
    snapshot = data_snapshot.get_snapshot()
    for pid in ([provider, None] if provider else [None]):
        try:
            found, info = snapshot.find_provider_model(model, None, pid, None)
            model_price = info.get_prices(datetime.now(tz=UTC))
        except (LookupError, ValueError):
            continue
        claude = found.id == "anthropic" or info.id.startswith("claude")
        return _sheet_from_table(model_price, claude), not isinstance(info.prices, list)
    return None, True


def _sheet_parts(sheet: PriceSheet | None) -> price_cache.Sheet | None:
    if sheet is None:
        return None
    return _prices_of(sheet.base), sheet.starts, tuple(map(_prices_of, sheet.tiers))


def _prices_of(prices: UnitPrices) -> price_cache.Prices:
    return prices.input, prices.output, prices.cached, prices.cache_write, prices.cache_write_1h


def _sheet_of(parts: price_cache.Sheet | None) -> PriceSheet | None:
    if parts is None:
        return None
    base, starts, tiers = parts
    return PriceSheet(UnitPrices(*base), starts, tuple(UnitPrices(*tier) for tier in tiers))


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


# -- `[pricing]` overrides ----------------------------------------------------

def _override_figures(entry: dict[str, Any]) -> dict[str, float | None]:
    return {
        "input": entry.get("input_per_mtok", 0.0), "output": entry.get("output_per_mtok", 0.0),
        "cached": entry.get("cached_per_mtok"), "cache_write": entry.get("cache_write_per_mtok"),
        "cache_write_1h": entry.get("cache_write_1h_per_mtok"),
    }


def _check_prices(where: str, entry: Any, allowed: tuple[str, ...]) -> None:
    if not isinstance(entry, dict):
        raise ConfigError(f"config: {where} must be a table like {{input_per_mtok = 2.5, output_per_mtok = 10.0}}")
    for key, value in entry.items():
        if key not in allowed:
            raise ConfigError(f"config: {where}.{key} is not a price option (use {', '.join(allowed)})")
        if key in OVERRIDE_PRICES and (isinstance(value, bool) or not isinstance(value, (int, float))
                                       or not math.isfinite(value) or value < 0):
            raise ConfigError(f"config: {where}.{key} must be a number of USD per million tokens, not {value!r}")


def sheet_from_override(name: str, entry: Any) -> PriceSheet:
    """A `[pricing]` entry's sheet; raises ConfigError, worded for the user, when it is broken.

    Each tier keeps the prices of the tier below that it does not give; a cache
    rate no tier gives falls back to its tier's input price (a 1-hour write to
    the 5-minute one).
    """
    where = f"pricing.{name}"
    _check_prices(where, entry, (*OVERRIDE_PRICES, "tiers"))
    tiers = entry.get("tiers", [])
    if not isinstance(tiers, list):
        raise ConfigError(f"config: {where}.tiers must be a list of tables like "
                          f"{{{TIER_START} = 200000, input_per_mtok = 6.0}}")
    for i, tier in enumerate(tiers):
        _check_prices(f"{where}.tiers[{i}]", tier, (TIER_START, *OVERRIDE_PRICES))
        start = tier.get(TIER_START)
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ConfigError(f"config: {where}.tiers[{i}].{TIER_START} must be a whole number of "
                              f"input tokens, not {start!r}")
    starts = sorted(tier[TIER_START] for tier in tiers)
    if len(set(starts)) < len(starts):
        raise ConfigError(f"config: {where}.tiers has two tiers that start above the same number of input tokens")
    figures = {k: v for k, v in entry.items() if k != "tiers"}
    sheets = [_unit_prices(_override_figures(figures), claude=False)]
    for tier in sorted(tiers, key=lambda tier: tier[TIER_START]):
        figures = {**figures, **tier}
        sheets.append(_unit_prices(_override_figures(figures), claude=False))
    return PriceSheet(sheets[0], tuple(starts), tuple(sheets[1:]))


def parse_overrides(table: dict[str, Any] | None) -> dict[str, PriceSheet]:
    """Every `[pricing]` entry's sheet; raises ConfigError on the first broken one."""
    return {str(name): sheet_from_override(str(name), entry) for name, entry in (table or {}).items()}


class Pricer:
    def __init__(self, overrides: dict[str, dict[str, Any]] | None = None,
                 cache: price_cache.PriceCache | None = None) -> None:
        self._sheets: dict[tuple[str, str | None], PriceSheet | None] = {}
        self._overrides = parse_overrides(overrides)
        self._cache = cache if cache is not None else price_cache.PriceCache()
        self.unpriced: set[str] = set()

    def sheet(self, model: str, provider: str | None = None) -> PriceSheet | None:
        key = (model, provider)
        if key not in self._sheets:
            self._sheets[key] = self._overrides.get(model) or self._table_sheet(model, provider)
        return self._sheets[key]

    def _table_sheet(self, model: str, provider: str | None) -> PriceSheet | None:
        """The table's sheet, from the cache of earlier runs where it holds it (`price_cache`)."""
        kept = self._cache.get(model, provider)
        if kept is not price_cache.MISSING:
            return _sheet_of(kept)
        sheet, lasting = _from_table(model, provider)
        if lasting:
            self._cache.put(model, provider, _sheet_parts(sheet))
        return sheet

    def unit_prices(self, model: str, provider: str | None = None) -> UnitPrices | None:
        """The model's base-tier prices (below any long-context tier)."""
        sheet = self.sheet(model, provider)
        return None if sheet is None else sheet.base

    def estimate_columns(self, calls: CallColumns, rows) -> None:
        """`estimate` for the calls at `rows` (a numpy array of row numbers) of columns in bulk,
        written into `calls.cost_usd` (NaN where the cost cannot be known).

        These are calls not given whole, so none failed, none ended its stream
        early and none wrote to the cache (`CallColumns`): their cost is the
        prompt's, the cache reads' and the output's, priced per model and
        provider, with the same floating point steps as `estimate`.
        """
        import numpy as np

        inp, out = calls.input_tokens[rows], calls.output_tokens[rows]
        rows = rows[~(np.isnan(inp) & np.isnan(out))]
        providers = calls.providers if calls.provider is not None else [None]
        provider = calls.provider[rows] if calls.provider is not None else np.zeros(len(rows), dtype=np.int64)
        pair = calls.model[rows] * len(providers) + provider
        for code in np.flatnonzero(np.bincount(pair)).tolist():  # (`np.unique` imports numpy.ma: 23 ms)
            model, provider_name = calls.models[code // len(providers)], providers[code % len(providers)]
            if not model:
                continue
            sheet = self._sheets.get((model, provider_name), _UNKNOWN)
            if sheet is _UNKNOWN:
                sheet = self.sheet(model, provider_name)
            if sheet is None:
                self.unpriced.add(model)
                continue
            mine = rows[pair == code]
            prompt = np.nan_to_num(calls.input_tokens[mine])
            read = np.minimum(np.nan_to_num(calls.cached_tokens[mine]), prompt)
            output = np.nan_to_num(calls.output_tokens[mine])
            prices = sheet.base
            cost = (prompt - read) * prices.input + read * prices.cached + output * prices.output
            for i in np.flatnonzero(prompt > sheet.base_up_to).tolist():  # a long-context tier, call by call
                prices = sheet.for_prompt(int(prompt[i]))
                cost[i] = (prompt[i] - read[i]) * prices.input + read[i] * prices.cached + output[i] * prices.output
            calls.cost_usd[mine] = cost

    def estimate(self, call: Call) -> float | None:
        """The call's cost in USD, or None when it cannot be known (runs per call)."""
        inp = call.input_tokens
        out = call.output_tokens
        status = call.status
        if not out and (call.failed or (status is not None and status >= 400)):
            return 0.0
        if out is None and call.stream_ended == "abandoned":
            return None  # the output generated before it was dropped was never counted
        model = call.model
        if (inp is None and out is None) or not model:
            return None
        if type(model) is not str or (call.provider is not None and type(call.provider) is not str):
            return None  # a name that is no text (a list from a broken log line) has no price
        sheet = self._sheets.get((model, call.provider), _UNKNOWN)
        if sheet is _UNKNOWN:
            sheet = self.sheet(model, call.provider)
        if sheet is None:
            self.unpriced.add(model)
            return None
        prompt = inp or 0
        prices = sheet.base if prompt <= sheet.base_up_to else sheet.for_prompt(prompt)
        if call.cache_write_tokens:
            return prices.cost(call, prompt)
        read = call.cached_tokens or 0  # `UnitPrices.cost` without writes, inlined: this runs once per call
        if read > prompt:
            read = prompt
        return (prompt - read) * prices.input + read * prices.cached + (out or 0) * prices.output
