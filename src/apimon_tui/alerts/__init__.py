"""Alerts: rules over the metrics store and the budget state, their state machine, and notifications.

The core of the alerts (everything here) never imports textual: the TUI and
`apimon-tui check` drive the same `AlertManager`.
"""

from apimon_tui.alerts.manager import Alert, AlertEvent, AlertManager
from apimon_tui.alerts.rules import SEVERITIES, Cause, Rule, rules_from_config

__all__ = ["Alert", "AlertEvent", "AlertManager", "Cause", "Rule", "SEVERITIES", "rules_from_config"]
