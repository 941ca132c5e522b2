"""`ResponseCache`: one SQLite file of call results, keyed by (API id, canonical key of the arguments).

Why SQLite: distilabel runs every step in its own process and `datasets.map(num_proc=N)` forks workers, so several
processes append to one cache while a build runs. SQLite in WAL mode gives atomic upserts, readers that never block
the writer, and a busy timeout instead of "database is locked" errors; the file is also the resumable state of a
build. Each thread of each process gets its own connection (a connection inherited through ``fork`` is never used:
connections are looked up by process id), and pickling a cache carries only its path, so it can be handed to
distilabel steps and multiprocessing workers. Those connection rules live in `SQLiteFile`, which the LLM
generation cache (`goat_datasets.llm.cache`) shares.

Table ``entries`` (one row per API id and key):

==================  =======================================================================================
api_id              ``<source>.<operation>`` (`ApiSpec.id`)
key                 `canonical_key` of the arguments: the lookup key; ``json.loads(key)`` is the normalised form
arguments           the arguments of the call that produced the stored answer, as sent (JSON text; top-level
                    nulls, which mean "not given", dropped)
response            the answer (JSON text; ``null`` when there was no body)
status_code         HTTP status, or NULL (simulated, transport failure, invalid arguments)
ok                  1 when the call succeeded
provenance          ``real`` (a live API answered), ``simulated`` (generated from the document), ``error``
error               why the call failed, or NULL
created_at          when the stored answer was recorded (seconds since the epoch, UTC)
recipe_fingerprint  the fingerprint of the build that recorded it
==================  =======================================================================================

Upsert rule of `ResponseCache.put` (rank: real 2 > simulated 1 > error 0):

- a higher rank replaces a lower one: an error is replaced by any answer, a simulated answer by a real one;
- an error replaces an error (the latest failure reason and time are the useful ones when deciding to retry);
- otherwise the stored entry stays: first answer wins.

So a ``real`` answer is never overwritten by an ``error``: failures of live APIs are mostly transient (timeouts, rate
limits, outages), while the real answer is what sampled chains and gold values were already built from; replacing
it would turn a guaranteed cache hit of a published sample into a miss. A real answer is not replaced by a simulated
one (recorded data is never shadowed by invented data), nor by a second real one (replays stay deterministic and
values already extracted from the first answer stay valid). ``put(..., force=True)`` overwrites on purpose (a
deliberate refresh).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from goat_datasets.cache.keys import canonical_key

__all__ = ["ResponseCache", "CacheEntry", "PROVENANCES", "SCHEMA_VERSION", "SQLiteFile"]

PROVENANCES = ("real", "simulated", "error")
SCHEMA_VERSION = 1
_PAGE = 500

_COLUMNS = "api_id, key, arguments, response, status_code, ok, provenance, error, created_at, recipe_fingerprint"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    api_id TEXT NOT NULL,
    key TEXT NOT NULL,
    arguments TEXT NOT NULL,
    response TEXT NOT NULL,
    status_code INTEGER,
    ok INTEGER NOT NULL CHECK (ok IN (0, 1)),
    provenance TEXT NOT NULL CHECK (provenance IN ('real', 'simulated', 'error')),
    error TEXT,
    created_at REAL NOT NULL,
    recipe_fingerprint TEXT NOT NULL,
    PRIMARY KEY (api_id, key)
) WITHOUT ROWID
"""
_RANK_SQL = "(CASE {0}.provenance WHEN 'real' THEN 2 WHEN 'simulated' THEN 1 ELSE 0 END)"
_UPSERT = f"""
INSERT INTO entries ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (api_id, key) DO UPDATE SET
    arguments = excluded.arguments, response = excluded.response, status_code = excluded.status_code,
    ok = excluded.ok, provenance = excluded.provenance, error = excluded.error, created_at = excluded.created_at,
    recipe_fingerprint = excluded.recipe_fingerprint
WHERE ? OR {_RANK_SQL.format("excluded")} > {_RANK_SQL.format("entries")}
    OR (excluded.provenance = 'error' AND entries.provenance = 'error')
"""


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class CacheEntry:
    """One stored answer. ``arguments`` are those of the call that produced it (any spelling of the same key)."""

    api_id: str
    key: str
    arguments: dict[str, Any]
    response: Any
    status_code: int | None
    ok: bool
    provenance: str
    error: str | None
    created_at: float
    recipe_fingerprint: str

    @classmethod
    def _from_row(cls, row: tuple) -> "CacheEntry":
        api_id, key, arguments, response, status_code, ok, provenance, error, created_at, fingerprint = row
        return cls(api_id, key, json.loads(arguments), json.loads(response), status_code, bool(ok), provenance, error,
                   created_at, fingerprint)  # fmt: skip


def _result_fields(result: Any) -> dict[str, Any]:
    """``response, status_code, ok, provenance, error`` (and ``created_at`` if given) of a CallResult or a mapping."""
    if isinstance(result, Mapping):
        get = result.get
    else:
        def get(name: str, default: Any = None) -> Any:
            return getattr(result, name, default)

    provenance = get("provenance", None)
    ok = get("ok", None)
    if ok is None:
        ok = provenance not in (None, "error") and get("error", None) is None
    ok = bool(ok)
    if provenance is None:
        provenance = "real" if ok else "error"
    if provenance not in PROVENANCES:
        raise ValueError(f"provenance must be one of {', '.join(PROVENANCES)}, got {provenance!r}")
    if not ok:
        provenance = "error"  # "error" means: no usable answer, whatever produced it (status and error keep the detail)
    elif provenance == "error":
        raise ValueError("a result with ok=True cannot have provenance 'error'")
    status_code = get("status_code", None)
    if status_code is not None:
        status_code = int(status_code)
    error = get("error", None)
    return {
        "response": get("response", None),
        "status_code": status_code,
        "ok": ok,
        "provenance": provenance,
        "error": None if error is None else str(error),
        "created_at": get("created_at", None),
    }


class SQLiteFile:
    """One SQLite file used by several processes and threads at once: the connection rules of the module docstring.

    WAL mode, a busy timeout instead of "database is locked", one connection per thread of each process (never one
    inherited through ``fork``), autocommit connections whose writers open their own ``BEGIN IMMEDIATE``, and a
    schema created and versioned through ``PRAGMA user_version``. Pickling carries only the path. Subclasses set
    ``SCHEMA`` (one CREATE statement), ``SCHEMA_VERSION`` and ``KIND`` (what the file is, for messages); the
    response cache and the LLM generation cache (`goat_datasets.llm.cache`) share this.

    ``create=False`` refuses a missing file. ``timeout_s`` is how long a writer waits for another one before failing.
    """

    SCHEMA = ""
    SCHEMA_VERSION = 1
    KIND = "SQLite file"

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True, timeout_s: float = 60.0):
        if str(path) in ("", ":memory:") or str(path).startswith("file:"):
            raise ValueError(
                f"{type(self).__name__} needs a file path (several connections share it), got {str(path)!r}"
            )
        self.path = Path(path).expanduser()
        self.create = create
        self.timeout_s = float(timeout_s)
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        if not create and not self.path.is_file():
            raise FileNotFoundError(f"no {self.KIND} at {self.path}")
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._lock = threading.Lock()
        # (pid, thread, connection) of every connection opened through this object
        self._connections: list[tuple[int, threading.Thread, sqlite3.Connection]] = []
        self._closed = False
        self._connection()  # fail early on an unreadable file or a newer schema

    # ---- connections

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise ValueError(f"{self.KIND} {self.path} is closed")
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        conn, pid = self._open(), os.getpid()
        self._local.conn, self._local.pid = conn, pid
        with self._lock:
            # a thread that has ended cannot use its connection again: close it rather than hold it until `close`
            # (a step that starts new worker threads would otherwise run out of file descriptors)
            ended = [c for p, t, c in self._connections if p == pid and not t.is_alive()]
            self._connections = [(p, t, c) for p, t, c in self._connections if p != pid or t.is_alive()]
            self._connections.append((pid, threading.current_thread(), conn))
        for old in ended:
            old.close()
        return conn

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: autocommit; writes open their own BEGIN IMMEDIATE, so a writer takes the write lock
        # before reading and the busy timeout applies (no lock upgrade that fails at once with "database is locked").
        conn = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
            self._setup(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _setup(self, conn: sqlite3.Connection) -> None:
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")  # needs a moment alone with the file; retried below
                conn.execute("PRAGMA synchronous = NORMAL")  # with WAL: never corrupt; a crash may lose the last puts
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > self.SCHEMA_VERSION:
                    raise RuntimeError(
                        f"{self.path} has {self.KIND} schema {version}; this code reads "
                        f"{self.SCHEMA_VERSION} (upgrade goat-datasets)"
                    )
                if version < self.SCHEMA_VERSION:
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        conn.execute(self.SCHEMA)
                        conn.execute(f"PRAGMA user_version = {self.SCHEMA_VERSION}")
                        conn.execute("COMMIT")
                    except BaseException:
                        conn.execute("ROLLBACK")
                        raise
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _write(self, sql: str, params: Sequence[Any]) -> int:
        """One statement in its own write transaction; returns the rows it changed."""
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            changed = conn.execute(sql, params).rowcount
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return changed

    def close(self) -> None:
        """Closes this process's connections; the file cannot be used through this object afterwards."""
        with self._lock:
            self._closed = True
            mine = [conn for pid, _, conn in self._connections if pid == os.getpid()]
            self._connections = []
        for conn in mine:
            conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self.path), "create": self.create, "timeout_s": self.timeout_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        SQLiteFile.__init__(self, state["path"], create=state["create"], timeout_s=state["timeout_s"])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"


class ResponseCache(SQLiteFile):
    """A process- and thread-safe response cache in one SQLite file (see the module docstring for the rules).

    ``create=False`` refuses a missing file (replaying from a cache that does not exist is a configuration error,
    not a run of misses). ``timeout_s`` is how long a writer waits for another one before failing.
    """

    SCHEMA = _SCHEMA
    SCHEMA_VERSION = SCHEMA_VERSION
    KIND = "response cache"

    def __enter__(self) -> "ResponseCache":
        return self

    # ---- writing

    def put(
        self,
        api_id: str,
        arguments: Mapping[str, Any] | None,
        result: Any,
        fingerprint: str = "",
        *,
        force: bool = False,
    ) -> bool:
        """Records one call. ``result`` is a `CallResult` or a mapping with ``response, status_code, ok, provenance,
        error`` (and optionally ``created_at``). Returns whether the stored entry changed (see the upsert rule)."""
        row = self._row(api_id, arguments, result, fingerprint)
        return self._write(_UPSERT, (*row, int(force))) > 0

    def put_many(self, items: Iterable[tuple[str, Mapping[str, Any] | None, Any]], fingerprint: str = "") -> int:
        """``put`` for many ``(api_id, arguments, result)`` in one transaction (seeding from recorded data); returns
        how many entries changed."""
        rows = [self._row(api_id, arguments, result, fingerprint) for api_id, arguments, result in items]
        conn = self._connection()
        changed = 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            for row in rows:
                changed += conn.execute(_UPSERT, (*row, 0)).rowcount
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return changed

    @staticmethod
    def _row(api_id: str, arguments: Mapping[str, Any] | None, result: Any, fingerprint: str) -> tuple:
        if not isinstance(api_id, str) or not api_id:
            raise ValueError(f"api_id must be a non-empty string, got {api_id!r}")
        key = canonical_key(arguments)  # TypeError for non-JSON arguments, before anything is written
        fields = _result_fields(result)
        created_at = fields["created_at"]
        if isinstance(created_at, datetime):
            created_at = created_at.timestamp()
        return (
            api_id,
            key,
            _dumps({name: value for name, value in (arguments or {}).items() if value is not None}),
            _dumps(fields["response"]),
            fields["status_code"],
            int(fields["ok"]),
            fields["provenance"],
            fields["error"],
            float(time.time() if created_at is None else created_at),
            str(fingerprint or ""),
        )

    # ---- reading

    def get(self, api_id: str, arguments: Mapping[str, Any] | None) -> CacheEntry | None:
        """The entry for this call (exact key match after normalisation), or None."""
        return self.get_by_key(api_id, canonical_key(arguments))

    def get_by_key(self, api_id: str, key: str) -> CacheEntry | None:
        row = self._connection().execute(
            f"SELECT {_COLUMNS} FROM entries WHERE api_id = ? AND key = ?", (api_id, key)
        ).fetchone()
        return None if row is None else CacheEntry._from_row(row)

    def __len__(self) -> int:
        return self._connection().execute("SELECT COUNT(*) FROM entries").fetchone()[0]

    def __contains__(self, item: object) -> bool:
        """``(api_id, arguments) in cache``."""
        if not (isinstance(item, tuple) and len(item) == 2):
            return False
        return self.get(item[0], item[1]) is not None

    def _rows(self, columns: str) -> Iterator[tuple]:
        """Every row ordered by (api_id, key), read in pages so that no statement stays open between yields."""
        conn = self._connection()
        last: tuple[str, str] | None = None
        while True:
            if last is None:
                page = conn.execute(f"SELECT {columns} FROM entries ORDER BY api_id, key LIMIT ?", (_PAGE,))
            else:
                page = conn.execute(
                    f"SELECT {columns} FROM entries WHERE (api_id, key) > (?, ?) ORDER BY api_id, key LIMIT ?",
                    (*last, _PAGE),
                )
            rows = page.fetchall()
            yield from rows
            if len(rows) < _PAGE:
                return
            last = (rows[-1][0], rows[-1][1])

    def __iter__(self) -> Iterator[CacheEntry]:
        return (CacheEntry._from_row(row) for row in self._rows(_COLUMNS))

    def stats(self) -> dict[str, Any]:
        """``{"entries", "ok", "apis", "by_provenance": {real, simulated, error}, "by_api": {api: {...}}}``."""
        by_api: dict[str, dict[str, int]] = {}
        by_provenance = dict.fromkeys(PROVENANCES, 0)
        ok = 0
        query = "SELECT api_id, provenance, COUNT(*), SUM(ok) FROM entries GROUP BY api_id, provenance ORDER BY api_id"
        for api_id, provenance, count, ok_count in self._connection().execute(query):
            by_api.setdefault(api_id, dict.fromkeys(PROVENANCES, 0))[provenance] = count
            by_provenance[provenance] += count
            ok += ok_count or 0
        return {
            "entries": sum(by_provenance.values()),
            "ok": ok,
            "apis": len(by_api),
            "by_provenance": by_provenance,
            "by_api": by_api,
        }

    def content_digest(self) -> str:
        """sha256 hex of what a replay can answer: every (api_id, key, response, status_code, ok, provenance, error)
        in key order. Leaves out when and by which build an entry was written, and the SQLite file's bytes (pages
        and WAL state differ for equal content), so equal answers give equal digests."""
        digest = hashlib.sha256()
        for row in self._rows("api_id, key, response, status_code, ok, provenance, error"):
            text = json.dumps(list(row), ensure_ascii=False, separators=(",", ":"))
            digest.update(f"{len(text)}:".encode())
            digest.update(text.encode())
        return digest.hexdigest()

    # ---- export

    def export_rows(self) -> Iterator[dict[str, Any]]:
        """Rows of the ``rl_cache`` config, ordered by (api_id, key), matching
        `goat_datasets.formats.rl_cache.RL_CACHE_FEATURES` (arguments and response stay JSON text, as stored)."""
        for row in self._rows(_COLUMNS):
            api_id, key, arguments, response, status_code, ok, provenance, error, created_at, fingerprint = row
            yield {
                "api_id": api_id,
                "key": key,
                "arguments": arguments,
                "response": response,
                "status_code": status_code,
                "ok": bool(ok),
                "provenance": provenance,
                "error": error,
                "created_at": datetime.fromtimestamp(created_at, tz=timezone.utc),
                "recipe_fingerprint": fingerprint,
            }
