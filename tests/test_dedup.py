"""Near-duplicate removal (MinHash candidates, exact Jaccard) and n-gram decontamination against benchmark files."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from goat_builders.build import stage_counts
from goat_builders.sft_traces import filter_rows
from goat_datasets.formats.dedup import (
    BenchmarkFileError,
    ReferenceItem,
    find_contaminated,
    find_near_duplicates,
    jaccard,
    load_reference_items,
    lsh_bands,
    words,
)


def bigrams(text: str) -> set[tuple[str, str]]:
    w = words(text)
    return set(zip(w, w[1:])) if len(w) >= 2 else {tuple(w)}


def brute_force(texts: list[str], threshold: float) -> list[tuple[int, int, float]]:
    """The same greedy rule, all pairs compared: what the MinHash candidates must not miss."""
    kept: list[int] = []
    out = []
    for i, t in enumerate(texts):
        sims = [(jaccard(bigrams(t), bigrams(texts[j])), -j) for j in kept]
        best = max(sims, default=(0.0, 0))
        if sims and best[0] >= threshold:
            out.append((i, -best[1], round(best[0], 4)))
        else:
            kept.append(i)
    return out


def test_words_ignore_case_and_punctuation():
    assert words("Find CINEMAS, near Zürich-West!") == ["find", "cinemas", "near", "zürich", "west"]


def test_the_first_of_near_duplicates_is_kept_and_the_similarity_is_exact():
    texts = [
        "show me the cinemas in springfield that play silent harbor tonight",
        "Show me the cinemas in Springfield that play Silent Harbor tonight!",  # same words: 1.0
        "show me the cinemas in springfield that play silent harbor tonight please",  # 10/11 bigrams
        "what is the weather in paris tomorrow morning",
    ]
    dups = find_near_duplicates(texts, threshold=0.8)
    assert [(d.index, d.kept_index, d.similarity) for d in dups] == [(1, 0, 1.0), (2, 0, round(10 / 11, 4))]
    assert find_near_duplicates(texts, threshold=0.95) == find_near_duplicates(texts, threshold=0.95)[:1]
    assert [d.index for d in find_near_duplicates(texts, threshold=10 / 11)] == [1, 2]  # the threshold is inclusive


def test_a_text_is_compared_with_kept_texts_only():
    a = "one two three four five six seven eight nine ten"
    b = a + " eleven twelve"  # close to a: removed
    c = b + " thirteen fourteen"  # close to b (removed) but not to a: kept
    assert jaccard(bigrams(b), bigrams(c)) >= 0.8 > jaccard(bigrams(a), bigrams(c))
    assert [(d.index, d.kept_index) for d in find_near_duplicates([a, b, c], threshold=0.8)] == [(1, 0)]


def test_empty_and_short_texts():
    dups = find_near_duplicates(["", "", "hello", "Hello!", "hello world"], threshold=0.8)
    assert [(d.index, d.kept_index) for d in dups] == [(3, 2)]  # empty texts are never duplicates
    with pytest.raises(ValueError, match="threshold"):
        find_near_duplicates(["a"], threshold=0.0)


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8, 0.95, 1.0])
def test_lsh_bands_miss_a_pair_at_the_threshold_with_probability_below_one_in_a_million(threshold):
    bands, rows = lsh_bands(threshold)
    assert bands * rows <= 128 and (1 - threshold**rows) ** bands <= 1e-6


@pytest.mark.parametrize("threshold", [0.5, 0.8])
def test_minhash_candidates_find_what_all_pairs_finds(threshold):
    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(60)]  # a small vocabulary: many partial overlaps
    texts = [" ".join(rng.choice(vocab) for _ in range(rng.randint(4, 25))) for _ in range(300)]
    for k in range(60):  # edited copies of earlier texts: a word replaced, or one or two appended
        ws = texts[k].split()
        if k % 2:
            ws[rng.randrange(len(ws))] = rng.choice(vocab)
        texts[150 + k] = " ".join(ws + rng.sample(vocab, k % 3))
    found = [(d.index, d.kept_index, d.similarity) for d in find_near_duplicates(texts, threshold=threshold)]
    assert found == brute_force(texts, threshold) and len(found) >= 15


def test_ten_thousand_queries_in_seconds():
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(3000)]
    texts = [" ".join(rng.choice(vocab) for _ in range(rng.randint(10, 40))) for _ in range(10_000)]
    for k in range(50):
        texts[5000 + k] = texts[k] + " please"
    refs = [ReferenceItem("bench", str(i), " ".join(rng.choice(vocab) for _ in range(30))) for i in range(5000)]
    for k in range(20):
        texts[100 + k] = "please " + " ".join(refs[7 * k].text.split()[3:11]) + " thanks"
    t0 = time.perf_counter()
    dups = find_near_duplicates(texts, threshold=0.8)
    t1 = time.perf_counter()
    hits = find_contaminated(texts, refs, ngram=8)
    t2 = time.perf_counter()
    print(f"\n10,000 queries: near-duplicates {t1 - t0:.2f}s, decontamination against 5,000 items {t2 - t1:.2f}s")
    assert {(d.index, d.kept_index) for d in dups} >= {(5000 + k, k) for k in range(50) if k < 100 or k >= 120}
    assert [(h.index, h.item_id) for h in hits] == [(100 + k, str(7 * k)) for k in range(20)]


# ------------------------------------------------------------------------------------------------ decontamination

BENCH = [
    {"id": "gb-1", "query": "Find the top rated Italian restaurants in Boston and book a table for two tonight"},
    {"id": "gb-2", "query": "What is the weather?"},
    {"id": "gb-3", "query": "Find the top rated Italian restaurants in Boston and then their phone numbers"},
]


def write_bench(path: Path, rows: list[dict]) -> Path:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif path.suffix == ".json":
        path.write_text(json.dumps(rows))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".parquet"])
def test_a_query_sharing_an_8_gram_with_a_benchmark_item_is_contaminated(tmp_path, suffix):
    items = load_reference_items(path=write_bench(tmp_path / f"bench{suffix}", BENCH), label="bench")
    assert [(i.item_id, i.source) for i in items] == [("gb-1", "bench"), ("gb-2", "bench"), ("gb-3", "bench")]
    queries = [
        "Please find the top-rated Italian restaurants in Boston, and book a table",  # 8 words of gb-1 (and gb-3)
        "Find the top rated Italian restaurants in Chicago and book a table for two tonight",  # 7-word runs only
        "what is the weather",  # short: only an identical short text matches ...
        "tell me what is the weather in Rome",  # ... never a phrase inside a longer one
    ]
    hits = find_contaminated(queries, items, ngram=8)
    assert [(h.index, h.item_id, h.ngram) for h in hits] == [
        (0, "gb-1", "find the top rated italian restaurants in boston"),  # the first item holding the n-gram
        (2, "gb-2", "what is the weather"),
    ]
    assert [h.index for h in find_contaminated(queries, items, ngram=6)] == [0, 1, 2]


def test_a_hash_collision_cannot_mark_a_clean_query(monkeypatch):
    import numpy as np

    import goat_datasets.formats.dedup as dedup

    monkeypatch.setattr(dedup, "_splitmix", lambda x: np.zeros_like(x))  # every n-gram hashes alike
    items = [ReferenceItem("b", "1", "alpha beta gamma delta epsilon zeta eta theta")]
    assert find_contaminated(["one two three four five six seven eight nine"], items) == []
    assert len(find_contaminated(["x alpha beta gamma delta epsilon zeta eta theta"], items)) == 1


def test_ids_come_from_the_id_column_else_the_row(tmp_path):
    path = write_bench(tmp_path / "b.jsonl", [{"q": "a b", "key": 7}, {"q": "c d", "key": None}])
    assert [i.item_id for i in load_reference_items(path=path, column="q", id_column="key")] == ["7", "row 1"]
    assert [i.item_id for i in load_reference_items(path=path, column="q")] == ["row 0", "row 1"]


@pytest.mark.parametrize(
    "name, content, kwargs, message",
    [
        ("b.jsonl", '{"query": "a"}\n{"query": 5}\n', {}, "b.jsonl row 1: 'query' must be a string, got int (5)"),
        ("b.jsonl", '{"query": "a"}\nnot json\n', {}, "b.jsonl:2: not valid JSON"),
        ("b.jsonl", '{"text": "a"}\n', {}, "b.jsonl: no column 'query' (columns: text)"),
        ("b.jsonl", '{"query": "a"}\n', {"id_column": "uid"}, "b.jsonl: no id column 'uid' (columns: query)"),
        ("b.json", '{"query": "a"}', {}, "b.json: must hold a JSON list of objects"),
        ("b.csv", "query\na\n", {}, "b.csv: unsupported benchmark file type '.csv'"),
        ("b.jsonl", "", {}, "b.jsonl: no rows"),
        ("b.parquet", "not parquet", {}, "b.parquet: not a readable parquet file"),
    ],
)
def test_bad_benchmark_files_are_named_with_the_problem(tmp_path, name, content, kwargs, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(BenchmarkFileError) as err:
        load_reference_items(path=path, **kwargs)
    assert message in str(err.value).replace(str(tmp_path) + "/", "")


def test_a_benchmark_needs_exactly_one_source(tmp_path):
    with pytest.raises(BenchmarkFileError, match="exactly one"):
        load_reference_items()
    with pytest.raises(BenchmarkFileError, match="not found"):
        load_reference_items(path=tmp_path / "missing.jsonl")


def test_a_hub_dataset_split_is_read_through_the_configured_endpoint(tmp_path, monkeypatch):
    import datasets
    import huggingface_hub.constants as hf_constants

    from goat_datasets.hub.client import publish_folder
    from goat_datasets.hub.endpoint import use_hub_endpoint
    from goat_datasets.hub.server import running_hub

    folder = tmp_path / "bench"
    (folder / "data" / "tasks").mkdir(parents=True)
    datasets.Dataset.from_list(BENCH).to_parquet(str(folder / "data" / "tasks" / "test-00000-of-00001.parquet"))
    (folder / "README.md").write_text(
        "---\nconfigs:\n- config_name: tasks\n  data_files:\n  - split: test\n    path: data/tasks/test-*.parquet\n---\n"
    )
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "ds-cache")
    monkeypatch.setattr(datasets.config, "HF_MODULES_CACHE", tmp_path / "ds-modules")
    with running_hub(tmp_path / "hub") as hub, use_hub_endpoint(hub):
        publish_folder("bench-org/tool-bench", folder, "1.0.0", endpoint=hub, token="t")
        items = load_reference_items(dataset="bench-org/tool-bench", config="tasks", split="test", label="tb")
        with pytest.raises(BenchmarkFileError, match="bench-org/tool-bench: cannot load config 'tasks' split 'dev'"):
            load_reference_items(dataset="bench-org/tool-bench", config="tasks", split="dev")
    assert [(i.item_id, i.text) for i in items] == [(r["id"], r["query"]) for r in BENCH]


# ------------------------------------------------------------------------------------------------ over a build's rows


def row(chain_id: str, query: str, status: str = "ok", stage: str = "") -> dict:
    return {"chain_id": chain_id, "query": query, "status": status, "stage": stage, "reason": ""}


def test_build_rows_are_filtered_in_chain_id_order_with_reasons():
    rows = [
        row("chain-b", "Which cinemas in Springfield show Silent Harbor tonight and at what time please"),
        row("chain-a", "Which cinemas in Springfield show Silent Harbor tonight and at what time"),
        row("chain-c", "Please find the top-rated Italian restaurants in Boston for me"),
        row("chain-d", "Which cinemas in Springfield show Silent Harbor tonight", "rejected", "judge"),
    ]
    refs = [ReferenceItem("gb.jsonl", "gb-1", BENCH[0]["query"])]
    out, counts = filter_rows(rows, dedup_threshold=0.8, references=refs)
    assert counts == {"duplicate": 1, "contaminated": 1}
    assert rows[0]["status"] == "ok"  # the input is not changed
    by_id = {r["chain_id"]: r for r in out}
    assert by_id["chain-a"]["status"] == "ok" and by_id["chain-d"]["stage"] == "judge"
    assert (by_id["chain-b"]["stage"], by_id["chain-b"]["reason"]) == (
        "duplicate",
        "near-duplicate of chain-a (Jaccard 0.92 over word 2-grams >= 0.8): "
        "'Which cinemas in Springfield show Silent Harbor tonight and at what time'",
    )
    assert (by_id["chain-c"]["stage"], by_id["chain-c"]["reason"]) == (
        "contaminated",
        "shares the 8-word n-gram 'find the top rated italian restaurants in boston' with gb.jsonl item gb-1",
    )
    assert stage_counts(out, 5) == {
        "sampled": 5, "executed_ok": 5, "generated": 5, "judged_ok": 4, "formatted": 4, "deduplicated": 3,
        "decontaminated": 2,
    }  # fmt: skip
    untouched, counts = filter_rows(rows, dedup_threshold=None, references=[])
    assert counts == {"duplicate": 0, "contaminated": 0} and untouched == rows


def test_the_recipe_filters_section_is_validated_with_file_and_line(tmp_path):
    from goat_datasets.recipe import RecipeError, load_recipe

    path = tmp_path / "r.yaml"
    (tmp_path / "s.json").write_text("{}")
    path.write_text(
        "name: r\nversion: 1.0.0\nhub: {repo_id: org/r}\nsources: [{name: s, spec: s.json}]\n"
        "filters:\n  dedup_threshold: 1.5\n  decontaminate_against:\n    - {dataset: not-a-hub-id}\n    - {split: test}\n"
    )
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    text = str(err.value)
    assert "r.yaml:6" in text and "filters.dedup_threshold" in text
    assert "r.yaml:8:8: filters.decontaminate_against[0].dataset: must look like 'org/name'" in text
    assert "r.yaml:9:7: filters.decontaminate_against[1]: a benchmark needs `path` (a local file) or `dataset`" in text
    path.write_text(path.read_text().split("filters:")[0] + "filters: {judge: false, dedup_threshold: null}\n")
    filters = load_recipe(path).filters
    assert (filters.judge, filters.dedup_threshold, filters.decontaminate_against) == (False, None, [])
