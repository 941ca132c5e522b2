"""Constrained chain synthesis (goat_datasets.rl): templates, the reverse index, sampling, replay validation, queries,
distractors, the `rl` rows and their Features, scoring by the trl reward functions, the unconstrained baseline and the
yield benchmark."""

from __future__ import annotations

import importlib.util
import io
import json
import random
from collections import Counter
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from shared_data import SHARED_DATA

from goat_datasets import jsonpath
from goat_datasets.cache import ResponseCache
from goat_datasets.cache.importers import import_files
from goat_datasets.execution.replay import ReplayExecutor
from goat_datasets.formats.rl import RL_COLUMNS, RL_FEATURES
from goat_datasets.llm.generation import Generation
from goat_datasets.rl import (
    ReverseIndex,
    RLSynthesisSettings,
    SamplingFailure,
    TemplateError,
    load_templates,
    make_query_writer,
    payload,
    query_prompt_context,
    resolve_functions,
    sample_chain,
    sample_unconstrained,
    stated_values,
    synthesize,
    templates_from_document,
    validate_chain,
    write_query,
)
from goat_datasets.rl.distractors import offered_tools, pick_distractors
from goat_datasets.rl.query import missing_values
from goat_datasets.rl.synthesis import draw_templates
from goat_datasets.sources.functions import load_functions_source

REPO = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "complexfuncbench_sample.jsonl"
BOOKING = SHARED_DATA / "booking-orchestration"
VALUES_MARKER = "exactly as written: "

TAXI = {"name": "Search_Taxi", "description": "Search taxis.", "parameters": {"type": "object", "properties": {
    "pick_up_place_id": {"type": "string"}}, "required": ["pick_up_place_id"]}}  # fmt: skip
FIXTURE_TEMPLATES = [
    {"id": "hotels", "frequency": 5, "steps": [
        {"function": "Search_Hotel_Destination"},
        {"function": "Search_Hotels", "depends_on": [0],
         "dependency_args": {"dest_id": {"from_step": 0, "from_field": "[0].dest_id"}}},
        {"function": "Get_Hotel_Details", "depends_on": [1],
         "dependency_args": {"hotel_id": {"from_step": 1, "from_field": "hotels[1].hotel_id"}}}]},
    {"id": "flights", "frequency": 1, "steps": [  # fan-in: two independent lookups feed one search
        {"function": "Search_Flight_Location"},
        {"function": "Search_Flight_Location"},
        {"function": "Search_Flights", "depends_on": [0, 1],
         "dependency_args": {"fromId": {"from_step": 0, "from_field": "[0].id"},
                             "toId": {"from_step": 1, "from_field": "[0].id"}}},
        {"function": "Get_Flight_Details", "depends_on": [2],
         "dependency_args": {"token": {"from_step": 2, "from_field": "flightOffers[0].token"}}}]},
    {"id": "cars", "frequency": 1, "steps": [
        {"function": "Search_Car_Location"},
        {"function": "Search_Car_Rentals", "depends_on": [0], "dependency_args": {
            "pick_up_latitude": {"from_step": 0, "from_field": "[0].coordinates.latitude"},
            "pick_up_longitude": {"from_step": 0, "from_field": "[0].coordinates.longitude"},
            "drop_off_latitude": {"from_step": 0, "from_field": "[0].coordinates.latitude"},
            "drop_off_longitude": {"from_step": 0, "from_field": "[0].coordinates.longitude"}}}]},
]  # fmt: skip


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data missing: {path}")
    return path


class ValueCopyingLLM:
    """Writes a query that states the values the prompt lists (``missing`` values are left out on purpose)."""

    def __init__(self, leave_out: str | None = None, error: str | None = None):
        self.leave_out, self.error, self.prompts = leave_out, error, []

    def generate(self, messages, max_new_tokens=None) -> Generation:
        prompt = messages[-1]["content"]
        self.prompts.append(prompt)
        if self.error:
            return Generation(error=self.error)
        return Generation(text=copy_values(prompt, self.leave_out))


def copy_values(prompt: str, leave_out: str | None = None) -> str:
    line = next(line for line in prompt.splitlines() if VALUES_MARKER in line)
    values = [v for v in line.split(VALUES_MARKER, 1)[1].rstrip(";").split("; ") if v != leave_out]
    return f'"Please find this for me: {", ".join(values)}."'


def render_query(context) -> str:
    from goat_builders.prompting import render

    return render("rl_query", **context)


@pytest.fixture(scope="module")
def fixture_world(tmp_path_factory):
    """A cache filled from the ComplexFuncBench fixture, its index, and the fixture's functions (+ one without
    recorded calls)."""
    path = tmp_path_factory.mktemp("fixture") / "responses.sqlite"
    cache = ResponseCache(path)
    import_files("complexfuncbench", [FIXTURE], cache)
    records = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    apis = load_functions_source([*records, TAXI], source="booking").apis
    index = ReverseIndex.from_cache(cache)
    templates = templates_from_document(FIXTURE_TEMPLATES, "fixture templates")
    yield {"cache": cache, "path": path, "apis": apis, "index": index, "templates": templates,
           "api_for": resolve_functions(templates, apis)[0], "by_id": {a.id: a for a in apis}}  # fmt: skip
    cache.close()


@pytest.fixture(scope="module")
def booking_world(tmp_path_factory):
    samples = need(BOOKING / "training_workflows.json")
    path = tmp_path_factory.mktemp("booking") / "responses.sqlite"
    cache = ResponseCache(path)
    import_files("booking", [samples], cache)
    functions = BOOKING / "booking_api_functions.jsonl"
    apis = load_functions_source(functions.read_bytes(), source="booking", doc_name=functions.name).apis
    templates = load_templates(BOOKING / "workflow_templates.json")
    yield {"cache": cache, "path": path, "apis": apis, "index": ReverseIndex.from_cache(cache),
           "templates": templates, "by_id": {a.id: a for a in apis}}  # fmt: skip
    cache.close()


# ------------------------------------------------------------------------------------------------ templates


def test_templates_load_the_paper_file_and_report_every_problem(tmp_path: Path):
    templates = load_templates(need(BOOKING / "workflow_templates.json"))
    assert len(templates) == 107 and Counter(len(t.steps) for t in templates)[11] == 1
    first = templates[0]
    assert first.id == "workflow_0" and first.pattern == ["Search_Attraction_Location", "Search_Attractions"]
    assert first.steps[1].dependency_args["id"].from_field == "destinations[0].id" and first.frequency == 30
    assert first.steps[0].example_arguments == {"query": "Manchester"} and first.independent_steps() == [0]

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"workflows": [
        {"id": "w0", "pattern": ["A", "B"], "dependencies": {
            "0": {"function": "A", "depends_on": [], "dependency_args": {}},
            "1": {"function": "B", "depends_on": [],
                  "dependency_args": {"x": {"from_step": 0, "from_field": "a[0].b"}}}}},
        {"id": "w1", "pattern": ["A", "B"], "dependencies": {"0": {"function": "A"}, "1": {"function": "C"}}},
        {"id": "w2", "steps": [{"function": "A", "depends_on": [1]},
                               {"function": "B", "dependency_args": {"y": {"from_step": 0, "from_field": "a[zz"}}}]},
        {"id": "w3", "steps": []},
        {"id": "ok", "steps": [{"function": "A"}]},
        {"id": "ok", "steps": [{"function": "A"}]},
    ]}))  # fmt: skip
    with pytest.raises(TemplateError) as caught:
        load_templates(bad)
    problems = caught.value.problems
    assert problems == [
        f"{bad}: workflows[0] (w0): steps[1].dependency_args.x.from_step: step 0 is not in depends_on []",
        f"{bad}: workflows[1] (w1): dependencies.1.function: 'C' but pattern[1] is 'B'",
        f"{bad}: workflows[2] (w2): steps[1].dependency_args.y.from_field: cannot parse JSON path 'a[zz' at position 1",
        f"{bad}: workflows[3] (w3): steps: Tuple should have at least 1 item after validation, not 0",
        f"{bad}: workflows[5] (ok): id 'ok' is used by an earlier template",
    ], problems
    # w2's forward dependency is reported too, once its path is fixed
    fixed = json.loads(bad.read_text())["workflows"][2]
    fixed["steps"][1]["dependency_args"]["y"]["from_field"] = "a[0]"
    with pytest.raises(TemplateError, match=r"steps\[0\]\.depends_on: step 1 does not come before step 0"):
        templates_from_document([fixed])
    not_json = tmp_path / "x.json"
    not_json.write_text("{")
    with pytest.raises(TemplateError, match="x.json: not JSON"):
        load_templates(not_json)


# ------------------------------------------------------------------------------------------------ the index


def test_reverse_index_matches_canonical_values_rounded_coordinates_and_intersects(fixture_world, tmp_path: Path):
    index = fixture_world["index"]
    assert len(index) == 15 and index.api_ids()[0] == "booking.Get_Attraction_Details"
    # "-2167973" (recorded) and -2167973 (as a parent response might hold it) are one value
    assert len(index.matching("booking.Search_Hotels", {"dest_id": -2167973})) == 2
    both = index.matching("booking.Search_Hotels", {"dest_id": "-2167973", "arrival_date": "2025-05-02"})
    assert [e.arguments["departure_date"] for e in both] == ["2025-05-05"]
    assert index.matching("booking.Search_Hotels", {"dest_id": "-2167973", "arrival_date": "2025-06-20"}) == []
    # the car search was recorded with coordinates rounded from the location's response
    exact = {"pick_up_latitude": 38.7741985321045, "pick_up_longitude": -9.13415002822876}
    assert len(index.matching("booking.Search_Car_Rentals", exact)) == 1
    assert index.matching("booking.Search_Car_Rentals", {"pick_up_latitude": 38.7749}) == []
    strict = ReverseIndex.from_cache(fixture_world["cache"], min_float_decimals=5)
    assert strict.matching("booking.Search_Car_Rentals", exact) == []  # 38.7742 has only 4 decimals
    assert index.get("booking.Search_Flight_Location", {"query": "Rome"}).response[0]["id"] == "ROM.CITY"

    # failed, error-object and empty answers are never chain material
    with ResponseCache(tmp_path / "mixed.sqlite") as cache:
        cache.put("s.f", {"q": "a"}, {"ok": True, "response": {"status": True, "message": "ok", "data": [{"x": 1}]}})
        cache.put("s.f", {"q": "b"}, {"ok": True, "response": {"status": True, "message": "ok", "data": []}})
        cache.put("s.f", {"q": "c"}, {"ok": True, "response": {"status": False, "message": "quota"}})
        cache.put("s.f", {"q": "d"}, {"ok": False, "provenance": "error", "error": "timeout"})
        cache.put("s.f", {"q": "e"}, {"ok": True, "response": {"error": "bad id"}})
        mixed = ReverseIndex.from_cache(cache)
    assert [e.arguments["q"] for e in mixed.entries("s.f")] == ["a"] and mixed.unusable["s.f"] == 4
    assert payload({"status": True, "message": "ok", "data": [1]}) == [1] and payload({"data": 1}) == {"data": 1}


# ------------------------------------------------------------------------------------------------ sampling


def test_constrained_chains_are_cache_hits_and_values_flow_from_parents(fixture_world):
    world = fixture_world
    replay = ReplayExecutor(cache_path=world["path"])
    seen_flights = set()
    for template in world["templates"]:
        for seed in range(5):
            chain = sample_chain(template, world["index"], world["api_for"], random.Random(seed))
            assert not isinstance(chain, SamplingFailure), chain
            assert [s.name for s in chain.steps] == template.pattern and chain.provenance == "real"
            assert validate_chain(chain, replay, world["by_id"]) == []
            for step in chain.steps:
                assert replay.call(world["by_id"][step.api_id], step.arguments).response == step.response
                for arg, dep in step.dependency_args.items():
                    parent = payload(chain.steps[dep["from_step"]].response)
                    extracted = jsonpath.get_first(parent, dep["from_field"])
                    assert step.derived[arg] == extracted
                    assert world["index"].matching(step.api_id, {arg: extracted})  # equal (or rounded) value
            if template.id == "flights":
                seen_flights.add((chain.steps[2].arguments["fromId"], chain.steps[2].arguments["toId"]))
                assert chain.steps[0].arguments == {"query": "Berlin"} and chain.steps[1].arguments == {"query": "Rome"}
            if template.id == "cars":  # the gold call keeps the recorded (rounded) coordinates: an exact cache hit
                assert chain.steps[1].arguments["pick_up_latitude"] == 38.7742
                assert chain.steps[1].derived["pick_up_latitude"] == 38.7741985321045
            if template.id == "hotels":  # only the March search lists a second hotel
                assert chain.steps[1].arguments["arrival_date"] == "2025-03-14"
                assert chain.steps[2].arguments["hotel_id"] == 265331
    assert seen_flights == {("BER.CITY", "ROM.CITY")}
    replay.close()
    # seeded: the same seed gives the same chain
    template = world["templates"][0]
    one = sample_chain(template, world["index"], world["api_for"], random.Random(7))
    two = sample_chain(template, world["index"], world["api_for"], random.Random(7))
    assert one.signature == two.signature and one.tries == two.tries


def test_sampling_failures_say_which_step_failed_and_why(fixture_world):
    world = fixture_world
    no_entries, no_match, no_field = templates_from_document([
        {"id": "taxi", "steps": [{"function": "Search_Hotel_Destination"}, {"function": "Search_Taxi"}]},
        {"id": "nomatch", "steps": [{"function": "Search_Flight_Location"}, {"function": "Search_Hotels",
         "depends_on": [0], "dependency_args": {"dest_id": {"from_step": 0, "from_field": "[0].id"}}}]},
        {"id": "nofield", "steps": [{"function": "Search_Flight_Location"}, {"function": "Search_Hotels",
         "depends_on": [0], "dependency_args": {"dest_id": {"from_step": 0, "from_field": "[0].dest_id"}}}]},
    ])  # fmt: skip
    api_for = resolve_functions([no_entries, no_match, no_field], world["apis"])[0]
    failure = sample_chain(no_entries, world["index"], api_for, random.Random(0))
    assert failure == SamplingFailure("taxi", "step 1 (Search_Taxi): no usable cache entry for booking.Search_Taxi", 1)
    failure = sample_chain(no_match, world["index"], api_for, random.Random(0), max_retries=7)
    assert (failure.reason, failure.tries) == ("step 1 (Search_Hotels): no cache entry with the parent's dest_id", 7)
    failure = sample_chain(no_field, world["index"], api_for, random.Random(0), max_retries=3)
    assert failure.reason == "step 1 (Search_Hotels): the response of step 0 has no [0].dest_id"
    unknown = templates_from_document([{"id": "u", "steps": [{"function": "Get_Weather"}]}])
    assert resolve_functions(unknown, world["apis"])[1] == {
        "u": f"step 0: function 'Get_Weather' is not among the {len(world['apis'])} APIs given"
    }


def test_unconstrained_baseline_needs_an_exact_hit_and_counts_filler_calls(fixture_world):
    world = fixture_world
    hotels, flights, cars = world["templates"]
    wrong = sample_unconstrained(cars, world["index"], world["api_for"], random.Random(0),
                                 fill=lambda api, derived, rng: {"pick_up_date": "2030-01-01"})  # fmt: skip
    assert (wrong.chain, wrong.reason, wrong.llm_calls) == (None, "step 1 (Search_Car_Rentals): cache miss", 1)
    # even with the recorded arguments the unrounded coordinates from the parent miss the exact key
    recorded = sample_unconstrained(cars, world["index"], world["api_for"], random.Random(0))
    assert recorded.chain is None and recorded.llm_calls == 1
    hits = [sample_unconstrained(flights, world["index"], world["api_for"], random.Random(s)) for s in range(40)]
    assert {h.llm_calls for h in hits if h.chain is not None} == {2}
    assert 0 < sum(h.chain is not None for h in hits) < 40  # it works sometimes, by luck: what the index fixes
    replay = ReplayExecutor(cache_path=world["path"])
    assert all(validate_chain(h.chain, replay, world["by_id"]) == [] for h in hits if h.chain is not None)
    replay.close()
    taxi = templates_from_document([{"id": "taxi", "steps": [{"function": "Search_Taxi"}]}])[0]
    never = sample_unconstrained(taxi, world["index"], resolve_functions([taxi], world["apis"])[0], random.Random(0))
    assert (never.chain, never.permanent, never.llm_calls) == (None, True, 0)
    assert never.reason == "step 0 (Search_Taxi): no usable cache entry for booking.Search_Taxi"


# ------------------------------------------------------------------------------------------------ queries and rows


def test_query_prompt_and_value_check(fixture_world):
    world = fixture_world
    chain = sample_chain(world["templates"][0], world["index"], world["api_for"], random.Random(0))
    values = [(v.step, v.param, v.text) for v in stated_values(chain)]
    assert values == [(0, "query", "Lisbon"), (1, "search_type", "CITY"), (1, "arrival_date", "2025-03-14"),
                      (1, "departure_date", "2025-03-16"), (2, "arrival_date", "2025-03-14"),
                      (2, "departure_date", "2025-03-16")]  # fmt: skip
    context = query_prompt_context(chain, world["by_id"])
    assert context["values"] == ["Lisbon", "CITY", "2025-03-14", "2025-03-16"]
    assert context["last"] == "Get_Hotel_Details"
    assert context["steps"][2]["derived"] == ["hotel_id from the result of step 2 (Search_Hotels)"]
    prompt = render_query(context)
    assert "exactly as written: Lisbon; CITY; 2025-03-14; 2025-03-16;" in prompt
    assert "265331" not in prompt and "-2167973" not in prompt  # values found on the way are never shown

    statements = stated_values(chain)
    assert missing_values("Hotels in lisbon (city) from 2025/03/14 to 2025 03 16?", statements) == []
    assert [v.text for v in missing_values("Hotels in Lisbon from 2025-03-14", statements)] == ["CITY", "2025-03-16"]
    result = write_query(ValueCopyingLLM(leave_out="CITY"), prompt, statements, attempts=2)
    assert (result.query, result.llm_calls, result.missing) == (None, 2, ["search_type=CITY"])
    assert result.reason == "the query does not state search_type=CITY"
    failed = write_query(ValueCopyingLLM(error="HTTP 503"), prompt, statements)
    assert (failed.ok, failed.reason) == (False, "LLM call failed: HTTP 503")
    good = write_query(ValueCopyingLLM(), prompt, statements, clean=lambda t: t.strip().strip('"'))
    assert good.ok and good.query == "Please find this for me: Lisbon, CITY, 2025-03-14, 2025-03-16."


def test_distractors_are_seeded_outside_the_chain_and_tools_are_shuffled(fixture_world):
    apis = fixture_world["apis"]
    chain_ids = ["booking.Search_Hotel_Destination", "booking.Search_Hotels"]
    picked = pick_distractors(chain_ids, apis, 3, random.Random(1))
    assert len({a.id for a in picked}) == 3 and not {a.id for a in picked} & set(chain_ids)
    assert [a.id for a in picked] == [a.id for a in pick_distractors(chain_ids, apis, 3, random.Random(1))]
    assert len(pick_distractors(chain_ids, apis, 100, random.Random(1))) == len(apis) - 2
    gold = [a for a in apis if a.id in chain_ids]
    orders = {tuple(t["function"]["name"] for t in offered_tools(gold, picked, random.Random(s))) for s in range(6)}
    assert len(orders) > 1 and all(len(o) == 5 and {"Search_Hotels", "Search_Hotel_Destination"} <= set(o)
                                   for o in orders)  # fmt: skip
    with pytest.raises(ValueError, match=">= 0"):
        pick_distractors(chain_ids, apis, -1, random.Random(0))


def test_synthesize_rows_rejections_and_features(fixture_world):
    import datasets

    world = fixture_world
    settings = RLSynthesisSettings(seed=3, queries_per_template=4, distractors=2)
    writer = make_query_writer(ValueCopyingLLM(), render_query, world["by_id"], clean=lambda t: t.strip().strip('"'))
    replay = ReplayExecutor(cache_path=world["path"])
    result = synthesize(world["templates"], world["index"], world["apis"], replay, writer, settings,
                        fingerprint="fp", generator_model="fake")  # fmt: skip
    counts = result.counts
    assert counts["attempts"] == 12 and counts["rows"] + len(result.rejected) == 12
    assert counts["rows"] == counts["validated"] == counts["llm_calls"] == len(result.rows) >= 3
    assert {r["stage"] for r in result.rejected} <= {"duplicate"}  # every template is feasible on the fixture
    ids = [row["id"] for row in result.rows]
    assert len(set(ids)) == len(ids)
    dataset = datasets.Dataset.from_list(result.rows, features=RL_FEATURES)
    assert tuple(dataset.column_names) == RL_COLUMNS
    for row in dataset:
        gold = json.loads(row["gold_steps"])
        names = [t["function"]["name"] for t in json.loads(row["tools"])]
        assert [s["name"] for s in gold] == [world["by_id"][a].name for a in row["api_ids"]]
        assert set(s["name"] for s in gold) <= set(names) and len(names) == len(set(s["name"] for s in gold)) + 2
        assert row["prompt"][0]["role"] == "system" and row["prompt"][1] == {"role": "user", "content": row["query"]}
        assert row["num_steps"] == len(gold) and row["provenance"] == "real" and row["recipe_fingerprint"] == "fp"
        assert all(set(s) == {"name", "arguments", "depends_on", "dependency_args", "response"} for s in gold)
    again = synthesize(world["templates"], world["index"], world["apis"], replay, writer, settings,
                       fingerprint="fp", generator_model="fake")  # fmt: skip
    assert again.rows == result.rows  # seeded

    # query failures and unusable templates are rejections with reasons, never silent drops
    stingy = make_query_writer(ValueCopyingLLM(leave_out="Rome"), render_query, world["by_id"])
    weather = templates_from_document([{"id": "weather", "steps": [{"function": "Get_Weather"}]}])
    templates = [*world["templates"], *weather]
    result = synthesize(templates, world["index"], world["apis"], replay, stingy, RLSynthesisSettings(draws=8))
    replay.close()
    reasons = Counter((r["stage"], r["reason"]) for r in result.rejected)
    # flights, drawn twice: its only chain (Berlin -> Rome) is rejected for the query, then as a duplicate
    assert reasons[("query", "the query does not state query=Rome")] == 1
    assert any(r["stage"] == "duplicate" and r["chain_id"].startswith("flights-") for r in result.rejected)
    assert reasons[("sampling", "step 0: function 'Get_Weather' is not among the 12 APIs given")] == 2
    assert result.counts["rows"] + len(result.rejected) == result.counts["attempts"] == 8
    assert all(json.loads(r["gold_steps"])[0]["name"] != "Search_Flight_Location" for r in result.rows)
    by_frequency = RLSynthesisSettings(template_choice="frequency", draws=300)
    drawn = Counter(t.id for t in draw_templates(templates, by_frequency))
    assert drawn["hotels"] > 2 * drawn["flights"] and drawn["weather"] > 0  # frequency 5 vs 1 (the default)
    uniform = Counter(t.id for t in draw_templates(templates, RLSynthesisSettings(draws=8)))
    assert sorted(uniform.values()) == [2, 2, 2, 2]


def perfect_completion(gold: list[dict]) -> str:
    parts = []
    for step in gold:
        parts.append(f"<tool_call>{json.dumps({'name': step['name'], 'arguments': step['arguments']})}</tool_call>")
        parts.append(f"<tool_response>{json.dumps(step['response'])}</tool_response>")
    return "\n".join(parts) + "\nHere is what I found."


def test_rl_rows_are_scored_by_the_trl_reward_functions_unchanged(fixture_world):
    import datasets
    from goat_train.rewards import make_reward_func

    world = fixture_world
    writer = make_query_writer(ValueCopyingLLM(), render_query, world["by_id"])
    replay = ReplayExecutor(cache_path=world["path"])
    result = synthesize(world["templates"], world["index"], world["apis"], replay, writer, RLSynthesisSettings())
    replay.close()
    dataset = datasets.Dataset.from_list(result.rows, features=RL_FEATURES)
    columns = {name: dataset[name] for name in dataset.column_names if name != "prompt"}
    golds = [json.loads(cell) for cell in dataset["gold_steps"]]
    reward = make_reward_func("total")
    perfect = [perfect_completion(gold) for gold in golds]
    assert reward(prompts=dataset["prompt"], completions=perfect, **columns) == [1.0] * len(golds)
    # only the first step, done right: atomic 1.0, orchestration 1/n steps
    first_only = [perfect_completion(gold[:1]) for gold in golds]
    expected = [0.5 * 1.0 + 0.5 * (1 / len(gold)) for gold in golds]
    assert reward(prompts=dataset["prompt"], completions=first_only, **columns) == pytest.approx(expected)
    # wrong values everywhere: a wrong argument value costs the values part and the cache answers with an error
    wrong = []
    for gold in golds:
        broken = [{**s, "arguments": {k: "nonsense" for k in s["arguments"]},
                   "response": {"error": "No results found"}} for s in gold]  # fmt: skip
        wrong.append(perfect_completion(broken))
    scores = reward(prompts=dataset["prompt"], completions=wrong, **columns)
    # orchestration still 1 (right functions, right order); atomic keeps name and part of structure, no values or
    # execution: 0.5 * 1 + 0.5 * 0.5 * (0.33 + up to 0.33)
    assert all(0.58 < s < 0.67 for s in scores), scores


# ------------------------------------------------------------------------------------------------ real data, end to end


def test_constrained_sampling_over_the_real_booking_cache(booking_world):
    world = booking_world
    api_for, unresolved = resolve_functions(world["templates"], world["apis"])
    assert unresolved == {}  # every template function, Get_Hotel_Reviews_Tips__Sort_Option included, resolves
    assert api_for["Get_Hotel_Reviews_Tips__Sort_Option"].id == "booking.Get_Hotel_Reviews_Tips_Sort_Option"
    replay = ReplayExecutor(cache_path=world["path"])
    feasible = 0
    for template in world["templates"]:
        chain = sample_chain(template, world["index"], api_for, random.Random(0))
        if isinstance(chain, SamplingFailure):
            assert chain.reason.startswith("step ")
            continue
        feasible += 1
        assert validate_chain(chain, replay, world["by_id"]) == []
        for step in chain.steps:
            for arg, dep in step.dependency_args.items():
                extracted = jsonpath.get_first(payload(chain.steps[dep["from_step"]].response), dep["from_field"])
                assert world["index"].lookup(step.api_id, arg, extracted), (template.id, step.index, arg)
    replay.close()
    assert feasible >= 30, feasible  # 32 of 107 with the 442 recorded calls of the paper's samples


def test_end_to_end_real_http_llm_rendered_prompt_replay_and_dataset(booking_world):
    import datasets
    from fake_llm import FakeLLM

    from goat_datasets.llm.generation import OpenAICompatibleLLM
    from goat_train.rewards import make_reward_func

    world = booking_world
    fake = FakeLLM(0.0, respond=copy_values)
    replay = ReplayExecutor(cache_path=world["path"])
    with fake.serve() as base_url:
        llm = OpenAICompatibleLLM(base_url, model="fake-query-writer", max_retries=0)
        writer = make_query_writer(llm, render_query, world["by_id"], clean=lambda t: t.strip().strip('"'))
        settings = RLSynthesisSettings(seed=1, draws=12, template_choice="frequency", distractors=3)
        result = synthesize(world["templates"], world["index"], world["apis"], replay, writer, settings,
                            fingerprint="fp-e2e", generator_model="fake-query-writer")  # fmt: skip
    replay.close()
    assert len(fake.log) == result.counts["llm_calls"] == result.counts["validated"] >= 3
    assert result.rows and all(r["stage"] in {"sampling", "duplicate"} for r in result.rejected)
    dataset = datasets.Dataset.from_list(result.rows, features=RL_FEATURES)
    gold = [json.loads(cell) for cell in dataset["gold_steps"]]
    columns = {name: dataset[name] for name in dataset.column_names if name != "prompt"}
    scores = make_reward_func("total")(prompts=dataset["prompt"], completions=[perfect_completion(g) for g in gold],
                                      **columns)  # fmt: skip
    assert scores == [1.0] * len(gold)
    assert all(len(json.loads(t)) == len({s["name"] for s in g}) + 3 for t, g in zip(dataset["tools"], gold))


def test_yield_benchmark_prints_the_final_line(booking_world):
    spec = importlib.util.spec_from_file_location("rl_yield", REPO / "benchmarks" / "rl_yield.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = io.StringIO()
    with redirect_stdout(out):
        assert module.main(["--queries-per-template", "1", "--data", str(BOOKING)]) == 0
    last = out.getvalue().strip().splitlines()[-1]
    fields = dict(part.split("=") for part in last.split())
    assert list(fields)[:3] == ["constrained_yield", "unconstrained_yield", "ratio"], last
    assert float(fields["constrained_yield"]) > float(fields["unconstrained_yield"]) > 0
    assert float(fields["ratio_per_llm_call"]) > 10, last


# ------------------------------------------------------------------------------------------------ cache growth


def test_growing_a_cache_along_a_template_against_the_live_demo_api(tmp_path: Path):
    import httpx

    from goat_datasets.demo_api.app import create_app
    from goat_datasets.execution.http import HttpExecutor
    from goat_datasets.execution.replay import CachingExecutor
    from goat_datasets.rl import GrowthSettings, grow_cache
    from goat_datasets.servers import serve_in_thread
    from goat_datasets.sources.openapi import load_openapi_source

    templates = templates_from_document([{"id": "cast", "steps": [
        {"function": "search_movies"},
        {"function": "get_movie_credits", "depends_on": [0],
         "dependency_args": {"movie_id": {"from_step": 0, "from_field": "results[0].movie_id"}}},
        {"function": "get_person", "depends_on": [1],
         "dependency_args": {"person_id": {"from_step": 1, "from_field": "cast[0].person_id"}}}]}])  # fmt: skip
    proposals: list[tuple[str, dict]] = []

    def propose(api, fixed, n):  # stands for the LLM: three searches (one finds nothing), nothing else to fill
        proposals.append((api.name, dict(fixed)))
        return [{"query": "the"}, {"query": "circus"}, {"query": "qqqzzz"}][:n] if api.name == "search_movies" else [{}]

    cache = ResponseCache(tmp_path / "grown.sqlite")
    with serve_in_thread(create_app(0), health_path="/health") as url:
        apis = load_openapi_source(httpx.get(url + "/openapi.json").json(), source="demo").apis
        with CachingExecutor(HttpExecutor(url), cache, "fp-grow") as executor:
            report = grow_cache(templates, apis, executor, propose, GrowthSettings(independent_sets=3))
            again = grow_cache(templates, apis, executor, propose, GrowthSettings(independent_sets=3))
        with ResponseCache(tmp_path / "small.sqlite") as small, CachingExecutor(HttpExecutor(url), small) as fresh:
            limited = grow_cache(templates, apis, fresh, propose, GrowthSettings(independent_sets=3, call_budget=2))
            assert len(small) == 2
    # 3 searches (2 usable), credits of each search's first movie, the first cast member of each
    assert report.templates == {"cast": [2, 2, 2]} and report.stopped == {}
    assert (report.calls, report.live, report.ok, report.llm_calls) == (7, 7, 6, 5)
    assert report.failures == Counter({"search_movies: the response is empty": 1})
    assert proposals[1][0] == "get_movie_credits" and set(proposals[1][1]) == {"movie_id"}
    assert (again.calls, again.live, again.budget_exhausted) == (7, 0, False)  # cached answers cost no budget
    assert (limited.budget_exhausted, limited.live, limited.templates) == (True, 2, {"cast": [2]})
    assert limited.stopped == {"cast": "call budget of 2 live calls reached"}
    assert len(cache) == 7 and all(e.provenance == "real" and e.recipe_fingerprint == "fp-grow" for e in cache)

    # the server is gone: constrained synthesis now runs on the grown cache alone, by replay
    index = ReverseIndex.from_cache(cache)
    writer = make_query_writer(ValueCopyingLLM(), render_query, {a.id: a for a in apis})
    with ReplayExecutor(cache_path=cache.path) as replay:
        result = synthesize(templates, index, apis, replay, writer, RLSynthesisSettings(queries_per_template=4))
    assert result.counts["rows"] == 2 and result.counts["rejected_duplicate"] == 2, result.rejected
    people = {json.loads(row["gold_steps"])[2]["arguments"]["person_id"] for row in result.rows}
    assert len(people) == 2
    cache.close()
