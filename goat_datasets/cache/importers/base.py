"""The import loop shared by every kind of recorded-call file: read, key, deduplicate, write, count.

A kind only says how to read its files (`register_importer`): a reader yields one `RecordedCall` per recorded call
and one `Skipped` per record it cannot use, so a malformed record costs that record alone and the report names it
(file, line or record id, why). Everything else lives here, once: the cache id of a call (``<source>.<name>`` with
the name sanitised exactly as the source parsers name operations, so replaying parsed `ApiSpec`s hits the imported
entries), the key (`goat_datasets.cache.keys.canonical_key`, through `ResponseCache`), and what counts as a recorded
failure. Importing twice adds nothing: an entry already in the cache with the same or a better answer is counted as
``already_cached`` and not written.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from goat_datasets.cache.keys import canonical_key
from goat_datasets.cache.store import ResponseCache
from goat_datasets.registry import Registry
from goat_datasets.sources.loading import JSONL_SUFFIXES
from goat_datasets.sources.openapi import sanitise_name

__all__ = [
    "RecordedCall",
    "Skipped",
    "ImportReport",
    "ImporterKind",
    "cache_importers",
    "register_importer",
    "import_files",
    "recorded_result",
    "response_error",
    "iter_json_records",
    "expand_paths",
]

_RANK = {"real": 2, "simulated": 1, "error": 0}  # the store's upsert rank: only a better answer is written
MAX_SKIPPED_KEPT = 1000  # a report keeps this many skip reasons verbatim; the count is always exact


@dataclass(frozen=True)
class RecordedCall:
    """One recorded call. ``where`` locates it for messages (``file:line 7 call 2``)."""

    name: str
    arguments: dict[str, Any]
    response: Any
    where: str
    exception: str | None = None  # the recording says the call failed, and why


@dataclass(frozen=True)
class Skipped:
    file: str
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.reason}"


Reader = Callable[[Path], Iterator["RecordedCall | Skipped"]]


@dataclass(frozen=True)
class ImporterKind:
    name: str
    read: Reader
    default_source: str
    suffixes: tuple[str, ...]  # which files of a directory argument are read
    description: str


cache_importers: Registry = Registry("cache importer kind")


def register_importer(
    name: str, *, default_source: str, suffixes: tuple[str, ...], description: str
) -> Callable[[Reader], Reader]:
    """Register ``read(path) -> iterator of RecordedCall | Skipped`` as the importer kind ``name``."""

    def deco(read: Reader) -> Reader:
        cache_importers.register(name)(ImporterKind(name, read, default_source, suffixes, description))
        return read

    return deco


@dataclass
class ImportReport:
    """What one import did. ``read`` counts recorded calls (skipped records are not calls); ``read = imported +
    duplicates + already_cached``. ``conflicting`` counts duplicates whose response differs from the first one read
    (the first is kept, as the cache keeps the first real answer)."""

    kind: str
    source: str
    files: list[str] = field(default_factory=list)
    read: int = 0
    imported: int = 0
    duplicates: int = 0
    conflicting: int = 0
    already_cached: int = 0
    failures: int = 0  # recorded calls that failed when recorded (imported as provenance "error")
    skipped_count: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    by_api: Counter = field(default_factory=Counter)  # imported entries per API id

    def skip(self, item: Skipped) -> None:
        self.skipped_count += 1
        if len(self.skipped) < MAX_SKIPPED_KEPT:
            self.skipped.append(item)

    def summary(self) -> str:
        return (
            f"{self.kind} -> source {self.source!r}: {len(self.files)} file(s), {self.read} calls read, "
            f"{self.imported} imported, {self.duplicates} duplicates ({self.conflicting} with another response), "
            f"{self.already_cached} already cached, {self.failures} recorded failures, {self.skipped_count} skipped"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "files": list(self.files),
            "read": self.read,
            "imported": self.imported,
            "duplicates": self.duplicates,
            "conflicting": self.conflicting,
            "already_cached": self.already_cached,
            "failures": self.failures,
            "skipped": self.skipped_count,
            "skipped_reasons": [str(s) for s in self.skipped],
            "by_api": dict(sorted(self.by_api.items())),
        }


def response_error(response: Any) -> str | None:
    """Why a response is an error object (``{"error": ...}`` or ``{"status": false, ...}``), else None. The released
    reward code judges tool responses by the same two signs."""
    if isinstance(response, Mapping):
        if response.get("error") not in (None, "", False):
            return str(response["error"])
        if response.get("status") is False:
            return str(response.get("message") or "status: false")
    return None


def recorded_result(response: Any, exception: str | None = None) -> dict[str, Any]:
    """The `ResponseCache.put` result of a recorded call: a real answer, or a failure when the recording says so
    (an exception, an ``error`` key, ``status: false``). Recorded files carry no HTTP status."""
    error = exception or response_error(response)
    if error is not None:
        return {"response": response, "ok": False, "provenance": "error", "error": error, "status_code": None}
    return {"response": response, "ok": True, "provenance": "real", "error": None, "status_code": None}


def api_id_for(source: str, name: str) -> str:
    """The cache id of function ``name``: what the source parsers would name it (`sanitise_name`)."""
    sanitised = sanitise_name(name)
    if not sanitised:
        raise ValueError(f"function name {name!r} has no usable characters")
    return f"{source}.{sanitised}"


def iter_json_records(path: Path) -> Iterator[tuple[str, Any] | Skipped]:
    """``(where, record)`` for every record of a JSON list or JSON Lines file; a bad line is one `Skipped`.

    JSON Lines when the name says so or when the file is not one JSON value but its first line is; ``where`` is
    ``line N`` for JSON Lines and ``record N`` (0-based) for a JSON list. A file that is neither, or not UTF-8 text,
    is one `Skipped` for the whole file.
    """
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        yield Skipped(name, "whole file", f"not UTF-8 text: {exc}")
        return
    if not path.name.lower().endswith(JSONL_SUFFIXES):
        try:
            document = json.loads(text)
        except ValueError as exc:
            first = next((line for line in text.splitlines() if line.strip()), "")
            try:
                json.loads(first)
            except ValueError:  # neither one JSON value nor JSON Lines: one reason, not one per line
                yield Skipped(name, "whole file", f"not JSON: {exc}")
                return
        else:
            records = document if isinstance(document, list) else [document]
            for index, record in enumerate(records):
                yield f"record {index}", record
            return
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield f"line {number}", json.loads(line)
        except ValueError as exc:
            yield Skipped(name, f"line {number}", f"not JSON: {exc}")


def expand_paths(paths: Iterable[str | os.PathLike[str]], suffixes: tuple[str, ...]) -> list[Path]:
    """Files as given, and the files of directories (recursively, sorted) whose names end with ``suffixes``.

    Raises FileNotFoundError naming a path that does not exist, and ValueError for a directory without such files.
    """
    out: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(suffixes))
            if not found:
                raise ValueError(f"{path}: a directory without {' / '.join(suffixes)} files")
            out.extend(found)
        elif path.is_file():
            out.append(path)
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")
    return out


def _response_text(response: Any) -> str:
    return json.dumps(response, ensure_ascii=False, sort_keys=True, default=repr)


def import_files(
    kind: str,
    paths: Iterable[str | os.PathLike[str]],
    cache: ResponseCache,
    *,
    source: str | None = None,
    fingerprint: str = "",
) -> ImportReport:
    """Read recorded calls of importer ``kind`` from ``paths`` (files or directories) into ``cache``.

    ``source`` names the source the calls belong to (cache ids are ``<source>.<function>``); default: the kind's
    (``booking`` for Booking.com data, so ComplexFuncBench and the orchestration samples fill one cache).
    """
    importer: ImporterKind = cache_importers.get(kind)
    source = source or importer.default_source
    if not source or sanitise_name(source) != source:
        raise ValueError(f"source must be a plain name such as 'booking' (letters, digits, _), got {source!r}")
    files = expand_paths(paths, importer.suffixes)
    report = ImportReport(kind=kind, source=source, files=[str(f) for f in files])
    first_response: dict[tuple[str, str], str] = {}
    pending: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for path in files:
        for item in importer.read(path):
            if isinstance(item, Skipped):
                report.skip(item)
                continue
            try:
                api_id = api_id_for(source, item.name)
                key = canonical_key(item.arguments)
                result = recorded_result(item.response, item.exception)
                text = _response_text(item.response)
            except (TypeError, ValueError) as exc:
                report.skip(Skipped(str(path), item.where, f"{type(exc).__name__}: {exc}"))
                continue
            report.read += 1
            if not result["ok"]:
                report.failures += 1
            seen = first_response.get((api_id, key))
            if seen is not None:
                report.duplicates += 1
                report.conflicting += seen != text
                continue
            first_response[(api_id, key)] = text
            existing = cache.get_by_key(api_id, key)
            if existing is not None and _RANK[existing.provenance] >= _RANK[result["provenance"]]:
                report.already_cached += 1  # the cache keeps its answer (upsert rule): importing again adds nothing
                continue
            pending.append((api_id, item.arguments, result))
            report.by_api[api_id] += 1
    report.imported = cache.put_many(pending, fingerprint) if pending else 0
    return report
