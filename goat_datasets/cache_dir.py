"""Where goat keeps what it can rebuild (builds, assembled models, embeddings, the local Hub's repositories).

One root for all of them, ``$GOAT_CACHE_DIR`` (default ``~/.cache/goat-datasets``), so pointing a test or a CI run at
a fresh directory moves everything at once.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_CACHE_DIR = Path("~/.cache/goat-datasets")


def cache_dir(*parts: str) -> Path:
    """``$GOAT_CACHE_DIR`` (default ``~/.cache/goat-datasets``), joined with ``parts``; read at every call."""
    return Path(os.environ.get("GOAT_CACHE_DIR") or DEFAULT_CACHE_DIR).expanduser().joinpath(*parts)
