"""Alert rules: what each kind watches, its thresholds, and how it is read from the config.

A rule has one threshold per severity it can reach (`info`, `warning`,
`critical`), a `for` duration the condition must hold before it fires, a
hysteresis (`clear`: it resolves only once the value is back past `clear` x the
threshold, and has stayed there for `hold`), and a `cooldown` before the same
alert may fire again. The shipped rules are the tables under `[alerts]` named
after their kind; `[[alerts.rules]]` adds more of the same kinds with other
thresholds or scopes (`model`, `source`, `provider`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apimon_tui.core.config import ConfigError
from apimon_tui.store.metrics import CallFilter
from apimon_tui.core.timeutil import format_duration, parse_duration

SEVERITIES = ("info", "warning", "critical")
RANK = {name: i for i, name in enumerate(SEVERITIES)}

_COMMON = {"kind", "name", "enabled", "for", "hold", "clear", "cooldown", "severity", *SEVERITIES}


@dataclass(frozen=True, slots=True)
class Kind:
    """What a kind of rule measures: its unit, which options it takes, how it compares."""

    name: str
    unit: str                     # "%", "ms", "count", "duration", "polls", "x", "flag"
    options: frozenset[str]       # options beyond the common ones
    inclusive: bool = False       # fires at the threshold (counts) rather than above it
    needs_store: bool = False


KINDS = {k.name: k for k in (
    Kind("budget", "%", frozenset({"provider"}), inclusive=True),
    Kind("forecast", "%", frozenset()),
    Kind("error_rate", "%", frozenset({"window", "min_calls", "per_model", "model", "source"}), needs_store=True),
    Kind("server_errors", "count", frozenset({"window", "model", "source"}), inclusive=True, needs_store=True),
    Kind("rate_limited", "count", frozenset({"window", "headroom", "model", "source"}), inclusive=True,
         needs_store=True),
    Kind("latency", "ms", frozenset({"window", "min_calls", "per_model", "model", "source"}), needs_store=True),
    Kind("no_traffic", "duration", frozenset({"window", "min_calls", "source"}), needs_store=True),
    Kind("unpriced_model", "flag", frozenset({"model"}), inclusive=True),
    Kind("usage_stale", "polls", frozenset({"provider"})),
    Kind("spend_drift", "%", frozenset()),
    Kind("spend_spike", "x", frozenset({"min_usd"})),
)}


@dataclass(frozen=True, slots=True)
class Cause:
    """Where Enter on an alert leads: the failed calls under a filter, or the budget panel."""

    target: str                   # "failed" or "budget"
    model: str = ""
    status: str = ""
    source: str = ""
    window_s: float | None = None

    def filter(self) -> CallFilter:
        return CallFilter(model=self.model, status=self.status, source=self.source)


@dataclass(slots=True)
class Rule:
    name: str
    kind: str
    levels: tuple[tuple[str, float], ...]   # (severity, threshold), lowest severity first
    enabled: bool = True
    for_s: float = 0.0
    hold_s: float = 0.0
    clear: float = 1.0
    cooldown_s: float = 0.0
    window_s: float | None = None
    min_calls: int = 0
    per_model: bool = False
    model: str = ""
    source: str = ""
    provider: str = ""
    headroom: float = 10.0        # rate_limited: percent of the limit left
    min_usd: float = 0.0          # spend_spike: the last hour must cost at least this

    @property
    def spec(self) -> Kind:
        return KINDS[self.kind]

    @property
    def lowest(self) -> str:
        return self.levels[0][0]

    def call_filter(self) -> CallFilter:
        return CallFilter(model=self.model, source=self.source)

    def threshold(self, severity: str) -> float:
        return dict(self.levels)[severity]


def _duration(value: Any, where: str) -> float:
    try:
        seconds = parse_duration(str(value))
    except ValueError:
        raise ConfigError(f"config: {where} must be a duration like \"5m\" or \"30s\", not {value!r}") from None
    if seconds < 0:
        raise ConfigError(f"config: {where} must not be negative")
    return seconds


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"config: {where} must be a number, not {value!r}")
    return float(value)


def parse_rule(table: dict[str, Any], where: str, default_name: str | None = None) -> Rule:
    """One rule from its config table; raises ConfigError naming the key at fault."""
    kind = table.get("kind", default_name)
    if kind not in KINDS:
        raise ConfigError(f"config: {where}.kind must be one of {', '.join(KINDS)}, not {kind!r}")
    spec = KINDS[kind]
    unknown = sorted(set(table) - _COMMON - spec.options)
    if unknown:
        raise ConfigError(f"config: {where} has no option {unknown[0]!r} (a {kind} rule takes "
                          f"{', '.join(sorted(_COMMON - {'kind', 'name', 'severity'} | spec.options))})")
    name = str(table.get("name") or default_name or kind)
    rule = Rule(name, kind, _levels(table, spec, where))
    rule.enabled = _flag(table, "enabled", True, where)
    rule.for_s = _duration(table.get("for", 0), f"{where}.for")
    rule.hold_s = _duration(table.get("hold", 0), f"{where}.hold")
    rule.cooldown_s = _duration(table.get("cooldown", 0), f"{where}.cooldown")
    rule.clear = _number(table.get("clear", 1.0), f"{where}.clear")
    if not 0 < rule.clear <= 1:
        raise ConfigError(f"config: {where}.clear must be a fraction of the threshold, above 0 and at most 1")
    if "window" in spec.options:
        rule.window_s = _duration(table.get("window", "5m"), f"{where}.window")
        if not rule.window_s:
            raise ConfigError(f"config: {where}.window must be longer than 0s")
    if "min_calls" in table:
        rule.min_calls = int(_number(table["min_calls"], f"{where}.min_calls"))
    rule.per_model = _flag(table, "per_model", False, where)
    for key in ("model", "source", "provider"):
        if key in table:
            if not isinstance(table[key], str):
                raise ConfigError(f"config: {where}.{key} must be a string")
            setattr(rule, key, table[key])
    if "headroom" in table:
        rule.headroom = _number(table["headroom"], f"{where}.headroom")
    if "min_usd" in table:
        rule.min_usd = _number(table["min_usd"], f"{where}.min_usd")
    return rule


def _flag(table: dict[str, Any], key: str, default: bool, where: str) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"config: {where}.{key} must be true or false")
    return value


def _levels(table: dict[str, Any], spec: Kind, where: str) -> tuple[tuple[str, float], ...]:
    if spec.unit == "flag":
        severity = table.get("severity", "info")
        if severity not in SEVERITIES:
            raise ConfigError(f"config: {where}.severity must be one of {', '.join(SEVERITIES)}")
        return ((severity, 1.0),)
    levels = []
    for severity in SEVERITIES:
        if severity not in table:
            continue
        value = table[severity]
        if spec.unit == "duration":
            threshold = _duration(value, f"{where}.{severity}")
        else:
            threshold = _number(value, f"{where}.{severity}")
        levels.append((severity, threshold))
    if not levels:
        raise ConfigError(f"config: {where} needs a threshold: info, warning or critical")
    return tuple(levels)


def rules_from_config(config: dict[str, Any]) -> list[Rule]:
    """The shipped rules (tables named after their kind) then the user's `[[alerts.rules]]`."""
    section = config.get("alerts") or {}
    rules = [parse_rule(section[kind], f"alerts.{kind}", kind) for kind in KINDS if isinstance(section.get(kind), dict)]
    extra = section.get("rules") or []
    if not isinstance(extra, list):
        raise ConfigError("config: alerts.rules must be a list of tables ([[alerts.rules]])")
    for i, table in enumerate(extra):
        where = f"alerts.rules[{i}]"
        if not isinstance(table, dict):
            raise ConfigError(f"config: {where} must be a table")
        if "kind" not in table:
            raise ConfigError(f"config: {where} needs a kind ({', '.join(KINDS)})")
        rules.append(parse_rule(table, where, None if table.get("name") else f"{table['kind']}#{i + 1}"))
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            raise ConfigError(f"config: two alert rules are named {rule.name!r}; give each a different name")
        seen.add(rule.name)
    return rules


def format_value(unit: str, value: float, *, threshold: bool = False) -> str:
    """A rule's figure as shown in messages: `23.1%`, `12,300 ms`, `7`, `22m`, `4.2x`."""
    if unit == "%":
        return f"{value:g}%" if threshold else f"{value:.1f}%"
    if unit == "ms":
        return f"{value:,.0f} ms"
    if unit == "duration":
        return format_duration(value)
    if unit == "x":
        return f"{value:g}x" if threshold else f"{value:.1f}x"
    if unit == "polls":
        return f"{value:g}" if threshold else f"{value:.1f}"
    return f"{value:,.0f}"
