"""Screens pushed over the main view: call detail, help, filter."""
