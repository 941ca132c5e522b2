"""Executors around the `ResponseCache`: replaying recorded answers, and recording the answers of another executor.

- `ReplayExecutor` (registered as ``replay``) answers from a cache file only: an exact lookup of the canonical key;
  a miss is a failed `CallResult` (``"cache miss: <api id> <key>"``), never a live call. Deterministic: the same
  cache gives the same answers, which is what RL rollouts and ``goat rebuild`` need.
- `CachingExecutor` wraps a live or simulated executor during a build: a repeated call is answered from the cache,
  every other call is made and recorded (with the recipe fingerprint), so a build is resumable and every response a
  sample was built from ends up in the ``rl_cache`` config.

Both follow the `Executor` protocol: every failure, including a broken cache file, comes back as a value.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from goat_datasets.cache.keys import canonical_key
from goat_datasets.cache.store import CacheEntry, ResponseCache
from goat_datasets.execution.base import CallResult, Executor, call_result
from goat_datasets.registry import executors
from goat_datasets.sources.models import ApiSpec

__all__ = ["ReplayExecutor", "CachingExecutor", "result_from_entry"]


def _arguments_field(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    return {} if arguments is None else {"_invalid": repr(arguments)}


def _failed(api: ApiSpec, arguments: Any, error: str, started: float) -> CallResult:
    return call_result(api, _arguments_field(arguments), started, ok=False, provenance="error", error=error)


def result_from_entry(api: ApiSpec, arguments: Any, entry: CacheEntry, elapsed_s: float = 0.0) -> CallResult:
    """A stored answer as the `CallResult` of this call (``arguments`` as the caller spelled them)."""
    return CallResult(
        api_id=api.id,
        arguments=_arguments_field(arguments),
        ok=entry.ok,
        status_code=entry.status_code,
        response=entry.response,
        error=entry.error,
        provenance=entry.provenance,  # type: ignore[arg-type]
        elapsed_s=elapsed_s,
    )


class ReplayExecutor:
    """Answers every call from the response cache at ``cache_path``; never opens a network connection.

    Takes the http executor's keywords so that a recipe source switches with ``executor: replay`` alone; ``base_url``,
    ``allowed_hosts``, ``timeout_s`` and ``headers`` are accepted and unused. A stored failure is replayed as that
    failure (the same call failed when it was recorded).
    """

    def __init__(
        self,
        base_url: str = "",
        *,
        allowed_hosts: list[str] | None = None,
        timeout_s: float = 10.0,
        headers: dict[str, str] | None = None,
        cache_path: str | os.PathLike[str] | None = None,
    ):
        if cache_path is None or str(cache_path) == "":
            raise ValueError("the replay executor needs cache_path: the response cache (SQLite file) a build recorded")
        self.base_url = base_url
        self.cache = ResponseCache(cache_path, create=False)
        self._closed = False

    def call(self, api: ApiSpec, arguments: dict[str, Any]) -> CallResult:
        started = time.perf_counter()
        if self._closed:
            return _failed(api, arguments, "executor is closed", started)
        try:
            key = canonical_key(arguments)
        except TypeError as exc:
            return _failed(api, arguments, f"invalid arguments: {exc}", started)
        try:
            entry = self.cache.get_by_key(api.id, key)
        except Exception as exc:  # a broken or vanished cache file is a failed call, not a crash
            return _failed(api, arguments, f"cache read failed: {type(exc).__name__}: {exc}", started)
        if entry is None:
            return _failed(api, arguments, f"cache miss: {api.id} {key}", started)
        return result_from_entry(api, arguments, entry, time.perf_counter() - started)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.cache.close()

    def __enter__(self) -> "ReplayExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CachingExecutor:
    """Records every call of ``inner`` in ``cache`` and answers repeats from it.

    A cached success (real or simulated) is returned without calling ``inner``. A cached failure is retried by
    default, since live failures are mostly transient; ``replay_errors=True`` returns it instead. What ends up
    stored follows the cache's upsert rule (a real answer is never replaced by an error). Two threads making the
    same new call at the same moment may both call ``inner``; the first answer stored wins.

    ``counts``: ``hits`` (answered from the cache), ``live`` (calls made by ``inner``), ``recorded`` (calls that
    changed the cache), ``record_failures`` (the cache could not be written; the call's result is still returned).
    The cache belongs to the caller: `close` closes ``inner`` only.
    """

    def __init__(self, inner: Executor, cache: ResponseCache, fingerprint: str = "", *, replay_errors: bool = False):
        self.inner = inner
        self.cache = cache
        self.fingerprint = fingerprint
        self.replay_errors = replay_errors
        self.counts = {"hits": 0, "live": 0, "recorded": 0, "record_failures": 0}
        self.last_record_failure: str | None = None
        self._lock = threading.Lock()

    def _count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self.counts[name] += amount

    def call(self, api: ApiSpec, arguments: dict[str, Any]) -> CallResult:
        started = time.perf_counter()
        try:
            key: str | None = canonical_key(arguments)
        except TypeError:
            key = None  # not JSON: nothing to look up or record; the inner executor reports the problem
        if key is not None:
            try:
                entry = self.cache.get_by_key(api.id, key)
            except Exception:
                entry = None  # an unreadable cache degrades to live calls
            if entry is not None and (entry.ok or self.replay_errors):
                self._count("hits")
                return result_from_entry(api, arguments, entry, time.perf_counter() - started)
        result = self.inner.call(api, arguments)
        self._count("live")
        if key is not None:
            try:
                if self.cache.put(api.id, arguments, result, self.fingerprint):
                    self._count("recorded")
            except Exception as exc:
                self._count("record_failures")
                self.last_record_failure = f"{type(exc).__name__}: {exc}"
        return result

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> "CachingExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


executors.register("replay")(ReplayExecutor)
