"""The `goat` command. The top floor: the only module that may wire builders, the Hub server and the demo API together.

Commands that take a recipe accept ``--set key.path=value`` (`SetOption`), applied by `load_recipe` before
validation, so the recipe schema stays the single source of truth for the file and the command line alike.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from goat_datasets import __version__
from goat_datasets.recipe import Recipe, RecipeError, list_recipes, load_recipe, resolve_recipe_path

app = typer.Typer(
    name="goat",
    no_args_is_help=True,
    add_completion=False,
    help="Build synthetic tool-use datasets (GOAT) from API documents, declared as YAML recipes.",
)
recipes_app = typer.Typer(no_args_is_help=True, help="The recipes shipped with goat-datasets and in ./recipes.")
app.add_typer(recipes_app, name="recipes")

RecipeArgument = Annotated[
    str, typer.Argument(help="A recipe file, or the name of a listed recipe (see `goat recipes list`).")
]
SetOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--set",
        metavar="KEY.PATH=VALUE",
        help="Override a recipe field, e.g. --set sampling.n=20 --set sources[0].base_url=http://127.0.0.1:9000 "
        "(value read as YAML; repeatable).",
    ),
]


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"goat-datasets {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Build synthetic tool-use datasets (GOAT) from API documents, declared as YAML recipes."""


def load_recipe_or_exit(recipe: str, overrides: list[str] | None, *, exit_code: int = 1) -> Recipe:
    """Load a recipe for a command; on problems print every issue to stderr and exit with ``exit_code``."""
    try:
        return load_recipe(resolve_recipe_path(recipe), overrides or [])
    except RecipeError as exc:
        for issue in exc.issues:
            typer.echo(str(issue), err=True)
        count = len(exc.issues)
        typer.echo(f"{count} issue{'s' if count != 1 else ''} found.", err=True)
        raise typer.Exit(code=exit_code) from None


def describe(recipe: Recipe) -> str:
    """One line that says what a valid recipe will build."""
    n_sources = len(recipe.sources)
    outputs = [name for name, value in recipe.outputs if value is not None]
    s = recipe.sampling
    return (
        f"{recipe.name} {recipe.version} ({n_sources} source{'s' if n_sources != 1 else ''}: "
        f"{', '.join(src.name for src in recipe.sources)}; {s.n} samples of {s.min_calls}-{s.max_calls} calls; "
        f"outputs: {', '.join(outputs) or 'none'}; llm: {recipe.llm.provider}/{recipe.llm.model}; "
        f"publishes to {recipe.hub.repo_id}@{recipe.tag})"
    )


@app.command()
def validate(recipe: RecipeArgument, set_: SetOption = None) -> None:
    """Check a recipe and print every problem at once (file:line:col: field.path: message)."""
    loaded = load_recipe_or_exit(recipe, set_)
    typer.echo(f"OK: {describe(loaded)}")


@recipes_app.command("list")
def recipes_list() -> None:
    """List the recipes in ./recipes and the shipped recipes/ folder, with the command that builds each."""
    infos = list_recipes()
    console = Console()
    if not infos:
        console.print("No recipes found in ./recipes or the shipped recipes/ folder.")
        return
    table = Table(title="goat recipes", show_lines=False)
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("path", no_wrap=True)
    table.add_column("description / problem")
    table.add_column("command")
    for info in infos:
        about = f"[red]invalid: {escape(info.error)}[/]" if info.error else escape(info.description)
        table.add_row(escape(info.name), escape(str(info.path)), about, escape(info.command))
    console.print(table)


def _console() -> Console:
    return Console(highlight=False)


@app.command()
def build(recipe: RecipeArgument, set_: SetOption = None) -> None:
    """Build a recipe into a local dataset folder (resumable: finished stages are reused)."""
    from goat_builders.build import run_build

    loaded = load_recipe_or_exit(recipe, set_)
    console = _console()
    console.print(f"[bold]goat build[/] {describe(loaded)}")
    try:
        result = run_build(loaded, log=console.print)
    except Exception as exc:  # one readable line instead of a traceback for expected failures
        _fail(console, "build failed", exc)
    console.print(f"[green]done[/]: {result.dataset_dir}  (publish with: goat publish {recipe})")


@app.command()
def graph(
    recipe: RecipeArgument,
    explain: Annotated[
        Optional[tuple[str, str]],
        typer.Option("--explain", metavar="A B", help="Say why the edge A -> B exists or not (API ids or names)."),
    ] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Build the graph again even if one exists.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables.")] = False,
    set_: SetOption = None,
) -> None:
    """Build only a recipe's dependency graph (reusing the build's graph.json) and summarise it, or --explain one edge.

    Writes graph.json, graph_stats.json, graph.graphml (Gephi, yEd) and graph.png in the build directory. Exit
    status 2 for bad input (an invalid recipe, an unknown API name).
    """
    from goat_datasets.cli_graph import BAD_INPUT, run_graph_command

    loaded = load_recipe_or_exit(recipe, set_, exit_code=BAD_INPUT)
    status = run_graph_command(loaded, explain=explain, rebuild=rebuild, as_json=json_, console=_console())
    raise typer.Exit(code=status)


@app.command()
def publish(
    recipe: RecipeArgument,
    version: Annotated[
        Optional[str], typer.Option(help="Version to publish as tag vX.Y.Z (default: the recipe's version).")
    ] = None,
    endpoint: Annotated[
        Optional[str],
        typer.Option(help="Hub URL (default: $HF_ENDPOINT, else huggingface.co); e.g. http://127.0.0.1:8740."),
    ] = None,
    set_: SetOption = None,
) -> None:
    """Build (or reuse the build of) a recipe and publish it as a tagged version on the Hub.

    Publishing the same build again is a no-op; publishing different data under an existing version is refused.
    """
    import os

    from goat_builders.build import require_publishable, run_build
    from goat_datasets.hub.client import publish_build, version_tag
    from goat_datasets.hub.endpoint import client_settings_for

    overrides = list(set_ or []) + ([f"version={version}"] if version else [])
    loaded = load_recipe_or_exit(recipe, overrides)
    console = _console()
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    try:
        result = run_build(loaded, log=console.print)
        require_publishable(result)
        with client_settings_for(endpoint):
            revision, uploaded = publish_build(
                loaded.hub.repo_id,
                result.dataset_dir,
                loaded.version,
                result.fingerprint,
                endpoint=endpoint,
                private=loaded.hub.private,
            )
    except Exception as exc:
        _fail(console, "publish failed", exc)
    where = endpoint or "https://huggingface.co"
    tag = version_tag(loaded.version)
    if uploaded:
        console.print(f"[green]published[/] {loaded.hub.repo_id}@{tag} (commit {revision[:12]}) on {where}")
    else:
        console.print(f"{loaded.hub.repo_id}@{tag} already holds this build on {where}: nothing to do")


def _fail(console: Console, what: str, exc: BaseException) -> None:
    console.print(f"[red]{what}[/]: {escape(f'{type(exc).__name__}: {exc}')}")
    raise typer.Exit(code=1)


hub_app = typer.Typer(no_args_is_help=True, help="The local Hugging Face Hub (offline, loopback only).")
app.add_typer(hub_app, name="hub")
demo_api_app = typer.Typer(no_args_is_help=True, help="The bundled demo API (FastAPI + SQLite, seeded data).")
app.add_typer(demo_api_app, name="demo-api")
from goat_datasets.cli_cache import cache_app  # noqa: E402  (goat cache import / stats)

app.add_typer(cache_app, name="cache")


@hub_app.command("serve")
def hub_serve(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8740,
    data_dir: Annotated[
        Optional[str], typer.Option(help="Where repositories are stored (default $GOAT_CACHE_DIR/hub).")
    ] = None,
    host: Annotated[str, typer.Option(help="Loopback address to bind.")] = "127.0.0.1",
) -> None:
    """Serve the local Hub; point clients at it with HF_ENDPOINT=http://127.0.0.1:PORT HF_HUB_DISABLE_XET=1."""
    from pathlib import Path

    from goat_datasets.hub.server import serve_hub
    from goat_datasets.cache_dir import cache_dir

    directory = Path(data_dir).expanduser() if data_dir else cache_dir("hub")
    typer.echo(f"local Hub on http://{host}:{port} storing {directory}")
    typer.echo(f"use it with: export HF_ENDPOINT=http://{host}:{port} HF_HUB_DISABLE_XET=1")
    try:
        serve_hub(host=host, port=port, data_dir=directory)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None


@demo_api_app.command("serve")
def demo_api_serve(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8765,
    seed: Annotated[int, typer.Option(help="Seed of the generated world (same seed, same data).")] = 0,
    host: Annotated[str, typer.Option(help="Loopback address to bind.")] = "127.0.0.1",
) -> None:
    """Serve the demo API; its OpenAPI document is at /openapi.json (the source of recipes/demo.yaml)."""
    from goat_datasets.demo_api.app import serve

    typer.echo(f"demo API on http://{host}:{port} (OpenAPI: http://{host}:{port}/openapi.json)")
    try:
        serve(host=host, port=port, seed=seed)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None


@app.command()
def demo(
    samples: Annotated[
        Optional[int], typer.Option(help="Samples to build (default: the demo recipe's sampling.n).")
    ] = None,
    api_port: Annotated[int, typer.Option(help="Port of the demo API (a fixed port keeps the build cache warm).")] = 8765,
    set_: SetOption = None,
) -> None:
    """The whole path offline: demo API + local Hub, build recipes/demo.yaml, publish v1.0.0, load it back, show a row."""
    from goat_datasets.cli_demo import run_demo

    overrides = list(set_ or []) + ([f"sampling.n={samples}"] if samples else [])
    console = _console()
    try:
        run_demo(console, overrides=overrides, api_port=api_port)
    except RecipeError as exc:
        for issue in exc.issues:
            typer.echo(str(issue), err=True)
        raise typer.Exit(code=1) from None
    except Exception as exc:
        _fail(console, "demo failed", exc)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
