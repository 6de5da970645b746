"""config.example.toml lists every option, with its default, and nothing unknown."""

import tomllib
from pathlib import Path

from apimon_tui.core import config
from apimon_tui.commands.config_check import validate

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
# Options whose contents are user-chosen names (documented in comments instead).
USER_NAMED = {"pricing", "keys", "budget.providers", "alerts.rules"}


def leaves(table, prefix=""):
    out = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if name in USER_NAMED:
            continue
        if isinstance(value, dict):
            out.update(leaves(value, name + "."))
        else:
            out[name] = value
    return out


def test_every_known_option_is_in_the_example_with_its_default():
    example = leaves(tomllib.loads(EXAMPLE.read_text()))
    known = leaves(config.DEFAULTS)
    assert sorted(set(known) - set(example)) == []
    assert sorted(set(example) - set(known)) == []
    assert {k: v for k, v in example.items() if v != known[k]} == {}


def test_the_example_loads_and_checks_clean():
    loaded = config.load(EXAMPLE)
    assert loaded["ui"]["theme"] == config.DEFAULTS["ui"]["theme"]
    assert validate(EXAMPLE.read_text()) == []
