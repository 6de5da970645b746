"""Every problem in a config file at once, each with its key and line.

`config.load` stops at the first problem, which is right for starting up and
tiresome for fixing a file. `validate` walks the whole file against
`config.DEFAULTS` (unknown keys with a "did you mean", wrong types, bad
durations, unknown choices, negative numbers, keys stored inline where others
can read them, `[keys]` ids and key names), then runs the owning modules' own parsers (budget, providers,
alert rules) on each table that passed, so `config check` agrees with what the
program enforces. tomllib gives no line numbers, so `KeyLines` finds them by
scanning the text.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apimon_tui.core import config as config_mod
from apimon_tui.core.config import DEFAULTS, OPEN_SECTIONS, ConfigError
from apimon_tui.formats import FORMAT_MODULES
from apimon_tui.core.key_names import BINDING_IDS, key_problem
from apimon_tui.costs.pricing import OVERRIDE_PRICES, TIER_START, sheet_from_override
from apimon_tui.core.redact import redact
from apimon_tui.core.timeutil import parse_duration

SEVERITIES = ("info", "warning", "critical")
SHIPPED_THEMES = Path(__file__).parents[1] / "themes"

# Options whose value must be one of a few words.
CHOICES: dict[str, tuple[str, ...]] = {
    "sources.format": ("auto", *FORMAT_MODULES),
    "jsonl.ts_unit": ("auto", "s", "ms", "iso"),
    "jsonl.latency_unit": ("ms", "s"),
    "severity": SEVERITIES,
}
# Durations whose default ("") does not show that they are durations.
EXTRA_DURATIONS = {"sources.since"}
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Problem:
    key: str
    line: int | None
    message: str

    def render(self, path: str) -> str:
        where = f"{path}:{self.line}" if self.line else path
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


# -- where keys are ----------------------------------------------------------

_KEY_PART = r'(?:[A-Za-z0-9_\-]+|"[^"]*"|\'[^\']*\')'
_KEY_LINE = re.compile(rf"^\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*=")
_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*\]\]?")
_INLINE_KEY = re.compile(rf"[{{,]\s*({_KEY_PART})\s*=")


def _split_key(text: str) -> list[str]:
    return [part.strip().strip("\"'") for part in re.findall(_KEY_PART, text)]


class KeyLines:
    """Line numbers of the keys and tables in a TOML text, by dotted path (`alerts.rules[1].kind`)."""

    def __init__(self, text: str) -> None:
        self.lines: dict[str, int] = {}
        table: list[str] = []
        arrays: dict[str, int] = {}
        in_string = None
        for number, line in enumerate(text.splitlines(), 1):
            if in_string:
                if in_string in line:
                    in_string = None
                continue
            header = _HEADER.match(line)
            if header:
                parts = _split_key(header.group(2))
                name = ".".join(parts)
                if header.group(1) == "[[":
                    arrays[name] = arrays.get(name, -1) + 1
                    table = [*parts[:-1], f"{parts[-1]}[{arrays[name]}]"]
                else:
                    table = self._with_indexes(parts, arrays)
                self.lines.setdefault(".".join(table), number)
                continue
            key = _KEY_LINE.match(line)
            if not key:
                continue
            path = [*table, *_split_key(key.group(1))]
            self.lines.setdefault(".".join(path), number)
            rest = line[key.end():]
            for inner in _INLINE_KEY.finditer(rest):
                self.lines.setdefault(".".join([*path, *_split_key(inner.group(1))]), number)
            for quote in ('"""', "'''"):
                if rest.count(quote) == 1:
                    in_string = quote

    @staticmethod
    def _with_indexes(parts: list[str], arrays: dict[str, int]) -> list[str]:
        """`[alerts.rules.x]` after `[[alerts.rules]]` belongs to the last rule."""
        out: list[str] = []
        for part in parts:
            plain = ".".join([*(p.split("[")[0] for p in out), part])
            out.append(f"{part}[{arrays[plain]}]" if plain in arrays else part)
        return out

    def find(self, key: str) -> int | None:
        """The line of `key`, else of the closest table holding it."""
        parts = key.split(".")
        while parts:
            line = self.lines.get(".".join(parts))
            if line is not None:
                return line
            if "[" in parts[-1]:  # an item of a plain list: the list's own line
                parts[-1] = parts[-1].split("[")[0]
                continue
            parts.pop()
        return None


# -- checking ------------------------------------------------------------------


class _Checker:
    def __init__(self, text: str, mode: int | None) -> None:
        self.where = KeyLines(text)
        self.mode = mode
        self.problems: list[Problem] = []

    def add(self, key: str, message: str) -> None:
        self.problems.append(Problem(key, self.where.find(key), message))

    def count(self) -> int:
        return len(self.problems)

    # generic walk against DEFAULTS

    def table(self, data: dict[str, Any], defaults: dict[str, Any], prefix: str) -> None:
        for key, value in data.items():
            path = f"{prefix}{key}"
            if key not in defaults:
                self.unknown(path, key, defaults)
                continue
            default = defaults[key]
            if isinstance(default, dict):
                if not isinstance(value, dict):
                    self.add(path, "must be a table")
                elif not default or path in OPEN_SECTIONS:
                    self.open_table(path, value)
                else:
                    self.table(value, default, path + ".")
            elif isinstance(default, list):
                self.list_option(path, value)
            else:
                self.scalar(path, key, value, default)

    def unknown(self, path: str, key: str, defaults: dict[str, Any]) -> None:
        close = difflib.get_close_matches(key, list(defaults), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        self.add(path, f"unknown key{hint}")

    def scalar(self, path: str, key: str, value: Any, default: Any) -> None:
        if not _same_type(value, default):
            self.add(path, f"must be {_type_name(default)}, not {_show(value)}")
            return
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            self.add(path, "must not be negative")
        if not isinstance(value, str):
            return
        choices = CHOICES.get(path) or CHOICES.get(key)
        if choices and value not in choices:
            self.add(path, f"must be one of {', '.join(choices)}, not {value!r}")
        elif _is_duration(path, default) and value:
            try:
                if parse_duration(value) < 0:
                    self.add(path, "must not be negative")
            except ValueError:
                self.add(path, f'must be a duration like "30s", "5m" or "1h", not {value!r}')
        elif key.endswith("_env") and value and not ENV_NAME.match(value):
            self.add(path, "must name an environment variable (like OPENAI_ADMIN_KEY), not hold the key itself")

    def list_option(self, path: str, value: Any) -> None:
        if not isinstance(value, list):
            self.add(path, f"must be a list, not {_show(value)}")
        elif path == "alerts.rules":
            for i, entry in enumerate(value):
                self.alert_rule(f"{path}[{i}]", entry)
        elif path == "budget.scopes":
            for i, entry in enumerate(value):
                self.budget_scope(f"{path}[{i}]", entry)
        elif not all(isinstance(item, str) for item in value):
            self.add(path, "must be a list of strings")

    def open_table(self, path: str, value: dict[str, Any]) -> None:
        """Tables of user-chosen names: price overrides, per-provider budgets, key bindings."""
        for name, entry in value.items():
            where = f"{path}.{name}"
            if path == "pricing":
                self.price(where, entry)
            elif path == "keys":
                self.key_binding(where, name, entry)
            elif isinstance(entry, bool) or not isinstance(entry, (int, float)):
                self.add(where, f"must be a number, not {_show(entry)}")
            elif entry < 0:
                self.add(where, "must not be negative")

    def key_binding(self, where: str, binding_id: str, keys: Any) -> None:
        """`[keys] id = "key"`: a binding id the monitor has, and keys Textual can read."""
        if binding_id not in BINDING_IDS:
            close = difflib.get_close_matches(binding_id, sorted(BINDING_IDS), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else "the ids are listed by ? in the monitor"
            self.add(where, f"no such binding id ({hint})")
        if not isinstance(keys, str):
            self.add(where, f"must be a key like \"ctrl+q\", not {_show(keys)}")
            return
        problem = key_problem(keys)
        if problem:
            self.add(where, problem)

    def price(self, where: str, entry: Any, options: tuple[str, ...] = (*OVERRIDE_PRICES, "tiers")) -> None:
        if not isinstance(entry, dict):
            self.add(where, "must be a table like {input_per_mtok = 2.5, output_per_mtok = 10.0}")
            return
        for option, number in entry.items():
            if option not in options:
                self.unknown(f"{where}.{option}", option, dict.fromkeys(options))
            elif option == "tiers":
                self.price_tiers(f"{where}.tiers", number)
            elif option == TIER_START:
                if isinstance(number, bool) or not isinstance(number, int) or number < 0:
                    self.add(f"{where}.{option}", f"must be a whole number of input tokens, not {_show(number)}")
            elif isinstance(number, bool) or not isinstance(number, (int, float)):
                self.add(f"{where}.{option}", f"must be a number of USD per million tokens, not {_show(number)}")
            elif number < 0:
                self.add(f"{where}.{option}", "must not be negative")

    def price_tiers(self, where: str, tiers: Any) -> None:
        if not isinstance(tiers, list):
            self.add(where, f"must be a list of tables like {{{TIER_START} = 200000, input_per_mtok = 6.0}}")
            return
        for i, tier in enumerate(tiers):
            self.price(f"{where}[{i}]", tier, (TIER_START, *OVERRIDE_PRICES))
            if isinstance(tier, dict) and TIER_START not in tier:
                self.add(f"{where}[{i}]", f"needs {TIER_START}, the prompt size the tier applies above")

    def alert_rule(self, where: str, entry: Any) -> None:
        from apimon_tui.alerts.rules import KINDS

        if not isinstance(entry, dict):
            self.add(where, "must be a table ([[alerts.rules]])")
            return
        kind = entry.get("kind")
        if kind not in KINDS:
            self.add(f"{where}.kind", f"must be one of {', '.join(KINDS)}, not {_show(kind)}")
            return
        shipped = DEFAULTS["alerts"].get(kind, {})
        defaults = {"kind": "", "name": "", "model": "", "source": "", "provider": "",
                    **dict.fromkeys(SEVERITIES, 0.0), **shipped}
        allowed = set(shipped) | KINDS[kind].options | {"kind", "name", *SEVERITIES}
        self.table(entry, {k: v for k, v in defaults.items() if k in allowed}, where + ".")

    def budget_scope(self, where: str, entry: Any) -> None:
        from apimon_tui.costs.usage.scopes import OPTIONS

        if not isinstance(entry, dict):
            self.add(where, "must be a table ([[budget.scopes]])")
            return
        defaults = {option: 0.0 if option == "monthly_usd" else "" for option in sorted(OPTIONS)}
        self.table(entry, defaults, where + ".")

    # secrets

    def secrets(self, data: dict[str, Any], prefix: str = "") -> None:
        if self.mode is None or not self.mode & (stat.S_IRWXG | stat.S_IRWXO):
            return
        for key, value in data.items():
            path = f"{prefix}{key}"
            if isinstance(value, dict):
                self.secrets(value, path + ".")
            elif isinstance(value, str) and redact(value) != value:
                self.add(path, "holds an API key and other users can read this file: move the key to an "
                               "environment variable or a key_file, or run `chmod 600` on the file")

    # the owning modules' own parsers

    def semantic(self, data: dict[str, Any]) -> None:
        from apimon_tui.alerts.rules import KINDS, parse_rule
        from apimon_tui.costs.budget import BudgetConfig
        from apimon_tui.costs.usage.settings import provider_settings

        merged = config_mod.merge(DEFAULTS, data)
        for name, entry in (data.get("pricing") or {}).items():
            self.owned(entry, f"pricing.{name}", lambda n=name, e=entry: sheet_from_override(n, e))
        self.owned(data.get("budget"), "budget", lambda: BudgetConfig.from_config(merged))
        for name in (data.get("providers") or {}):
            section = merged["providers"].get(name)
            if isinstance(section, dict) and section.get("enabled") is True:
                self.owned(section, f"providers.{name}",
                           lambda s=section, n=name: provider_settings({"providers": {n: s}}))
        for kind in KINDS:
            if isinstance((data.get("alerts") or {}).get(kind), dict):
                table = merged["alerts"][kind]
                self.owned(table, f"alerts.{kind}", lambda t=table, k=kind: parse_rule(t, f"alerts.{k}", k))
        for i, entry in enumerate((data.get("alerts") or {}).get("rules") or []):
            if isinstance(entry, dict) and entry.get("kind") in KINDS:
                self.owned(entry, f"alerts.rules[{i}]",
                           lambda e=entry, i=i: parse_rule(e, f"alerts.rules[{i}]", e["kind"]))

    # files the config names (only for a file on disk: `init` checks text it is about to write)

    def files(self, data: dict[str, Any], folder: Path) -> None:
        self.theme_files(folder / "themes")
        theme = (data.get("ui") or {}).get("theme")
        if isinstance(theme, str) and theme and not self.problems_at("ui.theme"):
            known = theme_names([SHIPPED_THEMES, folder / "themes"])
            if theme not in known:
                close = difflib.get_close_matches(theme, sorted(known), n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else f"one of {', '.join(sorted(known))}"
                self.add("ui.theme", f"no theme of that name in {SHIPPED_THEMES} or {folder / 'themes'} ({hint})")
        for name, section in (data.get("providers") or {}).items():
            key_file = section.get("key_file") if isinstance(section, dict) else None
            if isinstance(key_file, str) and key_file and not self.problems_at(f"providers.{name}.key_file"):
                self.existing_file(f"providers.{name}.key_file", key_file, folder)
        history = (data.get("alerts") or {}).get("history_file")
        if isinstance(history, str) and history and not self.problems_at("alerts.history_file"):
            parent = Path(history).expanduser().parent
            if not (folder / parent).is_dir():
                self.add("alerts.history_file", f"its folder {parent} does not exist")
        paths = (data.get("sources") or {}).get("paths")
        if isinstance(paths, list) and not self.problems_at("sources.paths"):
            for i, spec in enumerate(p for p in paths if isinstance(p, str)):
                if _plain_path(spec) and Path(spec).expanduser().is_absolute():
                    self.existing_file(f"sources.paths[{i}]", spec, folder,
                                       missing="(the monitor stops on it unless run with --wait)")

    def theme_files(self, themes: Path) -> None:
        """The user's theme files, read as the monitor reads them (Textual parses their colours)."""
        if not themes.is_dir() or not any(themes.glob("*.toml")):
            return
        from apimon_tui.tui.themes import load_themes  # Textual, only when there are themes to read

        for problem in load_themes([themes]).problems:
            self.add("themes", f"{themes}: {problem}")

    def existing_file(self, key: str, name: str, folder: Path, missing: str = "") -> None:
        path = folder / Path(name).expanduser()
        if path.is_dir():
            self.add(key, f"{name} is a folder, not a file")
        elif not path.exists():
            self.add(key, f"{name} does not exist {missing}".rstrip())
        elif not os.access(path, os.R_OK):
            self.add(key, f"{name} cannot be read (permissions)")

    def problems_at(self, key: str) -> bool:
        return any(p.key == key or p.key.startswith(key + ".") or p.key.startswith(key + "[")
                   for p in self.problems)

    def owned(self, section: Any, path: str, parse: Callable[[], object]) -> None:
        """Run an owner's parser on a table the walk found no fault in; report what it refuses."""
        if section is None or any(p.key == path or p.key.startswith(path + ".") for p in self.problems):
            return
        try:
            parse()
        except ConfigError as exc:
            message = str(exc).removeprefix("config: ")
            key = re.match(r"[\w.\[\]\-]+", message)
            name = key.group(0) if key and key.group(0).startswith(path) else path
            self.add(name, message[len(name):].strip() if message.startswith(name) else message)


def validate(text: str, *, mode: int | None = None, folder: Path | None = None) -> list[Problem]:
    """Every problem in a config file's text, in line order. `mode` is the file's `st_mode`, for the key check;
    with `folder` (the file's), the files it names are looked at too: theme, key files, history, sources."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        return [Problem("", int(line.group(1)) if line else None, f"not valid TOML: {exc}")]
    checker = _Checker(text, mode)
    checker.table(data, DEFAULTS, "")
    checker.secrets(data)
    checker.semantic(data)
    if folder is not None:
        checker.files(data, folder)
    return sorted(checker.problems, key=lambda p: (p.line or 0, p.key))


def theme_names(folders: list[Path]) -> set[str]:
    """The `name` of every readable theme file in `folders` (a broken one is the monitor's to report)."""
    names = set()
    for folder in folders:
        for file in sorted(folder.glob("*.toml")) if folder.is_dir() else ():
            try:
                name = tomllib.loads(file.read_text(encoding="utf-8")).get("name")
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                continue
            if isinstance(name, str):
                names.add(name)
    return names


def _plain_path(spec: str) -> bool:
    """A source that names one file: not stdin, a command, a URL or a glob."""
    return spec != "-" and not spec.startswith("cmd:") and "://" not in spec and not any(c in spec for c in "*?[")


def _is_duration(path: str, default: Any) -> bool:
    if path in EXTRA_DURATIONS:
        return True
    if not isinstance(default, str) or not default:
        return False
    try:
        parse_duration(default)
    except ValueError:
        return False
    return not default.replace(".", "", 1).isdigit()


def _same_type(value: Any, default: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


def _type_name(value: Any) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    """A value as quoted in a message, with any key in it shortened."""
    return redact(repr(value))
