"""Diff reports for people: a self-contained HTML page, and datacompy's column comparison."""
