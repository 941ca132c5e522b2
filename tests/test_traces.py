"""Unit tests of calls-first trace generation, with an executor and an LLM double (the e2e test uses real ones)."""

import json


from fake_llm import Gen, ScriptedLLM

from goat_builders.prompting import render, template_hash, template_names
from goat_builders.traces import (
    LLMUsage,
    execute_chain,
    is_empty_response,
    merge_usage,
    sub_instruction_problems,
    write_final_answer,
    write_query,
    write_sub_instructions,
)
from goat_datasets.execution.base import CallResult
from goat_datasets.sources.models import ApiSpec, OutputField, Param

SEARCH = ApiSpec(
    id="d.search_movies", source="d", tool="movies", name="search_movies", summary="Search movies by title",
    params=(Param(name="query", location="query", required=True,
                  schema={"type": "string", "examples": ["Silent Harbor"]}, description="title words"),),
    output_fields=(OutputField(path="results[*].movie_id", type="integer"),),
)
CREDITS = ApiSpec(
    id="d.get_movie_credits", source="d", tool="movies", name="get_movie_credits", summary="Cast of a movie",
    params=(Param(name="movie_id", location="path", required=True, schema={"type": "integer"}),
            Param(name="limit", location="query", required=True, schema={"type": "integer"})),
)
APIS = {a.id: a for a in (SEARCH, CREDITS)}
CHAIN = [
    {"api_id": SEARCH.id, "bindings": []},
    {"api_id": CREDITS.id, "bindings": [{"param": "movie_id", "from_step": 0, "source_path": "results[*].movie_id"}]},
]


class RecordingExecutor:
    def __init__(self, responses):
        self.responses = responses
        self.calls = []

    def call(self, api, arguments):
        self.calls.append((api.name, dict(arguments)))
        status, body = self.responses[api.name]
        return CallResult(api_id=api.id, arguments=arguments, ok=200 <= status < 300, status_code=status, response=body,
                          error=None if status < 300 else f"HTTP {status}")

    def close(self):
        pass


def test_edge_values_come_from_the_parent_response_and_the_rest_from_the_llm():
    ex = RecordingExecutor({"search_movies": (200, {"results": [{"movie_id": 42}, {"movie_id": 7}]}),
                            "get_movie_credits": (200, {"cast": [{"name": "Ann"}]})})
    llm = ScriptedLLM(['```json\n{"query": "Silent Harbor"}\n```', '{"limit": 3, "movie_id": 999}'])
    run = execute_chain(CHAIN, APIS, ex, llm)
    assert run.ok, run.failure
    assert ex.calls == [("search_movies", {"query": "Silent Harbor"}), ("get_movie_credits", {"movie_id": 42, "limit": 3})]
    assert run.calls[1].derived == {"movie_id": "search_movies.results[0].movie_id"}
    # the LLM was asked only for the parameter no edge provides, and saw the parent's real response
    assert "`limit`" in llm.prompts[1] and "`movie_id`" not in llm.prompts[1] and '"movie_id": 42' in llm.prompts[1]
    assert "Silent Harbor" in llm.prompts[0]  # document examples reach the prompt
    assert run.usage.calls == 2 and run.usage.completion_tokens == 10
    assert run.usage.by_step == {"arguments": {"calls": 2, "failed_calls": 0, "prompt_tokens": 20, "completion_tokens": 10}}


def test_invalid_llm_arguments_are_retried_then_rejected_with_reason():
    ex = RecordingExecutor({"search_movies": (200, {"results": [{"movie_id": 1}]})})
    llm = ScriptedLLM(["no idea", '{"query": 5}', "{}"])
    run = execute_chain(CHAIN[:1], APIS, ex, llm)
    assert not run.ok and run.failure.stage == "arguments"
    assert "after 3 attempts" in run.failure.reason
    assert ex.calls == []  # nothing invalid was executed
    assert "rejected" in llm.prompts[1]  # the retry tells the model what was wrong


def test_failures_are_recorded_per_stage():
    llm = ScriptedLLM(['{"query": "x"}'] * 3)
    empty = execute_chain(CHAIN, APIS, RecordingExecutor({"search_movies": (200, {"results": [], "total": 0})}), llm)
    assert empty.failure.stage == "empty_response"
    err = execute_chain(CHAIN, APIS, RecordingExecutor({"search_movies": (404, {"detail": "nope"})}), llm)
    assert err.failure.stage == "execution" and "404" in err.failure.reason and len(err.calls) == 1
    no_field = execute_chain(
        CHAIN, APIS,
        RecordingExecutor({"search_movies": (200, {"results": [{"title": "T"}]}), "get_movie_credits": (200, {})}),
        llm,
    )
    assert no_field.failure.stage == "binding" and "results[*].movie_id" in no_field.failure.reason


CALLS = [
    {"api_id": SEARCH.id, "name": "search_movies", "arguments": {"query": "Silent Harbor"}, "derived": {},
     "response": {"results": [{"movie_id": 4242}]}},
    {"api_id": CREDITS.id, "name": "get_movie_credits", "arguments": {"movie_id": 4242, "limit": 3},
     "derived": {"movie_id": "search_movies.results[0].movie_id"}, "response": {"cast": [{"name": "Ann Lee"}]}},
]  # fmt: skip
GOOD_SUBS = ["Search for movies titled Silent Harbor.", "List 3 cast members of the first movie found."]


def test_sub_instructions_then_query_merged_from_them_then_answer():
    llm = ScriptedLLM([
        "```json\n" + json.dumps(GOOD_SUBS) + "\n```",
        '"Who are 3 cast members of the movie Silent Harbor?"',
        "Answer: Ann Lee stars in it.",
    ])  # fmt: skip
    usage = LLMUsage()
    subs, reason = write_sub_instructions(CALLS, APIS, llm, usage)
    assert subs == GOOD_SUBS, reason
    query, _ = write_query(subs, CALLS, llm, usage)
    answer, _ = write_final_answer(query, CALLS, llm, usage)
    assert query == "Who are 3 cast members of the movie Silent Harbor?" and answer == "Ann Lee stars in it."
    sub_prompt, query_prompt, answer_prompt = llm.prompts
    # the sub-instruction prompt: given values stated, found ones described by where they came from, never shown
    assert "Given: query: Silent Harbor" in sub_prompt and "limit: 3" in sub_prompt
    assert "movie id = the movie id of the first of the results of step 1" in sub_prompt
    assert "4242" not in sub_prompt and "exactly 2 strings" in sub_prompt
    # the query prompt merges the sub-instructions
    assert all(s in query_prompt for s in GOOD_SUBS) and "query: Silent Harbor" in query_prompt
    assert "Ann Lee" in answer_prompt
    assert set(usage.by_step) == {"sub_instructions", "query", "answer"} and usage.calls == 3
    empty, reason = write_query(subs, CALLS, ScriptedLLM(["  "]), usage)
    assert empty is None and "empty" in reason


def test_sub_instructions_are_retried_with_the_problems_then_rejected():
    leaky = ["Search for movies titled Silent Harbor.", "List 3 cast members of movie 4242."]
    llm = ScriptedLLM(["not json", json.dumps(leaky), json.dumps(GOOD_SUBS)])
    subs, _ = write_sub_instructions(CALLS, APIS, llm, LLMUsage())
    assert subs == GOOD_SUBS
    assert "no JSON" in llm.prompts[1] and "'4242'" in llm.prompts[2] and "say how it was chosen" in llm.prompts[2]

    llm = ScriptedLLM([json.dumps(["Search movies.", "List the cast."])] * 3)
    subs, reason = write_sub_instructions(CALLS, APIS, llm, LLMUsage())
    assert subs is None and "after 3 attempts" in reason
    assert "must state the given value query = Silent Harbor" in reason and "limit = 3" in reason


def test_sub_instruction_rules():
    assert sub_instruction_problems(GOOD_SUBS, CALLS) == []
    assert sub_instruction_problems(GOOD_SUBS[:1], CALLS) == ["expected 2 sub-instructions (one per step), got 1"]
    assert sub_instruction_problems(["", GOOD_SUBS[1]], CALLS)[0] == "sub-instruction 1 is empty"
    # a value is matched as a whole word: 3 inside 30 is not "3", and case does not matter
    assert sub_instruction_problems([GOOD_SUBS[0].lower(), "List 30 cast members of it."], CALLS) == [
        "sub-instruction 2 must state the given value limit = 3"
    ]


def test_usage_is_kept_per_kind_of_call_and_merges_nested():
    usage = LLMUsage()
    usage.add(Gen("x", prompt_tokens=7, completion_tokens=2), "judge")
    usage.add(Gen("", error="HTTP 500"), "judge")
    d = usage.as_dict()
    assert d["by_step"]["judge"] == {"calls": 2, "failed_calls": 1, "prompt_tokens": 17, "completion_tokens": 7}
    total = merge_usage(merge_usage({}, d), d)
    assert total["calls"] == 4 and total["by_step"]["judge"]["prompt_tokens"] == 34 and total["seconds"] == 0.4


def test_empty_response_rule():
    assert is_empty_response({"results": [], "total": 0}) and is_empty_response(None) and is_empty_response([])
    assert not is_empty_response({"title": "x"}) and not is_empty_response({"results": [1], "other": []})


def test_the_prompt_templates_exist_and_hash_apart():
    assert set(template_names()) >= {"fill_arguments", "user_query", "final_answer", "sub_instructions", "judge"}
    assert len({template_hash(name) for name in template_names()}) == len(template_names())


def test_final_answer_template_renders():
    text = render("final_answer", query="q?", calls=[{"name": "a", "response_text": json.dumps({"x": 1})}])
    assert text.startswith("User request: q?") and '1. a returned: {"x": 1}' in text


def test_fill_arguments_template_renders():
    params = [{"name": "limit", "type": "integer", "description": "how many", "json_schema": {"enum": [1, 3]},
               "examples": [3]}]  # fmt: skip
    text = render("fill_arguments", api=CREDITS, params=params, fixed_arguments={"movie_id": 4242},
                  previous_calls=[{"name": "search_movies", "arguments": {"query": "x"}, "response_text": "{}"}],
                  error="bad")  # fmt: skip
    assert "- `limit` (integer, one of [1, 3]): how many Example values: [3]." in text
    assert 'Arguments already decided: {"movie_id": 4242}' in text and "rejected: bad" in text
    assert text.endswith('keys are exactly: ["limit"].')


def test_sub_instructions_template_renders():
    steps = [{"description": "Search movies", "fixed": ["query: Dune"], "derived": []},
             {"description": "Cast of a movie", "fixed": [], "derived": ["movie id = the first result of step 1"]}]  # fmt: skip
    text = render("sub_instructions", steps=steps, error="")
    assert text.startswith("Write one sub-instruction per step")
    assert "Step 1: Search movies. Given: query: Dune.\nStep 2: Cast of a movie. Found: movie id = the first" in text
    assert text.endswith("exactly 2 strings, one per step, in order.") and "rejected" not in text
    assert "rejected: too short" in render("sub_instructions", steps=steps, error="too short")


def test_user_query_template_renders():
    text = render("user_query", sub_instructions=["Find Dune.", "Get its cast."], fixed_values=["query: Dune"],
                  final_result='{"cast": []}')  # fmt: skip
    assert "1. Find Dune.\n2. Get its cast." in text and "(query: Dune)" in text
    assert "keep every concrete detail of step 1" in text and 'What the last step found: {"cast": []}' in text


def test_judge_template_renders():
    text = render("judge", query="Who stars in Dune?", sub_instructions=["Find Dune.", "Get its cast."],
                  final_answer="Ann Lee.", calls=[{"name": "a", "response_text": "{}"}], error="")  # fmt: skip
    assert text.startswith("You are checking one example")
    assert "User request: Who stars in Dune?" in text and "2. Get its cast." in text and "Final answer: Ann Lee." in text
    assert text.endswith('{"keep": true or false, "reason": "one short sentence"}.')


def test_values_found_on_the_way_are_described_by_where_they_came_from():
    from goat_builders.traces import describe_source

    calls = [{"name": "list_showtimes"}, {"name": "get_movie"}, {"name": "search_people"}]
    assert describe_source("list_showtimes.results[0].movie_id", calls, 1) == (
        "the movie id of the first of the results of step 1"
    )
    assert describe_source("get_movie.director.name", calls, 2) == "the name of the director of step 2"
    assert describe_source("get_movie.$", calls, 2) == "step 2"
    assert describe_source("get_movie.cast[7].person_id", calls, 2) == "the person id of the item 8 of the cast of step 2"


SHOWTIMES = ApiSpec(
    id="d.list_showtimes", source="d", tool="cinemas", name="list_showtimes", summary="Showtimes of a movie",
    params=(Param(name="movie_id", location="query", required=True, schema={"type": "integer", "minimum": 1}),
            Param(name="date", location="query", required=True, schema={"type": "string", "format": "date"})),
)  # fmt: skip
SHOW_APIS = {SEARCH.id: SEARCH, SHOWTIMES.id: SHOWTIMES}
SHOW_CHAIN = [
    {"api_id": SEARCH.id, "bindings": []},
    {"api_id": SHOWTIMES.id, "bindings": [{"param": "movie_id", "from_step": 0, "source_path": "results[*].movie_id"}]},
]


def test_schema_invalid_llm_arguments_are_retried_with_the_violations_then_rejected():
    apis, chain = SHOW_APIS, SHOW_CHAIN
    ex = RecordingExecutor({"search_movies": (200, {"results": [{"movie_id": 42}]}), "list_showtimes": (200, {"s": [1]})})
    # "2024-13-45" is a string, so the prompt's schema takes it; the rules a call is checked by before it goes out
    # (formats included) refuse it, and the model is told why
    llm = ScriptedLLM(['{"query": "Dune"}'] + [json.dumps({"date": d}) for d in ("2024-13-45", "2024-02-30", "2025-05-01")])
    run = execute_chain(chain, apis, ex, llm)
    assert run.ok, run.failure
    assert "date: '2024-13-45' is not a 'date'" in llm.prompts[2]
    assert ex.calls[-1] == ("list_showtimes", {"movie_id": 42, "date": "2025-05-01"})

    ex.calls.clear()
    llm = ScriptedLLM(['{"query": "Dune"}'] + ['{"date": "someday"}'] * 3)
    run = execute_chain(chain, apis, ex, llm)
    assert run.failure.stage == "arguments" and "after 3 attempts" in run.failure.reason
    assert "date: 'someday' is not a 'date'" in run.failure.reason
    assert ex.calls == [("search_movies", {"query": "Dune"})]  # the invalid call was never made


def test_a_schema_invalid_value_from_a_response_is_rejected_before_the_call():
    apis, chain = SHOW_APIS, SHOW_CHAIN
    ex = RecordingExecutor({"search_movies": (200, {"results": [{"movie_id": 0}]}), "list_showtimes": (200, {"s": [1]})})
    run = execute_chain(chain, apis, ex, ScriptedLLM(['{"query": "Dune"}', '{"date": "2025-05-01"}']))
    assert run.failure.stage == "arguments"
    assert "violate its parameters' JSON Schemas: movie_id: 0 is less than the minimum of 1" in run.failure.reason
    assert "taken from earlier responses: movie_id" in run.failure.reason
    assert [name for name, _ in ex.calls] == ["search_movies"]


def test_progress_lines_say_how_far_how_fast_and_how_long_is_left():
    import goat_builders.sft_traces  # noqa: F401  (first: it quiets distilabel's import-time pydantic warning)
    from goat_builders.steps.traces import format_duration, progress_line

    assert progress_line("execute_chains", 16, 48, 33.6, 3, "chains") == (
        "execute_chains: 16/48 chains (33%), 2.1 s/chain, ~1m07s left, 3 rejected"
    )
    assert progress_line("judge", 6, 6, 1.2, 0) == "judge: 6/6 rows (100%), 0.2 s/row, done, 0 rejected"
    assert progress_line("judge", 2, 0, 1.0, 1) == "judge: 2 rows, 0.5 s/row, 1 rejected"
    assert [format_duration(s) for s in (0.4, 59, 61, 3600 + 300)] == ["0s", "59s", "1m01s", "1h05m"]
