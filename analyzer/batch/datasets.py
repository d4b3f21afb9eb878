"""The batch's last stage: the Parquet datasets, written by one Ray Data job.

Every finished call's JSON becomes rows of ``segments/``, ``events/``, ``calls/`` (and
``scorecards/`` when results carry one); ``tables`` says which rows and columns. One job builds
all four: each of its tasks reads a batch of calls' JSON once and writes that batch's Parquet
file of every table (hive partitions where ``tables.PARTITIONS`` asks for them, as Ray Data's
``write_parquet`` lays them out). The datasets are rebuilt from all finished calls in the output
folder at the end of every run.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..result import replace_folder
from . import resume, tables

if TYPE_CHECKING:
    import pyarrow as pa

Row = dict[str, Any]  # one call on its way through the stages (plain values: Ray moves it)
TABLE_BATCH_CALLS = 64  # calls per table-building task (one Parquet file per table and task)


def build_tables(batch: pa.Table, *, out: str, staging: str) -> pa.Table:
    """Ray task: write every table's rows of a batch of finished calls (a pyarrow Table of
    ``_finished_meta`` rows) under ``staging/<table>/``; returns (table, rows) counts."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    docs: list[tuple[dict[str, Any], Row]] = []
    for meta in batch.to_pylist():
        path = Path(out) / meta["result"]
        try:
            docs.append((json.loads(path.read_text(encoding="utf-8")), meta))
        except (OSError, ValueError):
            continue  # removed or replaced since it was checked: the next run rebuilds it
    name = uuid.uuid4().hex  # tasks write side by side into one folder
    counts = []
    for table in tables.TABLES:
        records = [r for doc, meta in docs for r in tables.rows(table, doc, meta)]
        counts.append(len(records))
        if not records:
            continue
        arrow = tables.to_arrow(table, records)
        folder = Path(staging) / table
        if tables.PARTITIONS[table]:
            pq.write_to_dataset(
                arrow,
                str(folder),
                partition_cols=tables.PARTITIONS[table],
                basename_template=f"{name}-{{i}}.parquet",
            )
        else:
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(arrow, folder / f"{name}.parquet")
    return pa.table({"table": list(tables.TABLES), "rows": counts})


def write_tables(out: Path, finished: list[Row]) -> dict[str, int]:
    """Rebuild the Parquet datasets from ``finished`` calls; returns rows written per table.

    The datasets are written into a fresh folder and then swapped in (two renames each), so a
    reader never sees half a dataset. ``scorecards/`` exists only when some result has a
    scorecard; the others always exist (with one empty file holding the
    schema when no call has rows).
    """
    import pyarrow.parquet as pq
    import ray

    run = uuid.uuid4().hex[:8]
    work = out / resume.STATE_DIR / "staging"
    shutil.rmtree(work, ignore_errors=True)  # what a killed run left half-written
    staged = work / f"tables.{run}"
    staged.mkdir(parents=True)
    counts = dict.fromkeys(tables.TABLES, 0)
    if finished:
        blocks = max(1, -(-len(finished) // TABLE_BATCH_CALLS))
        ds = ray.data.from_items(finished, override_num_blocks=blocks).map_batches(
            cast(Any, build_tables),  # Ray's hints do not know keyword arguments (fn_kwargs)
            batch_size=TABLE_BATCH_CALLS,
            batch_format="pyarrow",
            fn_kwargs={"out": str(out), "staging": str(staged)},
        )
        for row in ds.iter_rows():
            counts[row["table"]] += int(row["rows"])
    for table in tables.TABLES:
        folder = staged / table
        if table == "scorecards" and counts[table] == 0:
            replace_folder(out / table, None, work / f"old-{table}.{run}")
            continue
        if counts[table] == 0:  # readers expect the folder: one empty file with the schema
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            pq.write_table(tables.to_arrow(table, []), folder / "empty.parquet")
        replace_folder(out / table, folder, work / f"old-{table}.{run}")
    shutil.rmtree(staged, ignore_errors=True)
    return counts
