"""`GoatPipeline`: distilabel's local Pipeline without the per-batch bookkeeping our builds never read.

Our builds run distilabel without its batch cache and resume from their own call caches instead (see
`goat_builders.sft_traces`). distilabel 1.5.3 still pays for its cache on the main process, after every batch any
step finishes: it recomputes the pipeline's signature (a full dump of every step, runtime parameters included) each
time it asks where its cache lives, and saves the pipeline as YAML and its batch manager as JSON. Profiled with
benchmarks/pipeline_overhead.py (py-spy), that was over 80% of the main process's CPU, enough to keep one of two
cores busy and to hold back batches waiting to be routed to the next step. Its polls also sleep 2.5 s between
checks that the steps have loaded, a fixed cost of every run larger than a batch with a fast LLM.

`GoatPipeline` keeps distilabel's behaviour and files, with three changes while a run is in progress:
- the cache location is computed once, when the loop that routes batches starts (the pipeline does not change
  during a run);
- the pipeline and batch manager are saved once at the end of the run instead of after every batch;
- the polls sleep at most `POLL_S`.

distilabel is pinned to 1.5.3 (pyproject); `tests/test_pipeline_base.py` checks the internals this relies on.
"""

from __future__ import annotations

import contextlib
import threading
import time
import types
import warnings
from typing import Any, Iterator

# distilabel 1.5.3's models trip a pydantic >= 2.12 warning at import; it is about distilabel's code, not the user's.
warnings.filterwarnings("ignore", message=r"The 'default' attribute with value None was provided to the `Field\(\)`")

import distilabel.pipeline.base as _distilabel_base  # noqa: E402
from distilabel.pipeline import Pipeline  # noqa: E402

__all__ = ["GoatPipeline", "POLL_S"]

POLL_S = 0.02


@contextlib.contextmanager
def _prompt_polling() -> Iterator[None]:
    """While a pipeline runs, distilabel's pipeline module sees a ``time`` whose ``sleep`` is capped at `POLL_S`:
    its only sleeps are the two polls (steps loaded, steps finished), whose checks are cheap."""
    fast = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if not k.startswith("__")})
    fast.sleep = lambda seconds: time.sleep(min(seconds, POLL_S))
    saved = _distilabel_base.time
    _distilabel_base.time = fast
    try:
        yield
    finally:
        _distilabel_base.time = saved


class GoatPipeline(Pipeline):
    """distilabel's `Pipeline` with the bookkeeping of the module docstring cut to once per run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._frozen_location: Any = None
        self._routing = threading.local()  # set while the routing thread handles one finished batch

    @property
    def _cache_location(self) -> Any:
        if self._frozen_location is not None:
            return self._frozen_location
        return super()._cache_location

    def _output_queue_loop(self) -> None:
        self._frozen_location = super()._cache_location
        try:
            super()._output_queue_loop()
        finally:
            self._frozen_location = None

    def _manage_batch_flow(self, batch: Any) -> None:
        self._routing.active = True
        try:
            super()._manage_batch_flow(batch)
        finally:
            self._routing.active = False

    def _cache(self) -> None:
        if getattr(self._routing, "active", False):
            return  # after each batch: skipped; the end of the run saves once (_finalize_pipeline_execution)
        super()._cache()

    def run(self, *args: Any, **kwargs: Any) -> Any:
        with _prompt_polling():
            return super().run(*args, **kwargs)
