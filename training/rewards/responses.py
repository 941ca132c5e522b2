"""Did a tool call execute well? Verdicts on tool responses, memoised by response text.

Decoding tool responses dominates the cost of scoring a rollout (a recorded Booking.com response averages ~8 KB of
JSON), yet in GRPO the same response text comes back again and again: the tools answer from a deterministic cache and
every prompt is rolled out many times. So the verdict is computed once per distinct text and kept in a bounded memo
(cleared wholesale when full, which keeps the bookkeeping free). ``orjson`` is used when installed, with the standard
library deciding every case orjson rejects, so a verdict never depends on whether orjson is present.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

try:  # optional speed-up; results are identical without it
    import orjson as _orjson

    _fast_loads = _orjson.loads
except ImportError:  # pragma: no cover - depends on the environment
    _fast_loads = None

__all__ = [
    "ToolResponse",
    "decode_json",
    "UNDECODABLE",
    "paper_response_ok",
    "default_response_ok",
    "clear_response_memo",
]

_MEMO_LIMIT = 8192
_paper_memo: dict[str, bool] = {}
_default_memo: dict[str, bool] = {}

_UNDECODABLE = UNDECODABLE = object()  # what decode_json returns for text that is not JSON


class ToolResponse:
    """One tool result as it appeared in a rollout: raw ``text``, or a structured ``value`` (trl tool messages whose
    content is a dict/list). Exactly one of the two is meaningful; ``text is None`` means structured."""

    __slots__ = ("text", "value")

    def __init__(self, text: str | None = None, value: Any = None):
        self.text = text
        self.value = value

    def __repr__(self) -> str:
        if self.text is not None:
            return f"ToolResponse(text={self.text[:60]!r}{'...' if len(self.text) > 60 else ''})"
        return f"ToolResponse(value={self.value!r:.60})"

    def decoded(self) -> Any:
        """The JSON value of the response (``None`` when it is ``null`` or is not JSON)."""
        if self.text is None:
            return self.value
        value = decode_json(self.text)
        return None if value is _UNDECODABLE else value

    def ok(self, mode: str = "default") -> bool:
        return paper_response_ok(self) if mode == "paper" else default_response_ok(self)


_LONG_DIGIT_RUN = re.compile(r"[0-9]{19}")


def _loads(stripped: str, fast: bool) -> Any:
    """``json.loads(stripped)``, through orjson first when ``fast``; :data:`UNDECODABLE` on failure."""
    if fast and _fast_loads is not None:
        try:
            return _fast_loads(stripped)
        except Exception:  # let json decide what orjson rejects
            pass
    try:
        return json.loads(stripped)
    except (ValueError, RecursionError):
        return _UNDECODABLE


def _loads_verdict_only(stripped: str) -> Any:
    # orjson accepts a subset of what json.loads accepts (it rejects NaN/Infinity, lone surrogates, numbers that
    # overflow a double and nesting deeper than 1024) and decodes it to equal values except one case: integers outside
    # the 64-bit range become floats. A verdict only looks at the top level (type, "error" key, status == False,
    # emptiness), which that case cannot change, so verdicts may take orjson's answer as it is.
    return _loads(stripped, fast=True)


def decode_json(text: str) -> Any:
    """Exactly ``json.loads(text.strip())``, faster; returns :data:`UNDECODABLE` (not an exception) on failure.

    orjson is the fast path except when the text holds a run of 19+ digits (an integer orjson would turn into a
    float), so the decoded value never depends on whether orjson is installed.
    """
    stripped = text.strip()
    return _loads(stripped, fast=not _LONG_DIGIT_RUN.search(stripped))


def _paper_value_ok(value: Any) -> bool:
    # Released code: a dict fails on an "error" key, on status == False (so 0 too) and when empty; any other
    # JSON value (list, string, number, bool, even empty) passes; null never reaches the check (pair dropped).
    if value is None or value is _UNDECODABLE:
        return False
    if isinstance(value, dict):
        if "error" in value:
            return False
        if "status" in value and value["status"] == False:  # reproduces `== False` exactly (0 fails too)
            return False
        return len(value) > 0
    return isinstance(value, (list, str, int, float, bool))


def _default_value_ok(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, dict):
        if not value or value.get("error") or value.get("status") is False:
            return False
        return True
    if isinstance(value, str):
        stripped = value.strip()
        return bool(stripped) and stripped[:5].lower() != "error"
    if isinstance(value, (list, tuple)):
        return len(value) > 0
    return True  # a number or a boolean is an answer


def _remember(memo: dict[str, bool], text: str, verdict: bool) -> bool:
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo[text] = verdict
    return verdict


def paper_response_ok(response: ToolResponse | None) -> bool:
    """Execution verdict of the released code: the response parses as JSON, is not null, and is not an error."""
    if response is None:
        return False
    text = response.text
    if text is None:
        return _paper_value_ok(response.value)
    verdict = _paper_memo.get(text)
    if verdict is None:
        verdict = _remember(_paper_memo, text, _paper_value_ok(_loads_verdict_only(text.strip())))
    return verdict


def _decode_lenient(text: str) -> Any:
    stripped = text.strip()
    value = _loads_verdict_only(stripped)
    if value is not _UNDECODABLE:
        return value
    if stripped.startswith(("{'", "['", "[{'", "[(")):
        # trl writes tool results with str(result): a Python repr, not JSON. (Text that only failed JSON because it
        # was truncated is not tried: parsing kilobytes just to fail again is the slowest thing a reward could do.)
        try:
            return ast.literal_eval(stripped)
        except Exception:  # truncated or not a literal: judge it as text
            pass
    return stripped


def default_response_ok(response: ToolResponse | None) -> bool:
    """Execution verdict of the default mode: a response exists, is not an error and is not empty.

    Unlike the released code, a response that is not JSON still counts when it is non-empty text that does not start
    with "error": trl renders dict results with ``str()`` (a Python repr, decoded here with ``ast.literal_eval``) and
    trainers truncate long responses, neither of which is the policy's fault.
    """
    if response is None:
        return False
    text = response.text
    if text is None:
        return _default_value_ok(response.value)
    verdict = _default_memo.get(text)
    if verdict is None:
        verdict = _remember(_default_memo, text, _default_value_ok(_decode_lenient(text)))
    return verdict


def clear_response_memo() -> None:
    """Forget memoised verdicts (benchmarks use it to measure the cold path)."""
    _paper_memo.clear()
    _default_memo.clear()
