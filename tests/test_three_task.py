"""GOAT's three-task rows (planning, arguments per call, final answer) from hand-made items, then from real traces."""

from __future__ import annotations

import json

import pytest
from datasets import Dataset

from goat_datasets.formats.sft import PROMPT_RESPONSE_CHARS
from goat_datasets.formats.three_task import (
    ARGUMENTS_SYSTEM,
    FINAL_SYSTEM,
    NO_RESULTS,
    PLANNING_SYSTEM,
    THREE_TASK_FEATURES,
    ThreeTaskOptions,
    api_document,
    three_task_rows,
)
from goat_datasets.sources.models import ApiSpec, Param


def _api(source, tool, name, *params):
    return ApiSpec(id=f"{source}.{name}", source=source, tool=tool, name=name, summary=f"{name} summary",
                   params=tuple(Param(name=p, location="query", required=True, schema={"type": "string"})
                                for p in params))  # fmt: skip


APIS = {
    a.id: a
    for a in [
        _api("d", "movies", "search_movies", "query"),
        _api("d", "movies", "get_movie_credits", "movie_id"),
        _api("d", "movies", "get_movie", "movie_id"),
        _api("d", "movies", "get_similar_movies", "movie_id"),
        _api("d", "weather", "get_weather_forecast", "city"),
        _api("d", "weather", "get_weekly_forecast", "city"),
        _api("d", "cinemas", "search_cinemas", "city"),
        _api("d", "cinemas", "get_cinema", "cinema_id"),
        _api("x", "films", "search_movies", "q"),  # another source's operation with a gold API's name
    ]
}
ITEM = {
    "chain_id": "chain-1",
    "query": "Who plays in Silent Harbor?",
    "final_answer": "Ada Stone plays Mara.",
    "calls": json.dumps([
        {"api_id": "d.search_movies", "name": "search_movies", "arguments": {"query": "Silent Harbor"},
         "response": {"results": [{"movie_id": "m7", "title": "Silent Harbor"}]}},
        {"api_id": "d.get_movie_credits", "name": "get_movie_credits", "arguments": {"movie_id": "m7"},
         "response": {"cast": [{"name": "Ada Stone", "character": "Mara"}]}},
    ]),
}  # fmt: skip


def test_rows_of_one_item_exactly():
    rows = three_task_rows(ITEM, APIS, seed=0, fingerprint="fp")
    assert [(r["id"], r["task"], r["step"], r["api_id"]) for r in rows] == [
        ("chain-1/planning", "planning", None, None),
        ("chain-1/arguments/0", "arguments", 0, "d.search_movies"),
        ("chain-1/arguments/1", "arguments", 1, "d.get_movie_credits"),
        ("chain-1/final_answer", "final_answer", None, None),
    ]
    plan, first, second, final = rows
    assert plan["candidate_api_ids"] == [
        "d.get_cinema", "d.search_movies", "d.search_cinemas", "d.get_similar_movies", "d.get_weather_forecast",
        "d.get_movie_credits",
    ]  # fmt: skip  (seed 0: recorded once; any change to the draw shows up here)
    documents = "\n".join(api_document(APIS[a]) for a in plan["candidate_api_ids"])
    assert plan["messages"] == [
        {"role": "system", "content": PLANNING_SYSTEM.format(documents=documents)},
        {"role": "user", "content": "Who plays in Silent Harbor?"},
        {"role": "assistant", "content": '["search_movies", "get_movie_credits"]'},
    ]
    assert api_document(APIS["d.search_movies"]) == (
        '{"name": "search_movies", "tool": "movies", "description": "search_movies summary", "parameters": '
        '{"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}'
    )
    assert first["messages"] == [
        {"role": "system", "content": ARGUMENTS_SYSTEM},
        {"role": "user", "content": "User request: Who plays in Silent Harbor?\n\nAPI document: "
                                    f"{api_document(APIS['d.search_movies'])}\n\nResults of the earlier calls:\n"
                                    f"{NO_RESULTS}"},
        {"role": "assistant", "content": '{"query": "Silent Harbor"}'},
    ]  # fmt: skip
    assert second["messages"][1]["content"].endswith(
        'Results of the earlier calls:\n[1] search_movies: {"results": [{"movie_id": "m7", "title": "Silent Harbor"}]}'
    )
    assert second["messages"][2]["content"] == '{"movie_id": "m7"}'
    assert final["messages"] == [
        {"role": "system", "content": FINAL_SYSTEM},
        {"role": "user", "content": "User request: Who plays in Silent Harbor?\n\nResults of the API calls:\n"
                                    '[1] search_movies: {"results": [{"movie_id": "m7", "title": "Silent Harbor"}]}\n'
                                    '[2] get_movie_credits: {"cast": [{"name": "Ada Stone", "character": "Mara"}]}'},
        {"role": "assistant", "content": "Ada Stone plays Mara."},
    ]  # fmt: skip
    assert {r["recipe_fingerprint"] for r in rows} == {"fp"}
    back = Dataset.from_list(rows, features=THREE_TASK_FEATURES).to_list()
    assert back == rows


@pytest.mark.parametrize("negatives", ["any", "same_tool_first"])
def test_candidates_are_gold_plus_negatives_never_gold_at_most_six(negatives):
    opts = ThreeTaskOptions(negatives=negatives)
    seen = set()
    for seed in range(100):
        candidates = three_task_rows(ITEM, APIS, seed, opts)[0]["candidate_api_ids"]
        assert len(candidates) == 6 == len(set(candidates))
        assert {"d.search_movies", "d.get_movie_credits"} <= set(candidates)
        names = [APIS[a].name for a in candidates]
        assert len(set(names)) == len(names) and "x.search_movies" not in candidates  # the gold name is not shown twice
        negatives_drawn = [a for a in candidates if a not in ("d.search_movies", "d.get_movie_credits")]
        if negatives == "same_tool_first":  # two other "movies" operations exist: they always come first
            assert {"d.get_movie", "d.get_similar_movies"} <= set(negatives_drawn)
        seen.add(tuple(candidates))
    assert len(seen) > 20  # the seed really changes the draw and the order


def test_same_seed_same_rows_whatever_the_order_of_apis_and_items():
    forward = three_task_rows(ITEM, APIS, seed=3)
    backward = three_task_rows(dict(ITEM), dict(reversed(list(APIS.items()))), seed=3)
    assert forward == backward
    other = {**ITEM, "chain_id": "chain-2"}
    three_task_rows(other, APIS, seed=3)  # drawing for another item does not move this one's draw
    assert three_task_rows(ITEM, APIS, seed=3) == forward


def test_more_gold_apis_than_candidates_keeps_all_gold_and_no_negative():
    calls = [{"api_id": a, "arguments": {}, "response": {"ok": i}} for i, a in enumerate(list(APIS)[:4])]
    rows = three_task_rows({"id": "big", "query": "q", "final_answer": "a", "calls": calls}, APIS, 0,
                           ThreeTaskOptions(max_candidates=3))  # fmt: skip
    assert sorted(rows[0]["candidate_api_ids"]) == sorted(list(APIS)[:4])
    assert len(rows) == 1 + 4 + 1


def test_earlier_results_are_cut_as_in_the_trace_prompts():
    long = {"blob": "y" * 3000}
    item = {"id": "long", "query": "q", "final_answer": "a", "calls": [
        {"api_id": "d.search_movies", "arguments": {"query": "x"}, "response": long},
        {"api_id": "d.get_movie", "arguments": {"movie_id": "m"}, "response": "short"}]}  # fmt: skip
    rows = three_task_rows(item, APIS, 0)
    shown = rows[2]["messages"][1]["content"].split("[1] search_movies: ", 1)[1]
    assert shown == json.dumps(long)[:PROMPT_RESPONSE_CHARS] + "…"
    rows = three_task_rows(item, APIS, 0, ThreeTaskOptions(response_chars=10))
    assert rows[-1]["messages"][1]["content"].endswith('[1] search_movies: {"blob": "…\n[2] get_movie: short')


@pytest.mark.parametrize(
    "change, message",
    [
        ({"chain_id": None}, "neither 'id' nor 'chain_id'"),
        ({"query": ""}, "item 'chain-1': field 'query' is missing or empty"),
        ({"calls": "[not json"}, "item 'chain-1': field 'calls' is not JSON"),
        ({"calls": [{"api_id": "d.nope", "arguments": {}, "response": 1}]}, r"calls\[0\].api_id 'd.nope' is not a known"),
        ({"calls": [{"api_id": "d.get_movie", "arguments": "m1", "response": 1}]}, r"calls\[0\].arguments must be an"),
        ({"calls": [{"api_id": "d.get_movie", "arguments": {}}]}, r"calls\[0\] has no 'response'"),
    ],
)
def test_bad_items_are_refused_with_the_field_named(change, message):
    with pytest.raises(ValueError, match=message):
        three_task_rows({**ITEM, **change}, APIS, 0)


def test_options_are_validated():
    with pytest.raises(ValueError):
        ThreeTaskOptions(max_candidates=0)
    with pytest.raises(ValueError):
        ThreeTaskOptions(negatives="hard")


def test_rows_from_real_demo_api_traces_load_back_and_render(tmp_path):
    """Real HTTP calls to the demo API, the rows through parquet, each one rendered by the Qwen2.5 template."""
    from goat_builders.traces import execute_chain
    from goat_datasets.demo_api import create_app
    from goat_datasets.execution.http import HttpExecutor
    from goat_datasets.formats.chat_templates import QWEN2_5
    from goat_datasets.servers import serve_in_thread
    from goat_datasets.sources.openapi import parse_openapi

    app = create_app()
    apis = {a.id: a for a in parse_openapi(app.openapi(), "demo").apis}
    steps = [
        {"api_id": "demo.list_cities", "bindings": []},
        {"api_id": "demo.search_cinemas", "bindings": [{"param": "city", "from_step": 0,
                                                        "source_path": "results[*].city"}]},
    ]  # fmt: skip
    with serve_in_thread(app, health_path="/health") as url, HttpExecutor(url) as ex:
        run = execute_chain(steps, apis, ex, llm=None)
    assert run.ok, run.failure
    item = {"chain_id": "demo-1", "query": "Which cinemas are in the first city?", "final_answer": "Two of them.",
            "calls": json.dumps([c.as_dict() for c in run.calls])}  # fmt: skip
    rows = three_task_rows(item, apis, seed=7)
    Dataset.from_list(rows, features=THREE_TASK_FEATURES).to_parquet(str(tmp_path / "t.parquet"))
    back = Dataset.from_parquet(str(tmp_path / "t.parquet")).to_list()
    assert back == rows
    city = run.calls[1].arguments["city"]
    assert json.loads(back[2]["messages"][2]["content"]) == {"city": city}
    assert city in back[2]["messages"][1]["content"]  # the value is in the earlier result the model is shown
    assert len(back[0]["candidate_api_ids"]) == 6
    for row in back:
        text = QWEN2_5.render(row["messages"])
        assert text.endswith(f"<|im_start|>assistant\n{row['messages'][2]['content']}<|im_end|>\n")
