"""GOAT's LLM judge (verdict parsing, retries, rejection), and the build's filters end to end: a real `goat build` on
the demo API with the fake LLM server, where the judge rejects one item, one query is a near-duplicate of another
and one overlaps a benchmark file."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import yaml
from fake_llm import JUDGE_GARBAGE, JUDGE_NO, FakeLLM, Gen, ScriptedLLM, fake_completion, prompt_kind

from goat_builders.traces import LLMUsage, judge_item, parse_verdict

CALLS = [{"name": "search_movies", "response": {"results": [{"title": "Dune"}]}}]
SUBS = ["Search for movies titled Dune."]


@pytest.mark.parametrize(
    "text, keep, reason",
    [
        ('{"keep": true, "reason": "fine"}', True, "fine"),
        ('Verdict:\n```json\n{"keep": false, "reason": "the title is missing"}\n```', False, "the title is missing"),
        ("{'keep': False, 'reason': 'no',}", False, "no"),  # Python literals and a trailing comma
        ('{"keep": "yes"}', True, ""),
        ('[{"keep": 0, "reason": ["a", 1]}]', False, '["a", 1]'),
    ],
)
def test_verdicts_are_read_leniently(text, keep, reason):
    verdict, why = parse_verdict(text)
    assert verdict is not None, why
    assert (verdict.keep, verdict.reason) == (keep, reason)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("I think it is fine.", "no JSON value found"),
        ('{"reason": "fine"}', 'with "keep" and "reason"'),
        ('{"keep": "maybe", "reason": "?"}', '"keep" must be true or false, got "maybe"'),
        ('{"keep": 2}', '"keep" must be true or false, got 2'),
        ("", "the output is empty"),
    ],
)
def test_unreadable_verdicts_say_why(text, problem):
    verdict, why = parse_verdict(text)
    assert verdict is None and problem in why


def test_the_judge_sees_query_steps_results_and_answer_and_its_no_is_returned():
    llm = ScriptedLLM(['{"keep": false, "reason": "the answer names another film"}'])
    usage = LLMUsage()
    verdict, _ = judge_item("Find Dune.", SUBS, "Heat is great.", CALLS, llm, usage)
    assert verdict.keep is False and verdict.reason == "the answer names another film"
    prompt = llm.prompts[0]
    assert "User request: Find Dune." in prompt and "1. Search for movies titled Dune." in prompt
    assert '"title": "Dune"' in prompt and "Final answer: Heat is great." in prompt
    assert usage.by_step["judge"]["calls"] == 1


def test_an_unreadable_verdict_is_retried_with_the_problem_then_is_a_rejection_never_a_keep():
    llm = ScriptedLLM(["Looks good to me!", Gen("", error="HTTP 503"), '{"keep": true, "reason": "ok"}'])
    verdict, _ = judge_item("Find Dune.", SUBS, "Dune.", CALLS, llm, LLMUsage())
    assert verdict.keep and "no JSON value found" in llm.prompts[1] and "LLM call failed: HTTP 503" in llm.prompts[2]

    usage = LLMUsage()
    verdict, reason = judge_item("Find Dune.", SUBS, "Dune.", CALLS, ScriptedLLM(["yes"] * 3), usage)
    assert verdict is None and reason.startswith("no readable verdict from the judge after 3 attempts")
    assert usage.by_step["judge"]["calls"] == 3


def test_the_fake_judge_keeps_unless_told_otherwise():
    from goat_builders.prompting import render

    def prompt(query):
        return render("judge", query=query, sub_instructions=SUBS, final_answer="a", calls=[], error="")

    assert prompt_kind(prompt("q")) == "judge"
    assert parse_verdict(fake_completion(prompt("q")))[0].keep is True
    assert parse_verdict(fake_completion(prompt(f"q {JUDGE_NO}")))[0].keep is False
    assert parse_verdict(fake_completion(prompt(f"q {JUDGE_GARBAGE}")))[0] is None


# ------------------------------------------------------------------------------------------------ end to end

BENCH_TEXT = "Which horror films released in 1987 were directed by women and later got sequels"
BASE = "Which cinemas in Springfield show the film Silent Harbor this weekend and what are their addresses"
SPECIAL_QUERIES = [
    BASE,
    BASE + " please",  # a near-duplicate: word-bigram Jaccard 15/16
    "Before anything else: " + " ".join(BENCH_TEXT.split()[1:10]) + ", and which one was longest?",  # 9 bench words
    f"Tell me about the third showing of the newest film {JUDGE_NO}",
]


@pytest.mark.slow
def test_a_build_rejects_judged_duplicate_and_contaminated_items_with_reasons_and_counts(tmp_path: Path):
    import pyarrow.parquet as pq
    from demo_builds import demo_api, finish, only_build_dir, start_build, write_recipe

    from goat_datasets.servers import serve_in_thread

    lock = threading.Lock()
    served: list[str] = []

    def respond(prompt: str) -> str:  # the first four queries written are the special ones, in arrival order
        if prompt_kind(prompt) == "query":
            with lock:
                if len(served) < len(SPECIAL_QUERIES):
                    served.append(SPECIAL_QUERIES[len(served)])
                    return served[-1]
        return fake_completion(prompt)

    (tmp_path / "bench.jsonl").write_text(
        json.dumps({"id": "hb-1", "query": "How is the weather in Paris today"}) + "\n"
        + json.dumps({"id": "hb-2", "query": BENCH_TEXT}) + "\n"
    )  # fmt: skip
    fake = FakeLLM(delay_s=0.01, respond=respond)
    with fake.serve() as llm_url, serve_in_thread(demo_api([], lambda: ""), health_path="/health") as api:
        recipe_path = write_recipe(tmp_path, api, llm_url)
        recipe = yaml.safe_load(recipe_path.read_text())
        recipe["sampling"]["n"] = 10
        recipe["filters"] = {"decontaminate_against": [{"path": "bench.jsonl"}]}
        recipe_path.write_text(yaml.safe_dump(recipe, sort_keys=False))
        proc = start_build(recipe_path, tmp_path / "cache", tmp_path / "build.log")
        out = finish(proc, tmp_path / "build.log")
    assert proc.returncode == 0, out[-4000:]
    assert len(served) == 4, "fewer than four items reached the query: the demo build changed"
    build_dir = only_build_dir(tmp_path / "cache")
    data = build_dir / "dataset" / "data"
    rejected = {r["query"]: r for r in pq.read_table(next((data / "rejected").glob("*.parquet"))).to_pylist()}
    sft = pq.read_table(next((data / "sft").glob("*.parquet"))).to_pylist()

    judged = rejected[SPECIAL_QUERIES[3]]
    assert judged["stage"] == "judge" and judged["reason"] == (
        "the judge said no: the request does not say which item to start from"
    )
    contaminated = rejected[SPECIAL_QUERIES[2]]
    assert contaminated["stage"] == "contaminated"
    assert contaminated["reason"] == (
        "shares the 8-word n-gram 'horror films released in 1987 were directed by' with bench.jsonl item hb-2"
    )
    # of the two near-duplicates, the one with the smaller chain id is kept and named in the other's reason
    pair = {q: r for q, r in rejected.items() if q in SPECIAL_QUERIES[:2]}
    assert len(pair) == 1 and next(iter(pair.values()))["stage"] == "duplicate"
    kept = next(r for r in sft if r["query"] in SPECIAL_QUERIES[:2])
    dup = next(iter(pair.values()))
    assert kept["chain_id"] < dup["chain_id"]
    assert dup["reason"].startswith(f"near-duplicate of {kept['chain_id']} (Jaccard 0.94 over word 2-grams >= 0.8)")

    report = json.loads((build_dir / "build_report.json").read_text())
    by_stage = report["rejected_by_stage"]
    assert by_stage["judge"] == by_stage["duplicate"] == by_stage["contaminated"] == 1, by_stage
    stages = report["stages"]
    assert stages["sampled"] == 10 and stages["judged_ok"] == stages["generated"] - 1
    assert stages["deduplicated"] == stages["formatted"] - 1 == len(sft) + 1
    assert stages["decontaminated"] == len(sft) == report["counts"]["kept"]
    by_step = report["llm_usage"]["by_step"]
    assert list(by_step) == ["arguments", "sub_instructions", "query", "answer", "judge"]
    assert by_step["judge"]["calls"] == by_step["query"]["calls"] == stages["generated"]
    assert all(u["prompt_tokens"] > 0 and u["completion_tokens"] > 0 for u in by_step.values())

    # every kept row carries its sub-instructions (one per call) and the judge's reason
    assert all(len(r["sub_instructions"]) == r["num_calls"] for r in sft)
    assert {r["judge_reason"] for r in sft} == {"every step follows from the request"}
    card = (build_dir / "dataset" / "README.md").read_text()
    assert f"| judged ok | {stages['judged_ok']} | 1 |" in card and f"| decontaminated | {len(sft)} | 1 |" in card
    assert f"| judge | openai:fake | {by_step['judge']['calls']} | 0 |" in card
    assert "- decontamination: 8-word n-gram overlap with bench.jsonl" in card
    # progress, per step and batch, as the build runs
    assert "execute_chains: 8/10 chains (80%)" in out and "judge: 10/10 rows (100%)" in out
    assert "filters: 1 near-duplicate and 1 contaminated queries removed" in out
