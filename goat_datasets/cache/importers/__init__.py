"""Seed a `ResponseCache` with recorded real calls (REFERENCE §2a: the cache environment starts from recordings).

    from goat_datasets.cache.importers import import_files
    report = import_files("booking", ["training_workflows.json"], cache)   # or: goat cache import booking FILE --into C
    print(report.summary())

Kinds (registry `cache_importers`; one module each): ``apibank`` (API-Bank level-1/2 dialogues), ``complexfuncbench``
(ComplexFuncBench records), ``booking`` (the graduated-reward paper's samples). The loop, the keys and the counts are
in `goat_datasets.cache.importers.base`.
"""

from goat_datasets.cache.importers.base import (
    ImporterKind,
    ImportReport,
    RecordedCall,
    Skipped,
    cache_importers,
    import_files,
    recorded_result,
    register_importer,
)
from goat_datasets.cache.importers import apibank as _apibank  # noqa: F401  (registers "apibank")
from goat_datasets.cache.importers import complexfuncbench as _complexfuncbench  # noqa: F401
from goat_datasets.cache.importers import booking as _booking  # noqa: F401

__all__ = [
    "ImporterKind",
    "ImportReport",
    "RecordedCall",
    "Skipped",
    "cache_importers",
    "import_files",
    "recorded_result",
    "register_importer",
]
