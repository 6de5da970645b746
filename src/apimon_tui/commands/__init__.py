"""Sub-commands of `apimon-tui`, one module each (see `apimon_tui.cli`)."""
