"""datacompy's column-level comparison of two versions, for people who know it from pandas."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from manifold_pipelines.errors import ConfigError
from manifold_pipelines.versions.models import DataVersion

if TYPE_CHECKING:
    import pandas as pd


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
    # datacompy pulls in pandas, numpy and polars (most of a second): only this report uses it.
    import datacompy

    class KeyOrderedCompare(datacompy.PandasCompare):
        """datacompy samples mismatches at random; a report shows the first ones by key."""

        def sample_mismatch(
            self, column: str, sample_count: int = 10, for_display: bool = False
        ) -> pd.DataFrame | None:
            every = super().sample_mismatch(column, len(self.intersect_rows), for_display)
            if every is None:
                return None
            ordered: pd.DataFrame = every.sort_values(self.join_columns, kind="stable")
            return ordered.head(sample_count).reset_index(drop=True)

    comparison = KeyOrderedCompare(
        _readable(before, key_fields),
        _readable(after, key_fields),
        join_columns=list(key_fields),
        df1_name=f"v{old.version}",
        df2_name=f"v{new.version}",
    )
    return comparison.report()


def _readable(frame: pd.DataFrame, key_fields: tuple[str, ...]) -> pd.DataFrame:
    """Columns as the records hold them: whole numbers stay integers (pandas turns a column
    with a gap into floats, so 305 would print as 305.0), nested values compare as their
    JSON text, and rows come in key order so the samples read in a stable order."""
    for column in frame.columns:
        values = frame[column].dropna()
        if values.map(lambda v: isinstance(v, (dict, list))).any():
            frame[column] = frame[column].map(
                lambda v: v if v is None or isinstance(v, float) else orjson.dumps(v).decode()
            )
        elif len(values) and values.map(_is_whole).all():
            frame[column] = frame[column].astype("Int64")
    try:
        return frame.sort_values(list(key_fields), kind="stable", ignore_index=True)
    except TypeError:  # keys of mixed types (1 and "a") have no order of their own
        return frame.sort_values(list(key_fields), key=lambda c: c.astype(str), ignore_index=True)


def _is_whole(value: object) -> bool:
    return (type(value) is int) or (type(value) is float and value.is_integer())
