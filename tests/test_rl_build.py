"""The ``rl`` and ``rl_cache`` outputs of a build (goat_builders.rl_build): recipe settings and their errors, templates
from sampled chains, the LLM's argument proposals, and builds with the real parts: the booking-orchestration data
(templates file + recorded calls) and the demo API (`goat build` + `goat publish` to the local Hub, then
`datasets.load_dataset`, replay of every gold step from the published cache and the trl reward functions)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_llm import FakeLLM, fake_completion
from shared_data import SHARED_DATA

from goat_datasets.cache.keys import canonical_key
from goat_datasets.llm.generation import Generation
from goat_datasets.recipe import RecipeError, load_recipe, parse_recipe
from goat_datasets.recipe.schema import RlOutput

REPO = Path(__file__).resolve().parents[1]
RL_DEMO = REPO / "recipes" / "rl-demo.yaml"
BOOKING = SHARED_DATA / "booking-orchestration"
VALUES_MARKER = "exactly as written: "
WRITE_OPERATIONS = ("book_tickets", "cancel_booking", "post_review")

HEAD = """name: rl-test
version: 1.0.0
hub: {repo_id: org/rl-test}
sources:
  - {name: booking, kind: functions, spec: functions.json}
"""


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data missing: {path}")
    return path


def issues_of(text: str, tmp_path: Path | None = None) -> list[str]:
    with pytest.raises(RecipeError) as caught:
        parse_recipe(text, file="r.yaml", base_dir=tmp_path)
    return [str(issue) for issue in caught.value.issues]


def answer(prompt: str) -> str:
    """The fake LLM's answers, with the rl_query prompt answered by a request stating every value it lists."""
    if VALUES_MARKER in prompt:
        line = next(line for line in prompt.splitlines() if VALUES_MARKER in line)
        return "Please find this for me: " + line.split(VALUES_MARKER, 1)[1].rstrip(";") + "."
    return fake_completion(prompt)


def perfect_completion(gold: list[dict]) -> str:
    parts = []
    for step in gold:
        parts.append(f"<tool_call>{json.dumps({'name': step['name'], 'arguments': step['arguments']})}</tool_call>")
        parts.append(f"<tool_response>{json.dumps(step['response'])}</tool_response>")
    return "\n".join(parts) + "\nHere is what I found."


def check_rows_replay_and_score(rl_rows: Any, cache_rows: Any) -> None:
    """Every gold step is an exact hit of the published cache (same answer), and a perfect completion scores 1.0."""
    from goat_train.rewards import make_reward_func

    cache = {(r["api_id"], r["key"]): r for r in cache_rows}
    golds = [json.loads(cell) for cell in rl_rows["gold_steps"]]
    for row, gold in zip(rl_rows, golds):
        assert len(gold) == row["num_steps"] == len(row["api_ids"]) >= 1
        for api_id, step in zip(row["api_ids"], gold):
            hit = cache.get((api_id, canonical_key(step["arguments"])))
            assert hit is not None and hit["ok"], (row["id"], api_id, step["arguments"])
            assert json.loads(hit["response"]) == step["response"]
    columns = {name: rl_rows[name] for name in rl_rows.column_names if name != "prompt"}
    scores = make_reward_func("total")(prompts=rl_rows["prompt"], completions=[perfect_completion(g) for g in golds],
                                       **columns)  # fmt: skip
    assert scores == [1.0] * len(golds)


# ------------------------------------------------------------------------------------------------ the schema


def test_rl_recipe_settings_parse_and_mirror_the_synthesis_settings():
    from goat_builders.rl_build import synthesis_settings
    from goat_datasets.rl import RLSynthesisSettings

    recipe = parse_recipe(HEAD + """outputs:
  sft: null
  rl:
    templates: workflow_templates.json
    cache_imports: [{kind: booking, files: [training_workflows.json]}]
    grow: {independent_sets: 3, call_budget: 200}
    queries_per_template: 2
    distractors: 4
    template_choice: frequency
    system_prompt: null
  rl_cache: {split: cache}
""")  # fmt: skip
    rl = recipe.outputs.rl
    assert recipe.outputs.sft is None and recipe.outputs.rl_cache.split == "cache"
    assert rl.cache_imports[0].effective_source() == "booking" and rl.grow.call_budget == 200
    assert rl.grow.max_combinations == 10  # the growth's own default
    settings = synthesis_settings(rl)
    assert (settings.queries_per_template, settings.distractors, settings.template_choice) == (2, 4, "frequency")
    assert settings.system_prompt is None
    # the recipe's knobs are the synthesis settings' knobs, with the same defaults ('default' = its system prompt)
    knobs = set(RlOutput.model_fields) - {"templates", "from_graph", "cache_imports", "grow", "split"}
    assert knobs == set(RLSynthesisSettings.model_fields)
    assert synthesis_settings(RlOutput(from_graph=True)) == RLSynthesisSettings()
    # the shipped recipe is valid, and a recipe without rl keeps working as before
    demo = load_recipe(RL_DEMO)
    assert demo.outputs.rl.from_graph and demo.outputs.rl_cache is not None and demo.outputs.sft is None
    assert load_recipe(REPO / "recipes" / "demo.yaml").outputs.rl is None


def test_rl_recipe_errors_name_line_and_field():
    outputs = HEAD + "outputs:\n  sft: null\n"
    assert issues_of(outputs + "  rl: {templates: t.json, cache_imports: [{kind: bookin, files: [a.json]}]}\n") == [
        "r.yaml:8:44: outputs.rl.cache_imports[0].kind: unknown cache importer kind 'bookin'; did you mean "
        "'booking'? (known: apibank, booking, complexfuncbench)"]  # fmt: skip
    assert issues_of(outputs + "  rl: {templates: t.json, from_graph: true}\n") == [
        "r.yaml:8:27: outputs.rl.from_graph: give either `templates` (a file) or `from_graph: true`, not both"]
    assert issues_of(outputs + "  rl: {seed: 1}\n") == [
        "r.yaml:8:3: outputs.rl: the rl output needs workflow templates: `templates: <file>` or `from_graph: true`"]
    assert issues_of(outputs + "  rl_cache: {}\n") == [
        "r.yaml:8:3: outputs.rl_cache: rl_cache publishes the response cache the rl output builds: set outputs.rl "
        "too"]  # fmt: skip
    assert issues_of(outputs + "  rl: {from_graph: true, cache_imports: [{kind: booking, files: [a], "
                               "source: bookin}]}\n") == [  # fmt: skip
        "r.yaml:8:70: outputs.rl.cache_imports[0].source: unknown source 'bookin'; did you mean 'booking'? "
        "(known: booking)"]  # fmt: skip
    assert issues_of(outputs + "  rl: {from_graph: true, cache_imports: [{kind: apibank, files: [a]}]}\n") == [
        "r.yaml:8:42: outputs.rl.cache_imports[0]: apibank calls are imported as source 'apibank' (the kind's "
        "default), which this recipe does not have: set `source:` to one of booking"]  # fmt: skip
    got = issues_of(outputs + "  rl:\n    from_graph: true\n    grw: {}\n    template_choice: freq\n"
                              "    cache_imports: [{kind: booking, files: []}]\n")  # fmt: skip
    assert got == [
        "r.yaml:10:5: outputs.rl.grw: unknown field 'grw'; did you mean 'grow'?",
        "r.yaml:11:5: outputs.rl.template_choice: Input should be 'uniform' or 'frequency' (got 'freq')",
        "r.yaml:12:37: outputs.rl.cache_imports[0].files: List should have at least 1 item after validation, not 0",
    ], got


# ------------------------------------------------------------------------------------------------ files and fingerprint


def write_world(tmp_path: Path, outputs: str) -> Path:
    """A recipe over two Booking.com-style functions, a templates file and one recorded sample."""
    functions = [
        {"name": "Search_Hotel_Destination", "description": "Find a destination id.",
         "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}},
        {"name": "Search_Hotels", "description": "Hotels at a destination.",
         "parameters": {"type": "object", "properties": {"dest_id": {"type": "string"}}, "required": ["dest_id"]}},
    ]  # fmt: skip
    templates = [{"id": "t0", "steps": [{"function": "Search_Hotel_Destination"}, {
        "function": "Search_Hotels", "depends_on": [0],
        "dependency_args": {"dest_id": {"from_step": 0, "from_field": "[0].dest_id"}}}]}]  # fmt: skip
    sample = {"workflow_id": "w", "steps": [
        {"step": 0, "ground_truth": {"function": "Search_Hotel_Destination", "arguments": {"query": "Lisbon"}},
         "execution_result": {"execution_result": {"status": True, "message": "ok", "data": [{"dest_id": "-21"}]},
                              "success": True}},
        {"step": 1, "ground_truth": {"function": "Search_Hotels", "arguments": {"dest_id": "-21"}},
         "execution_result": {"success": True, "execution_result": {
             "status": True, "message": "ok", "data": {"hotels": [{"hotel_id": 7}]}}}}]}  # fmt: skip
    (tmp_path / "functions.json").write_text(json.dumps(functions))
    (tmp_path / "templates.json").write_text(json.dumps(templates))
    (tmp_path / "samples.json").write_text(json.dumps([sample]))
    path = tmp_path / "recipe.yaml"
    path.write_text(HEAD + "llm: {provider: openai, base_url: 'http://127.0.0.1:9/v1', model: fake}\n" + outputs)
    return path


RL_FILES = """outputs:
  sft: null
  rl:
    templates: templates.json
    cache_imports:
      - {kind: booking, files: [samples.json]}
"""


def test_missing_and_invalid_rl_files_are_recipe_errors_and_the_files_are_fingerprinted(tmp_path: Path):
    from goat_builders.rl_build import rl_file_issues, rl_input_digests
    from goat_datasets.recipe.fingerprint import fingerprint

    path = write_world(tmp_path, RL_FILES)
    recipe = load_recipe(path)
    digests = rl_input_digests(recipe)
    assert set(digests) == {"outputs:rl.templates", "outputs:rl.cache_imports[0]"}
    fp = fingerprint(recipe, {"booking": b"x"}, ["m"], code="c", caches=digests)
    assert fp == fingerprint(recipe, {"booking": b"x"}, ["m"], code="c", caches=rl_input_digests(recipe))
    # a byte more in the templates or an import file is another build
    templates = json.loads((tmp_path / "templates.json").read_text())
    (tmp_path / "templates.json").write_text(json.dumps(templates, indent=1))
    assert fingerprint(recipe, {"booking": b"x"}, ["m"], code="c", caches=rl_input_digests(recipe)) != fp
    with (tmp_path / "samples.json").open("a") as f:
        f.write("\n")
    assert rl_input_digests(recipe)["outputs:rl.cache_imports[0]"] != digests["outputs:rl.cache_imports[0]"]

    (tmp_path / "samples.json").unlink()
    (tmp_path / "templates.json").write_text(json.dumps([{"id": "t", "steps": []}]))
    issues = [str(i) for i in rl_file_issues(recipe)]
    assert issues == [
        f"{path}:10:5: outputs.rl.templates: invalid workflow templates: {tmp_path / 'templates.json'}: [0] (t): "
        "steps: Tuple should have at least 1 item after validation, not 0",
        f"{path}:12:33: outputs.rl.cache_imports[0].files[0]: 'samples.json' not found (looked at "
        f"{tmp_path / 'samples.json'})",
    ], issues
    (tmp_path / "templates.json").unlink()
    with pytest.raises(RecipeError, match=r"recipe.yaml:10:5: outputs.rl.templates: templates file 'templates.json' "
                                          r"not found \(looked at .*templates.json\); a relative path is relative to "
                                          "the recipe file"):  # fmt: skip
        rl_input_digests(recipe)


def test_templates_calling_functions_the_sources_lack_stop_the_build(tmp_path: Path, monkeypatch):
    from goat_builders.build import run_build

    monkeypatch.setenv("GOAT_CACHE_DIR", str(tmp_path / "cache"))
    path = write_world(tmp_path, RL_FILES)
    (tmp_path / "templates.json").write_text(json.dumps([
        {"id": "a", "steps": [{"function": "Search_Hotel_Destinaton"}]},
        {"id": "b", "steps": [{"function": "Search_Hotels"}, {"function": "Get_Weather"}]}]))  # fmt: skip
    with pytest.raises(RecipeError) as caught:
        run_build(load_recipe(path), log=lambda line: None)
    assert [str(i) for i in caught.value.issues] == [
        f"{path}:10:5: outputs.rl.templates: the templates call 2 function(s) the sources do not have (2 APIs): "
        "'Search_Hotel_Destinaton' (in a); did you mean 'Search_Hotel_Destination'?; 'Get_Weather' (in b) (APIs: "
        "Search_Hotel_Destination, Search_Hotels)"]  # fmt: skip


def test_a_replay_source_seeds_the_cache_and_growth_records_what_it_could_not_answer(tmp_path: Path, monkeypatch):
    """A source answered from a prerecorded cache (`executor: replay`): its entries are copied into the build's cache
    (provenance kept); growth asks the LLM for arguments, and the replay misses it meets are recorded as errors."""
    from datasets import load_dataset

    from goat_builders.build import run_build
    from goat_datasets.cache import ResponseCache
    from goat_datasets.cache.importers import import_files

    monkeypatch.setenv("GOAT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr("goat_builders.build.code_version", lambda: "code-under-test")
    path = write_world(tmp_path, "outputs:\n  sft: null\n  rl:\n    templates: templates.json\n"
                                 "    grow: {independent_sets: 2, call_budget: 5}\n  rl_cache: {}\n")  # fmt: skip
    with ResponseCache(tmp_path / "recorded.sqlite") as recorded:
        import_files("booking", [tmp_path / "samples.json"], recorded, fingerprint="recorded-earlier")
    text = path.read_text().replace("spec: functions.json}", "spec: functions.json, executor: replay, "
                                                             "cache: recorded.sqlite}")  # fmt: skip
    fake = FakeLLM(0.0, respond=answer)
    with fake.serve() as url:
        path.write_text(text.replace("http://127.0.0.1:9/v1", url))
        result = run_build(load_recipe(path), log=lambda line: None)
        asked = list(fake.log)
        assert run_build(load_recipe(path), log=lambda line: None).report["rl"] == result.report["rl"]
        assert fake.log == asked
    rl = result.report["rl"]
    assert rl["cache"]["from_replay_caches"] == 2 and rl["cache"]["by_provenance"] == {"real": 2, "simulated": 0,
                                                                                       "error": 1}  # fmt: skip
    growth = rl["cache"]["growth"]  # the LLM's destination ("x") is not in the recording: the template stops
    assert (growth["live"], growth["ok"], growth["stopped"]) == (1, 0, {"t0": "step 0 (Search_Hotel_Destination): no "
                                                                             "usable answer"})  # fmt: skip
    # two proposals asked for (the second repeats the first: one call), then one query for the one chain
    assert [kind for _, kind, _ in asked] == ["arguments", "arguments", "query"] and rl["counts"]["rows"] == 1
    cache_rows = load_dataset(str(result.dataset_dir), "rl_cache", split="train", cache_dir=str(tmp_path / "ds"))
    by_key = {(r["api_id"], json.loads(r["key"]).get("query")): r for r in cache_rows}
    assert by_key[("booking.Search_Hotel_Destination", "Lisbon")]["recipe_fingerprint"] == "recorded-earlier"
    miss = by_key[("booking.Search_Hotel_Destination", "x")]
    assert (miss["ok"], miss["provenance"]) == (False, "error") and miss["error"].startswith("cache miss")
    rows = load_dataset(str(result.dataset_dir), "rl", split="train", cache_dir=str(tmp_path / "ds"))
    check_rows_replay_and_score(rows, cache_rows)


# ------------------------------------------------------------------------------------------------ templates from chains


def test_sampled_chains_become_workflow_templates():
    from goat_builders.rl_build import templates_from_chains
    from goat_datasets.sources.models import ApiSpec

    apis = {f"demo.{n}": ApiSpec(id=f"demo.{n}", source="demo", tool="demo", name=n, method="GET",
                                 path=f"/{n}")
            for n in ("search_movies", "search_people", "list_showtimes", "get_movie")}  # fmt: skip
    chains = [
        {"id": "chain-a", "steps": [  # fan-in: two searches feed one call
            {"api_id": "demo.search_movies", "bindings": []},
            {"api_id": "demo.search_people", "bindings": []},
            {"api_id": "demo.list_showtimes", "bindings": [
                {"param": "movie_id", "from_step": 0, "source_path": "results[*].movie_id"},
                {"param": "person_id", "from_step": 1, "source_path": "$.results[*].person_id"}]}]},
        {"id": "chain-b", "steps": [{"api_id": "demo.gone", "bindings": []}]},
        {"id": "chain-c", "steps": [{"api_id": "demo.search_movies", "bindings": []},
                                    {"api_id": "demo.get_movie", "bindings": [
                                        {"param": "movie_id", "from_step": 1, "source_path": "x"}]}]},
    ]  # fmt: skip
    templates, problems = templates_from_chains(chains, apis)
    assert [t.id for t in templates] == ["chain-a"]
    template = templates[0]
    assert template.pattern == ["search_movies", "search_people", "list_showtimes"]
    assert template.independent_steps() == [0, 1] and template.steps[2].depends_on == (0, 1)
    deps = {arg: (d.from_step, d.from_field) for arg, d in template.steps[2].dependency_args.items()}
    assert deps == {"movie_id": (0, "results[0].movie_id"), "person_id": (1, "results[0].person_id")}
    assert problems[0] == "chain-b: ValueError: step 0: API 'demo.gone' is not among the sources' APIs"
    assert problems[1].startswith("chain-c: ValidationError:") and "step 1 does not come before step 1" in problems[1]


# ------------------------------------------------------------------------------------------------ argument proposals


class ScriptedLLM:
    """Answers from a list, then repeats the last answer; keeps the prompts."""

    def __init__(self, answers: list[str]):
        self.answers, self.prompts = list(answers), []

    def generate(self, messages, max_new_tokens=None) -> Generation:
        self.prompts.append(messages[-1]["content"])
        text = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return Generation(text=text, completion_tokens=3)


def test_argument_proposals_are_distinct_valid_and_counted():
    from goat_builders.rl_build import make_argument_proposer
    from goat_builders.traces import LLMUsage
    from goat_datasets.sources.functions import load_functions_source

    api = load_functions_source([{"name": "Search_Hotels", "parameters": {"type": "object", "properties": {
        "dest_id": {"type": "string"}, "arrival_date": {"type": "string", "format": "date"},
        "adults": {"type": "integer"}}, "required": ["dest_id", "arrival_date"]}}], source="b").apis[0]  # fmt: skip
    llm = ScriptedLLM(['{"arrival_date": "next week"}', '{"arrival_date": "2025-05-02"}',
                       '```json\n{"arrival_date": "2025-06-01"}\n```', '{"arrival_date": "2025-06-01"}'])  # fmt: skip
    usage = LLMUsage()
    propose = make_argument_proposer(llm, usage)
    # dest_id is fixed (it came from a parent response): only arrival_date is asked for; adults is optional
    assert propose(api, {"dest_id": "-21"}, 3) == [{"arrival_date": "2025-05-02"}, {"arrival_date": "2025-06-01"}]
    assert len(llm.prompts) == 4 and usage.by_step["rl_arguments"]["calls"] == 4
    assert "Arguments already decided: {\"dest_id\": \"-21\"}" in llm.prompts[0]
    assert '"arrival_date"' in llm.prompts[0] and "`adults`" not in llm.prompts[0]
    assert "rejected: the arguments do not match the schema: arrival_date" in llm.prompts[1]
    assert 'different from the sets already used: [{"arrival_date": "2025-05-02"}]' in llm.prompts[2]
    # the fourth answer repeats a set: the proposals end there (asking the same again would repeat it again)
    assert propose(api, {"dest_id": "-21", "arrival_date": "2025-01-01"}, 2) == [{}]  # nothing open: no LLM call
    assert len(llm.prompts) == 4


# ------------------------------------------------------------------------------------------------ builds


def booking_recipe(tmp_path: Path, llm_url: str, knobs: str) -> Path:
    """The recipe the header of recipes/rl-demo.yaml describes for the booking-orchestration data."""
    path = tmp_path / "booking-rl.yaml"
    path.write_text(f"""name: booking-rl
version: 1.0.0
hub: {{repo_id: org/booking-rl}}
sources:
  - {{name: booking, kind: functions, spec: {BOOKING}/booking_api_functions.jsonl}}
llm: {{provider: openai, base_url: '{llm_url}', model: fake}}
outputs:
  sft: null
  rl:
    templates: {BOOKING}/workflow_templates.json
    cache_imports: [{{kind: booking, files: [{BOOKING}/training_workflows.json]}}]
    distractors: 4
    {knobs}
  rl_cache: {{}}
""")
    return path


def test_rl_build_over_the_booking_templates_and_recorded_calls(tmp_path: Path, monkeypatch):
    """The paper's templates and samples (real recorded responses), a fake LLM over real HTTP writing the queries:
    rows, the cache as a config, rejections with stages, counts, resumption without calls, publishability."""
    from datasets import load_dataset

    from goat_builders.build import NothingToPublish, require_publishable, run_build
    from goat_datasets.hub.card import read_card_metadata

    need(BOOKING / "workflow_templates.json")
    monkeypatch.setenv("GOAT_CACHE_DIR", str(tmp_path / "cache"))
    # the code version is part of the fingerprint: hold it still, so that an edit of any source file while the test
    # runs does not turn the rerun into a new build
    monkeypatch.setattr("goat_builders.build.code_version", lambda: "code-under-test")
    fake = FakeLLM(0.0, respond=answer)
    lines: list[str] = []
    with fake.serve() as url:
        recipe_path = booking_recipe(tmp_path, url, "queries_per_template: 2")
        result = run_build(load_recipe(recipe_path), log=lines.append)
        calls_first = len(fake.log)
        again = run_build(load_recipe(recipe_path), log=lines.append)
        assert len(fake.log) == calls_first  # the rerun asked nothing
    rl = result.report["rl"]
    assert again.report["rl"] == rl and again.fingerprint == result.fingerprint
    assert not (result.build_dir / "graph.json").exists()  # templates from a file: no graph stage
    assert rl["templates"]["total"] == 107 and 30 <= rl["templates"]["usable"] <= 107
    counts = rl["counts"]
    assert counts["attempts"] == 214 and counts["rows"] == result.counts["rl_rows"] >= 30
    assert counts["rows"] + sum(rl["rejected_by_stage"].values()) == counts["attempts"]
    assert counts["llm_calls"] == calls_first == counts["validated"]  # one query per validated chain
    assert rl["cache"]["imported"] == rl["cache"]["entries"] == 379 and rl["cache"]["by_provenance"]["real"] == 379
    assert rl["yield"]["per_request"] == round(counts["rows"] / 214, 4)
    assert result.report["llm_usage"]["by_step"]["rl_query"]["calls"] == calls_first
    require_publishable(result)  # rl rows alone are publishable

    out = result.dataset_dir
    card = (out / "README.md").read_text()
    configs = {c["config_name"]: c for c in read_card_metadata(card)["configs"]}
    assert set(configs) == {"rl", "rl_cache", "rejected"}
    assert f"Yield: {counts['rows']} rows from 214 requested chains" in card and "| chains sampled |" in card
    # datasets caches a local folder's configs under the folder's name ("dataset") and a hash that the files' paths
    # and contents do not change: a private cache_dir, or a row of another build comes back
    local = dict(split="train", cache_dir=str(tmp_path / "datasets"))
    rows = load_dataset(str(out), "rl", **local)
    cache_rows = load_dataset(str(out), "rl_cache", **local)
    rejected = load_dataset(str(out), "rejected", **local)
    assert rows.num_rows == counts["rows"] and cache_rows.num_rows == 379
    assert set(rejected["stage"]) <= {"rl_sampling", "rl_duplicate"} and all(rejected["reason"])
    assert rows[0]["recipe_fingerprint"] == result.fingerprint and rows[0]["generator_model"] == "openai:fake"
    assert all(len(json.loads(t)) == len(set(a)) + 4 for t, a in zip(rows["tools"], rows["api_ids"]))
    check_rows_replay_and_score(rows, cache_rows)
    assert any(line.startswith(f"rl: {counts['rows']} rows from 214 requested chains") for line in lines), lines

    # every query fails the value check: no row, and nothing to publish, with the rl stages named
    fake = FakeLLM(0.0, respond=lambda prompt: "Find me something nice." if VALUES_MARKER in prompt else "")
    with fake.serve() as url:
        failed = run_build(load_recipe(booking_recipe(tmp_path, url, "draws: 12")), log=lambda line: None)
    assert failed.counts["rl_rows"] == 0 and failed.report["rl"]["rejected_by_stage"]["rl_query"] >= 1
    with pytest.raises(NothingToPublish, match="rl_query: "):
        require_publishable(failed)


# ------------------------------------------------------------------------------------------------ goat build + publish


def demo_api(log: list[tuple[str, str]], phase: list[str]) -> Any:
    from goat_datasets.demo_api.app import create_app

    app = create_app(seed=0)

    @app.middleware("http")
    async def record(request: Any, call_next: Any) -> Any:
        if request.url.path not in ("/health", "/openapi.json"):
            log.append((phase[0], f"{request.method} {request.url.path}?{request.url.query}"))
        return await call_next(request)

    return app


def goat(args: list[str], cache: Path, out: Path, timeout: float = 600) -> str:
    env = {**os.environ, "GOAT_CACHE_DIR": str(cache), "HF_HOME": str(cache / "hf-home"), "COLUMNS": "240"}
    env.pop("HF_ENDPOINT", None)
    exe = Path(sys.executable).with_name("goat")
    with out.open("w") as f:
        proc = subprocess.Popen([str(exe), *args], env=env, stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
        try:
            proc.wait(timeout=timeout)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    text = " ".join(out.read_text().split())
    assert proc.returncode == 0, text[-4000:]
    return text


@pytest.mark.slow
def test_goat_build_and_publish_the_rl_demo_recipe_then_load_replay_and_score(tmp_path: Path):
    """recipes/rl-demo.yaml with the real parts: demo API over HTTP (graph, growth), the fake LLM over HTTP, the local
    Hub, and `datasets.load_dataset` of the published version."""
    from datasets import load_dataset

    from goat_datasets.hub.endpoint import use_hub_endpoint
    from goat_datasets.hub.server import running_hub
    from goat_datasets.servers import serve_in_thread

    fake = FakeLLM(0.0, respond=answer)
    api_log: list[tuple[str, str]] = []
    phase = ["build"]
    cache = tmp_path / "cache"
    with fake.serve() as llm_url, serve_in_thread(demo_api(api_log, phase), health_path="/health") as api, \
            running_hub(tmp_path / "hub") as hub:  # fmt: skip
        recipe = yaml.safe_load(RL_DEMO.read_text())
        recipe["sources"][0]["spec"] = f"{api}/openapi.json"
        recipe["sources"][0]["base_url"] = api
        recipe["llm"] = {"provider": "openai", "base_url": llm_url, "model": "fake"}
        assert set(recipe["sources"][0]["exclude"]) == set(WRITE_OPERATIONS)
        path = tmp_path / "rl-demo.yaml"
        path.write_text(yaml.safe_dump(recipe, sort_keys=False))

        fake.phase = "build"
        out = goat(["build", str(path)], cache, tmp_path / "build.log")
        build_llm = fake.requests("build")
        build_api = [r for p, r in api_log if p == "build"]
        fake.phase = phase[0] = "publish"
        published = goat(["publish", str(path), "--endpoint", hub], cache, tmp_path / "publish.log")
        assert "published org/goat-rl-demo@v1.0.0" in published, published[-2000:]
        # publishing rebuilt from the build directory: no API or LLM call again
        assert fake.requests("publish") == [] and [r for p, r in api_log if p == "publish"] == []

        build_dir = next((cache / "builds").glob("goat-rl-demo-*"))
        report = json.loads((build_dir / "build_report.json").read_text())
        with use_hub_endpoint(hub):
            kwargs = dict(revision="v1.0.0", split="train", cache_dir=str(tmp_path / "datasets"))
            rows = load_dataset("org/goat-rl-demo", "rl", **kwargs)
            cache_rows = load_dataset("org/goat-rl-demo", "rl_cache", **kwargs)

    rl = report["rl"]
    growth = rl["cache"]["growth"]
    assert "rl: grew the cache by" in out and rl["templates"]["from"] == "graph"
    assert rl["templates"]["total"] == len(json.loads((build_dir / "chains.json").read_text())) >= 2
    # the cache holds exactly the growth's live calls to the demo API (the graph stage made the other requests)
    assert 2 <= growth["live"] <= len(build_api) and growth["ok"] >= 2
    assert growth["live"] == rl["cache"]["entries"] == rl["cache"]["by_provenance"]["real"] == cache_rows.num_rows
    assert all(p == "real" for p in cache_rows["provenance"])
    assert rows.num_rows == rl["counts"]["rows"] == report["counts"]["rl_rows"] >= 2
    assert rl["counts"]["llm_calls"] == rl["counts"]["validated"]
    llm_kinds = [kind for kind, _ in build_llm]
    assert llm_kinds.count("query") == rl["counts"]["llm_calls"]
    assert llm_kinds.count("arguments") == report["llm_usage"]["by_step"]["rl_arguments"]["calls"] >= 1
    assert set(rows["provenance"]) == {"real"} and all(r["template_id"].startswith("chain-") for r in rows)
    check_rows_replay_and_score(rows, cache_rows)
    print(f"\nrl-demo: {rl['templates']['total']} templates, growth {growth['live']} live calls "
          f"({len(build_api)} demo API requests in the build), {rows.num_rows} rows of {rl['counts']['attempts']} "
          f"requested, {len(build_llm)} LLM requests; publish: 0 API, 0 LLM")
