"""The ``rl_cache`` config: the response cache as a table, one row per (API id, canonical key).

Rows come from `goat_datasets.cache.ResponseCache.export_rows`:

    Dataset.from_list(list(cache.export_rows()), features=RL_CACHE_FEATURES)

Why these types:
- ``arguments`` and ``response`` are JSON strings: every API has its own argument and response shape, and a struct
  column would merge them across rows with null-filled keys (REFERENCE §6). ``json.loads(row["response"])`` gives the
  answer back exactly as recorded.
- ``key`` is the lookup key (`goat_datasets.cache.keys.canonical_key` of the arguments): a consumer rebuilds the
  cache as ``{(api_id, key): row}`` and looks up ``canonical_key(model_arguments)``, with no normalisation of its own.
- ``status_code`` is null for simulated answers and for calls that never reached a server; ``error`` is null when
  ``ok``; ``provenance`` is ``real``, ``simulated`` or ``error``.
- ``created_at`` is a UTC timestamp of when the stored answer was recorded.
"""

from __future__ import annotations

from datasets import Features, Value

RL_CACHE_FEATURES = Features(
    {
        "api_id": Value("string"),
        "key": Value("string"),
        "arguments": Value("string"),
        "response": Value("string"),
        "status_code": Value("int32"),
        "ok": Value("bool"),
        "provenance": Value("string"),
        "error": Value("string"),
        "created_at": Value("timestamp[us, tz=UTC]"),
        "recipe_fingerprint": Value("string"),
    }
)

RL_CACHE_COLUMNS = tuple(RL_CACHE_FEATURES)
