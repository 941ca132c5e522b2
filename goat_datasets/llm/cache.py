"""`CachedLLM`: an LLM client that answers a request it has already answered from a SQLite file.

A build's LLM calls are its slowest part, so a build killed half-way must not pay for them twice: the steps wrap
their client in `CachedLLM` over ``<build dir>/llm.sqlite``, and a re-run gets every generation that already
succeeded from the file. Only successful generations are stored; a failed one (``Generation.error`` set) is asked
again next time, since failures are mostly transient (a server restarting, a timeout).

The key is the sha256 of the canonical JSON of what decides the text: the model id, the messages, the temperature,
the token limit and the seed. The endpoint's URL is left out on purpose: the build's local endpoint gets a new port
every run, and the same model answers the same request the same way wherever it listens.

The file follows the response cache's connection rules (`goat_datasets.cache.store.SQLiteFile`): WAL, a busy
timeout, one connection per thread of each process, so the steps' processes and their worker threads share it.
Within one `CachedLLM`, a request that is already in flight is not sent a second time: the second thread waits for
the first answer, so one run makes each distinct successful request once.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from typing import Any, Sequence

from goat_datasets.cache.store import SQLiteFile
from goat_datasets.llm.generation import Generation

__all__ = ["CachedLLM", "GenerationStore", "request_key"]

KEY_VERSION = 1


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def request_key(
    model_id: str, messages: Sequence[dict[str, Any]], temperature: float, max_new_tokens: int, seed: int
) -> tuple[str, str]:
    """``(sha256 hex, canonical JSON)`` of one request: everything that decides the generation, and nothing else."""
    request = _canonical(
        {
            "v": KEY_VERSION,
            "model": str(model_id),
            "messages": list(messages),
            "temperature": float(temperature),
            "max_new_tokens": int(max_new_tokens),
            "seed": int(seed),
        }
    )
    return hashlib.sha256(request.encode()).hexdigest(), request


class GenerationStore(SQLiteFile):
    """Table ``generations``: ``key`` (sha256 of the request), ``request`` (its canonical JSON, for inspection),
    ``generation`` (the `Generation` as JSON) and ``created_at``. The first answer stored for a key stays."""

    KIND = "LLM generation cache"
    SCHEMA_VERSION = 1
    SCHEMA = """
    CREATE TABLE IF NOT EXISTS generations (
        key TEXT PRIMARY KEY,
        request TEXT NOT NULL,
        generation TEXT NOT NULL,
        created_at REAL NOT NULL
    ) WITHOUT ROWID
    """

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._connection().execute("SELECT generation FROM generations WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, request: str, generation: dict[str, Any]) -> bool:
        """Stores a generation unless the key already has one; returns whether it was stored."""
        sql = "INSERT OR IGNORE INTO generations (key, request, generation, created_at) VALUES (?, ?, ?, ?)"
        return self._write(sql, (key, request, _canonical(generation), time.time())) > 0

    def __len__(self) -> int:
        return self._connection().execute("SELECT COUNT(*) FROM generations").fetchone()[0]

    def keys(self) -> set[str]:
        return {row[0] for row in self._connection().execute("SELECT key FROM generations")}


def _setting(inner: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        value = getattr(inner, name, None)
        if value is not None:
            return value
    return default


def _as_generation(gen: Any) -> Generation:
    if isinstance(gen, Generation):
        return gen
    fields = Generation.model_fields
    if isinstance(gen, dict):
        return Generation.model_validate({k: v for k, v in gen.items() if k in fields})
    return Generation.model_validate({k: getattr(gen, k) for k in fields if getattr(gen, k, None) is not None})


class CachedLLM:
    """Wraps a client with ``generate(messages, max_new_tokens=None) -> Generation`` (`OpenAICompatibleLLM`,
    `LocalLLM`, a test double) and answers repeated requests from ``path``.

    ``model_id``, ``temperature``, ``max_new_tokens`` and ``seed`` default to the inner client's attributes.
    ``counts``: ``hits`` (answered from the file), ``live`` (requests the inner client made), ``failed`` (live
    requests that failed; not stored), ``record_failures`` (the file could not be written; the generation is still
    returned). A file that cannot be read degrades to live calls. `close` closes the file and the inner client.
    """

    def __init__(
        self,
        inner: Any,
        path: str | os.PathLike[str],
        *,
        model_id: str | None = None,
        temperature: float | None = None,
        max_new_tokens: int | None = None,
        seed: int | None = None,
    ):
        self.inner = inner
        self.store = GenerationStore(path)
        self.model_id = str(model_id if model_id is not None else _setting(inner, "model", "model_name", default=""))
        if temperature is None:
            temperature = _setting(inner, "temperature", default=0.0)
        self.temperature = float(temperature)
        self.max_new_tokens = int(
            max_new_tokens if max_new_tokens is not None else _setting(inner, "max_new_tokens", default=256)
        )
        self.seed = int(seed if seed is not None else _setting(inner, "seed", default=0))
        self.counts = {"hits": 0, "live": 0, "failed": 0, "record_failures": 0}
        self.last_record_failure: str | None = None
        self._lock = threading.Lock()
        self._in_flight: dict[str, list[Any]] = {}  # key -> [lock, waiters]

    @property
    def hits(self) -> int:
        return self.counts["hits"]

    @property
    def live(self) -> int:
        return self.counts["live"]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)

    def _count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    def key(self, messages: Sequence[dict[str, Any]], max_new_tokens: int | None = None) -> str:
        return self._request(messages, max_new_tokens)[0]

    def _request(self, messages: Sequence[dict[str, Any]], max_new_tokens: int | None) -> tuple[str, str]:
        return request_key(self.model_id, messages, self.temperature, max_new_tokens or self.max_new_tokens, self.seed)

    def generate(self, messages: list[dict[str, Any]], max_new_tokens: int | None = None) -> Generation:
        try:
            key, request = self._request(messages, max_new_tokens)
        except (TypeError, ValueError):
            key = request = None  # not JSON: nothing to look up; the inner client reports the problem
        if key is None:
            return self._live(messages, max_new_tokens, None, None)
        with self._lock:
            slot = self._in_flight.setdefault(key, [threading.Lock(), 0])
            slot[1] += 1
        try:
            with slot[0]:  # an identical request in flight: wait for its answer instead of asking again
                try:
                    stored = self.store.get(key)
                except Exception:  # noqa: BLE001 - an unreadable cache degrades to live calls
                    stored = None
                if stored is not None:
                    self._count("hits")
                    return Generation.model_validate(stored)
                return self._live(messages, max_new_tokens, key, request)
        finally:
            with self._lock:
                slot[1] -= 1
                if slot[1] == 0:
                    del self._in_flight[key]

    def _live(self, messages: Any, max_new_tokens: int | None, key: str | None, request: str | None) -> Generation:
        gen = self.inner.generate(messages, max_new_tokens)
        self._count("live")
        gen = _as_generation(gen)
        if gen.error is not None:
            self._count("failed")
            return gen
        if key is not None and request is not None:
            try:
                self.store.put(key, request, gen.model_dump(mode="json"))
            except Exception as exc:  # noqa: BLE001 - the generation is still good; only the record is missing
                self._count("record_failures")
                self.last_record_failure = f"{type(exc).__name__}: {exc}"
        return gen

    def generate_batch(
        self, batch: Sequence[list[dict[str, Any]]], max_new_tokens: int | None = None
    ) -> list[Generation]:
        return [self.generate(messages, max_new_tokens) for messages in batch]

    def close(self) -> None:
        self.store.close()
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> "CachedLLM":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
