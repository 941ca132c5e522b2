"""``goat cache``: fill a response cache from recorded calls and look inside one.

    goat cache import booking ../shared/data/booking-orchestration/training_workflows.json --into build/responses.sqlite
    goat cache import apibank ../shared/data/api-bank/lv1-lv2-samples --into build/responses.sqlite
    goat cache stats build/responses.sqlite

Registered on the `goat` app by `goat_datasets.cli` (``app.add_typer(cache_app, name="cache")``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

cache_app = typer.Typer(no_args_is_help=True, help="Response caches: import recorded calls, show what one holds.")

SHOWN_SKIPS = 20


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)  # report lines stay whole (grep-able, copyable)


def _fail(console: Console, message: str) -> None:
    console.print(f"[red]error[/]: {escape(message)}")
    raise typer.Exit(code=1)


@cache_app.command("import")
def import_command(
    kind: Annotated[str, typer.Argument(help="Importer kind: apibank, complexfuncbench or booking.")],
    files: Annotated[list[Path], typer.Argument(help="Files, or folders to read the kind's files from.")],
    into: Annotated[Path, typer.Option("--into", help="The response cache (SQLite file; created if missing).")],
    source: Annotated[
        Optional[str],
        typer.Option(help="Source name of the calls (cache ids are SOURCE.function); default: the kind's."),
    ] = None,
    fingerprint: Annotated[str, typer.Option(help="Recorded with every imported entry.")] = "",
) -> None:
    """Import recorded calls into a response cache; idempotent (importing again adds nothing)."""
    from goat_datasets.cache import ResponseCache
    from goat_datasets.cache.importers import cache_importers, import_files
    from goat_datasets.cache.importers.base import expand_paths
    from goat_datasets.registry import UnknownNameError

    console = _console()
    try:
        expand_paths(files, cache_importers.get(kind).suffixes)  # a wrong kind or path creates no cache file
        with ResponseCache(into) as cache:
            report = import_files(kind, files, cache, source=source, fingerprint=fingerprint)
            total = len(cache)
    except UnknownNameError as exc:
        _fail(console, str(exc))
    except (OSError, ValueError, RuntimeError, sqlite3.DatabaseError) as exc:
        _fail(console, f"{type(exc).__name__}: {exc}")
    console.print(escape(report.summary()))
    for skipped in report.skipped[:SHOWN_SKIPS]:
        console.print(f"[yellow]skipped[/] {escape(str(skipped))}")
    if report.skipped_count > SHOWN_SKIPS:
        console.print(f"... and {report.skipped_count - SHOWN_SKIPS} more skipped records")
    console.print(f"cache {escape(str(into))}: {total} entries")


@cache_app.command("stats")
def stats_command(
    cache_path: Annotated[Path, typer.Argument(metavar="CACHE", help="A response cache (SQLite file).")],
) -> None:
    """Entries per API and provenance (real, simulated, error)."""
    from goat_datasets.cache import ResponseCache

    console = _console()
    try:
        with ResponseCache(cache_path, create=False) as cache:
            stats = cache.stats()
    except (OSError, RuntimeError, sqlite3.DatabaseError) as exc:
        _fail(console, f"{type(exc).__name__}: {exc}")
    p = stats["by_provenance"]
    console.print(f"{escape(str(cache_path))}: {stats['entries']} entries ({stats['ok']} ok) over {stats['apis']} "
                  f"APIs; "
                  f"real {p['real']}, simulated {p['simulated']}, error {p['error']}")  # fmt: skip
    table = Table(show_lines=False)
    for column in ("api", "real", "simulated", "error"):
        table.add_column(column, justify="left" if column == "api" else "right")
    for api_id, counts in stats["by_api"].items():
        table.add_row(escape(api_id), str(counts["real"]), str(counts["simulated"]), str(counts["error"]))
    console.print(table)
