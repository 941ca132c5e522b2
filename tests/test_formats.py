import json

from datasets import Dataset

from goat_datasets.formats.sft import (
    MAX_TOOL_CONTENT_CHARS,
    SFT_FEATURES,
    TRUNCATION_MARKER,
    build_messages,
    clean_messages,
    tool_content,
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
