"""Read an API document (local JSON/YAML file or http(s) URL) and the result types every source parser shares.

The raw bytes are returned next to the parsed document because the recipe fingerprint hashes what was read, not a
re-serialisation of it (key order, whitespace and YAML comments would otherwise be lost or invented).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import httpx
import yaml
from pydantic import BaseModel, Field

from goat_datasets.registry import source_kinds
from goat_datasets.sources.models import ApiSpec

DOWNLOAD_TIMEOUT_S = 30.0
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
JSON_SUFFIXES = (".json",)
YAML_SUFFIXES = (".yaml", ".yml")


class SpecError(ValueError):
    """A whole document is unusable (unreadable, not parseable, not a supported format). Always names the document."""


class SpecProblem(BaseModel):
    """Something wrong with one part of a document, located by a JSON pointer (RFC 6901) into it.

    ``skipped`` tells whether the operation was dropped because of it, or kept with the problem worked around
    (e.g. output fields cut at the cap, an external ``$ref`` left unresolved).
    """

    pointer: str = Field(description="JSON pointer into the document, e.g. /paths/~1movie~1{id}/get")
    message: str
    skipped: bool = True

    def __str__(self) -> str:
        action = "skipped" if self.skipped else "kept"
        return f"{self.pointer or '/'}: {self.message} ({action})"


class ParseResult(BaseModel):
    """What a source parser returns: the operations it could use and what it had to skip or work around."""

    apis: list[ApiSpec] = Field(default_factory=list)
    problems: list[SpecProblem] = Field(default_factory=list)
    base_url: str | None = Field(
        default=None, description="The base_url given to the parser, else the document's first server URL, if any."
    )
    title: str = ""


def is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


class _PlainSafeLoader(yaml.SafeLoader):
    """SafeLoader without the timestamp rule: `2024-01-01` in an example stays a string, as it is in JSON."""


_PlainSafeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def decode_text(raw: bytes | str, doc_name: str) -> str:
    """A document's bytes as text (UTF-8, a BOM allowed); anything else is a `SpecError` naming the document."""
    if not isinstance(raw, bytes):
        return raw
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(f"API document {doc_name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def parse_spec_text(raw: bytes | str, doc_name: str) -> dict[str, Any]:
    """JSON or YAML text -> a dict. The format is taken from the name's suffix, else JSON is tried before YAML."""
    text = decode_text(raw, doc_name)
    lower = doc_name.lower().split("?", 1)[0]
    if lower.endswith(YAML_SUFFIXES):
        document = _parse_yaml(text, doc_name)
    elif lower.endswith(JSON_SUFFIXES):
        document = _parse_json(text, doc_name)
    else:
        try:
            document = json.loads(text)
        except ValueError:
            document = _parse_yaml(text, doc_name)
    if not isinstance(document, dict):
        kind = type(document).__name__
        raise SpecError(f"API document {doc_name}: expected a JSON/YAML object at the top, got {kind}")
    return document


def _parse_json(text: str, doc_name: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"API document {doc_name}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")


def _parse_yaml(text: str, doc_name: str) -> Any:
    try:
        return yaml.load(text, Loader=_PlainSafeLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise SpecError(f"API document {doc_name}: invalid YAML{where}: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"API document {doc_name}: invalid YAML: {exc}") from None


def load_spec_document(
    spec: str, base_dir: Path, *, timeout_s: float = DOWNLOAD_TIMEOUT_S, max_bytes: int = MAX_DOCUMENT_BYTES
) -> tuple[dict[str, Any], bytes]:
    """The parsed document and its raw bytes. ``spec`` is a path relative to ``base_dir`` or an http(s) URL."""
    raw = read_spec_bytes(spec, base_dir, timeout_s=timeout_s, max_bytes=max_bytes)
    return parse_spec_text(raw, spec), raw


def read_spec_bytes(
    spec: str, base_dir: Path, *, timeout_s: float = DOWNLOAD_TIMEOUT_S, max_bytes: int = MAX_DOCUMENT_BYTES
) -> bytes:
    """The document's bytes, unparsed: source kinds whose documents are lists or JSON Lines parse them themselves."""
    return _fetch(spec, timeout_s, max_bytes) if is_url(spec) else _read_file(spec, base_dir, max_bytes)


def _read_file(spec: str, base_dir: Path, max_bytes: int) -> bytes:
    path = Path(spec).expanduser()
    if not path.is_absolute():
        path = Path(base_dir) / path
    if not path.is_file():
        why = "is a directory" if path.is_dir() else "does not exist"
        raise SpecError(f"API document {spec}: {path} {why}")
    size = path.stat().st_size
    if size > max_bytes:
        raise SpecError(f"API document {spec}: {path} is {size} bytes, more than the {max_bytes}-byte limit")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SpecError(f"API document {spec}: cannot read {path}: {exc.strerror or exc}") from None


def _fetch(url: str, timeout_s: float, max_bytes: int) -> bytes:
    try:
        with httpx.stream("GET", url, timeout=timeout_s, follow_redirects=True) as response:
            if response.status_code >= 400:
                raise SpecError(f"API document {url}: the server answered HTTP {response.status_code}")
            chunks: list[bytes] = []
            received = 0
            for chunk in response.iter_bytes():
                received += len(chunk)
                if received > max_bytes:
                    raise SpecError(f"API document {url}: larger than the {max_bytes}-byte limit")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.TimeoutException:
        raise SpecError(f"API document {url}: no answer within {timeout_s:g}s") from None
    except httpx.HTTPError as exc:
        raise SpecError(f"API document {url}: download failed: {type(exc).__name__}: {exc}") from None


JSONL_SUFFIXES = (".jsonl", ".ndjson")


def parse_records_text(raw: bytes | str, doc_name: str) -> Any:
    """JSON (an object or a list), JSON Lines (returned as the list of its values) or YAML (an object).

    JSON Lines is read when the name says so (``.jsonl``/``.ndjson``) or when the text is not one JSON value but its
    first line is; a record's pointer is then its index among the non-blank lines.
    """
    text = decode_text(raw, doc_name)
    if doc_name.lower().split("?", 1)[0].endswith(JSONL_SUFFIXES):
        return _json_lines(text, doc_name)
    try:
        return json.loads(text)
    except ValueError:
        pass
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and _is_json(lines[0]):
        return _json_lines(text, doc_name)
    return parse_spec_text(text, doc_name)  # YAML, or the JSON error message with its line and column


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _json_lines(text: str, doc_name: str) -> list[Any]:
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise SpecError(
                f"API document {doc_name}: invalid JSON on line {number}, column {exc.colno}: {exc.msg}"
            ) from None
    return records


def register_source_kind(
    name: str, parse: Callable[..., ParseResult], *, records: bool = False
) -> Callable[..., ParseResult]:
    """Register ``parse(document, source, *, doc_name, **options)`` as the source kind ``name``.

    The registered loader takes an already parsed document or its raw text/bytes (what a build reads from disk or a
    URL): single-document formats read JSON/YAML into an object; ``records`` formats also accept a top-level list
    and JSON Lines (`parse_records_text`).
    """
    structured: tuple[type, ...] = (dict, list) if records else (dict,)
    read_text = parse_records_text if records else parse_spec_text

    def load(spec: Any, *, source: str, doc_name: str = "<doc>", **options: Any) -> ParseResult:
        document = spec if isinstance(spec, structured) else read_text(spec, doc_name)
        return parse(document, source, doc_name=doc_name, **options)

    load.__name__ = load.__qualname__ = f"load_{name}_source"
    load.__doc__ = f"The ``{name}`` source kind: a parsed document, or its text (see `register_source_kind`)."
    return source_kinds.register(name)(load)
