"""Where the third-party specs and benchmark data live (never copied into the repo).

``$GOAT_SHARED_DATA`` if set, else ``../shared/data`` beside the checkout, else ``/work/shared/data``; tests that
need a file skip with its path when none of these has it.
"""

from __future__ import annotations

import os
from pathlib import Path


def _find() -> Path:
    candidates = [os.environ.get("GOAT_SHARED_DATA"), Path(__file__).resolve().parents[2] / "shared" / "data",
                  "/work/shared/data"]  # fmt: skip
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


SHARED_DATA = _find()
