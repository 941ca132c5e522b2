import json

import pytest
from datasets import Dataset

from goat_datasets.formats.sft import (
    MAX_TOOL_CONTENT_CHARS,
    SFT_FEATURES,
    TRUNCATION_MARKER,
    build_messages,
    call_dependencies,
    call_turns,
    clean_messages,
    split_parallel_turns,
    tool_content,
    with_chain_dependencies,
)


def _row(i, calls):
    return {
        "id": f"r{i}",
        "messages": build_messages(f"query {i}", calls, f"answer {i}", system_prompt="be brief" if i else None),
        "tools": json.dumps([{"type": "function", "function": {"name": c["name"]}} for c in calls]),
        "query": f"query {i}",
        "final_answer": f"answer {i}",
        "api_ids": [c["name"] for c in calls],
        "num_calls": len(calls),
        "chain_id": f"c{i}",
        "recipe_fingerprint": "fp",
        "generator_model": "m",
        "sub_instructions": [f"step {j}" for j in range(len(calls))],
        "judge_reason": "fits",
    }


def test_arguments_keep_their_own_keys_across_rows():
    rows = [
        _row(0, [{"name": "search", "arguments": {"query": "x", "year": 1999}, "response": {"results": [{"id": 1}]}}]),
        _row(1, [{"name": "get", "arguments": {"movie_id": 7}, "response": {"title": "T"}},
                 {"name": "credits", "arguments": {"movie_id": 7, "limit": 2}, "response": []}]),
    ]
    ds = Dataset.from_list(rows, features=SFT_FEATURES)
    back = ds[0]["messages"]
    call = [m for m in back if m["tool_calls"]][0]["tool_calls"][0]
    assert call["function"]["arguments"] == {"query": "x", "year": 1999}  # no null "movie_id"/"limit" merged in
    msgs1 = ds[1]["messages"]
    assert [m["role"] for m in msgs1] == ["system", "user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert msgs1[3]["tool_call_id"] == "call_0" and msgs1[3]["name"] == "get"
    assert json.loads(msgs1[3]["content"]) == {"title": "T"}
    cleaned = clean_messages(msgs1)
    assert "tool_calls" not in cleaned[1] and cleaned[2]["tool_calls"][0]["function"]["name"] == "get"


def test_long_tool_responses_are_cut_with_a_marker():
    text = tool_content({"blob": "x" * (MAX_TOOL_CONTENT_CHARS * 2)})
    assert len(text) == MAX_TOOL_CONTENT_CHARS and text.endswith(TRUNCATION_MARKER)
    assert tool_content({"a": 1}) == '{"a": 1}'


# --- parallel tool calls -------------------------------------------------------------------------------------------


def _calls(*deps):
    """One call per entry; an entry is the depends_on list (or None: no dependency information at all)."""
    out = []
    for i, d in enumerate(deps):
        call = {"name": f"api{i}", "arguments": {f"p{i}": i}, "response": {"r": i}}
        if d is not None:
            call["depends_on"] = d
        out.append(call)
    return out


@pytest.mark.parametrize(
    "deps, turns",
    [
        (([], [0], [1]), [[0], [1], [2]]),  # a path: nothing in parallel
        (([], [0], [0]), [[0], [1, 2]]),  # fan-out: the children share a turn
        (([], [], [0, 1]), [[0, 1], [2]]),  # fan-in: the parents share a turn
        (([], [], [0], [1]), [[0, 1], [2, 3]]),  # two branches side by side
        (([], [0], []), [[0], [1, 2]]),  # greedy in the given order: a late root joins the current turn
        (([], [], [1]), [[0, 1], [2]]),
        ((None, None, None), [[0], [1], [2]]),  # no dependency information: sequential, never guessed
    ],
)
def test_independent_calls_are_grouped_greedily_in_execution_order(deps, turns):
    calls = _calls(*deps)
    assert call_turns(calls) == turns
    assert call_turns(calls, parallel=False) == [[i] for i in range(len(calls))]


def test_dependencies_fall_back_to_derived_bindings():
    calls = [
        {"name": "list_genres", "derived": {}},
        {"name": "list_cities", "derived": {}},
        {"name": "discover_movies", "derived": {"genre": "list_genres.results[0].genre"}},
        {"name": "search_cinemas", "derived": {"city": "list_cities.results[0].city"}},
    ]
    assert call_dependencies(calls) == [set(), set(), {0}, {1}]
    assert call_turns(calls) == [[0, 1], [2, 3]]
    # an explicit depends_on wins over derived
    calls[3]["depends_on"] = [0, 2]
    assert call_dependencies(calls)[3] == {0, 2} and call_turns(calls) == [[0, 1], [2], [3]]


def test_a_parent_name_two_earlier_calls_share_makes_both_dependencies():
    calls = [{"name": "get", "derived": {}}, {"name": "get", "derived": {}}, {"name": "use", "derived": {"x": "get.id"}}]
    assert call_dependencies(calls)[2] == {0, 1}
    # "get" must match a whole name, not a prefix of "get_all"
    calls = [{"name": "get_all", "derived": {}}, {"name": "use", "derived": {"x": "get.id"}}]
    with pytest.raises(ValueError, match=r"call 1 \(use\): derived\['x'\] = 'get.id' names no earlier call"):
        call_dependencies(calls)


@pytest.mark.parametrize("bad", [[1], [2], [-1], ["0"], [True]])
def test_depends_on_must_name_earlier_calls(bad):
    calls = _calls([], bad)
    with pytest.raises(ValueError, match=r"call 1 \(api1\): depends_on must list indices of earlier calls"):
        call_turns(calls)


def test_parallel_turn_messages_round_trip_through_the_published_features():
    calls = _calls([], [], [0, 1])
    msgs = build_messages("q", calls, "a")
    assert [(m["role"], len(m["tool_calls"] or [])) for m in msgs] == [
        ("user", 0), ("assistant", 2), ("tool", 0), ("tool", 0), ("assistant", 1), ("tool", 0), ("assistant", 0)
    ]  # fmt: skip
    assert [c["id"] for c in msgs[1]["tool_calls"]] == ["call_0", "call_1"]
    assert [(m["tool_call_id"], m["name"]) for m in msgs[2:4]] == [("call_0", "api0"), ("call_1", "api1")]
    assert msgs[4]["tool_calls"][0]["id"] == "call_2" and msgs[5]["tool_call_id"] == "call_2"
    row = {**_row(0, calls), "messages": msgs}
    back = Dataset.from_list([row], features=SFT_FEATURES)[0]["messages"]
    # each call keeps its own argument keys inside one turn
    assert [c["function"]["arguments"] for c in back[1]["tool_calls"]] == [{"p0": 0}, {"p1": 1}]


def test_splitting_parallel_turns_gives_the_sequential_conversation():
    calls = _calls([], [], [0, 1], [0])
    parallel = build_messages("q", calls, "a", system_prompt="s")
    sequential = build_messages("q", calls, "a", system_prompt="s", parallel_calls=False)
    assert parallel != sequential
    assert split_parallel_turns(parallel) == sequential
    assert split_parallel_turns(sequential) == sequential
    broken = parallel[:4] + parallel[5:]  # the second tool message of the first turn is gone
    with pytest.raises(ValueError, match=r"message 2: no tool message follows for call id\(s\) \['call_1'\]"):
        split_parallel_turns(broken)


def test_chain_steps_lend_their_depends_on_to_executed_calls():
    calls = [{"name": "a", "derived": {}}, {"name": "b", "derived": {}, "depends_on": [0]}, {"name": "c"}]
    merged = with_chain_dependencies(calls, [{"depends_on": []}, {"depends_on": []}, {"depends_on": [1]}])
    assert [c.get("depends_on") for c in merged] == [[], [0], [1]]  # a call's own list is kept
    assert "depends_on" not in calls[2]  # the input is not modified


def test_format_step_rejects_a_row_with_impossible_dependencies_with_its_reason(tmp_path):
    from goat_builders.steps.context import save_apis
    from goat_builders.steps.traces import FormatSFT
    from goat_datasets.sources.models import ApiSpec

    apis = [ApiSpec(id=f"d.{n}", source="d", tool="t", name=n) for n in ("a", "b")]
    save_apis(tmp_path, apis)
    calls = [{"api_id": f"d.{n}", "name": n, "arguments": {}, "response": {"v": n}, "derived": {}} for n in "ab"]
    chain = {"steps": [{"api_id": "d.a", "depends_on": []}, {"api_id": "d.b", "depends_on": [1]}]}  # b on itself
    row = {"chain_id": "c", "chain": json.dumps(chain), "calls": json.dumps(calls), "query": "q", "final_answer": "a",
           "status": "ok", "stage": "", "reason": ""}  # fmt: skip
    step = FormatSFT(name="format_sft", build_dir=str(tmp_path))
    step.load()
    bad, good = next(step.process([dict(row), {**row, "chain": json.dumps({"steps": []})}]))
    assert (bad["status"], bad["stage"], bad["messages"]) == ("rejected", "format", None)
    assert "call 1 (b): depends_on must list indices of earlier calls (0..0), got 1" in bad["reason"]
    # without the chain's depends_on the derived bindings decide: two independent calls, one turn
    assert good["status"] == "ok"
    assert [len(m["tool_calls"] or []) for m in json.loads(good["messages"])] == [0, 2, 0, 0, 0]
