"""SQLite plumbing shared by core.db and the data files: connections, transactions, migrations."""
