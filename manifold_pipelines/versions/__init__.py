"""The per-source SQLite store: versions, row history, diffs, schema tracking, retention."""
