"""Dagster: data sources as assets, quality as asset checks, schedules, alert sensors.

Thin over the library: every function here calls SeparatedDatabaseManager and turns its
results into Dagster objects. The library never imports this package.
"""
