"""Alerts: rules over core.db's import history and file sizes, stored, then POSTed to a webhook."""
