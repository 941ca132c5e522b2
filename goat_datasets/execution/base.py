"""What every executor returns. A failed call is a value, never an exception through the pipeline."""

from __future__ import annotations

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
