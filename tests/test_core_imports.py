"""The headless core must never import textual (only apimon_tui.tui may)."""

import pkgutil
import subprocess
import sys

import apimon_tui

# The monitor command starts the Textual app; __main__ runs the CLI on import.
NOT_CORE = {"apimon_tui.commands.monitor", "apimon_tui.__main__"}


def core_modules():
    for info in pkgutil.walk_packages(apimon_tui.__path__, "apimon_tui."):
        if not info.name.startswith("apimon_tui.tui") and info.name not in NOT_CORE:
            yield info.name


def test_core_does_not_import_textual():
    modules = sorted(core_modules())
    assert "apimon_tui.store.metrics" in modules and "apimon_tui.ingest.engine" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
