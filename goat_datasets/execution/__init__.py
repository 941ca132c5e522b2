"""Executors: how a call of an `ApiSpec` with arguments becomes a response."""

from goat_datasets.execution.base import CallResult, Executor

__all__ = ["CallResult", "Executor"]
