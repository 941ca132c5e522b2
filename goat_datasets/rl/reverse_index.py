"""The reverse index of constrained synthesis (REFERENCE §2b): function -> parameter -> value -> cache entries.

Sampling a dependent step means asking "which recorded calls of B used exactly the value that A's response
holds at this path?"; the index answers that with dictionary lookups instead of a scan of the cache. Values are
compared in canonical form (`goat_datasets.cache.keys.canonical_key` of ``{"v": value}``), so ``"-1456928"``,
``-1456928`` and ``-1456928.0`` are one value, exactly as the cache key folds them.

One relaxation, for coordinates: recorded calls often pass a coordinate rounded from the parent's response
(``39.8502`` for ``39.8502006530762``). Two non-integral numbers match when they agree after rounding to the fewer
decimals of the two, provided that is at least ``min_float_decimals`` (default 3, about 100 m of latitude). The
chosen entry's own arguments become the gold call, so the gold call is still an exact cache hit.

Only entries a chain may be built on are indexed (`goat_datasets.rl.responses.response_problem`: ok, no error
object, non-empty data); the others are counted in ``unusable``.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any, Iterable, Mapping

from goat_datasets.cache.keys import canonical_key
from goat_datasets.cache.store import CacheEntry, ResponseCache
from goat_datasets.rl.responses import response_problem

__all__ = ["ReverseIndex", "value_key"]


def value_key(value: Any) -> str:
    """The canonical form of one argument value (the cache key's normalisation applied to it alone)."""
    return canonical_key({"v": value})


def _decimals(number: float) -> int | None:
    text = repr(number)
    if "e" in text or "E" in text or "." not in text:
        return None
    return len(text.split(".", 1)[1])


def _fractional(value: Any) -> float | None:
    """A finite non-integral number (after canonical normalisation), else None."""
    canonical = json.loads(value_key(value)).get("v")
    if type(canonical) is float and math.isfinite(canonical):
        return canonical
    return None


class ReverseIndex:
    """``lookup``/``matching`` answer "which usable entries of this API have these argument values"."""

    def __init__(self, entries: Iterable[CacheEntry], *, min_float_decimals: int = 3):
        if min_float_decimals < 0:
            raise ValueError(f"min_float_decimals must be >= 0, got {min_float_decimals}")
        self.min_float_decimals = min_float_decimals
        self._entries: dict[str, list[CacheEntry]] = {}
        self._by_key: dict[str, dict[str, CacheEntry]] = {}
        self._exact: dict[str, dict[str, dict[str, set[int]]]] = {}
        self._floats: dict[str, dict[str, list[tuple[float, int, int]]]] = {}
        self.unusable: Counter = Counter()  # api id -> entries left out (failed, error object, empty)
        for entry in entries:
            if response_problem(entry.ok, entry.response, entry.error) is not None:
                self.unusable[entry.api_id] += 1
                continue
            self._add(entry)

    @classmethod
    def from_cache(
        cls, cache: ResponseCache, *, api_ids: Iterable[str] | None = None, min_float_decimals: int = 3
    ) -> "ReverseIndex":
        wanted = None if api_ids is None else set(api_ids)
        entries = (e for e in cache if wanted is None or e.api_id in wanted)
        return cls(entries, min_float_decimals=min_float_decimals)

    def _add(self, entry: CacheEntry) -> None:
        position = len(self._entries.setdefault(entry.api_id, []))
        self._entries[entry.api_id].append(entry)
        self._by_key.setdefault(entry.api_id, {})[entry.key] = entry
        exact = self._exact.setdefault(entry.api_id, {})
        floats = self._floats.setdefault(entry.api_id, {})
        for param, value in json.loads(entry.key).items():  # the canonical arguments
            exact.setdefault(param, {}).setdefault(value_key(value), set()).add(position)
            number = _fractional(value)
            decimals = _decimals(number) if number is not None else None
            if decimals is not None:
                floats.setdefault(param, []).append((number, decimals, position))

    # ---- reading

    def api_ids(self) -> list[str]:
        return sorted(self._entries)

    def entries(self, api_id: str) -> list[CacheEntry]:
        """Every usable entry of ``api_id`` (in cache order: sorted by key)."""
        return self._entries.get(api_id, [])

    def get(self, api_id: str, arguments: Mapping[str, Any] | None) -> CacheEntry | None:
        """The usable entry with exactly these arguments (canonical key), or None: what an exact cache lookup sees."""
        return self._by_key.get(api_id, {}).get(canonical_key(arguments))

    def lookup(self, api_id: str, param: str, value: Any) -> set[int]:
        """Positions (in `entries`) of the entries whose ``param`` equals ``value`` (see the module docstring)."""
        found = set(self._exact.get(api_id, {}).get(param, {}).get(value_key(value), ()))
        number = _fractional(value)
        decimals = _decimals(number) if number is not None else None
        if decimals is not None:
            for stored, stored_decimals, position in self._floats.get(api_id, {}).get(param, ()):
                places = min(decimals, stored_decimals)
                if places >= self.min_float_decimals and round(stored, places) == round(number, places):
                    found.add(position)
        return found

    def matching(self, api_id: str, constraints: Mapping[str, Any]) -> list[CacheEntry]:
        """Entries whose arguments satisfy every ``param: value`` constraint (the intersection); no constraint:
        every entry."""
        entries = self.entries(api_id)
        positions: set[int] | None = None
        for param, value in constraints.items():
            found = self.lookup(api_id, param, value)
            positions = found if positions is None else positions & found
            if not positions:
                return []
        if positions is None:
            return list(entries)
        return [entries[p] for p in sorted(positions)]

    def __len__(self) -> int:
        return sum(len(v) for v in self._entries.values())

    def stats(self) -> dict[str, Any]:
        return {
            "entries": len(self),
            "apis": len(self._entries),
            "unusable": sum(self.unusable.values()),
            "by_api": {api: len(entries) for api, entries in sorted(self._entries.items())},
        }
