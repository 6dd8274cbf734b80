"""Moving a whole Manifold between engines or places: `transfer(manager, destination)` copies
the catalogue and every source's versions into a folder or a PostgreSQL database, verified,
resumable after a kill, and copying nothing twice when run again."""

from manifold_pipelines.transfer.report import SourceCopy, TableCopy, TransferReport
from manifold_pipelines.transfer.run import transfer

__all__ = ["SourceCopy", "TableCopy", "TransferReport", "transfer"]
