"""The canonical cache key, re-exported from its one definition in `goat_datasets.cache.keys`.

The rules (number-like strings -> numbers, ``None`` dropped, sorted compact JSON) live there, next to the response
cache that stores under these keys, so a reward's lookup and the dataset's ``rl_cache`` rows can never disagree.
`goat_datasets.cache` imports only the standard library, so ``goat_train.rewards`` stays free of distilabel, torch
and trl.
"""

from goat_datasets.cache.keys import canonical_arguments, canonical_key, is_number_like, number_from_string

__all__ = ["canonical_key", "canonical_arguments", "is_number_like", "number_from_string"]
