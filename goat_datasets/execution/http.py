"""Call real HTTP APIs described by `ApiSpec`s.

Arguments come from an LLM, so they are untrusted: path values are percent-encoded as a whole (``a/b ../x`` cannot
change the path), the final URL and every redirect target must be on an allow-listed host, responses are size-capped,
and every failure (bad arguments, refused host, timeout, refused connection, HTTP error status) comes back as a
`CallResult` value with a reason; nothing raises through the pipeline.
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any
from urllib.parse import quote

import httpx

from goat_datasets.execution.base import CallResult, call_result
from goat_datasets.registry import executors
from goat_datasets.sources.models import ApiSpec, Param
from goat_datasets.sources.openapi import WHOLE_BODY_KEY  # marks the one parameter that is the entire request body

REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
ERROR_BODY_PREVIEW = 300
_PLACEHOLDER = re.compile(r"{([^{}]+)}")


class _CallFailed(Exception):
    """A call that cannot be made or completed; becomes ``CallResult(ok=False, error=reason)``."""

    def __init__(self, reason: str, status_code: int | None = None, response: Any = None, url: str | None = None):
        super().__init__(reason)
        self.reason, self.status_code, self.response, self.url = reason, status_code, response, url


def _normalise_host(host: str) -> str:
    return host.strip().lower().strip("[]").rstrip(".")


def host_allowed(host: str, patterns: tuple[str, ...]) -> bool:
    """``api.example.com`` matches itself only; ``*.example.com`` matches any subdomain (not example.com itself)."""
    host = _normalise_host(host)
    for pattern in patterns:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


def _text_value(value: Any) -> str:
    """How a scalar argument is written in a path, query or header: JSON spelling for booleans and containers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _simple_style(value: Any) -> str:
    """OpenAPI's default style for path and header values: arrays as ``a,b,c``."""
    if isinstance(value, list):
        return ",".join(_text_value(v) for v in value)
    return _text_value(value)


def encode_path_value(value: Any) -> str:
    """One path segment: every reserved character escaped, and ``.``/``..`` escaped so they are not dot segments."""
    encoded = quote(_simple_style(value), safe="")
    if encoded in (".", ".."):
        encoded = encoded.replace(".", "%2E")
    return encoded


class HttpExecutor:
    """Executes operations of one source against ``base_url`` with a shared, thread-safe `httpx.Client`."""

    def __init__(
        self,
        base_url: str,
        *,
        allowed_hosts: list[str] | None = None,
        timeout_s: float = 10.0,
        headers: dict[str, str] | None = None,
        max_response_bytes: int = 2_000_000,
        max_redirects: int = 5,
    ):
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"the http executor needs an http(s) base_url (set the source's base_url or give the document a "
                f"servers entry), got {base_url!r}"
            )
        url = httpx.URL(base_url)
        if not url.host:
            raise ValueError(f"base_url {base_url!r} has no host")
        if url.query or url.fragment:
            raise ValueError(f"base_url {base_url!r} must not carry a query or fragment")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        if max_response_bytes <= 0:
            raise ValueError(f"max_response_bytes must be positive, got {max_response_bytes}")
        self.base_url = base_url.rstrip("/")
        self.allowed_hosts = tuple(_normalise_host(h) for h in (allowed_hosts or [url.host]))
        self.timeout_s = float(timeout_s)
        self.max_response_bytes = max_response_bytes
        self.max_redirects = max_redirects
        self._client = httpx.Client(timeout=self.timeout_s, follow_redirects=False, headers=dict(headers or {}))
        self._closed = False
        self._lock = threading.Lock()

    # ---- Executor protocol

    def call(self, api: ApiSpec, arguments: dict[str, Any]) -> CallResult:
        started = time.perf_counter()
        url: str | None = None
        try:
            if self._closed:
                raise _CallFailed("executor is closed")
            request = self._build_request(api, arguments)
            url = str(request.url)
            status, payload, url = self._send(request)
        except _CallFailed as exc:
            return self._result(api, arguments, started, ok=False, error=exc.reason, status_code=exc.status_code,
                                response=exc.response, url=exc.url or url)  # fmt: skip
        except Exception as exc:  # the protocol forbids raising: anything unexpected is a failed call too
            return self._result(api, arguments, started, ok=False, error=f"{type(exc).__name__}: {exc}", url=url)
        return self._result(api, arguments, started, ok=True, status_code=status, response=payload, url=url)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._client.close()

    def __enter__(self) -> "HttpExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- building the request

    def _build_request(self, api: ApiSpec, arguments: dict[str, Any]) -> httpx.Request:
        if not isinstance(arguments, dict):
            raise _CallFailed(f"arguments must be an object, got {type(arguments).__name__}")
        params = {p.name: p for p in api.params}
        unknown = sorted(name for name in arguments if name not in params)
        if unknown:
            raise _CallFailed(f"unknown parameter(s) {', '.join(map(repr, unknown))} for {api.id}")
        given = {name: value for name, value in arguments.items() if value is not None}
        missing = [p for p in api.params if p.required and p.name not in given]
        if missing:
            listed = ", ".join(f"{p.name!r} ({p.location})" for p in missing)
            raise _CallFailed(f"missing required parameter(s) {listed} for {api.id}")

        path = self._fill_path(api, given, params)
        query: list[tuple[str, str]] = []
        headers: dict[str, str] = {}
        body: dict[str, Any] = {}
        whole_body: Any = None
        has_whole_body = False
        for name, value in given.items():
            param = params[name]
            if param.location == "query":
                values = value if isinstance(value, list) else [value]  # arrays: repeated keys (OpenAPI form/explode)
                query.extend((name, _text_value(v)) for v in values if v is not None)
            elif param.location == "header":
                headers[name] = _simple_style(value)
            elif param.location == "body":
                if _is_whole_body(param):
                    whole_body, has_whole_body = value, True
                else:
                    body[name] = value
        if has_whole_body and body:
            raise _CallFailed(f"{api.id}: a whole-body argument cannot be combined with body properties {sorted(body)}")

        url = httpx.URL(self.base_url + path, params=query)
        if not host_allowed(url.host, self.allowed_hosts):
            raise _CallFailed(f"host not allowed: {url.host!r} is not in {list(self.allowed_hosts)}", url=str(url))
        content: dict[str, Any] = {}
        if has_whole_body:
            content["json"] = whole_body
        elif body:
            content["json"] = body
        return self._client.build_request(api.method.upper(), url, headers=headers, **content)

    @staticmethod
    def _fill_path(api: ApiSpec, given: dict[str, Any], params: dict[str, Param]) -> str:
        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in given or params[name].location != "path":
                raise _CallFailed(f"no value for the path placeholder {{{name}}} of {api.path!r}")
            return encode_path_value(given[name])

        path = api.path if api.path.startswith("/") else "/" + api.path
        return _PLACEHOLDER.sub(substitute, path)

    # ---- sending

    def _send(self, request: httpx.Request) -> tuple[int, Any, str]:
        """(status, payload, final url) of a 2xx answer; `_CallFailed` for everything else."""
        for _ in range(self.max_redirects + 1):
            try:
                response = self._client.send(request, stream=True)
            except httpx.TimeoutException:
                raise _CallFailed(f"timeout: no complete answer within {self.timeout_s:g}s", url=str(request.url))
            except httpx.ConnectError as exc:
                raise _CallFailed(f"connection failed: {exc}", url=str(request.url))
            except httpx.HTTPError as exc:
                raise _CallFailed(f"request failed: {type(exc).__name__}: {exc}", url=str(request.url))
            try:
                if response.status_code in REDIRECT_CODES and "location" in response.headers:
                    request = self._redirected(request, response)
                    continue
                raw = self._read_capped(response)
            finally:
                response.close()
            payload = _decode(raw, response.headers.get("content-type", ""))
            url = str(request.url)
            if 200 <= response.status_code < 300:
                return response.status_code, payload, url
            preview = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
            preview = preview if len(preview) <= ERROR_BODY_PREVIEW else preview[:ERROR_BODY_PREVIEW] + "..."
            reason = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
            raise _CallFailed(f"{reason}: {preview}" if preview else reason, response.status_code, payload, url)
        raise _CallFailed(f"too many redirects (more than {self.max_redirects})", url=str(request.url))

    def _redirected(self, request: httpx.Request, response: httpx.Response) -> httpx.Request:
        target = request.url.join(response.headers["location"])
        if target.scheme not in ("http", "https") or not host_allowed(target.host, self.allowed_hosts):
            raise _CallFailed(
                f"host not allowed: redirect to {str(target)!r} leaves {list(self.allowed_hosts)}",
                response.status_code,
                url=str(request.url),
            )
        # 303 (and, as browsers do, 301/302 after a POST) turn into a GET without a body; 307/308 keep both.
        if response.status_code == 303 or (response.status_code in (301, 302) and request.method == "POST"):
            headers = {k: v for k, v in request.headers.items() if k.lower() not in ("content-length", "content-type")}
            return self._client.build_request("GET", target, headers=headers)
        return self._client.build_request(request.method, target, headers=request.headers, content=request.content)

    def _read_capped(self, response: httpx.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise _CallFailed(
                        f"response larger than {self.max_response_bytes} bytes; not kept",
                        response.status_code,
                        url=str(response.request.url),
                    )
                chunks.append(chunk)
        except httpx.TimeoutException:
            raise _CallFailed(f"timeout: no complete answer within {self.timeout_s:g}s", response.status_code,
                              url=str(response.request.url))  # fmt: skip
        except httpx.HTTPError as exc:
            raise _CallFailed(f"reading the response failed: {type(exc).__name__}: {exc}", response.status_code,
                              url=str(response.request.url))  # fmt: skip
        return b"".join(chunks)

    @staticmethod
    def _result(api: ApiSpec, arguments: Any, started: float, *, ok: bool, **fields: Any) -> CallResult:
        return call_result(api, arguments, started, ok=ok, provenance="real" if ok else "error", **fields)


def _is_whole_body(param: Param) -> bool:
    return param.json_schema.get(WHOLE_BODY_KEY) is True


def _decode(raw: bytes, content_type: str) -> Any:
    """JSON when the body is JSON (declared or not), else text; empty bodies are None."""
    if not raw.strip():
        return None
    text = raw.decode(_charset(content_type) or "utf-8", errors="replace")
    if "json" in content_type.lower() or text.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _charset(content_type: str) -> str | None:
    match = re.search(r"charset=([\w.-]+)", content_type, re.IGNORECASE)
    if not match:
        return None
    try:
        "".encode(match.group(1))
    except LookupError:
        return None
    return match.group(1)


executors.register("http")(HttpExecutor)
