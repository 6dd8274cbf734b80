"""Data-quality metrics computed at every import, with thresholds and statuses."""
