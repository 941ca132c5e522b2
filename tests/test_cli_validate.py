"""`goat validate`, `goat recipes list` and `goat --version` through Typer's test runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from goat_datasets import __version__
from goat_datasets.cli import app

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "recipes" / "demo.yaml"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_validate_demo_prints_ok(runner):
    result = runner.invoke(app, ["validate", str(DEMO)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK: goat-demo 1.0.0 (1 source: demo; 3 samples of 2-3 calls; outputs: sft;")
    assert "publishes to org/goat-demo@v1.0.0" in result.stdout


def test_validate_accepts_a_recipe_name_and_overrides(runner):
    result = runner.invoke(app, ["validate", "demo", "--set", "sampling.n=20", "--set", "version=2.0.0"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK: goat-demo 2.0.0 (1 source: demo; 20 samples")


def test_validate_lists_every_issue_and_exits_1(runner, tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text(
        "name: bad\nversion: 1.0.0\nhub: {repo_id: org/bad}\n"
        "sources:\n  - name: s\n    spec: http://127.0.0.1:1/openapi.json\n    executr: http\n"
        "sampling:\n  n: 0\n"
    )
    result = runner.invoke(app, ["validate", str(recipe), "--set", "graph.topk=3"])
    assert result.exit_code == 1
    assert result.stdout == ""  # problems go to stderr
    assert result.stderr.splitlines() == [
        f"{recipe}:7:5: sources[0].executr: unknown field 'executr'; did you mean 'executor'?",
        f"{recipe}:9:3: sampling.n: Input should be greater than or equal to 1 (got 0)",
        "--set graph.topk=3: graph has no field 'topk'; did you mean 'top_k'?",
        "3 issues found.",
    ]


def test_validate_reports_a_missing_file(runner, tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 1 and "absent.yaml: no such recipe file" in result.stderr


def test_recipes_list_shows_the_demo(runner, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["recipes", "list"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if "goat-demo" in line)
    assert "demo.yaml" in row and "goat demo" in row and "goat build recipes/demo.yaml" in row


def test_recipes_list_marks_broken_recipes(runner, monkeypatch, tmp_path):
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "mine.yaml").write_text("# goat build recipes/mine.yaml\nname: mine\n")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["recipes", "list"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if "recipes/mine.yaml" in line)
    assert "invalid: 3 issues; first: " in row and "goat build recipes/mine.yaml" in row
    assert "goat-demo" in result.stdout  # the shipped recipes are listed too


def test_version_and_help(runner):
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"goat-datasets {__version__}"
    result = runner.invoke(app, [])
    assert "validate" in result.output and "recipes" in result.output and "Usage" in result.output
