"""What every executor returns. A failed call is a value, never an exception through the pipeline."""

from __future__ import annotations

import time
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from goat_datasets.sources.models import ApiSpec

Provenance = Literal["real", "simulated", "error"]


class CallResult(BaseModel):
    api_id: str
    arguments: dict[str, Any]
    ok: bool
    status_code: int | None = None
    response: Any = None
    error: str | None = None
    provenance: Provenance = "real"
    elapsed_s: float = 0.0
    url: str | None = None

    @property
    def failed(self) -> bool:
        return not self.ok


class Executor(Protocol):
    """Calls one operation. Implementations must catch every failure and return ``CallResult(ok=False, error=...)``."""

    def call(self, api: ApiSpec, arguments: dict[str, Any]) -> CallResult: ...

    def close(self) -> None: ...


def call_result(
    api: ApiSpec, arguments: Any, started: float, *, ok: bool, provenance: Provenance, **fields: Any
) -> CallResult:
    """The result of one call timed from ``started`` (``time.perf_counter()``); arguments that are not an object are
    kept as their repr, because a result must say what was sent even when it was not valid."""
    return CallResult(
        api_id=api.id,
        arguments=arguments if isinstance(arguments, dict) else {"_invalid": repr(arguments)},
        ok=ok,
        provenance=provenance,
        elapsed_s=time.perf_counter() - started,
        **fields,
    )


def is_empty_response(response: Any) -> bool:
    """No information to build on: nothing, or an object whose every list is empty (``{"results": [], "total": 0}``).

    A successful call that found nothing cannot feed a later call, so both the graph's execution check and the
    trace builder treat it as a failure of the chain, with this as the reason.
    """
    if response is None or response == "" or response == [] or response == {}:
        return True
    if isinstance(response, dict):
        lists = [v for v in response.values() if isinstance(v, list)]
        return bool(lists) and all(len(v) == 0 for v in lists)
    return False
