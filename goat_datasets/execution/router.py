"""Route each call to the executor of the source its API came from (one recipe may mix live and simulated sources)."""

from __future__ import annotations

from typing import Any

from goat_datasets.execution.base import CallResult, Executor
from goat_datasets.sources.models import ApiSpec


class ExecutorRouter:
    def __init__(self, executors: dict[str, Executor]):
        self._executors = dict(executors)

    def call(self, api: ApiSpec, arguments: dict[str, Any]) -> CallResult:
        executor = self._executors.get(api.source)
        if executor is None:
            return CallResult(
                api_id=api.id,
                arguments=arguments,
                ok=False,
                error=f"no executor configured for source {api.source!r}",
                provenance="error",
            )
        return executor.call(api, arguments)

    def close(self) -> None:
        for executor in self._executors.values():
            executor.close()

    def __enter__(self) -> "ExecutorRouter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_router(sources: list[dict[str, Any]]) -> ExecutorRouter:
    """Executors for a recipe's sources: ``[{name, executor, base_url, allowed_hosts, timeout_s, headers[, cache_path]}]``."""
    from goat_datasets.registry import executors

    built: dict[str, Executor] = {}
    for src in sources:
        factory = executors.get(src.get("executor", "http"))
        extra = {"cache_path": src["cache_path"]} if src.get("cache_path") else {}  # replay: the cache it reads
        built[src["name"]] = factory(
            base_url=src.get("base_url") or "",
            allowed_hosts=list(src.get("allowed_hosts") or []),
            timeout_s=float(src.get("timeout_s", 10.0)),
            headers=dict(src.get("headers") or {}),
            **extra,
        )
    return ExecutorRouter(built)
