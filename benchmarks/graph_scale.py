"""Wall time and peak memory of graph candidate generation on synthetic documents of 100, 1,000 and 10,000 APIs.

    .venv/bin/python benchmarks/graph_scale.py                       # 100, 1,000 and 10,000 APIs (a few minutes)
    .venv/bin/python benchmarks/graph_scale.py --sizes 100 1000      # the small sizes only (with the naive loop)
    .venv/bin/python benchmarks/graph_scale.py --real-embedder       # the packaged MiniLM (cache warmed first)

Documents: deterministic (seeded) operations over 50 entity kinds, spread over services of about 100 operations
each: ``search_X``, ``get_X(x_id)``, ``list_X_of_Y(y_id)``, ``get_X_Y(x_id)`` (a sub-resource), ``list_popular_X``,
about 10 described output fields and 1-3 parameters per operation (path ids, search queries, pagination, enums).

Embeddings: the target excludes first-time embedding, so by default a fast deterministic *fake* embedder is used (a
bag of hashed word vectors plus a per-text hashed component, unit rows of dimension 384, numpy only); texts that
share words are similar, like a sentence model's. Every measured call is the *second* call on the same texts, so the
embedder only looks them up (as the real `Embedder` does from its cache). ``--real-embedder`` uses the packaged
MiniLM: the first call fills the cache under $GOAT_CACHE_DIR/embeddings (slow on CPU; not timed), the second is
timed.

Each (size, preset) runs in its own child process, pinned to at most 2 cores with BLAS threads set to 2, so its
``ru_maxrss`` is the peak of that run alone (``peak_mib``: whole process; ``stage_mib``: the growth of the peak during
the timed call). Measured per child: `find_candidates` wall time (``seconds``) and process CPU time (``cpu s``: on a
shared machine the wall time also counts waiting for a core; with 2 BLAS threads the CPU time can exceed it) for the
``default`` and ``paper`` presets, and for ``similarity`` (the field-level cosine + threshold + type rule) on the
sizes with a naive baseline: a plain Python loop over every (output field, target parameter) pair with one ``np.dot``
each, the same decision, checked to keep exactly the same pairs (up to float rounding at the threshold). ``ratio`` =
naive loop / the same decision vectorised (`_blocks` over the prepared inputs, best of 3; both exclude text building
and embedding); the ratio to the whole ``similarity`` stage (which also builds one `DependencyEdge` per kept pair) is
printed below it. Above ``--naive-max-pairs`` pairs the loop runs on a deterministic subset of the targets and its
time is extrapolated linearly (a per-pair loop is linear by construction); it is skipped at 10,000 APIs. Where the
time goes: the blocked products (the FLOPs), then building one `DependencyEdge` per kept pair (the default preset
keeps ~2.8 million at 10,000 APIs: most of the memory); everything else touches only pairs above a cosine bar or with
evidence.

FLOPs: the similarity products cost 2*R*P*d (R score rows: output fields, or APIs for ``paper``'s API-level texts;
P target parameters; d = 384). Printed: GFLOP/s of the products alone (the same blocked products re-timed on the same
shapes), of the whole stage (FLOPs / stage seconds), and both as a fraction of the machine's measured peak (best of
3 float32 2048x2048 ``np.matmul`` in the same process). The load average is printed: the numbers are noisy on a
shared machine. Target: 10,000 APIs in under 60 s on 2 cores, excluding first-time embedding.
Last line: ``apis=<largest size> seconds=<default preset> peak_mib=<default preset> ratio_vs_naive_1000=<naive /
vectorised decision at 1,000> gflops_fraction=<default preset, whole stage / machine peak>``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

REPO = Path(__file__).resolve().parents[1]
DIM = 384
CORES = 2
PEAK_N = 2048

# ======================================================================================== synthetic documents

ENTITIES = [
    "movie", "person", "company", "network", "season", "episode", "collection", "keyword", "review", "genre",
    "user", "order", "product", "invoice", "customer", "payment", "shipment", "warehouse", "supplier", "category",
    "hotel", "room", "booking", "flight", "airport", "airline", "city", "country", "restaurant", "menu",
    "playlist", "track", "album", "artist", "podcast", "article", "author", "comment", "tag", "project",
    "repository", "issue", "commit", "branch", "team", "ticket", "device", "sensor", "reading", "account",
]  # fmt: skip
ATTRIBUTES = [
    ("name", "string", "Display name of the {e}"), ("title", "string", "Title of the {e}"),
    ("status", "string", "Current status of the {e}"), ("created_at", "string", "When the {e} was created"),
    ("updated_at", "string", "When the {e} was last changed"), ("rating", "number", "Average rating of the {e}"),
    ("price", "number", "Price of the {e} in the account currency"), ("country_code", "string", "ISO 3166-1 code"),
    ("language", "string", "ISO 639-1 language of the {e}"), ("url", "string", "Public web address of the {e}"),
    ("email", "string", "Contact e-mail address of the {e}"), ("vote_count", "integer", "Number of votes"),
    ("popularity", "number", "Popularity score of the {e}"), ("description", "string", "Free-text summary"),
    ("image_path", "string", "Path of the {e}'s main image"), ("size", "integer", "Size of the {e} in units"),
    ("latitude", "number", "Latitude of the {e}"), ("longitude", "number", "Longitude of the {e}"),
    ("phone", "string", "Phone number of the {e}"), ("is_active", "boolean", "Whether the {e} is active"),
]  # fmt: skip
_SORTS = {"type": "string", "enum": ["name.asc", "name.desc", "created_at.desc", "popularity.desc"]}


def _id(entity: str) -> dict[str, Any]:
    return {"path": "id", "type": "integer", "description": f"Unique identifier of the {entity}"}


def _attrs(rng: random.Random, entity: str, n: int, prefix: str = "") -> list[dict[str, Any]]:
    return [
        {"path": f"{prefix}{name}", "type": kind, "description": text.format(e=entity)}
        for name, kind, text in rng.sample(ATTRIBUTES, n)
    ]


def _ref(rng: random.Random, entity: str, prefix: str = "") -> dict[str, Any]:
    other = rng.choice([e for e in ENTITIES if e != entity])
    return {"path": f"{prefix}{other}_id", "type": "integer", "description": f"Identifier of the {other} of this {entity}"}


def _operation(rng: random.Random, service: str) -> dict[str, Any]:
    """One operation of ``service``: name, path, summary, description, params, output fields (about 10)."""
    x = rng.choice(ENTITIES)
    y = rng.choice([e for e in ENTITIES if e != x])
    kind = rng.choices(["search", "get", "list_of", "sub", "popular"], weights=[2, 3, 2, 2, 1])[0]
    pid = {"name": f"{x}_id", "location": "path", "required": True, "schema": {"type": "integer"},
           "description": f"The id of the {x}"}  # fmt: skip
    page = {"name": "page", "location": "query", "schema": {"type": "integer"}, "description": "Page of results"}
    items = "results[*]."
    if kind == "search":
        name, path = f"search_{x}", f"/{service}/search/{x}"
        summary, description = f"Search {x}s", f"Search for {x}s by name or keyword, most relevant first."
        params = [{"name": "query", "location": "query", "required": True, "schema": {"type": "string"},
                   "description": f"Text to search in {x} names"}]  # fmt: skip
        params += rng.sample([page, {"name": "language", "location": "query", "schema": {"type": "string"},
                                     "description": "ISO 639-1 language of the results"}], rng.randint(0, 2))
        fields = [{**_id(x), "path": items + "id"}, *_attrs(rng, x, 6, items), _ref(rng, x, items)]
        fields += [{"path": "total_pages", "type": "integer", "description": "Number of pages"},
                   {"path": "total_results", "type": "integer", "description": "Number of results"}]
    elif kind == "get":
        name, path = f"get_{x}", f"/{service}/{x}/{{{x}_id}}"
        summary, description = f"Get {x} details", f"Get the primary information about a {x} by its id."
        params = [pid] + rng.sample([{"name": "language", "location": "query", "schema": {"type": "string"},
                                      "description": "ISO 639-1 language of the text fields"},
                                     {"name": "append_to_response", "location": "query", "schema": _SORTS,
                                      "description": "Extra sections to include"}], rng.randint(0, 2))
        fields = [_id(x), *_attrs(rng, x, 7), _ref(rng, x), _ref(rng, x)]
    elif kind == "list_of":
        name, path = f"list_{x}s_of_{y}", f"/{service}/{y}/{{{y}_id}}/{x}s"
        summary, description = f"List the {x}s of a {y}", f"Every {x} that belongs to the given {y}."
        params = [{**pid, "name": f"{y}_id", "description": f"The id of the {y}"}]
        params += rng.sample([page, {"name": "sort_by", "location": "query", "schema": _SORTS,
                                     "description": "Sort order"}], rng.randint(0, 2))
        fields = [{"path": "id", "type": "integer", "description": f"The id of the {y}"},
                  {**_id(x), "path": f"{x}s[*].id"}, *_attrs(rng, x, 6, f"{x}s[*]."), _ref(rng, x, f"{x}s[*].")]
        fields.append({"path": "total_results", "type": "integer", "description": f"Number of {x}s"})
    elif kind == "sub":
        name, path = f"get_{x}_{y}s", f"/{service}/{x}/{{{x}_id}}/{y}s"
        summary, description = f"Get the {y}s of a {x}", f"The {y}s credited on a {x}, in display order."
        params = [pid] + rng.sample([{"name": "limit", "location": "query", "schema": {"type": "integer"},
                                      "description": "At most this many"},
                                     {"name": f"{y}_type", "location": "query", "schema": {"type": "string"},
                                      "description": f"Only {y}s of this type"}], rng.randint(0, 2))
        fields = [{"path": "id", "type": "integer", "description": f"The id of the {x}"},
                  {**_id(y), "path": f"{y}s[*].id"}, *_attrs(rng, y, 7, f"{y}s[*].")]
        fields.append({"path": f"{y}s[*].order", "type": "integer", "description": "Position in the list"})
    else:
        name, path = f"list_popular_{x}s", f"/{service}/{x}/popular"
        summary, description = f"Popular {x}s", f"The {x}s most viewed this week, updated daily."
        params = [page] + rng.sample([{"name": "region", "location": "query", "schema": {"type": "string"},
                                       "description": "ISO 3166-1 code of the region"},
                                      {"name": "min_rating", "location": "query", "schema": {"type": "number"},
                                       "description": f"Only {x}s rated at least this"}], rng.randint(0, 2))
        fields = [{**_id(x), "path": items + "id"}, *_attrs(rng, x, 7, items), _ref(rng, x, items)]
        fields.append({"path": "total_pages", "type": "integer", "description": "Number of pages"})
    return {"name": name, "path": path, "summary": summary, "description": description, "params": params,
            "fields": fields}  # fmt: skip


def synthetic_apis(n: int, seed: int = 0) -> list:
    """``n`` distinct operations, services of about 100 operations each; the same list for the same (n, seed)."""
    from goat_datasets.sources.models import ApiSpec, OutputField, Param

    rng = random.Random(seed)
    apis, seen = [], set()
    while len(apis) < n:
        service = f"svc{len(apis) // 100:03d}"
        op = _operation(rng, service)
        if (service, op["name"]) in seen:
            continue
        seen.add((service, op["name"]))
        apis.append(
            ApiSpec(
                id=f"synth.{service}_{op['name']}", source="synth", tool=service, name=f"{service}_{op['name']}",
                path=op["path"], summary=op["summary"], description=op["description"],
                params=tuple(Param(**p) for p in op["params"]),
                output_fields=tuple(OutputField(**f) for f in op["fields"]),
            )
        )  # fmt: skip
    return apis


# ============================================================================================ fake embedder

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("the a an of to for and or in on by with is be this that from as at it its all".split())


class HashEmbedder:
    """Deterministic stand-in for a sentence model: unit(sum of hashed word vectors + a hashed per-text vector).

    Vectors are memoised by text, so a second call on the same texts is a lookup (as the real embedder's cache is).
    """

    def __init__(self, dimension: int = DIM):
        self.dimension = dimension
        self.texts_embedded = 0
        self._words: dict[str, Any] = {}
        self._memo: dict[str, Any] = {}

    def _hashed(self, token: str):
        import numpy as np

        seed = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
        return np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32)

    def _vector(self, text: str):
        import numpy as np

        tokens = [w for w in _WORD.findall(text.lower().replace("_", " ")) if w not in _STOP]
        total = np.zeros(self.dimension, dtype=np.float32)
        for w in tokens:
            vec = self._words.get(w)
            if vec is None:
                vec = self._words[w] = self._hashed("w:" + w)
            total += vec
        total += 0.8 * max(1.0, len(tokens)) ** 0.5 * self._hashed("t:" + text)  # what the words do not say
        return total / max(float(np.linalg.norm(total)), 1e-12)

    def encode(self, texts: Sequence[str]):
        import numpy as np

        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        memo = self._memo
        for i, t in enumerate(texts):
            vec = memo.get(t)
            if vec is None:
                vec = memo[t] = self._vector(t)
                self.texts_embedded += 1
            out[i] = vec
        return out


def all_texts(apis: Sequence) -> list[str]:
    """Every text any preset embeds for these APIs (the warm-up call, not timed)."""
    from goat_datasets.graph import candidates as c

    texts = [c.api_output_text(a) for a in apis]
    for a in apis:
        for p in a.params:
            texts += [c.param_text(a, p), c.plain_param_text(a, p), c.api_param_text(a, p)]
        for f in a.output_fields:
            texts += [c.field_text(a, f), c.plain_field_text(a, f)]
    return texts


# ============================================================================================ naive baseline


def naive_similarity(apis: Sequence, embedder: Any, threshold: float, max_pairs: int) -> dict[str, Any]:
    """The ``similarity`` rule, one (field, target) pair at a time: A != B, cosine > threshold, the type fits."""
    import numpy as np

    from goat_datasets.graph import candidates as c

    fields, targets = [], []
    for ai, a in enumerate(apis):
        seen = set()
        for f in a.output_fields:
            if f.path not in seen:
                seen.add(f.path)
                fields.append((ai, f.path, c.field_kind(a, f), c.field_text(a, f)))
        for p in a.params:
            if c.target_exclusion(p) is None:
                targets.append((ai, p.name, c.param_kind(p), c.param_text(a, p)))
    fvecs = embedder.encode([t for *_, t in fields])
    pvecs = embedder.encode([t for *_, t in targets])
    fvecs = list(fvecs / np.linalg.norm(fvecs, axis=1, keepdims=True))
    pvecs = list(pvecs / np.linalg.norm(pvecs, axis=1, keepdims=True))
    total_pairs = len(fields) * len(targets)
    step = max(1, -(-total_pairs // max(1, max_pairs)))  # every step-th target when the loop would be too long
    chosen = list(range(0, len(targets), step))
    fits: dict[tuple[str, str], bool] = {}
    kept: set[tuple[int, str, int, str]] = set()
    near: set[tuple[int, str, int, str]] = set()  # |cosine - threshold| tiny: rounding may decide either way
    started = time.perf_counter()
    for fi, (ai, path, fkind, _) in enumerate(fields):
        fvec = fvecs[fi]
        for tj in chosen:
            bi, pname, pkind, _ = targets[tj]
            if ai == bi:
                continue
            cos = float(np.dot(fvec, pvecs[tj]))
            if cos > threshold:
                ok = fits.get((fkind, pkind))
                if ok is None:
                    ok = fits[(fkind, pkind)] = c.field_fits_param(fkind, pkind)
                if ok:
                    kept.add((ai, path, bi, pname))
            if abs(cos - threshold) < 1e-5:
                near.add((ai, path, bi, pname))
    seconds = time.perf_counter() - started
    fraction = len(chosen) / max(1, len(targets))
    return {
        "seconds_measured": seconds,
        "seconds": seconds / fraction,
        "fraction": fraction,
        "pairs": total_pairs,
        "kept": kept,
        "near": near,
        "targets": {(targets[tj][0], targets[tj][1]) for tj in chosen},
    }


# ================================================================================================== one child


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def machine_peak_gflops() -> float:
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((PEAK_N, PEAK_N), dtype=np.float32)
    b = rng.standard_normal((PEAK_N, PEAK_N), dtype=np.float32)
    np.matmul(a, b)  # warm the BLAS threads
    best = min(_timed(lambda: np.matmul(a, b)) for _ in range(3))
    return 2 * PEAK_N**3 / best / 1e9


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def matmul_part_seconds(rows: int, targets: int) -> float:
    """The blocked products of `_blocks` alone (same shapes, same block size, random unit vectors)."""
    import numpy as np

    rng = np.random.default_rng(1)
    rows_vecs = rng.standard_normal((rows, DIM), dtype=np.float32)
    param_vecs = rng.standard_normal((targets, DIM), dtype=np.float32)
    block = max(1, min(targets, (1 << 24) // max(1, rows)))

    def run() -> None:
        for start in range(0, targets, block):
            cols = np.arange(start, min(start + block, targets))
            rows_vecs @ param_vecs[cols].T

    run()
    return min(_timed(run) for _ in range(2))


def child(args: argparse.Namespace) -> dict[str, Any]:
    from goat_datasets.graph.candidates import find_candidates

    apis = synthetic_apis(args.size, seed=args.seed)
    if args.real_embedder:
        from goat_datasets.embeddings import Embedder

        embedder: Any = Embedder()
    else:
        embedder = HashEmbedder()
    texts = all_texts(apis)
    started = time.perf_counter()
    embedder.encode(texts)  # first-time embedding: excluded from the target
    first_embed = time.perf_counter() - started
    peak = machine_peak_gflops()
    before = _maxrss_mib()
    started, cpu_started = time.perf_counter(), time.process_time()
    edges, stats = find_candidates(apis, embedder, preset=args.preset)
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    after = _maxrss_mib()
    rows = stats.apis if args.preset == "paper" else stats.output_fields
    flops = 2 * rows * stats.target_params * DIM
    matmul_s = matmul_part_seconds(rows, stats.target_params)
    out: dict[str, Any] = {
        "size": args.size, "preset": args.preset, "seconds": seconds, "cpu_s": cpu_s, "peak_mib": after,
        "stage_mib": after - before, "edges": len(edges), "fields": stats.output_fields,
        "targets": stats.target_params, "rows": rows, "pairs": stats.pairs_considered, "flops": flops,
        "matmul_s": matmul_s, "machine_gflops": peak, "first_embed_s": first_embed,
        "api_pairs": len({(e.source_api, e.target_api) for e in edges}),
    }  # fmt: skip
    if args.naive:
        from goat_datasets.graph.candidates import CandidateStats, _blocks, _prepare, preset_config

        prep = _prepare(apis, embedder, preset_config(args.preset), CandidateStats())

        def decide() -> int:
            return sum(len(block.rows) for block in _blocks(prep, None))

        decide()
        decision_s = min(_timed(decide) for _ in range(3))
        naive = naive_similarity(apis, embedder, stats.threshold, args.naive_max_pairs)
        index = {a.id: i for i, a in enumerate(apis)}
        fast = {(index[e.source_api], e.source_path, index[e.target_api], e.target_param) for e in edges}
        fast = {k for k in fast if (k[2], k[3]) in naive["targets"]}
        differ = (fast ^ naive["kept"]) - naive["near"]
        out.update(
            naive_s=naive["seconds"], decision_s=decision_s, naive_measured_s=naive["seconds_measured"], naive_fraction=naive["fraction"],
            naive_pairs=naive["pairs"], naive_kept=len(naive["kept"]), naive_differ=len(differ),
        )  # fmt: skip
    return out


def run_child(size: int, preset: str, args: argparse.Namespace, naive: bool) -> dict[str, Any]:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, str(CORES))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    command = [sys.executable, __file__, "--child", "--size", str(size), "--preset", preset, "--seed", str(args.seed),
               "--naive-max-pairs", str(args.naive_max_pairs)]  # fmt: skip
    command += ["--naive"] if naive else []
    command += ["--real-embedder"] if args.real_embedder else []
    command += ["--memory-limit-gib", str(args.memory_limit_gib)]

    def limit() -> None:  # in the child: an address-space cap, so a run too big fails alone, not the machine
        cap = int(args.memory_limit_gib * (1 << 30))
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    started = time.perf_counter()
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=args.timeout,
                              preexec_fn=limit if args.memory_limit_gib > 0 else None)  # fmt: skip
    except subprocess.TimeoutExpired:
        return {"failed": f"over the {args.timeout:.0f} s timeout"}
    if done.returncode != 0:
        memory = "MemoryError" in done.stderr or "Cannot allocate" in done.stderr or done.returncode == -9
        why = f"out of memory (cap {args.memory_limit_gib} GiB)" if memory else f"exit {done.returncode}"
        tail = done.stderr.strip().splitlines()[-1:] or [""]
        return {"failed": f"{why} after {time.perf_counter() - started:.0f} s: {tail[0][:200]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _pin() -> None:
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, set(cores[:CORES]))


# ======================================================================================================= main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--presets", nargs="+", default=["default", "paper"], help="timed at every size")
    parser.add_argument("--naive-sizes", type=int, nargs="*", default=[100, 1000], help="sizes with the naive loop")
    parser.add_argument("--naive-max-pairs", type=int, default=5_000_000, help="sample targets above this")
    parser.add_argument("--real-embedder", action="store_true", help="the packaged MiniLM instead of the fake one")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-edges", type=int, default=5_000_000, help="skip a run projected to give more")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per (size, preset) child")
    parser.add_argument("--memory-limit-gib", type=float, default=8, help="address-space cap per child (0: none)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--preset", help=argparse.SUPPRESS)
    parser.add_argument("--naive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    _pin()
    if args.child:
        print(json.dumps(child(args)))
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    embedder = "packaged MiniLM (cache warmed first, second call timed)" if args.real_embedder else (
        f"fake hash embedder (dim {DIM}, numpy; second call timed)")  # fmt: skip
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"graph candidates at scale: {embedder}; {cores} cores, BLAS threads {CORES}; load average {load}")
    print(f"{'apis':>6} {'preset':<10} {'fields':>7} {'targets':>7} {'edges':>9} {'api pairs':>9} {'seconds':>8} "
          f"{'cpu s':>7} {'peak MiB':>8} {'stage MiB':>9} {'GFLOP':>7} {'mm GF/s':>8} {'mm/peak':>7} "
          f"{'stage/peak':>10} {'naive s':>9} {'ratio':>7}")  # fmt: skip
    results: dict[tuple[int, str], dict[str, Any]] = {}
    ratios: dict[int, float] = {}
    for size in args.sizes:
        naive = size in args.naive_sizes
        presets = list(args.presets) + (["similarity"] if naive and "similarity" not in args.presets else [])
        for preset in presets:
            smaller = [n for (n, p) in results if p == preset and n < size]
            if smaller:  # edges grow with the square of the APIs (every service has every entity)
                base = results[(max(smaller), preset)]
                projected = base["edges"] * (size / max(smaller)) ** 2
                if projected > args.max_edges:
                    print(f"{size:>6} {preset:<10} skipped: ~{projected:,.0f} edges projected from {max(smaller):,} "
                          f"APIs (quadratic), over --max-edges {args.max_edges:,}")  # fmt: skip
                    continue
            r = run_child(size, preset, args, naive and preset == "similarity")
            if "failed" in r:
                print(f"{size:>6} {preset:<10} failed: {r['failed']}")
                continue
            results[(size, preset)] = r
            gflop = r["flops"] / 1e9
            mm = gflop / r["matmul_s"] if r["matmul_s"] else 0.0
            stage = gflop / r["seconds"] if r["seconds"] else 0.0
            naive_s = ratio = ""
            if "naive_s" in r:
                ratio_value = r["naive_s"] / r["decision_s"]
                ratios[size] = ratio_value
                sampled = "*" if r["naive_fraction"] < 1 else ""
                naive_s, ratio = f"{r['naive_s']:.2f}{sampled}", f"x{ratio_value:.0f}"
            possible = size * (size - 1)
            print(
                f"{size:>6} {preset:<10} {r['fields']:>7} {r['targets']:>7} {r['edges']:>9,} "
                f"{r['api_pairs'] / possible:>8.1%} {r['seconds']:>8.2f} {r['cpu_s']:>7.2f} {r['peak_mib']:>8.0f} "
                f"{r['stage_mib']:>9.0f} "
                f"{gflop:>7.1f} {mm:>8.1f} {mm / r['machine_gflops']:>7.1%} {stage / r['machine_gflops']:>10.1%} "
                f"{naive_s:>9} {ratio:>7}"
            )  # fmt: skip
            if "naive_s" in r:
                note = (f"naive loop on {r['naive_fraction']:.1%} of the targets ({r['naive_measured_s']:.1f} s), "
                        "extrapolated" if r["naive_fraction"] < 1 else "naive loop on every pair")  # fmt: skip
                print(f"{'':>6} similarity == naive: {r['naive_kept']:,} pairs kept by the loop, "
                      f"{r['naive_differ']} differ (beyond rounding at the threshold); {note}; vectorised decision "
                      f"{r['decision_s']:.3f} s (ratio = naive / that); naive / whole similarity stage "
                      f"x{r['naive_s'] / r['seconds']:.1f}")  # fmt: skip
                if r["naive_differ"]:
                    sys.exit(f"the vectorised similarity rule and the naive loop disagree on {r['naive_differ']} pairs")
        if not naive:
            print(f"{'':>6} naive loop skipped at {size:,} APIs (about {size * size * 20:,} pairs, ~1 us each)")
    machine = next(iter(results.values()))["machine_gflops"] if results else 0.0
    first = {size: r["first_embed_s"] for (size, _), r in results.items()}
    print(f"machine peak: {machine:.1f} GFLOP/s (float32 {PEAK_N}x{PEAK_N} matmul, best of 3, {CORES} BLAS threads); "
          "first-time embedding (excluded): " + ", ".join(f"{s:,} APIs {t:.1f} s" for s, t in first.items()))
    print(f"load average now: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; api pairs = share of the n(n-1) "
          "ordered API pairs with an edge; mm = the blocked products alone; * = extrapolated")  # fmt: skip
    largest = max(args.sizes)
    main_preset = "default" if "default" in args.presets else args.presets[0]
    r = results.get((largest, main_preset))
    ratio_1000 = f"{ratios[1000]:.1f}" if 1000 in ratios else "nan"
    if r is None:
        print(f"target: {largest:,} APIs ({main_preset}) was not measured (failed or skipped)")
        print(f"apis={largest} seconds=nan peak_mib=nan ratio_vs_naive_1000={ratio_1000} gflops_fraction=nan")
        sys.exit(1)
    fraction = r["flops"] / 1e9 / r["seconds"] / r["machine_gflops"]
    if largest >= 10000:
        verdict = "meets" if r["seconds"] < 60 else "misses"
        print(f"target: {largest:,} APIs ({main_preset}) in {r['seconds']:.1f} s: {verdict} the 60 s target")
    print(f"apis={largest} seconds={r['seconds']:.2f} peak_mib={r['peak_mib']:.0f} ratio_vs_naive_1000={ratio_1000} "
          f"gflops_fraction={fraction:.4f}")


if __name__ == "__main__":
    main()
