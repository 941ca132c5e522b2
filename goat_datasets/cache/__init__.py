"""The response cache: every call's answer under a canonical key of its arguments, with provenance.

    from goat_datasets.cache import ResponseCache, canonical_key
    cache = ResponseCache("build/responses.sqlite")
    cache.put("demo.get_movie", {"movie_id": "m0001"}, call_result, fingerprint)
    cache.get("demo.get_movie", {"movie_id": "m0001"})      # CacheEntry | None; exact lookup, no fuzzy fallback

Standard library only (sqlite3, json): importing it pulls in neither pydantic, httpx nor datasets, so the reward
workers of ``goat_train`` can use the key without the build stack. The executors that read and fill the cache are in
`goat_datasets.execution.replay`; the exported table's `datasets.Features` in `goat_datasets.formats.rl_cache`.
"""

from goat_datasets.cache.keys import canonical_arguments, canonical_key, is_number_like, number_from_string
from goat_datasets.cache.store import PROVENANCES, CacheEntry, ResponseCache

__all__ = [
    "canonical_key",
    "canonical_arguments",
    "is_number_like",
    "number_from_string",
    "ResponseCache",
    "CacheEntry",
    "PROVENANCES",
]
