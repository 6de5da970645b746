"""One module per panel of the monitor's main screen."""
