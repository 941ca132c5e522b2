"""What a build leaves beside ``graph.json`` for people: GraphML for Gephi/yEd, a PNG, and per-stage statistics.

``graph.json`` is the machine's copy (nested `StageResult` per edge). GraphML only holds scalars, so `flat_graph`
spreads every stage's verdict over ``<stage>_status``, ``<stage>_code``, ``<stage>_reason`` and ``<stage>_details``
(JSON text) and gives each edge a document-wide unique id (GraphML tools drop edges whose ids repeat; the multigraph
key, unique only between two APIs, stays in the ``edge_key`` attribute). `graph_from_graphml` undoes it.

`stage_stats` reads every stage generically (`goat_datasets.graph.model.STAGES`), so a new stage is counted without
changes here. Edges a stage removed from the graph (the execution check drops the ones that fail, keeping only a
``{edge, code, reason}`` record in ``graph_stats.json``) are passed in as ``removed`` so the failures still count.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Mapping

import networkx as nx
import numpy as np

from goat_datasets.graph.model import STAGES, DependencyEdge

STATUSES = ("passed", "failed", "skipped", "not_run")
GRAPHML_FILE = "graph.graphml"
PNG_FILE = "graph.png"
STATS_FILE = "graph_stats.json"
STAGES_KEY = "stages"
LABEL_LIMIT = 60  # at most this many drawn APIs get their name written on the picture
LEGEND_TOOLS = 15  # tools named in the legend; the others share one grey entry
TOP_APIS = 10
_EXACT_REPULSION = 500


# ------------------------------------------------------------------------------------------------------------ GraphML


def _scalar(value: Any) -> Any:
    """A GraphML-storable value: scalars stay, containers become JSON text."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def flat_graph(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """A copy of ``graph`` whose attributes are all scalars (see the module docstring); ``None`` values are left out."""
    flat = nx.MultiDiGraph()
    flat.graph.update({k: _scalar(v) for k, v in graph.graph.items() if v is not None})
    for node, attrs in sorted(graph.nodes(data=True)):
        data = {k: _scalar(v) for k, v in attrs.items() if v is not None}
        data.setdefault("label", attrs.get("name") or node)  # the attribute Gephi shows
        flat.add_node(node, **data)
    for a, b, key, attrs in sorted(graph.edges(keys=True, data=True), key=lambda e: (e[0], e[1], e[2])):
        data: dict[str, Any] = {"edge_key": key}
        failed = None
        for name, value in attrs.items():
            if name in STAGES and isinstance(value, Mapping):
                for part in ("status", "code", "reason"):
                    data[f"{name}_{part}"] = str(value.get(part, ""))
                data[f"{name}_details"] = _scalar(value.get("details") or {})
                if failed is None and value.get("status") == "failed":
                    failed = name
            elif value is not None:
                data[name] = _scalar(value)
        data["usable"] = failed is None
        data["failed_stage"] = failed or ""
        data["label"] = f"{attrs.get('source_path', '')} -> {attrs.get('target_param', '')}"
        flat.add_edge(a, b, key=f"{a}.{key}@{b}")
        flat.edges[a, b, f"{a}.{key}@{b}"].update(data)
    return flat


def write_graphml(graph: nx.MultiDiGraph, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    nx.write_graphml(flat_graph(graph), tmp, named_key_ids=True)
    tmp.replace(path)
    return path


_DERIVED_EDGE_ATTRS = ("edge_key", "usable", "failed_stage", "label")


def graph_from_graphml(path: str | Path) -> nx.MultiDiGraph:
    """Read a `write_graphml` file back into the ``graph.json`` shape (nested stage verdicts, original keys)."""
    flat = nx.read_graphml(path, force_multigraph=True)
    graph = nx.MultiDiGraph()
    graph.graph.update({k: v for k, v in flat.graph.items() if k not in ("node_default", "edge_default")})
    if isinstance(graph.graph.get("stats"), str):
        graph.graph["stats"] = json.loads(graph.graph["stats"])
    for node, attrs in flat.nodes(data=True):
        graph.add_node(node, **{k: v for k, v in attrs.items() if k != "label"})
    for a, b, attrs in flat.edges(data=True):
        data = {k: v for k, v in attrs.items() if k not in _DERIVED_EDGE_ATTRS and not k.startswith(STAGES)}
        for stage in STAGES:
            if f"{stage}_status" in attrs:
                data[stage] = {
                    "status": attrs[f"{stage}_status"],
                    "code": attrs.get(f"{stage}_code", ""),
                    "reason": attrs.get(f"{stage}_reason", ""),
                    "details": json.loads(attrs.get(f"{stage}_details") or "{}"),
                }
        DependencyEdge.from_attrs(a, b, data)  # fail here, naming the edge, rather than later in a consumer
        graph.add_edge(a, b, key=attrs["edge_key"], **data)
    return graph


# -------------------------------------------------------------------------------------------------------- statistics


def _stage_of(attrs: Mapping[str, Any], stage: str) -> Mapping[str, Any]:
    value = attrs.get(stage)
    return value if isinstance(value, Mapping) else {}


def _failed_at(attrs: Mapping[str, Any]) -> int | None:
    """Index in STAGES of the first stage that failed the edge, or None when the edge is usable."""
    for i, stage in enumerate(STAGES):
        if _stage_of(attrs, stage).get("status") == "failed":
            return i
    return None


def _count_code(table: dict[str, dict[str, Any]], code: str, reason: str) -> None:
    entry = table.setdefault(code or "unspecified", {"count": 0, "example": reason})
    entry["count"] += 1


def removed_edges(stats: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The records of edges a stage removed from the graph, as ``graph_stats.json`` keeps them (with their stage)."""
    out: list[dict[str, Any]] = []
    for stage in STAGES:
        section = (stats or {}).get(stage)
        if isinstance(section, Mapping):
            out.extend({**record, "stage": stage} for record in section.get("dropped") or [])
    return out


def stage_stats(graph: nx.MultiDiGraph, *, removed: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Counts read off the graph: per stage verdicts (failed and skipped ones by code, with one example reason each),
    how many edges remain usable after each stage, components, degree histograms and tool pairs of usable edges.

    ``removed``: ``{edge, code, reason, stage}`` records of edges a stage deleted (see `removed_edges`). They count as
    failed at that stage and as passed at the first stage (every edge in a graph was a candidate). Their verdicts at
    the stages in between were not kept: ``not_run`` when that stage ran on no edge of the graph, else ``unknown``.
    """
    removed = list(removed)
    edges = list(graph.edges(data=True))
    stages: dict[str, dict[str, Any]] = {}
    for i, stage in enumerate(STAGES):
        counts: dict[str, Any] = {status: 0 for status in STATUSES}
        by_code: dict[str, dict[str, dict[str, Any]]] = {"failed": {}, "skipped": {}}
        for _, _, attrs in edges:
            verdict = _stage_of(attrs, stage)
            status = verdict.get("status", "not_run")
            counts[status] = counts.get(status, 0) + 1
            if status in by_code:
                _count_code(by_code[status], verdict.get("code", ""), verdict.get("reason", ""))
        never_ran = bool(edges) and counts["not_run"] == len(edges)
        for record in removed:
            at = STAGES.index(record.get("stage", "execution_check"))
            if at == i:
                counts["failed"] += 1
                _count_code(by_code["failed"], record.get("code", ""), record.get("reason", ""))
            elif i == 0:
                counts["passed"] += 1
            elif i < at:
                status = "not_run" if never_ran else "unknown"
                counts[status] = counts.get(status, 0) + 1
        counts["failed_by_code"] = dict(sorted(by_code["failed"].items(), key=lambda kv: (-kv[1]["count"], kv[0])))
        counts["skipped_by_code"] = dict(sorted(by_code["skipped"].items(), key=lambda kv: (-kv[1]["count"], kv[0])))
        stages[stage] = counts

    failed_at = [_failed_at(attrs) for _, _, attrs in edges]
    failed_at += [STAGES.index(r.get("stage", "execution_check")) for r in removed]
    usable_after = {
        stage: sum(1 for f in failed_at if f is None or f > i) for i, stage in enumerate(STAGES)
    }
    usable = [(a, b) for (a, b, _), f in zip(edges, failed_at) if f is None]
    return {
        "edges": len(failed_at),
        "edges_in_graph": len(edges),
        "removed_edges": len(removed),
        "usable_edges": len(usable),
        "usable_after": usable_after,
        "by_stage": stages,
        **_shape_stats(graph, usable),
    }


def _histogram(values: Iterable[int]) -> dict[str, int]:
    counts = Counter(values)
    return {str(k): counts[k] for k in sorted(counts)}


def _shape_stats(graph: nx.MultiDiGraph, usable: list[tuple[str, str]]) -> dict[str, Any]:
    """Components, degrees and tool pairs of the usable edges (what the sampler walks)."""
    simple = nx.DiGraph()
    simple.add_nodes_from(graph.nodes)
    simple.add_edges_from(usable)
    components = sorted((len(c) for c in nx.weakly_connected_components(simple) if len(c) > 1), reverse=True)
    out_deg = Counter(a for a, _ in usable)
    in_deg = Counter(b for _, b in usable)
    with_edges = set(out_deg) | set(in_deg)
    tool = {n: str(graph.nodes[n].get("tool", "")) for n in graph.nodes}
    pairs = Counter((tool[a], tool[b]) for a, b in usable)
    same = sum(n for (ta, tb), n in pairs.items() if ta == tb)
    top = sorted(with_edges, key=lambda n: (-(in_deg[n] + out_deg[n]), n))[:TOP_APIS]
    return {
        "apis": graph.number_of_nodes(),
        "apis_with_edges": len(with_edges),
        "isolated_apis": graph.number_of_nodes() - len(with_edges),
        "components": {"count": len(components), "largest": components[:5]},
        "degree": {
            "in": _histogram(in_deg[n] for n in graph.nodes),
            "out": _histogram(out_deg[n] for n in graph.nodes),
        },
        "tool_pairs": {
            "same_tool": same,
            "cross_tool": len(usable) - same,
            "top": [
                {"source_tool": ta, "target_tool": tb, "edges": n}
                for (ta, tb), n in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
            ],
        },
        "top_apis": [{"api": n, "in": in_deg[n], "out": out_deg[n]} for n in top],
    }


# ----------------------------------------------------------------------------------------------------------- picture


def _layout(n: int, heads: np.ndarray, tails: np.ndarray, *, seed: int, iterations: int = 60) -> np.ndarray:
    """Fruchterman-Reingold positions, vectorised: networkx's own takes ~5 s at 1,000 nodes on two cores.

    Repulsion is exact up to `_EXACT_REPULSION` nodes and estimated from a fresh random sample of that many nodes
    above it (one matrix product per iteration), so the cost stays linear in nodes and edges; a weak pull to the
    centre keeps separate components in the frame. Seeded: the same graph gives the same picture.
    """
    rng = np.random.default_rng(seed)
    pos = rng.random((n, 2))
    if n <= 1:
        return pos
    k2 = 1.0 / n  # the ideal distance squared
    temperature = 0.1
    cooling = temperature / (iterations + 1)
    for _ in range(iterations):
        if n <= _EXACT_REPULSION:
            others, scale = pos, 1.0
        else:
            others, scale = pos[rng.choice(n, _EXACT_REPULSION, replace=False)], n / _EXACT_REPULSION
        sq = (pos**2).sum(1)
        dist2 = np.maximum(sq[:, None] + (others**2).sum(1)[None, :] - 2.0 * pos @ others.T, 1e-4)
        weight = k2 / dist2  # repulsion k^2/d along the unit vector: (p_i - p_j) * k^2 / d^2
        disp = (pos * weight.sum(1)[:, None] - weight @ others) * scale
        if heads.size:
            d = pos[heads] - pos[tails]
            pull = d * (np.sqrt((d**2).sum(1)) * math.sqrt(n))[:, None]  # attraction d^2/k along the edge
            np.add.at(disp, heads, -pull)
            np.add.at(disp, tails, pull)
        disp -= (pos - pos.mean(0)) * (0.1 * math.sqrt(n))  # gravity
        length = np.maximum(np.sqrt((disp**2).sum(1)), 1e-9)
        pos += disp * (np.minimum(length, temperature) / length)[:, None]
        temperature -= cooling
    return pos


def draw_graph(graph: nx.MultiDiGraph, path: str | Path, *, title: str = "", seed: int = 0) -> Path:
    """A PNG of the usable edges: APIs coloured by tool, names written when few; failed edges faint, isolated APIs
    left out (the title says how many). Bounded in time and size whatever the graph: one line per API pair, no
    arrow patches beyond a few hundred pairs, at most `LABEL_LIMIT` labels, a fixed canvas."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    path = Path(path)
    usable_pairs: Counter[tuple[str, str]] = Counter()
    failed_pairs: set[tuple[str, str]] = set()
    for a, b, attrs in graph.edges(data=True):
        if a == b:
            continue
        if _failed_at(attrs) is None:
            usable_pairs[(a, b)] += 1
        else:
            failed_pairs.add((a, b))
    drawn = sorted({n for pair in usable_pairs for n in pair})
    index = {n: i for i, n in enumerate(drawn)}
    pairs = sorted(usable_pairs)
    heads = np.array([index[a] for a, _ in pairs], dtype=int)
    tails = np.array([index[b] for _, b in pairs], dtype=int)
    small = len(drawn) <= LABEL_LIMIT
    if small:  # Kamada-Kawai spreads a few dense APIs more readably; it costs O(n^2) memory and cubic time
        undirected = nx.Graph()
        undirected.add_nodes_from(range(len(drawn)))
        undirected.add_edges_from(zip(heads.tolist(), tails.tolist()))
        placed = nx.kamada_kawai_layout(undirected) if len(drawn) > 1 else {0: np.zeros(2)} if drawn else {}
        pos = np.array([placed[i] for i in range(len(drawn))]).reshape(len(drawn), 2)
    else:
        pos = _layout(len(drawn), heads, tails, seed=seed)

    tools = Counter(str(graph.nodes[n].get("tool", "")) for n in drawn)
    ranked = [t for t, _ in sorted(tools.items(), key=lambda kv: (-kv[1], kv[0]))]
    palette = plt.get_cmap("tab20").colors
    colour = {t: palette[i % len(palette)] for i, t in enumerate(ranked[:LEGEND_TOOLS])}
    other = (0.6, 0.6, 0.6)

    fig, ax = plt.subplots(figsize=(12, 9) if small else (16, 12), dpi=100)
    ax.set_axis_off()
    if drawn:
        faint = [(pos[index[a]], pos[index[b]]) for a, b in sorted(failed_pairs) if a in index and b in index]
        if faint:
            faint_lines = LineCollection(faint, colors=[(0.7, 0.7, 0.7, 0.25)], linewidths=0.5, linestyles="dashed")
            ax.add_collection(faint_lines)
        widths = [0.6 + math.log2(usable_pairs[p]) for p in pairs]
        if small and len(pairs) <= 400:
            for (a, b), width in zip(pairs, widths):
                ax.annotate(
                    "", xy=pos[index[b]], xytext=pos[index[a]],
                    arrowprops={"arrowstyle": "-|>", "color": (0.3, 0.3, 0.3, 0.6), "lw": width,
                                "shrinkA": 9, "shrinkB": 9, "connectionstyle": "arc3,rad=0.08"},
                )  # fmt: skip
        else:
            segments = [(pos[index[a]], pos[index[b]]) for a, b in pairs]
            ax.add_collection(LineCollection(segments, colors=[(0.3, 0.3, 0.3, 0.3)], linewidths=widths))
        node_colours = [colour.get(str(graph.nodes[n].get("tool", "")), other) for n in drawn]
        marker = 160 if small else max(4.0, 60.0 / math.sqrt(len(drawn) / 60))
        ax.scatter(pos[:, 0], pos[:, 1], s=marker, c=node_colours, edgecolors="white", linewidths=0.5, zorder=3)
        degree = Counter()
        for (a, b), count in usable_pairs.items():
            degree[a] += count
            degree[b] += count
        labelled = drawn if small else sorted(drawn, key=lambda n: (-degree[n], n))[: LABEL_LIMIT // 3]
        for n in labelled:
            x, y = pos[index[n]]
            ax.text(x, y, str(graph.nodes[n].get("name") or n), fontsize=8 if small else 6, ha="center",
                    va="bottom", zorder=4)  # fmt: skip
        handles = [Line2D([], [], marker="o", ls="", color=colour[t], label=f"{t or '(no tool)'} ({tools[t]})")
                   for t in ranked[:LEGEND_TOOLS]]  # fmt: skip
        if len(ranked) > LEGEND_TOOLS:
            rest = sum(tools[t] for t in ranked[LEGEND_TOOLS:])
            handles.append(Line2D([], [], marker="o", ls="", color=other,
                                  label=f"{len(ranked) - LEGEND_TOOLS} other tools ({rest})"))  # fmt: skip
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, title="tool (APIs)",
                  frameon=False)  # fmt: skip
        ax.autoscale_view()
        ax.margins(0.05)
    isolated = graph.number_of_nodes() - len(drawn)
    n_components = nx.number_weakly_connected_components(nx.DiGraph(pairs)) if pairs else 0
    counts = (
        f"{graph.number_of_nodes()} APIs, {sum(usable_pairs.values())} usable edges between {len(pairs)} API pairs, "
        f"{n_components} component{'s' if n_components != 1 else ''}"
    )
    notes = [f"{isolated} API{'s' if isolated != 1 else ''} without usable edges not drawn"] if isolated else []
    if failed_pairs:
        notes.append(f"{len(failed_pairs)} API pairs whose edges all failed a check: dashed")
    if not small:
        notes.append(f"names of the {len(labelled) if drawn else 0} best-connected APIs only")
    ax.set_title("\n".join(filter(None, [title, counts, "; ".join(notes)])), fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, format="png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    tmp.replace(path)
    return path


# ------------------------------------------------------------------------------------------------------- all of them


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str))
    tmp.replace(path)


def with_stage_stats(graph: nx.MultiDiGraph, stats: Mapping[str, Any] | None) -> dict[str, Any]:
    """``stats`` (a ``GraphStats`` dump) plus `stage_stats` under ``"stages"``, counting the removed edges it lists."""
    out = dict(stats or {})
    out[STAGES_KEY] = stage_stats(graph, removed=removed_edges(out))
    return out


def graph_artifact_paths(build_dir: str | Path) -> dict[str, Path]:
    build_dir = Path(build_dir)
    return {"stats": build_dir / STATS_FILE, "graphml": build_dir / GRAPHML_FILE, "png": build_dir / PNG_FILE}


def write_graph_artifacts(
    graph: nx.MultiDiGraph,
    build_dir: str | Path,
    *,
    stats: Mapping[str, Any] | None = None,
    title: str = "",
    force: bool = False,
) -> dict[str, Path]:
    """``graph_stats.json`` (``stats`` plus ``"stages"``), ``graph.graphml`` and ``graph.png`` in ``build_dir``.

    Without ``force`` a file that exists is kept (a reused graph gets only what it lacks); ``stats=None`` reads the
    existing ``graph_stats.json``, else the stats saved inside the graph.
    """
    paths = graph_artifact_paths(build_dir)
    if stats is None:
        existing = paths["stats"]
        stats = json.loads(existing.read_text()) if existing.is_file() else graph.graph.get("stats") or {}
        needs_stats = force or STAGES_KEY not in stats
    else:
        needs_stats = True
    if needs_stats:
        _write_json(paths["stats"], with_stage_stats(graph, stats))
    if force or not paths["graphml"].is_file():
        write_graphml(graph, paths["graphml"])
    if force or not paths["png"].is_file():
        draw_graph(graph, paths["png"], title=title)
    return paths
