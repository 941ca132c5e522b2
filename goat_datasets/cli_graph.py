"""`goat graph RECIPE [--explain A B]`: build (or reuse) only a recipe's dependency graph, summarise it, or say why
one edge is there or not. Part of the CLI floor: it runs the builder's graph stage (`goat_builders.build.graph_only`),
so the graph is the one `goat build` uses, in the same build directory and with the same caches.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from goat_datasets.graph.model import STAGES
from goat_datasets.recipe import Recipe

BAD_INPUT = 2
FAILED = 1
EXPLAIN_ROWS = 40  # candidate pairs printed by --explain (all of them are in --json)


class BadInput(ValueError):
    """A command-line value that names nothing in the build (exit status 2)."""


def run_graph_command(
    recipe: Recipe,
    *,
    explain: tuple[str, str] | None = None,
    rebuild: bool = False,
    as_json: bool = False,
    console: Console | None = None,
) -> int:
    """Build or reuse the graph, then print the summary or the explanation; the exit status (0, 1 failed, 2 bad input).

    With ``as_json`` the progress lines go to stderr and stdout holds one JSON document.
    """
    from goat_builders.build import graph_only

    out = console or Console(highlight=False)
    progress = Console(stderr=True, highlight=False) if as_json else out
    try:
        graph, build_dir = graph_only(recipe, log=progress.print, rebuild=rebuild)
        stats = _read_stats(build_dir)
        if explain is None:
            data = summary_data(recipe, build_dir, stats)
            if as_json:
                print(json.dumps(data, indent=1))
            else:
                print_summary(out, data)
            return 0
        explanation = _explain(recipe, graph, build_dir, stats, *explain)
    except BadInput as exc:
        progress.print(f"[red]bad input[/]: {escape(str(exc))}")
        return BAD_INPUT
    except Exception as exc:  # one readable line instead of a traceback, as `goat build`
        progress.print(f"[red]graph failed[/]: {escape(f'{type(exc).__name__}: {exc}')}")
        return FAILED
    if as_json:
        print(explanation.model_dump_json(indent=1))
    else:
        print_explanation(out, explanation)
    return 0


def _read_stats(build_dir: Path) -> dict[str, Any]:
    from goat_datasets.graph.artifacts import STATS_FILE

    return json.loads((build_dir / STATS_FILE).read_text())


def _explain(recipe: Recipe, graph: Any, build_dir: Path, stats: dict[str, Any], source: str, target: str) -> Any:
    from goat_builders.steps.context import load_apis
    from goat_datasets.embeddings import Embedder
    from goat_datasets.graph.artifacts import removed_edges
    from goat_datasets.graph.explain import ApiNameError, explain_edge

    apis = list(load_apis(build_dir).values())
    g = recipe.graph
    try:
        return explain_edge(
            graph, apis, source, target, embedder=Embedder(g.embedder), preset=g.candidates, threshold=g.threshold,
            top_k=g.top_k, no_cross_tool_id=g.no_cross_tool_id, removed=removed_edges(stats),
        )  # fmt: skip
    except ApiNameError as exc:
        raise BadInput(str(exc)) from None


# -------------------------------------------------------------------------------------------------------- summary


def summary_data(recipe: Recipe, build_dir: Path, stats: dict[str, Any]) -> dict[str, Any]:
    from goat_datasets.graph.artifacts import graph_artifact_paths

    artifacts = {"graph": build_dir / "graph.json", **graph_artifact_paths(build_dir)}
    return {
        "recipe": recipe.name,
        "build_dir": str(build_dir),
        "artifacts": {name: str(path) for name, path in artifacts.items()},
        "stages": stats.get("stages", {}),
        "seconds": stats.get("seconds"),
    }


def _codes(table: dict[str, Any], limit: int = 3) -> str:
    parts = [f"{code} {entry['count']}" for code, entry in list(table.items())[:limit]]
    more = len(table) - limit
    return ", ".join(parts) + (f", +{more} more" if more > 0 else "")


def print_summary(console: Console, data: dict[str, Any]) -> None:
    s = data["stages"]
    after = s.get("usable_after", {})
    funnel = "".join(f" -> {after.get(stage, 0)} after {stage}" for stage in STAGES[1:])
    head = f"[bold]{escape(data['recipe'])}[/]: {s.get('apis', 0)} APIs; {s.get('edges', 0)} candidate edges{funnel}"
    console.print(head)
    table = Table(title="edges per stage", title_justify="left")
    for column in ("stage", "passed", "failed", "skipped", "not run", "usable after", "failed by code",
                   "skipped by code"):  # fmt: skip
        left = column in ("stage", "failed by code", "skipped by code")
        table.add_column(column, justify="left" if left else "right")
    for stage in STAGES:
        st = s.get("by_stage", {}).get(stage, {})
        failed = str(st.get("failed", 0)) + (f" (+{st['unknown']} unknown)" if st.get("unknown") else "")
        table.add_row(
            stage, str(st.get("passed", 0)), failed, str(st.get("skipped", 0)), str(st.get("not_run", 0)),
            str(after.get(stage, 0)), escape(_codes(st.get("failed_by_code", {}))),
            escape(_codes(st.get("skipped_by_code", {}))),
        )  # fmt: skip
    console.print(table)
    comps = s.get("components", {})
    largest = ", ".join(str(n) for n in comps.get("largest", []))
    pairs = s.get("tool_pairs", {})
    console.print(
        f"components: {comps.get('count', 0)} (largest: {largest or '-'}); APIs with usable edges: "
        f"{s.get('apis_with_edges', 0)}/{s.get('apis', 0)}; usable edges within one tool: {pairs.get('same_tool', 0)}, "
        f"across tools: {pairs.get('cross_tool', 0)}"
    )
    top = s.get("top_apis", [])
    if top:
        t = Table(title="top APIs by usable edges", title_justify="left")
        t.add_column("api")
        t.add_column("in", justify="right")
        t.add_column("out", justify="right")
        for row in top:
            t.add_row(escape(row["api"]), str(row["in"]), str(row["out"]))
        console.print(t)
    for name, path in data["artifacts"].items():
        console.print(f"  {name:8} {escape(path)}")


# ---------------------------------------------------------------------------------------------------- explanation

_STATUS_STYLE = {"passed": "green", "failed": "red", "skipped": "yellow", "not_run": "dim"}


def _status(status: str) -> str:
    return f"[{_STATUS_STYLE.get(status, 'white')}]{status}[/]"


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def print_explanation(console: Console, ex: Any) -> None:
    colour = "green" if ex.usable_edges else "red"
    console.print(f"[bold {colour}]{escape(ex.verdict)}[/]")
    for e in ex.edges:
        where = "in the graph" if e.in_graph else "removed from the graph"
        usable = "[green]usable[/]" if e.usable else f"[red]failed at {e.failed_stage}[/]"
        score = f", score {e.score:.3f}" if e.score is not None else ""
        table = Table(title=f"{escape(e.source_path)} -> {escape(e.target_param)} ({where}{score}; {usable})",
                      title_justify="left")  # fmt: skip
        for column in ("stage", "verdict", "code", "reason / details"):
            table.add_column(column)
        if e.candidate is not None:
            c = e.candidate
            table.add_row(
                "candidate rule (now)", _status("passed" if c.kept else "failed"), escape(c.rule),
                escape(f"{c.why} (cosine {c.cosine:.3f}, evidence {c.evidence:.2f}, score {c.score:.3f})"),
            )  # fmt: skip
        for stage in STAGES:
            verdict = e.stages.get(stage)
            if verdict is None:
                table.add_row(stage, "[dim]not recorded[/]", "", "")
                continue
            text = verdict.reason + (f"  {_short(verdict.details)}" if verdict.details else "")
            table.add_row(stage, _status(verdict.status), escape(verdict.code), escape(text))
        if e.reason:
            table.add_row("edge reason", "", "", escape(e.reason))
        console.print(table)
    pairs = ex.candidates
    table = Table(
        title=f"candidate rule ({escape(str(ex.settings.get('preset')))}) on each (field of {escape(ex.source_api)}, "
        f"parameter of {escape(ex.target_api)}) pair",
        title_justify="left",
    )
    for column in ("field", "parameter", "kinds", "cosine", "evidence", "rule", "kept", "why"):
        table.add_column(column, justify="right" if column in ("cosine", "evidence") else "left")
    for p in pairs[:EXPLAIN_ROWS]:
        table.add_row(
            escape(p.source_path or "-"), escape(p.target_param),
            escape(f"{p.field_kind or '-'} -> {p.param_kind}"), f"{p.cosine:.3f}", f"{p.evidence:.2f}",
            escape(p.rule), "[green]yes[/]" if p.kept else "no", escape(p.why),
        )  # fmt: skip
    console.print(table)
    if len(pairs) > EXPLAIN_ROWS:
        console.print(f"  ... {len(pairs) - EXPLAIN_ROWS} more pairs (all of them with --json)")
