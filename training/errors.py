"""The one error type the ``goat-train`` CLI turns into a clear message and exit status 2.

Everything the user can fix by changing a flag or a dataset (an unknown repo, revision or config, a missing column,
a model path that is not a model) raises `TrainingInputError`; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class TrainingInputError(ValueError):
    """Bad input from the command line or the dataset; the message says what is wrong and what exists instead."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` when a known name is close to ``name``, else ``""``."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
