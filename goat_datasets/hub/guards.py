"""Request guards that run before any route (and so before olah's mirror lookup) sees a path.

olah joins URL-decoded path segments onto its mirrors folder without rejecting ``..``, so ``%2e%2e`` could escape it.
The guard looks at the *raw* path (as sent, before decoding), decodes each segment repeatedly and refuses '.'/'..'.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable
from urllib.parse import unquote

from goat_datasets.hub.names import has_dot_segment

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]


def raw_path_of(scope: Scope) -> str:
    raw = scope.get("raw_path")
    if isinstance(raw, (bytes, bytearray)):
        return raw.decode("latin-1").split("?", 1)[0]
    return scope.get("path", "")


def raw_segments(scope: Scope) -> list[str]:
    """The path split on '/' *before* percent-decoding, then each piece decoded: a revision sent as
    ``refs%2Fconvert%2Fparquet`` stays one segment."""
    return [unquote(seg) for seg in raw_path_of(scope).split("/")[1:]]


class DotSegmentGuard:
    """ASGI middleware: 400 for any '.' or '..' path segment, raw or percent-encoded."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and has_dot_segment(raw_path_of(scope)):
            message = "path segments '.' and '..' are not allowed (also when percent-encoded)"
            body = json.dumps({"error": message}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"x-error-code", b"InvalidPath"),
                        (b"x-error-message", message.encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
