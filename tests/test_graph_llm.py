"""The graph's LLM stages: API descriptions (GOAT §1a step 1) and the LLM check of candidate edges (step 3).

Unit tests read many malformed answers, render both prompts and apply verdicts to a graph; the end-to-end tests run
the real distilabel Tasks against the fake OpenAI-compatible server (real HTTP, real generation cache) on RestBench
TMDB through `build_graph`'s hooks, and the recall benchmark's ``--stage llm``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from goat_datasets.embeddings import Embedder
from goat_datasets.execution.base import CallResult
from goat_datasets.graph import build_graph
from goat_datasets.graph.descriptions import (
    apply_descriptions,
    describe_with,
    expected_keys,
    parse_descriptions,
    plan_requests,
)
from goat_datasets.graph.llm_check import (
    Answer,
    apply_llm_check,
    ask_until_parsed,
    check_edges_with,
    edge_context,
    parse_verdict,
    verdict_result,
)
from goat_datasets.graph.model import DependencyEdge, StageResult, add_edge, iter_edges, new_graph
from goat_datasets.llm.generation import Generation
from goat_datasets.llm.parsing import ParseFailure
from goat_datasets.sources.models import ApiSpec, OutputField, Param

from fake_llm import FakeLLM
from shared_data import SHARED_DATA

REPO = Path(__file__).resolve().parents[1]
TMDB = SHARED_DATA / "restbench-tmdb"


# ------------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()  # $GOAT_CACHE_DIR/embeddings, shared with the recall benchmark: a second run embeds nothing


def films() -> list[ApiSpec]:
    search = ApiSpec(
        id="films.search_movies", source="films", tool="films", name="search_movies", path="/movies",
        summary="Search movies by title",
        params=(Param(name="query", location="query", required=True, schema={"type": "string"},
                      description="Words of the title"),),
        output_fields=(OutputField(path="results[*].movie_id", type="integer"),
                       OutputField(path="results[*].title", type="string", description="The title")),
    )  # fmt: skip
    get = ApiSpec(
        id="films.get_movie", source="films", tool="films", name="get_movie", path="/movies/{movie_id}",
        params=(Param(name="movie_id", location="path", required=True, schema={"type": "integer"}),),
        output_fields=(OutputField(path="title", type="string"), OutputField(path="year", type="integer")),
    )  # fmt: skip
    return [search, get]


def edge(a: str, path: str, b: str, param: str, score: float = 0.9) -> DependencyEdge:
    return DependencyEdge(source_api=a, source_path=path, target_api=b, target_param=param,
                          target_location="path", score=score)  # fmt: skip


class ScriptedLLM:
    """A test double with ``generate(messages, max_new_tokens)``: answers from a function of the prompt."""

    def __init__(self, answer):
        self.answer, self.prompts = answer, []

    def generate(self, messages, max_new_tokens=None) -> Generation:
        prompt = messages[-1]["content"]
        self.prompts.append(prompt)
        text = self.answer(prompt)
        return Generation(error=text[len("ERROR:"):]) if text.startswith("ERROR:") else Generation(text=text)

    def batch(self, batch):
        return [self.generate(m) for m in batch]


# ------------------------------------------------------------------------------------------- reading the verdict


@pytest.mark.parametrize(
    "text, connectable, reason",
    [
        ('{"connectable": true, "reason": "same movie id"}', True, "same movie id"),
        ('```json\n{"connectable": false, "reason": "unrelated"}\n```', False, "unrelated"),
        ("Sure! {'connectable': True, 'reason': 'the id of a movie'} Hope it helps.", True, "the id of a movie"),
        ('{"Connectable": "yes", "Reason": "ids match",}', True, "ids match"),
        ('{"connectable": 0, "explanation": "a count, not an id"}', False, "a count, not an id"),
        ('[{"connectable": "false", "reason": "echo"}]', False, "echo"),
        ('{"answer": {"connectable": true, "reason": "nested"}}', True, "nested"),
        ('<think>hmm</think>{"is_connectable": "not connectable"}', False, ""),
        ('{"connectable": true, "reason": "the movie id returned by A is what B wa', True,
         "the movie id returned by A is what B wa"),  # cut at the token limit
        ("connectable: false\nreason: A only repeats its input", False, "A only repeats its input"),
        ("true", True, ""),
        ("Yes.", True, "Yes."),
        ("No, B needs a person id.", False, "No, B needs a person id."),
        ("They are not connectable.", False, "They are not connectable."),
        ("The two are connectable.", True, "The two are connectable."),
    ],
)  # fmt: skip
def test_parse_verdict_reads_untidy_answers(text, connectable, reason):
    assert parse_verdict(text) == (connectable, reason)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "maybe",
        "Yes and no: it depends.",  # both polarities: never guessed
        "Yes, but B is not connectable to A",
        '{"reason": "forgot the verdict"}',
        '{"connectable": "perhaps", "reason": "unsure but connectable"}',  # words inside JSON do not count
        '{"connectable": null}',
        "[1, 2, 3]",
    ],
)
def test_parse_verdict_refuses_what_it_cannot_read(text):
    with pytest.raises(ParseFailure):
        parse_verdict(text)


def test_verdicts_become_stage_results_with_codes():
    passed = verdict_result(Answer("ok", (True, "same id"), attempts=1))
    assert (passed.status, passed.code, passed.reason) == ("passed", "connectable", "same id")
    failed = verdict_result(Answer("ok", (False, ""), attempts=2))
    assert (failed.status, failed.code, failed.details["attempts"]) == ("failed", "not_connectable", 2)
    unread = verdict_result(Answer("unparseable", reason="no JSON", attempts=3, text="blah " * 100))
    assert (unread.status, unread.code) == ("skipped", "unparseable")
    assert "no JSON" in unread.reason and len(unread.details["answer"]) <= 200
    broken = verdict_result(Answer("llm_failed", reason="the LLM call failed: HTTP 500", attempts=1))
    assert (broken.status, broken.code, broken.reason) == ("skipped", "llm_failed", "the LLM call failed: HTTP 500")


def test_ask_until_parsed_reasks_with_the_error_and_counts_attempts():
    def answer(prompt: str) -> str:
        if "flaky" in prompt:
            return '{"connectable": true}' if "ERROR was" in prompt else "I am not sure"
        if "broken" in prompt:
            return "ERROR:HTTP 503"
        if "garbage" in prompt:
            return "I am not sure"
        return '{"connectable": false, "reason": "no"}'

    llm = ScriptedLLM(answer)
    messages = lambda req, error: [{"role": "user", "content": req + (f" ERROR was {error}" if error else "")}]
    answers = ask_until_parsed(["ok", "flaky", "broken", "garbage"], messages, parse_verdict, llm.batch, attempts=3)
    assert [(a.status, a.attempts) for a in answers] == [("ok", 1), ("ok", 2), ("llm_failed", 1), ("unparseable", 3)]
    assert answers[1].value == (True, "")
    assert "no JSON" in llm.prompts[-1] or "expected a JSON object" in llm.prompts[-1]  # the retry says what was wrong
    assert sum("broken" in p for p in llm.prompts) == 1  # a failed call is not re-asked (the client already retried)
    with pytest.raises(ValueError, match="attempts"):
        ask_until_parsed(["x"], messages, parse_verdict, llm.batch, attempts=0)


def test_check_edges_with_a_plain_client_gives_one_verdict_per_edge_in_order():
    from goat_builders.steps.graph_tasks import check_messages

    apis = {a.id: a for a in films()}
    edges = [edge("films.search_movies", "results[*].movie_id", "films.get_movie", "movie_id"),
             edge("films.get_movie", "title", "films.search_movies", "query")]  # fmt: skip
    llm = ScriptedLLM(lambda p: '{"connectable": %s, "reason": "r"}' % ("true" if "`movie_id`" in p else "false"))
    results = check_edges_with(edges, apis, llm.batch, check_messages)
    assert [(r.status, r.code) for r in results] == [("passed", "connectable"), ("failed", "not_connectable")]
    assert isinstance(results[0], StageResult) and len(llm.prompts) == 2


# ------------------------------------------------------------------------------------------------- the prompts


def test_both_prompts_render_with_and_without_a_retry_note():
    from goat_builders.steps.graph_tasks import check_messages, describe_messages

    apis = films()
    requests, _ = plan_requests(apis, "llm")
    first = describe_messages(requests[0])[0]["content"]
    assert "`search_movies`" in first and "results[*].movie_id (integer)" in first
    assert 'documented as "Words of the title"' in first  # llm mode shows the document's text as a hint
    shape = json.loads(first.strip().splitlines()[-1])
    assert shape == expected_keys(requests[0])
    assert list(shape["outputs"]) == ["results[*].movie_id", "results[*].title"]  # the listed order, not sorted
    assert "could not be used" not in first
    assert "could not be used: no JSON" in describe_messages(requests[0], "no JSON")[0]["content"]

    by_id = {a.id: a for a in apis}
    context = edge_context(edge("films.search_movies", "results[*].movie_id", "films.get_movie", "movie_id"), by_id)
    check = check_messages(context)[0]["content"]
    for needle in ("`search_movies`", "A's inputs: query", "`results[*].movie_id` (integer)", "`get_movie`",
                   "`movie_id` (integer, required)", '{"connectable": true or false'):  # fmt: skip
        assert needle in check, needle
    assert "could not be read: cut off" in check_messages(context, "cut off")[0]["content"]
    with pytest.raises(KeyError, match="no parameter 'nope'"):
        edge_context(edge("films.search_movies", "x", "films.get_movie", "nope"), by_id)


# ----------------------------------------------------------------------------------------------- descriptions


def test_plan_requests_asks_only_what_the_mode_needs_and_splits_big_apis():
    apis = films()
    none, stats = plan_requests(apis, "document")
    assert none == [] and stats.items == (1 + 2 + 1) + (1 + 2 + 1) and stats.from_document == stats.items
    fill, stats = plan_requests(apis, "fill")
    by_api = {r["api_id"]: r for r in fill}
    assert [i["name"] for i in by_api["films.search_movies"]["inputs"]] == []  # documented
    assert [i["name"] for i in by_api["films.search_movies"]["outputs"]] == ["results[*].movie_id"]
    assert by_api["films.search_movies"]["response"] is False  # it has a summary
    assert by_api["films.get_movie"]["response"] is True  # neither summary nor description
    assert stats.asked == 1 + 4 and stats.from_document == stats.items - 5
    split, stats = plan_requests(apis, "llm", max_items=2)
    assert [(r["api_id"], r["part"], len(r["inputs"]) + len(r["outputs"]), r["response"]) for r in split] == [
        ("films.search_movies", 0, 2, True), ("films.search_movies", 1, 1, False),
        ("films.get_movie", 0, 2, True), ("films.get_movie", 1, 1, False),
    ]  # fmt: skip
    assert stats.asked == stats.items
    with pytest.raises(ValueError, match="did you|known: document, fill, llm"):
        plan_requests(apis, "fil")


def test_parse_descriptions_accepts_nested_and_flat_answers():
    request = plan_requests(films(), "fill")[0][1]  # get_movie: movie_id, title, year, response
    nested = json.dumps({"inputs": {"movie_id": "id of the movie"}, "outputs": {"title": "its title", "year": 1},
                         "response": "a movie"})  # fmt: skip
    assert parse_descriptions(nested, request) == {
        "in:movie_id": "id of the movie", "out:title": "its title", "response": "a movie",
    }  # fmt: skip  (year: not a string, left out)
    flat = "Here: ```json\n{'movie_id': 'the movie', 'year': 'release year', 'output': 'one movie'}\n```"
    assert parse_descriptions(flat, request) == {"in:movie_id": "the movie", "out:year": "release year",
                                                 "response": "one movie"}  # fmt: skip
    for bad in ("no json", '["a"]', '{"unrelated": "x"}', '{"inputs": {"movie_id": "..."}}'):
        with pytest.raises(ParseFailure):
            parse_descriptions(bad, request)


def test_described_apis_feed_the_candidate_texts_and_count_fallbacks():
    from goat_builders.steps.graph_tasks import describe_messages
    from goat_datasets.graph.candidates import api_output_text, plain_field_text

    def answer(prompt: str) -> str:
        if "get_movie" in prompt:  # leaves "year" out: it falls back to the (empty) document text
            return json.dumps({"inputs": {"movie_id": "identifier of a film"}, "outputs": {"title": "film title"},
                               "response": "one film"})  # fmt: skip
        return "I cannot do that"

    llm = ScriptedLLM(answer)
    described, stats = describe_with(films(), "fill", llm.batch, describe_messages, attempts=2)
    search, get = described
    assert get.param("movie_id").description == "identifier of a film"
    assert get.description == "one film" and api_output_text(get) == "one film"
    assert plain_field_text(get, get.output_fields[0]) == "title: film title"
    assert get.output_fields[1].description == ""
    assert search == films()[0]  # unreadable twice: unchanged
    assert (stats.asked, stats.written, stats.fallback, stats.unparseable, stats.requests) == (5, 3, 2, 1, 2)
    assert films()[1].param("movie_id").description == ""  # copies: the caller's specs are untouched
    assert apply_descriptions(get, {}) is get


# -------------------------------------------------------------------------------------------- applying verdicts


def test_apply_llm_check_marks_passes_drops_failures_and_keeps_unreadable():
    apis = films()
    edges = [
        edge("films.search_movies", "results[*].movie_id", "films.get_movie", "movie_id"),
        edge("films.search_movies", "results[*].title", "films.get_movie", "movie_id", 0.5),
        edge("films.get_movie", "title", "films.search_movies", "query", 0.4),
    ]
    verdicts = [
        verdict_result(Answer("ok", (True, "the search returns movie ids"), attempts=1)),
        verdict_result(Answer("ok", (False, "a title is not an id"), attempts=2)),
        verdict_result(Answer("unparseable", reason="no JSON", attempts=2, text="hmm")),
    ]
    graph = new_graph(apis)
    for e in edges:
        add_edge(graph, e)
    stats = apply_llm_check(graph, edges, verdicts)
    kept = {e.key: e for e in iter_edges(graph)}
    assert set(kept) == {edges[0].key, edges[2].key}
    assert kept[edges[0].key].reason == "the search returns movie ids"
    assert kept[edges[0].key].llm_check.code == "connectable"
    assert kept[edges[2].key].llm_check.code == "unparseable" and kept[edges[2].key].usable
    assert (stats.asked, stats.connectable, stats.not_connectable, stats.unparseable, stats.retried) == (3, 1, 1, 1, 2)
    assert [(d.code, d.reason) for d in stats.dropped] == [("not_connectable", "a title is not an id")]

    strict = new_graph(apis)
    for e in edges:
        add_edge(strict, e)
    stats = apply_llm_check(strict, edges, verdicts, keep_skipped=False)
    assert strict.number_of_edges() == 1 and len(stats.dropped) == 2
    with pytest.raises(ValueError, match="2 verdicts for 3 edges"):
        apply_llm_check(strict, edges, verdicts[:2])


class RecordingExecutor:
    def __init__(self):
        self.calls: list[tuple[str, dict]] = []

    def call(self, api: ApiSpec, arguments: dict) -> CallResult:
        self.calls.append((api.id, arguments))
        if api.id.endswith("search_movies"):
            response: Any = {"results": [{"movie_id": 7, "title": "Alien"}]}
        else:
            response = {"title": "Alien", "year": 1979}
        return CallResult(api_id=api.id, arguments=arguments, ok=True, status_code=200, response=response)

    def close(self) -> None:
        pass


class SameVectors:
    """An embedder double: every text alike, so the paper rule makes every (output, parameter) pair a candidate."""

    def encode(self, texts):
        import numpy as np

        return np.ones((len(texts), 4), dtype=np.float32)


def test_build_graph_runs_the_hooks_and_executes_only_what_the_llm_kept():
    embedder = SameVectors()
    apis = [a.model_copy(update={"params": tuple(p.model_copy(update={"json_schema": {**p.json_schema, "example": 1}})
                                                 for p in a.params)}) for a in films()]  # fmt: skip
    seen_by_check: list[str] = []

    def describe(given):
        return [apply_descriptions(a, {"response": f"what {a.name} returns"}) for a in given], None

    def check(edges, by_id):
        seen_by_check.extend(by_id[e.source_api].description for e in edges)
        return [verdict_result(Answer("ok", (e.target_param == "movie_id", "rule"), attempts=1)) for e in edges]

    executor = RecordingExecutor()
    graph, stats = build_graph(apis, embedder=embedder, preset="paper", executor=executor, describe=describe,
                               llm_check=check)  # fmt: skip
    assert stats.candidates.kept_by_top_k == stats.llm_check.asked > stats.llm_check.connectable > 0
    assert set(seen_by_check) <= {"what search_movies returns", "what get_movie returns"}  # the described copies
    assert all(e.target_param == "movie_id" and e.reason == "rule" for e in iter_edges(graph))
    assert not any(api_id == "films.search_movies" and "query" in args and args["query"] != 1
                   for api_id, args in executor.calls)  # fmt: skip  (no rejected edge into `query` was executed)
    assert stats.execution_check.checked == stats.llm_check.connectable
    assert graph.graph["stats"]["llm_check"]["asked"] == stats.llm_check.asked
    assert "dropped" not in graph.graph["stats"]["llm_check"]
    assert apis[0].description == ""  # build_graph used copies

    with pytest.raises(ValueError, match="same ids"):
        build_graph(apis, embedder=embedder, describe=lambda given: (given[:1], None))


# ---------------------------------------------------------------------------- end to end: distilabel + fake server


def _key(*parts: str) -> int:
    return int(hashlib.sha256("|".join(parts).encode()).hexdigest()[:8], 16)


_A_FIELD = re.compile(r"^A's output field `([^`]+)`", re.M)
_B_PARAM = re.compile(r"^B's parameter `([^`]+)`", re.M)
_A_NAME = re.compile(r"^Operation A `([^`]+)`", re.M)
_B_NAME = re.compile(r"^Operation B `([^`]+)`", re.M)


def judge(a_name: str, field: str, b_name: str, param: str) -> str:
    """The fake judge's rule: 'connectable' (id -> *_id), 'not', 'garbage' (always unreadable), 'flaky' (unreadable
    on the first try only)."""
    h = _key(a_name, field, b_name, param) % 10
    if h == 0:
        return "garbage"
    if h == 1:
        return "flaky"
    return "connectable" if field.split(".")[-1] in ("id", param) and param.endswith("id") else "not"


def fake_respond(prompt: str) -> str:
    if prompt.startswith("API operation"):  # describe: fill the shape, but leave out one of several output fields
        shape = json.loads(prompt.strip().splitlines()[-1])
        answer = {k: ({n: f"meaning of {n}" for n in v} if isinstance(v, dict) else "the whole response")
                  for k, v in shape.items()}  # fmt: skip
        if len(answer.get("outputs", {})) > 1:
            answer["outputs"].pop(next(iter(answer["outputs"])))
        return "```json\n" + json.dumps(answer) + "\n```"
    a, f, b, p = (r.search(prompt).group(1) for r in (_A_NAME, _A_FIELD, _B_NAME, _B_PARAM))
    rule = judge(a, f, b, p)
    if rule == "garbage" or (rule == "flaky" and "could not be read" not in prompt):
        return "Well, it depends on the use case."
    verdict = rule == "connectable" or (rule == "flaky" and p.endswith("id"))
    return f"{{'connectable': {verdict}, 'reason': 'rule {rule}'}}"  # python literal: parsed leniently


@pytest.fixture(scope="module")
def tmdb_apis() -> list[ApiSpec]:
    if not (TMDB / "tmdb_oas.json").exists():
        pytest.skip(f"{TMDB} not found (shared data lives beside the repo)")
    from goat_datasets.sources.openapi import parse_openapi

    apis = parse_openapi(json.loads((TMDB / "tmdb_oas.json").read_text()), source="tmdb").apis
    return list(apis)[:24]  # enough for every kind of verdict, few enough for a fast test


@pytest.mark.slow  # four pipeline runs, ~3-5 s of distilabel start-up each
def test_distilabel_tasks_against_a_fake_server_land_verdicts_count_failures_and_rerun_from_cache(
    tmp_path, tmdb_apis, embedder
):
    from goat_builders.graph_pipeline import DESCRIPTIONS_FILE, describe_hook, llm_check_hook

    build_dir = tmp_path / "build"
    build_dir.mkdir()

    def run(fake: FakeLLM):
        with fake.serve() as url:
            cfg = {"base_url": url, "model": "fake-judge", "temperature": 0.0, "max_new_tokens": 256, "seed": 0}
            return build_graph(
                tmdb_apis, embedder=embedder, verify=False,
                describe=describe_hook(cfg, build_dir, "fill"), llm_check=llm_check_hook(cfg, build_dir, batch_size=32),
            )  # fmt: skip

    fake = FakeLLM(0.0, respond=fake_respond)
    graph, stats = run(fake)

    d = stats.descriptions
    requests = plan_requests(tmdb_apis, "fill")[0]
    assert d.mode == "fill" and d.requests == len(requests) > d.apis_asked > 0  # one API has over 30 texts: 2 requests
    assert d.unparseable == d.llm_failures == 0
    assert d.fallback == sum(1 for r in requests if len(r["outputs"]) > 1)  # one left out per such request
    assert d.written == d.asked - d.fallback
    saved = json.loads((build_dir / DESCRIPTIONS_FILE).read_text())
    assert saved["stats"]["written"] == d.written

    # every candidate got the verdict the rule gives it: kept edges carry theirs, rejected ones are listed as dropped
    names = {a.id: a.name for a in tmdb_apis}
    checked = stats.llm_check
    rules = {"connectable": 0, "not": 0, "garbage": 0, "flaky": 0}
    for e in iter_edges(graph):
        rule = judge(names[e.source_api], e.source_path, names[e.target_api], e.target_param)
        rules[rule] += 1
        if rule == "garbage":
            verdict = e.llm_check
            assert (verdict.status, verdict.code, verdict.details["attempts"]) == ("skipped", "unparseable", 2)
            assert e.usable and e.reason == ""
        else:
            assert rule in ("connectable", "flaky"), e.describe()
            assert e.llm_check.status == "passed" and e.reason == f"rule {rule}", e.describe()
    for dropped in checked.dropped:
        assert dropped.code == "not_connectable" and dropped.reason in ("rule not", "rule flaky"), dropped
        rules["not" if dropped.reason == "rule not" else "flaky"] += 1
    assert min(rules.values()) > 0, rules  # the sample exercises every kind of answer
    assert checked.asked == stats.candidates.kept_by_top_k == sum(rules.values())
    assert checked.unparseable == rules["garbage"] and checked.llm_failures == 0
    assert checked.not_connectable == len(checked.dropped) == stats.candidates.kept_by_top_k - stats.edges
    assert checked.retried == rules["garbage"] + rules["flaky"]
    log_lines = [json.loads(l) for l in (build_dir / "build_log.jsonl").read_text().splitlines()]
    assert {r["step"] for r in log_lines} == {"describe_apis", "check_edges"}
    live_first = len(fake.log)
    assert live_first == d.requests + checked.asked + checked.retried

    # a rerun (new server, new port: the cache key leaves the URL out) makes no request and gives the same graph
    again = FakeLLM(0.0, respond=fake_respond)
    graph2, stats2 = run(again)
    assert again.log == []
    assert [e.model_dump() for e in iter_edges(graph2)] == [e.model_dump() for e in iter_edges(graph)]
    assert stats2.llm_check.model_dump(exclude={"seconds"}) == checked.model_dump(exclude={"seconds"})
    rerun_lines = [json.loads(l) for l in (build_dir / "build_log.jsonl").read_text().splitlines()][len(log_lines):]
    assert sum(r["llm_live"] for r in rerun_lines) == 0 and sum(r["llm_cached"] for r in rerun_lines) == live_first


def test_the_check_task_retries_through_the_cached_endpoint_llm(tmp_path):
    """The Task and the distilabel LLM adapter without a pipeline: real HTTP to the fake server, real llm.sqlite."""
    from goat_builders.llm_adapter import CachedEndpointLLM
    from goat_builders.steps.graph_tasks import CheckEdges, answer_from_json

    apis = {a.id: a for a in films()}
    contexts = [edge_context(edge("films.search_movies", p, "films.get_movie", "movie_id"), apis)
                for p in ("results[*].movie_id", "results[*].title")]  # fmt: skip
    rows = [{"index": i, "request": json.dumps(c)} for i, c in enumerate(contexts)]

    def respond(prompt: str) -> str:
        if "`results[*].title`" in prompt:  # unreadable, then readable once told why
            return '{"connectable": false, "reason": "a title"}' if "could not be read" in prompt else "Hmm."
        return '```json\n{"connectable": true, "reason": "movie ids"}\n```'

    fake = FakeLLM(0.0, respond=respond)
    with fake.serve() as url:
        llm = CachedEndpointLLM(llm_config={"base_url": url, "model": "fake"}, build_dir=str(tmp_path))
        task = CheckEdges(name="check", llm=llm, build_dir=str(tmp_path), attempts=2)
        task.load()
        try:
            assert task.format_input(rows[0])[0]["content"].startswith("Operation A `search_movies`")
            first = answer_from_json(task.format_output("Hmm.", rows[1])["answer"])
            assert (first.status, first.attempts) == ("unparseable", 1)
            out = next(task.process(rows))
            answers = [answer_from_json(r["answer"]) for r in out]
            assert [(a.status, a.value, a.attempts) for a in answers] == [
                ("ok", (True, "movie ids"), 1), ("ok", (False, "a title"), 2)
            ]  # fmt: skip
            assert len(fake.log) == 3 and llm.counts()["live"] == 3
            again = [answer_from_json(r["answer"]) for r in next(task.process(rows))]
            assert again == answers and len(fake.log) == 3 and llm.counts()["hits"] == 3  # from llm.sqlite
        finally:
            task.unload()
    with pytest.raises(ValueError, match="one generation per input"):
        llm.generate([[{"role": "user", "content": "x"}]], num_generations=2)


def test_an_unreachable_llm_is_counted_as_llm_failures_and_keeps_the_edges(tmp_path):
    from goat_builders.graph_pipeline import check_edges
    from goat_datasets.servers import free_port

    apis = films()
    edges = [edge("films.search_movies", "results[*].movie_id", "films.get_movie", "movie_id")]
    cfg = {"base_url": f"http://127.0.0.1:{free_port()}/v1", "model": "nobody", "max_new_tokens": 64}
    results, stats = check_edges(edges, apis, cfg, tmp_path)
    assert [(r.status, r.code) for r in results] == [("skipped", "llm_failed")]
    assert "ConnectError" in results[0].reason or "connect" in results[0].reason.lower()
    assert (stats.asked, stats.llm_failures) == (1, 1)


# -------------------------------------------------------------------------------------- the recall benchmark


def _benchmark():
    spec = importlib.util.spec_from_file_location("graph_recall_benchmark_llm", REPO / "benchmarks" / "graph_recall.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_recall_benchmark_stage_llm_asks_a_server_and_keeps_its_last_line(tmp_path, capsys, tmdb_apis):
    bench = _benchmark()
    gold = [{"query": "q", "solution": ["GET /search/person", "GET /person/{person_id}"]},
            {"query": "q", "solution": ["GET /search/movie", "GET /movie/{movie_id}/credits"]}]  # fmt: skip
    (tmp_path / "gold.json").write_text(json.dumps(gold))
    args = ["--spec", str(TMDB / "tmdb_oas.json"), "--gold", str(tmp_path / "gold.json"), "--stage", "llm"]
    assert bench.main(args) == 2
    assert "--llm-base-url" in capsys.readouterr().out

    def good_judge(prompt: str) -> str:  # a field named like the parameter's entity id, from a search or a list
        a, f, b, p = (r.search(prompt).group(1) for r in (_A_NAME, _A_FIELD, _B_NAME, _B_PARAM))
        entity = p.removesuffix("_id")
        ok = p.endswith("_id") and f.endswith("id") and (entity in a.lower() or entity in f)
        return json.dumps({"connectable": ok, "reason": f"{f} {'is' if ok else 'is not'} a {entity} id"})

    fake = FakeLLM(0.0, respond=good_judge)
    with fake.serve() as url:
        llm_args = ["--llm-base-url", url, "--llm-model", "judge", "--max-edges", "40", "--llm-cache",
                    str(tmp_path / "cache"), "--json", str(tmp_path / "r.json")]  # fmt: skip
        code = bench.main(args + llm_args)
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and re.fullmatch(r"recall=\d\.\d{4} kept_fraction=\d\.\d{4}", out[-1]), out[-1]
    report = json.loads((tmp_path / "r.json").read_text())
    llm = report["llm_check"]
    assert llm["asked"] == len(fake.log) == 40 and llm["unchecked"] == report["edges"] + llm["not_connectable"] - 40
    assert llm["connectable"] + llm["not_connectable"] == 40 and report["recall"] == 1.0
