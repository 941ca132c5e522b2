"""Stage 1 of the graph: candidate edges from embedding similarity (GOAT §1a step 2).

Every output field of API A is compared with every input parameter of API B (A != B) by the cosine of their text
embeddings, computed as one matrix product. A pair becomes a candidate when

1. its score is above ``threshold`` (the paper uses 0.20),
2. the field's type can fill the parameter's type (`field_fits_param`),
3. it is among the ``top_k`` best pairs for its target (B, parameter) (``None`` keeps all; the paper has no top-k).

Not every parameter is a target (`target_exclusion`): enums and booleans are choices the user states, not data an
earlier call produces; pagination knobs (``page``, ``limit``, ``offset``...) are never worth a dependency.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any, Protocol, Sequence

import numpy as np
from pydantic import BaseModel, Field

from goat_datasets import jsonpath
from goat_datasets.graph.model import DependencyEdge, StageResult
from goat_datasets.sources.models import ApiSpec, OutputField, Param

log = logging.getLogger(__name__)

PAGINATION_PARAM_NAMES = frozenset(
    {
        "page", "pagenumber", "pageno", "pagenum", "pagesize", "perpage", "pagelimit", "resultsperpage",
        "limit", "offset", "skip", "top", "maxresults", "numresults",
    }
)  # fmt: skip
SCALAR_TYPES = ("string", "integer", "number", "boolean")
_DIGITS = re.compile(r"^-?\d+$")
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")


class TextEmbedder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class CandidateStats(BaseModel):
    apis: int = 0
    output_fields: int = 0
    params: int = 0
    target_params: int = 0
    excluded_params: dict[str, int] = Field(default_factory=dict, description="reason -> how many parameters")
    texts_embedded: int = 0
    pairs_considered: int = Field(0, description="(field of A, target parameter of B) pairs with A != B")
    kept_by_threshold: int = 0
    kept_by_type: int = 0
    kept_by_top_k: int = 0
    threshold: float = 0.0
    top_k: int | None = None
    seconds: float = 0.0


def _normalise_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def target_exclusion(param: Param) -> str | None:
    """Why ``param`` may not be the target of an edge, or None when it may."""
    schema = param.json_schema
    if "enum" in schema or "const" in schema:
        return "enum"
    if param.type == "boolean":
        return "boolean"
    if _normalise_name(param.name) in PAGINATION_PARAM_NAMES:
        return "pagination"
    return None


def param_kind(param: Param) -> str:
    """``string``/``integer``/``number``/``boolean``/``object``, or ``array:<item kind>`` for arrays."""
    kind = param.type
    if kind == "array":
        items = param.json_schema.get("items") or {}
        item_type = items.get("type", "string") if isinstance(items, dict) else "string"
        item_type = item_type if isinstance(item_type, str) else (item_type[0] if item_type else "string")
        return f"array:{item_type}"
    return kind if kind in SCALAR_TYPES or kind == "object" else "string"


def field_kind(api: ApiSpec, field: OutputField) -> str:
    """The field's declared type, refined to ``digit_string``/``decimal_string`` when a response example proves it."""
    kind = field.type if field.type in (*SCALAR_TYPES, "array", "object") else "other"
    if kind == "string":
        for example in api.response_examples:
            value = jsonpath.get_first(example, field.path)
            if isinstance(value, str):
                if _DIGITS.match(value):
                    return "digit_string"
                if _DECIMAL.match(value):
                    return "decimal_string"
                break
    return kind


# parameter kind -> field kinds that can fill it. Arrays and objects never fill a scalar parameter.
_FITS: dict[str, frozenset[str]] = {
    "string": frozenset({"string", "digit_string", "decimal_string", "integer", "other"}),
    "integer": frozenset({"integer", "number", "digit_string"}),
    "number": frozenset({"integer", "number", "digit_string", "decimal_string"}),
    "boolean": frozenset({"boolean"}),
    "object": frozenset({"object"}),
}


def field_fits_param(field_kind_: str, param_kind_: str) -> bool:
    """Type compatibility table. An array parameter takes an array field or one element of its item kind."""
    if param_kind_.startswith("array:"):
        return field_kind_ == "array" or field_fits_param(field_kind_, param_kind_.split(":", 1)[1])
    return field_kind_ in _FITS.get(param_kind_, _FITS["string"])


def param_text(api: ApiSpec, param: Param) -> str:
    return f"{api.name}: {param.name}: {param.description}".strip().rstrip(":").strip()


def field_text(api: ApiSpec, field: OutputField) -> str:
    return f"{api.name} returns {field.path}: {field.description}".strip().rstrip(":").strip()


def find_candidates(
    apis: Sequence[ApiSpec],
    embedder: TextEmbedder,
    *,
    threshold: float = 0.2,
    top_k: int | None = None,
) -> tuple[list[DependencyEdge], CandidateStats]:
    """Candidate edges, sorted by (target API, parameter, -score), with per-filter counts."""
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be a positive integer or None, got {top_k}")
    started = time.perf_counter()
    stats = CandidateStats(apis=len(apis), threshold=threshold, top_k=top_k)

    fields: list[tuple[int, OutputField, str]] = []  # (api index, field, field kind)
    for ai, api in enumerate(apis):
        seen: set[str] = set()
        for f in api.output_fields:
            if f.path not in seen:
                seen.add(f.path)
                fields.append((ai, f, field_kind(api, f)))
    params: list[tuple[int, Param, str]] = []  # (api index, param, param kind)
    for bi, api in enumerate(apis):
        for p in api.params:
            stats.params += 1
            why = target_exclusion(p)
            if why:
                stats.excluded_params[why] = stats.excluded_params.get(why, 0) + 1
            else:
                params.append((bi, p, param_kind(p)))
    stats.output_fields, stats.target_params = len(fields), len(params)
    if not fields or not params:
        stats.seconds = time.perf_counter() - started
        return [], stats

    texts = [field_text(apis[ai], f) for ai, f, _ in fields] + [param_text(apis[bi], p) for bi, p, _ in params]
    vectors = np.asarray(embedder.encode(texts), dtype=np.float32)
    stats.texts_embedded = len(texts)
    out_vecs, in_vecs = _unit_rows(vectors[: len(fields)]), _unit_rows(vectors[len(fields) :])

    scores = out_vecs @ in_vecs.T  # (fields, params) cosine similarities
    field_api = np.array([ai for ai, _, _ in fields])
    param_api = np.array([bi for bi, _, _ in params])
    cross_api = field_api[:, None] != param_api[None, :]
    stats.pairs_considered = int(cross_api.sum())
    keep = cross_api & (scores > threshold)
    stats.kept_by_threshold = int(keep.sum())

    field_kinds = sorted({k for _, _, k in fields})
    param_kinds = sorted({k for _, _, k in params})
    fits = np.array([[field_fits_param(fk, pk) for pk in param_kinds] for fk in field_kinds], dtype=bool)
    fk_index = np.array([field_kinds.index(k) for _, _, k in fields])
    pk_index = np.array([param_kinds.index(k) for _, _, k in params])
    keep &= fits[fk_index[:, None], pk_index[None, :]]
    stats.kept_by_type = int(keep.sum())

    edges: list[DependencyEdge] = []
    for pj in range(len(params)):
        rows = np.nonzero(keep[:, pj])[0]
        if rows.size == 0:
            continue
        # best first; ties broken by (API id, field path) so the result never depends on input order
        ranked = sorted(rows.tolist(), key=lambda r: (-float(scores[r, pj]), apis[fields[r][0]].id, fields[r][1].path))
        if top_k is not None:
            ranked = ranked[:top_k]
        bi, param, pkind = params[pj]
        for r in ranked:
            ai, field, fkind = fields[r]
            score = float(scores[r, pj])
            edges.append(
                DependencyEdge(
                    source_api=apis[ai].id,
                    source_path=field.path,
                    target_api=apis[bi].id,
                    target_param=param.name,
                    target_location=param.location,
                    score=round(score, 6),
                    source_type=fkind,
                    target_type=pkind,
                    candidate=StageResult(
                        status="passed",
                        code="similar",
                        reason=f"cosine {score:.3f} > {threshold}; {fkind} field fits {pkind} parameter",
                    ),
                )
            )
    edges.sort(key=lambda e: (e.target_api, e.target_param, -e.score, e.source_api, e.source_path))
    stats.kept_by_top_k = len(edges)
    stats.seconds = time.perf_counter() - started
    log.info(
        "candidates: %d pairs, %d above %.2f, %d type-compatible, %d after top-k (%.2fs)",
        stats.pairs_considered, stats.kept_by_threshold, threshold, stats.kept_by_type, stats.kept_by_top_k,
        stats.seconds,
    )  # fmt: skip
    return edges, stats


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Normalise again: a custom embedder need not return unit vectors, and cosine needs them."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def describe_texts(apis: Sequence[ApiSpec]) -> dict[str, Any]:
    """The exact texts that get embedded, for debugging a missing edge."""
    return {
        api.id: {
            "params": {p.name: param_text(api, p) for p in api.params},
            "fields": {f.path: field_text(api, f) for f in api.output_fields},
        }
        for api in apis
    }
