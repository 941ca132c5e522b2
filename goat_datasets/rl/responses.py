"""What a recorded response holds, and whether a chain may be built on it.

Recorded Booking.com answers come in two shapes: the API's envelope ``{"status": true, "message": "Success",
"data": ...}`` (the paper's samples keep it) and the data alone (ComplexFuncBench trims the envelope, and so do some
of the paper's samples). Workflow templates address fields inside the data (``hotels[0].property.latitude``,
``[0].dest_id``), so `payload` unwraps the envelope and both shapes answer the same paths.

`response_problem` is the validation rule of constrained synthesis (REFERENCE §2b: "status true, non-empty data, no
error"); the reverse index uses it too, so a chain is never built on an entry that replay validation would reject.
"""

from __future__ import annotations

from typing import Any

from goat_datasets.cache.importers.base import response_error
from goat_datasets.execution.base import is_empty_response

__all__ = ["payload", "response_problem"]

_ENVELOPE_KEYS = frozenset(("status", "message", "data", "timestamp"))


def payload(response: Any) -> Any:
    """The data of an enveloped answer (``{"status", "message"?, "data"}``), else the response itself."""
    if isinstance(response, dict) and "data" in response and "status" in response and set(response) <= _ENVELOPE_KEYS:
        return response["data"]
    return response


def response_problem(ok: bool, response: Any, error: str | None = None) -> str | None:
    """Why a call's answer cannot carry a chain (failed, error object, ``status: false``, empty data), or None."""
    if not ok:
        return f"call failed: {error or 'no reason recorded'}"
    error_object = response_error(response)
    if error_object is not None:
        return f"the response is an error object: {error_object[:200]}"
    data = payload(response)
    if is_empty_response(data) or (isinstance(response, dict) and is_empty_response(response)):
        return "the response is empty"
    return None
