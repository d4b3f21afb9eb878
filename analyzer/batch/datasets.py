"""Stage 3 of the batch: the Parquet datasets, written through Ray Data.

Every finished call's JSON becomes rows of ``segments/``, ``events/``, ``calls/`` (and
``scorecards/`` when results carry one); ``tables`` says which rows and columns. The datasets are
rebuilt from all finished calls in the output folder at the end of every run.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from . import resume, tables

if TYPE_CHECKING:
    import pyarrow as pa

Row = dict[str, Any]  # one call on its way through the stages (plain values: Ray moves it)
TABLE_BATCH_CALLS = 64  # calls per table-building task (about one Parquet file per batch)


def build_table(batch: pa.Table, *, table: str, out: str) -> pa.Table:
    """Ray task: the ``table`` rows of a batch of finished calls (a pyarrow Table)."""
    records: list[Row] = []
    for meta in batch.to_pylist():
        path = Path(out) / meta["result"]
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # removed or replaced since it was checked: the next run rebuilds it
        records.extend(tables.rows(table, doc, meta))
    return tables.to_arrow(table, records)


def write_tables(out: Path, finished: list[Row]) -> dict[str, int]:
    """Rebuild the Parquet datasets from ``finished`` calls; returns rows written per table.

    Each dataset is written into a fresh folder and then swapped in, so a reader (or a kill)
    sees either the old dataset or the new one. ``scorecards/`` exists only when some result
    has a scorecard.
    """
    import pyarrow.parquet as pq
    import ray

    run = uuid.uuid4().hex[:8]
    work = out / resume.STATE_DIR / "staging"
    shutil.rmtree(work, ignore_errors=True)  # what a killed run left half-written
    work.mkdir(parents=True)
    counts: dict[str, int] = {}
    for table in tables.TABLES:
        staged = work / f"{table}.{run}"
        if finished:
            blocks = max(1, -(-len(finished) // TABLE_BATCH_CALLS))
            ds = ray.data.from_items(finished, override_num_blocks=blocks).map_batches(
                cast(Any, build_table),  # Ray's hints do not know keyword arguments (fn_kwargs)
                batch_size=TABLE_BATCH_CALLS,
                batch_format="pyarrow",
                fn_kwargs={"table": table, "out": str(out)},
            )
            ds.write_parquet(str(staged), partition_cols=tables.PARTITIONS[table] or None)
        files = sorted(staged.rglob("*.parquet")) if staged.exists() else []
        counts[table] = sum(pq.read_metadata(f).num_rows for f in files)
        if table == "scorecards" and counts[table] == 0:
            shutil.rmtree(staged, ignore_errors=True)
            _swap(out / table, None, work / f"old-{table}.{run}")
            continue
        if counts[table] == 0:  # readers expect the folder: one empty file with the schema
            shutil.rmtree(staged, ignore_errors=True)
            staged.mkdir(parents=True)
            pq.write_table(tables.to_arrow(table, []), staged / "empty.parquet")
        _swap(out / table, staged, work / f"old-{table}.{run}")
    return counts


def _swap(final: Path, staged: Path | None, old: Path) -> None:
    if final.exists():
        os.replace(final, old)
    if staged is not None:
        os.replace(staged, final)
    shutil.rmtree(old, ignore_errors=True)
