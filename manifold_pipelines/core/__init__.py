"""core.db: projects, data sources, relationships, users, settings, audit and import history."""
