"""Unit tests of calls-first trace generation, with an executor and an LLM double (the e2e test uses real ones)."""

import json
from dataclasses import dataclass

from goat_builders.prompting import render, template_hash, template_names
from goat_builders.traces import LLMUsage, execute_chain, is_empty_response, write_final_answer, write_query
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


@dataclass
class Gen:
    text: str
    prompt_tokens: int = 10
    completion_tokens: int = 5
    seconds: float = 0.1
    error: str | None = None


class ScriptedLLM:
    def __init__(self, answers):
        self.answers = list(answers)
        self.prompts = []

    def generate(self, messages, max_new_tokens=None):
        self.prompts.append(messages[-1]["content"])
        return Gen(self.answers.pop(0))


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


def test_query_and_answer_from_real_results():
    calls = [
        {"api_id": SEARCH.id, "name": "search_movies", "arguments": {"query": "Silent Harbor"}, "derived": {},
         "response": {"results": [{"movie_id": 42}]}},
        {"api_id": CREDITS.id, "name": "get_movie_credits", "arguments": {"movie_id": 42, "limit": 3},
         "derived": {"movie_id": "search_movies.results[0].movie_id"}, "response": {"cast": [{"name": "Ann Lee"}]}},
    ]
    llm = ScriptedLLM(['"Who is in the cast of Silent Harbor? Show 3 people."', "Answer: Ann Lee stars in it."])
    usage = LLMUsage()
    query, _ = write_query(calls, APIS, llm, usage)
    answer, _ = write_final_answer(query, calls, llm, usage)
    assert query == "Who is in the cast of Silent Harbor? Show 3 people."
    assert answer == "Ann Lee stars in it."
    assert "query: Silent Harbor" in llm.prompts[0] and "limit: 3" in llm.prompts[0]
    assert "movie_id=42" not in llm.prompts[0]  # derived values are not "fixed" values to state
    assert "Ann Lee" in llm.prompts[1]
    empty, reason = write_query(calls, APIS, ScriptedLLM(["  "]), usage)
    assert empty is None and "empty" in reason


def test_empty_response_rule():
    assert is_empty_response({"results": [], "total": 0}) and is_empty_response(None) and is_empty_response([])
    assert not is_empty_response({"title": "x"}) and not is_empty_response({"results": [1], "other": []})


def test_every_prompt_template_renders_and_is_hashed():
    assert set(template_names()) >= {"fill_arguments", "user_query", "final_answer"}
    text = render("final_answer", query="q?", calls=[{"name": "a", "response_text": json.dumps({"x": 1})}])
    assert "q?" in text and '{"x": 1}' in text
    assert template_hash("user_query") != template_hash("final_answer")


def test_values_found_on_the_way_are_described_by_where_they_came_from():
    from goat_builders.traces import describe_source

    calls = [{"name": "list_showtimes"}, {"name": "get_movie"}, {"name": "search_people"}]
    assert describe_source("list_showtimes.results[0].movie_id", calls, 1) == (
        "the movie id of the first of the results of step 1"
    )
    assert describe_source("get_movie.director.name", calls, 2) == "the name of the director of step 2"
    assert describe_source("get_movie.$", calls, 2) == "step 2"
    assert describe_source("get_movie.cast[7].person_id", calls, 2) == "the person id of the item 8 of the cast of step 2"
