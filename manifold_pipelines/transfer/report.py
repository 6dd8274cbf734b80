"""What a transfer did: per catalogue table the rows it added, changed and removed, per source
whether it copied the versions or found them there already (both verified)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

SourceOutcome = Literal["copied", "already there", "no data"]


class TableCopy(BaseModel):
    """Rows of one catalogue table: added, changed or removed to match, or already equal."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0

    @property
    def written(self) -> int:
        return self.added + self.changed + self.removed


class SourceCopy(BaseModel):
    """One source: `copied` (its versions written and verified now), `already there` (the
    destination holds the same versions, verified), or `no data` (never imported)."""

    source: str
    outcome: SourceOutcome
    versions: int
    record_rows: int
    seconds: float

    def describe(self) -> str:
        if self.outcome == "no data":
            return f"{self.source}: no versions to copy"
        what = f"{self.versions} version(s), {self.record_rows:,} record row(s)"
        if self.outcome == "copied":
            return f"{self.source}: copied {what}, verified ({self.seconds:.1f} s)"
        return f"{self.source}: already there ({what}, verified)"


class TransferReport(BaseModel):
    origin: str
    destination: str
    catalogue: dict[str, TableCopy]
    sources: list[SourceCopy]
    seconds: float

    def sources_with(self, outcome: SourceOutcome) -> list[str]:
        return [copy.source for copy in self.sources if copy.outcome == outcome]

    def describe_catalogue(self) -> str:
        tables = self.catalogue.values()
        return (
            f"Catalogue: {sum(t.added for t in tables)} row(s) added,"
            f" {sum(t.changed for t in tables)} changed, {sum(t.removed for t in tables)}"
            f" removed, {sum(t.unchanged for t in tables)} already there."
        )

    def describe(self) -> str:
        return (
            f"Transferred to {self.destination}: {len(self.sources_with('copied'))} source(s)"
            f" copied, {len(self.sources_with('already there'))} already there,"
            f" {len(self.sources_with('no data'))} without versions ({self.seconds:.1f} s)."
        )
