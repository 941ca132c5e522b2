"""Recipe schema, loading with line-numbered issues, env interpolation, overrides, fingerprint, recipe listing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from goat_datasets import registry
from goat_datasets.recipe import (
    Recipe,
    RecipeError,
    RecipeIssue,
    build_dir,
    code_version,
    fingerprint,
    list_recipes,
    load_recipe,
    parse_recipe,
    resolve_recipe_path,
)
from goat_datasets.recipe.interpolate import InterpolationError, interpolate
from goat_datasets.recipe.paths import FieldPathError, format_loc, parse_field_path

REPO = Path(__file__).resolve().parents[1]
from shared_data import SHARED_DATA  # noqa: E402

VALID = """\
# goat build valid.yaml   (override: --set sampling.n=20)
name: films
version: 1.2.3
hub:
  repo_id: org/films
sources:
  - name: films
    spec: films.json
    base_url: http://127.0.0.1:8765
"""


def write(tmp_path: Path, text: str, name: str = "recipe.yaml", spec: bool = True) -> Path:
    if spec:
        (tmp_path / "films.json").write_text('{"openapi": "3.0.0"}')
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def issues_of(path: Path, **kwargs) -> list[RecipeIssue]:
    with pytest.raises(RecipeError) as err:
        load_recipe(path, **kwargs)
    return err.value.issues


def only_issue(path: Path, **kwargs) -> RecipeIssue:
    issues = issues_of(path, **kwargs)
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


# --- a valid recipe ---------------------------------------------------------------------------------------------


def test_valid_recipe_gets_defaults_path_and_spec_resolution(tmp_path):
    path = write(tmp_path, VALID)
    recipe = load_recipe(path)
    assert recipe.name == "films" and recipe.tag == "v1.2.3" and recipe.path == path.resolve()
    assert recipe.sampling.n == 10 and recipe.sampling.max_calls == 4 and recipe.llm.provider == "transformers"
    assert recipe.outputs.sft is not None and recipe.outputs.sft.split == "train"
    source = recipe.sources[0]
    assert source.kind == "openapi" and source.executor == "http" and source.timeout_s == 10
    assert source.effective_allowed_hosts() == ["127.0.0.1"]
    assert recipe.resolve_spec_path(source) == str((tmp_path / "films.json").resolve())
    assert recipe.resolve_spec_path("films") == str((tmp_path / "films.json").resolve())
    assert "path" not in recipe.model_dump() and "_path" not in recipe.model_dump_json()
    assert Recipe.model_validate(recipe.model_dump()).model_dump() == recipe.model_dump()  # dumps round-trip


def test_url_spec_is_kept_and_not_checked_on_disk(tmp_path):
    path = write(tmp_path, VALID.replace("spec: films.json", "spec: https://api.example.com/openapi.json"), spec=False)
    recipe = load_recipe(path)
    assert recipe.resolve_spec_path(recipe.sources[0]) == "https://api.example.com/openapi.json"


def test_include_exclude_select_operations(tmp_path):
    text = VALID + "    include: ['search_*', 'get_*']\n    exclude: ['*_admin']\n"
    source = load_recipe(write(tmp_path, text)).sources[0]
    assert source.selects("search_movies") and source.selects("get_movie")
    assert not source.selects("delete_movie") and not source.selects("get_admin")


def test_merge_keys_and_aliases_work(tmp_path):
    text = VALID.replace("base_url: http", "base_url: &api http")
    text += "llm: {provider: openai, base_url: *api}\nsampling:\n  <<: {n: 5, seed: 7}\n  n: 6\n"
    recipe = load_recipe(write(tmp_path, text))
    assert (recipe.sampling.n, recipe.sampling.seed) == (6, 7)
    assert recipe.llm.base_url == "http://127.0.0.1:8765"


def test_demo_recipe_loads_with_default_and_custom_api_address():
    demo = REPO / "recipes" / "demo.yaml"
    assert demo.read_text().startswith("# goat demo   (or: goat build recipes/demo.yaml, with the demo API running)\n")
    recipe = load_recipe(demo, environ={})
    assert (recipe.name, recipe.version, recipe.hub.repo_id) == ("goat-demo", "1.0.0", "org/goat-demo")
    source = recipe.sources[0]
    assert (source.name, source.kind, source.executor) == ("demo", "openapi", "http")
    assert source.spec == "http://127.0.0.1:8765/openapi.json" and source.base_url == "http://127.0.0.1:8765"
    s = recipe.sampling
    assert (s.n, s.min_calls, s.max_calls, s.seed) == (3, 2, 3, 0)
    assert (recipe.graph.candidates, recipe.graph.top_k, recipe.outputs.sft.split) == ("default", None, "train")
    moved = load_recipe(demo, environ={"GOAT_DEMO_API": "http://127.0.0.1:9000"})
    assert moved.sources[0].spec == "http://127.0.0.1:9000/openapi.json"


# --- every kind of issue, with its line and field path --------------------------------------------------------


def test_yaml_syntax_error_is_one_issue_with_its_line(tmp_path):
    path = write(tmp_path, "name: x\nhub:\n  repo_id: [org/x\nsources: []\n")
    issue = only_issue(path)
    assert issue.line == 4 and "YAML syntax error" in issue.message and issue.field_path == ""


def test_empty_file_and_non_mapping_top_level(tmp_path):
    issue = only_issue(write(tmp_path, "# only a comment\n", "empty.yaml"))
    assert "empty" in issue.message and "name, version" in issue.message
    issue = only_issue(write(tmp_path, "\n- name: x\n", "list.yaml"))
    assert (issue.line, issue.column) == (2, 1) and "must be a mapping" in issue.message and "a list" in issue.message
    issue = only_issue(write(tmp_path, "just text\n", "scalar.yaml"))
    assert "'just text'" in issue.message


def test_unsafe_tags_recursive_aliases_and_odd_keys_are_issues_not_crashes(tmp_path):
    text = "name: x\nversion: !!python/name:os.system ''\nhub: &h {repo_id: org/x, self: *h}\n? [a]\n: 1\n"
    issues = issues_of(write(tmp_path, text))
    got = [(i.line, i.column, i.field_path) for i in issues]
    assert got == [(1, 1, "sources"), (2, 10, "version"), (3, 6, "hub.self"), (4, 3, "")]
    assert "could not determine a constructor" in issues[1].message and "recursive" in issues[2].message
    assert "plain name" in issues[3].message


def test_missing_file_is_an_issue(tmp_path):
    issue = only_issue(tmp_path / "nope.yaml")
    assert issue.line is None and "no such recipe file" in issue.message
    assert str(issue) == f"{tmp_path / 'nope.yaml'}: no such recipe file"


def test_unknown_field_says_did_you_mean_on_its_own_line(tmp_path):
    path = write(tmp_path, VALID + "samplng:\n  n: 3\n")
    issue = only_issue(path)
    assert (issue.line, issue.column, issue.field_path) == (10, 1, "samplng")
    assert issue.message == "unknown field 'samplng'; did you mean 'sampling'?"
    nested = write(tmp_path, VALID + "    timeout: 5\n", "nested.yaml")
    issue = only_issue(nested)
    assert (issue.line, issue.column, issue.field_path) == (10, 5, "sources[0].timeout")
    assert "did you mean 'timeout_s'?" in issue.message
    far = write(tmp_path, VALID + "zzz: 1\n", "far.yaml")
    assert "(allowed: name, version, description, license, hub, sources" in only_issue(far).message


def test_missing_required_field_points_at_the_parent_mapping(tmp_path):
    text = VALID.replace("  repo_id: org/films\n", "  private: true\n")
    issue = only_issue(write(tmp_path, text))
    assert (issue.line, issue.field_path, issue.message) == (4, "hub.repo_id", "missing required field 'repo_id'")
    text = VALID.replace("    spec: films.json\n", "")
    issue = only_issue(write(tmp_path, text, "nospec.yaml"))
    assert (issue.line, issue.column, issue.field_path) == (7, 5, "sources[0].spec")
    # a missing top-level field points at the top mapping, which starts after the opening comment
    text = VALID.replace("version: 1.2.3\n", "")
    issue = only_issue(write(tmp_path, text, "noversion.yaml"))
    assert (issue.line, issue.column, issue.field_path) == (2, 1, "version")


def test_duplicate_keys_are_errors(tmp_path):
    path = write(tmp_path, VALID + "sampling:\n  n: 3\n  seed: 1\n  n: 4\n")
    issue = only_issue(path)
    assert (issue.line, issue.column, issue.field_path) == (13, 3, "sampling.n")
    assert issue.message == "duplicate key 'n' (first defined on line 11)"


def test_type_and_range_errors_name_the_field_and_value(tmp_path):
    text = VALID + "    timeout_s: 0\nsampling: 5\ngraph:\n  threshold: 1.5\n  top_k: lots\n"
    issues = issues_of(write(tmp_path, text))
    got = {(i.line, i.field_path): i.message for i in issues}
    assert got == {
        (10, "sources[0].timeout_s"): "Input should be greater than 0 (got 0)",
        (11, "sampling"): "expected a mapping of fields here, got int 5",
        (13, "graph.threshold"): "Input should be less than or equal to 1 (got 1.5)",
        (14, "graph.top_k"): "Input should be a valid integer, unable to parse string as an integer (got 'lots')",
    }


def test_max_calls_below_min_calls_is_reported_on_max_calls(tmp_path):
    issue = only_issue(write(tmp_path, VALID + "sampling:\n  max_calls: 2\n  min_calls: 3\n"))
    assert (issue.line, issue.field_path) == (11, "sampling.max_calls")
    assert issue.message == "max_calls (2) must be >= min_calls (3)"
    # with max_calls left at its default the problem is still named on max_calls, placed on the sampling line
    issue = only_issue(write(tmp_path, VALID + "sampling:\n  min_calls: 5\n", "default.yaml"))
    assert (issue.line, issue.field_path) == (10, "sampling.max_calls") and "(4)" in issue.message
    issue = only_issue(write(tmp_path, VALID + "sampling: {max_calls: 11}\n", "big.yaml"))
    assert issue.field_path == "sampling.max_calls" and "less than or equal to 10" in issue.message


def test_names_checked_against_registries_with_did_you_mean(tmp_path, monkeypatch):
    text = VALID + "    kind: opnapi\n    executor: htp\nllm: {provider: openia}\n"
    issues = issues_of(write(tmp_path, text))
    got = [(i.line, i.field_path) for i in issues]
    assert got == [(10, "sources[0].kind"), (11, "sources[0].executor"), (12, "llm.provider")]
    assert "unknown source kind 'opnapi'; did you mean 'openapi'?" in issues[0].message
    assert "did you mean 'http'?" in issues[1].message
    assert "did you mean 'openai'?" in issues[2].message and "transformers" in issues[2].message
    # once a module registers executors, the registry (not the built-in default) is the known set
    monkeypatch.setattr(registry.executors, "_items", {"simulated": object})
    issue = only_issue(write(tmp_path, VALID, "registered.yaml"))
    assert issue.field_path == "sources[0].executor" and "known: simulated" in issue.message
    simulated = load_recipe(write(tmp_path, VALID + "    executor: simulated\n", "sim.yaml"))
    assert simulated.sources[0].executor == "simulated"


def test_slug_semver_repo_id_url_and_key_checks(tmp_path):
    text = (
        VALID.replace("name: films\nversion", "name: Films!\nversion")
        .replace("version: 1.2.3", "version: 1.2")
        .replace("org/films", "org/films/extra")
        .replace("http://127.0.0.1:8765", "127.0.0.1:8765")
        + "llm:\n  api_key_env: sk-abc123\n  base_url: ftp://x\n"
    )
    issues = issues_of(write(tmp_path, text))
    by_path = {i.field_path: (i.line, i.message) for i in issues}
    assert by_path["name"][0] == 2 and "lowercase" in by_path["name"][1]
    assert by_path["version"] == (3, "must be a string 'X.Y.Z'; YAML read 1.2 as a number (write \"1.2.0\")")
    assert by_path["hub.repo_id"][0] == 5 and "exactly one '/'" in by_path["hub.repo_id"][1]
    assert by_path["sources[0].base_url"][0] == 9 and "http:// or https://" in by_path["sources[0].base_url"][1]
    assert by_path["llm.api_key_env"][0] == 11
    assert by_path["llm.api_key_env"][1].startswith("must be the NAME of an environment variable")
    assert by_path["llm.base_url"][0] == 12
    assert len(issues) == 6


def test_duplicate_source_names_point_at_the_second_name(tmp_path):
    text = VALID + "  - name: films\n    spec: films.json\n"
    issue = only_issue(write(tmp_path, text))
    assert (issue.line, issue.column, issue.field_path) == (10, 5, "sources[1].name")
    assert issue.message == "source name 'films' is already used by sources[0]"
    # still found when another source has its own problem (the schema check cannot run then)
    issues = issues_of(write(tmp_path, text + "    timeout_s: -1\n", "both.yaml"))
    assert [(i.line, i.field_path) for i in issues] == [(10, "sources[1].name"), (12, "sources[1].timeout_s")]
    assert only_issue(write(tmp_path, VALID.replace(
        "sources:\n  - name: films\n    spec: films.json\n    base_url: http://127.0.0.1:8765\n", "sources: []\n"
    ), "none.yaml")).message == "a recipe needs at least one source"


def test_missing_local_spec_file_is_an_issue_on_the_spec_line(tmp_path):
    path = write(tmp_path, VALID.replace("films.json", "specs/absent.json"))
    issue = only_issue(path)
    assert (issue.line, issue.field_path) == (8, "sources[0].spec") and "not found" in issue.message
    assert load_recipe(path, check_files=False).sources[0].spec == "specs/absent.json"
    # an unresolved ${VAR} is reported once, as what it is
    issue = only_issue(write(tmp_path, VALID.replace("films.json", "${SPECS}/films.json"), "env.yaml"), environ={})
    assert issue.field_path == "sources[0].spec" and "SPECS is not set" in issue.message


def test_many_issues_are_reported_at_once_in_line_order(tmp_path):
    text = """\
    name: films
    version: one
    hub: {repo_id: org/films, privat: true}
    sources:
      - name: films
        spec: films.json
        kind: openap
    sampling:
      n: 0
      max_calls: 1
    """
    path = write(tmp_path, text)
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    lines = str(err.value).splitlines()
    assert lines[0] == "5 issues in the recipe:"
    assert lines[1:] == [
        f"{path}:2:1: version: must be semantic 'X.Y.Z' (like 1.0.0), got 'one'",
        f"{path}:3:27: hub.privat: unknown field 'privat'; did you mean 'private'?",
        f"{path}:7:5: sources[0].kind: unknown source kind 'openap'; did you mean 'openapi'? (known: {', '.join(registry.source_kinds.names())})",
        f"{path}:9:3: sampling.n: Input should be greater than or equal to 1 (got 0)",
        f"{path}:10:3: sampling.max_calls: max_calls (1) must be >= min_calls (2)",
    ]


# --- environment interpolation ---------------------------------------------------------------------------------


def test_interpolation_rules():
    env = {"HOST": "h.example", "EMPTY": ""}
    assert interpolate("http://${HOST}/x", env) == "http://h.example/x"
    assert interpolate("${MISSING:-http://127.0.0.1:1}/a", env) == "http://127.0.0.1:1/a"
    assert interpolate("${EMPTY:-fallback}", env) == "fallback" and interpolate("${EMPTY}", env) == ""
    assert interpolate("$${HOST} and $HOST", env) == "${HOST} and $HOST"
    bad_cases = [("${MISSING}", "MISSING is not set"), ("${1X}", "bad variable"), ("a ${HOST", "unterminated")]
    for bad, fragment in bad_cases:
        with pytest.raises(InterpolationError, match=fragment):
            interpolate(bad, env)


def test_env_interpolation_in_a_recipe(tmp_path, monkeypatch):
    text = VALID.replace("http://127.0.0.1:8765", "${FILMS_API}") + "sampling: {n: '${N:-7}'}\n"
    path = write(tmp_path, text)
    monkeypatch.setenv("FILMS_API", "http://127.0.0.1:9999")
    recipe = load_recipe(path)
    assert recipe.sources[0].base_url == "http://127.0.0.1:9999" and recipe.sampling.n == 7
    assert load_recipe(path, environ={"FILMS_API": "http://x:1", "N": "2"}).sampling.n == 2
    monkeypatch.delenv("FILMS_API")
    issue = only_issue(path)
    assert (issue.line, issue.column, issue.field_path) == (9, 15, "sources[0].base_url")
    assert issue.message == "environment variable FILMS_API is not set (set it, or give a default: ${FILMS_API:-value})"


# --- overrides -----------------------------------------------------------------------------------------------------


def test_overrides_set_values_before_validation(tmp_path):
    path = write(tmp_path, VALID + "sampling: {n: 0}\n")  # invalid in the file, fixed by the override
    recipe = load_recipe(
        path,
        [
            "sampling.n=20",
            "sources[0].base_url=http://127.0.0.1:9000",
            "sources.0.headers.X-Key=abc",
            "outputs.sft.split=test",
            "graph.verify_by_execution=false",
            "description=",
        ],
    )
    assert recipe.sampling.n == 20 and recipe.sources[0].base_url == "http://127.0.0.1:9000"
    assert recipe.sources[0].headers == {"X-Key": "abc"} and recipe.outputs.sft.split == "test"
    assert recipe.graph.verify_by_execution is False and recipe.description == ""
    assert load_recipe(path, ["sampling.n=3", "outputs.sft=null"]).outputs.sft is None


def test_override_problems_name_the_override(tmp_path):
    path = write(tmp_path, VALID)
    issues = issues_of(
        path,
        overrides=["sampling.nn=3", "sources[3].spec=x", "sampling", "graph.top_k=0", "sampling.n.x=1", "llm.model=[1"],
    )
    got = [(i.file, i.line, i.field_path, i.message) for i in issues]
    assert got[0] == ("--set sampling.nn=3", None, "", "sampling has no field 'nn'; did you mean 'n'?")
    assert got[1][0] == "--set sources[3].spec=x" and "sources[3] does not exist" in got[1][3]
    assert got[2][0] == "--set sampling" and "no '=' found" in got[2][3]
    assert got[3][0] == "--set sampling.n.x=1" and "single value" in got[3][3]
    assert got[4][0] == "--set llm.model=[1" and "not valid YAML" in got[4][3]
    assert got[5] == ("--set graph.top_k=0", None, "graph.top_k", "Input should be greater than or equal to 1 (got 0)")
    assert "--set sampling.nn=3: sampling has no field 'nn'; did you mean 'n'?" in str(issues[0])


def test_field_paths_round_trip():
    assert parse_field_path("sources[1].kind") == ("sources", 1, "kind") == parse_field_path("sources.1.kind")
    assert format_loc(("sources", 1, "headers", "a.b")) == "sources[1].headers['a.b']"
    for bad in ("", "a..b", "[0]", "a[x]"):
        with pytest.raises(FieldPathError):
            parse_field_path(bad)


# --- fingerprint -----------------------------------------------------------------------------------------------


def _tmdb_spec() -> bytes:
    spec = SHARED_DATA / "restbench-tmdb" / "tmdb_oas.json"
    if not spec.is_file():
        pytest.skip(f"shared test data not found at {spec}")
    return spec.read_bytes()


def test_fingerprint_depends_on_content_only(tmp_path):
    spec = _tmdb_spec()
    base = parse_recipe(VALID, check_files=False)
    sources_part = "sources:\n" + VALID.split("sources:\n")[1]
    reordered_text = sources_part + "hub: {repo_id: org/films}\nversion: 1.2.3\nname: films\n"
    reordered = parse_recipe(reordered_text, check_files=False)
    models = ["embedder-a", "llm-b"]
    fp = fingerprint(base, {"films": spec}, models, code="c1")
    assert len(fp) == 64 and fp == fingerprint(reordered, {"films": spec}, models, code="c1")
    # changes that do not change a row of data
    labels_only = (
        "version=9.9.9", "hub.repo_id=other/name", "hub.private=true", "description=x", "license=mit",
        "llm.concurrency=32",  # speed only: an interrupted build resumes in its directory with more requests in flight
    )  # fmt: skip
    for field_override in labels_only:
        changed = parse_recipe(VALID, overrides=[field_override], check_files=False)
        assert fingerprint(changed, {"films": spec}, models, code="c1") == fp, field_override
    # changes that do
    flipped = bytes([spec[0] ^ 1]) + spec[1:]
    assert fingerprint(base, {"films": flipped}, models, code="c1") != fp
    assert fingerprint(base, {"films": spec}, ["embedder-a", "llm-c"], code="c1") != fp
    assert fingerprint(base, {"films": spec}, models, code="c2") != fp
    for field_override in ("sampling.n=11", "sampling.seed=1", "llm.temperature=0.5", "graph.threshold=0.3"):
        changed = parse_recipe(VALID, overrides=[field_override], check_files=False)
        assert fingerprint(changed, {"films": spec}, models, code="c1") != fp, field_override
    with pytest.raises(ValueError, match="missing \\['films'\\], unexpected \\['other'\\]"):
        fingerprint(base, {"other": spec}, models, code="c1")


def test_code_version_and_build_dir(tmp_path, monkeypatch):
    version = code_version()
    assert len(version) == 64 and version == code_version()
    recipe = parse_recipe(VALID, check_files=False)
    assert fingerprint(recipe, {"films": b"{}"}, []) == fingerprint(recipe, {"films": b"{}"}, [], code=version)
    fp = "0123456789abcdef" * 4
    monkeypatch.setenv("GOAT_CACHE_DIR", str(tmp_path / "cache"))
    assert build_dir(recipe, fp) == tmp_path / "cache" / "builds" / "films-0123456789ab"
    monkeypatch.delenv("GOAT_CACHE_DIR")
    assert build_dir(recipe, fp) == Path("~/.cache/goat-datasets/builds/films-0123456789ab").expanduser()


# --- recipe listing --------------------------------------------------------------------------------------------


def test_list_recipes_reads_commands_and_lists_broken_recipes(tmp_path):
    write(tmp_path, VALID, "valid.yaml")
    write(tmp_path, "# goat build broken.yml\nname: broken\nversion: 1.0.0\n", "broken.yml")
    write(tmp_path, VALID.split("\n", 1)[1], "nocomment.yaml")
    (tmp_path / "notes.txt").write_text("not a recipe")
    infos = list_recipes([tmp_path, tmp_path])  # the same folder twice is listed once
    by_file = {info.path.name: info for info in infos}
    assert sorted(by_file) == ["broken.yml", "nocomment.yaml", "valid.yaml"]
    assert by_file["valid.yaml"].name == "films" and by_file["valid.yaml"].error is None
    assert by_file["valid.yaml"].command == "goat build valid.yaml   (override: --set sampling.n=20)"
    assert by_file["broken.yml"].name == "broken" and by_file["broken.yml"].command == "goat build broken.yml"
    assert by_file["broken.yml"].error.startswith("2 issues; first: ") and "hub" in by_file["broken.yml"].error
    assert by_file["nocomment.yaml"].command.startswith("goat build ") and by_file["nocomment.yaml"].command.endswith(
        "nocomment.yaml"
    )


def test_default_listing_has_the_demo_and_names_resolve(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # ./recipes absent: only the shipped folder
    infos = list_recipes()
    demo = [i for i in infos if i.name == "goat-demo"]
    assert len(demo) == 1 and demo[0].path.name == "demo.yaml" and demo[0].error is None
    assert demo[0].command.startswith("goat demo")
    assert resolve_recipe_path("demo").resolve() == (REPO / "recipes" / "demo.yaml").resolve()
    assert resolve_recipe_path("goat-demo").resolve() == (REPO / "recipes" / "demo.yaml").resolve()
    assert resolve_recipe_path("nothing-like-it") == Path("nothing-like-it")


def test_unknown_candidate_rule_gets_did_you_mean(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(
        "# goat build r.yaml\nname: r\nversion: 1.0.0\nhub: {repo_id: org/r}\n"
        "sources: [{name: s, spec: http://127.0.0.1:1/openapi.json}]\ngraph:\n  candidates: papr\n"
    )
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    assert any(
        ":7:" in str(i) and "graph.candidates" in str(i) and "did you mean 'paper'" in str(i) for i in err.value.issues
    ), [str(i) for i in err.value.issues]
