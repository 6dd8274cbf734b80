"""datacompy's column-level comparison of two versions, for people who know it from pandas."""

from __future__ import annotations

import datacompy

from manifold_pipelines.errors import ConfigError
from manifold_pipelines.versions.models import DataVersion


def compare_report(old: DataVersion, new: DataVersion, key_fields: tuple[str, ...]) -> str:
    """Match rate per column and mismatch samples, joined on the diff key."""
    before, after = old.to_pandas(), new.to_pandas()
    for version, frame in ((old, before), (new, after)):
        missing = [field for field in key_fields if field not in frame.columns]
        if missing:
            raise ConfigError(
                f"The column report joins versions on the diff key, and version {version.version}"
                f" has no column {', '.join(repr(m) for m in missing)} (it has"
                f" {version.record_count} records). Use --format table or json for this diff."
            )
    for frame in (before, after):
        for column in frame.columns:
            if frame[column].map(lambda v: isinstance(v, (dict, list))).any():
                frame[column] = frame[column].astype(str)  # nested values compare as text
    comparison = datacompy.PandasCompare(
        before,
        after,
        join_columns=list(key_fields),
        df1_name=f"v{old.version}",
        df2_name=f"v{new.version}",
    )
    return comparison.report()
