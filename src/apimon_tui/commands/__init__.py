"""Sub-commands of `apimon-tui`, one module each (see `apimon_tui.cli`)."""

# Sub-commands, each a module in apimon_tui/commands/.
COMMANDS = ["report", "usage", "monitor", "demo", "init", "config", "check", "serve"]
# Commands whose module name differs from the command (`config` would shadow apimon_tui.core.config).
MODULES = {"config": "config_cmd"}
