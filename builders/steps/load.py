"""`LoadRows`: the first step of our pipelines, reading its rows from a JSON Lines file instead of holding them.

distilabel's ``LoadDataFromDicts`` keeps its rows as a step attribute, and distilabel 1.5.3 serialises the whole
pipeline, attributes included, after every batch that any step finishes (``BasePipeline._cache``, kept for its own
resume, which our builds do not use: see `goat_builders.sft_traces`). With the rows inline, that bookkeeping grows
with the square of a build's size: N rows dumped N / batch times per step. Measured with
benchmarks/pipeline_overhead.py, it was most of the main process's CPU at a few hundred rows.

Here the step's attributes are the file's path, its number of rows and its sha256, which keeps the step's signature
honest (other rows, other signature) without the rows themselves.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from distilabel.steps import GeneratorStep

__all__ = ["LoadRows", "load_rows_step"]


class LoadRows(GeneratorStep):
    """Yields the rows of ``path`` (one JSON object per line) in batches of ``batch_size``."""

    path: str
    count: int
    digest: str
    columns: list[str]

    @property
    def outputs(self) -> list[str]:
        return list(self.columns)

    def read(self) -> list[dict[str, Any]]:
        with open(self.path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        if len(rows) != self.count:
            raise RuntimeError(f"{self.path} has {len(rows)} rows, expected {self.count}: it changed during the run")
        return rows

    def process(self, offset: int = 0):  # type: ignore[override]
        rows = self.read()  # never empty: run_pipeline does not start a pipeline without rows
        for start in range(offset, len(rows), self.batch_size):
            end = start + self.batch_size
            yield rows[start:end], end >= len(rows)


def load_rows_step(
    name: str, path: Path, rows: list[dict[str, Any]], batch_size: int, columns: list[str]
) -> LoadRows:
    """Writes ``rows`` to ``path`` and returns the step that reads them back (inside a pipeline's context).
    ``columns``: what each row holds, named even when there are no rows (distilabel checks the steps' inputs)."""
    if any(set(r) != set(columns) for r in rows):
        raise ValueError(f"{name}: every row must have exactly the columns {columns}")
    data = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return LoadRows(
        name=name,
        path=str(path),
        count=len(rows),
        digest=hashlib.sha256(data).hexdigest(),
        columns=list(columns),
        batch_size=batch_size,
    )
