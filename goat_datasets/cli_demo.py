"""`goat demo`: the whole path on one machine, offline. Part of the CLI floor (it wires servers and builders).

Steps: start the local Hub and the demo API on loopback, build ``recipes/demo.yaml`` against that API, publish it
as ``org/goat-demo`` v1.0.0, load it back with ``datasets.load_dataset`` in a fresh process that only knows
``HF_ENDPOINT`` (exactly what a user would run), and print one row as the model sees it.

The demo's Hub keeps its repositories in ``$GOAT_CACHE_DIR/demo-hub``, emptied at every start so the demo can
always publish 1.0.0 (a real Hub never lets a version change). The builds are cached as usual: a second run with
the same code reuses the graph, the chains and the generated rows and takes seconds plus model start-up.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

DEMO_RECIPE = "demo"

_LOAD_SCRIPT = """
import json, sys
from datasets import load_dataset
repo, config, revision = sys.argv[1:4]
ds = load_dataset(repo, config, revision=revision, split="train")
print(json.dumps({"rows": ds.num_rows, "columns": ds.column_names, "first": ds[0] if ds.num_rows else None},
                 default=str))
"""


def _port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def load_back(repo_id: str, config: str, revision: str, endpoint: str) -> dict[str, Any]:
    """``load_dataset(repo_id, config, revision=...)`` in a new process whose only pointer to the Hub is HF_ENDPOINT."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="goat-demo-load-") as fresh_cache:
        env = {
            **os.environ,
            "HF_ENDPOINT": endpoint,
            "HF_HUB_DISABLE_XET": "1",
            "HF_HOME": fresh_cache,  # no earlier download can stand in for the Hub's answer
            "HF_DATASETS_OFFLINE": "0",
            "HF_HUB_OFFLINE": "0",
        }
        proc = subprocess.run(
            [sys.executable, "-c", _LOAD_SCRIPT, repo_id, config, revision],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"load_dataset({repo_id!r}, {config!r}, revision={revision!r}) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def show_row(console: Console, row: dict[str, Any], model: str) -> None:
    """Print the row's conversation and its chat-template rendering with the generating model's tokenizer."""
    from goat_datasets.formats.render import chat_template_inputs, conversation_part, render_row
    from goat_datasets.llm.loading import load_tokenizer

    messages, tools = chat_template_inputs(row)
    lines = []
    for m in messages:
        if m.get("tool_calls"):
            for call in m["tool_calls"]:
                fn = call["function"]
                lines.append(f"[cyan]assistant → {fn['name']}[/]({escape(json.dumps(fn['arguments'], ensure_ascii=False))})")
        elif m["role"] == "tool":
            text = m.get("content") or ""
            lines.append(f"[dim]tool {escape(m.get('name') or '')}: {escape(text[:300])}{' …' if len(text) > 300 else ''}[/]")
        else:
            lines.append(f"[bold]{m['role']}[/]: {escape(m.get('content') or '')}")
    console.print(Panel("\n".join(lines), title=f"sample {row.get('id', '')} ({len(tools)} tools offered)"))
    tokenizer = load_tokenizer(model)
    rendered = render_row(tokenizer, row)
    n_tokens = len(tokenizer(rendered)["input_ids"])
    console.print(
        f"rendered with the {model} chat template (tools included): {len(rendered):,} characters, {n_tokens:,} tokens;"
        " the conversation part:"
    )
    console.print(escape(conversation_part(rendered, tools)), soft_wrap=True)


def run_demo(console: Console, *, overrides: list[str] | None = None, api_port: int = 8765) -> None:
    from goat_builders.build import require_publishable, run_build
    from goat_datasets.cache_dir import cache_dir
    from goat_datasets.demo_api.app import create_app
    from goat_datasets.hub.client import publish_build, version_tag
    from goat_datasets.hub.endpoint import client_settings_for
    from goat_datasets.hub.server import running_hub
    from goat_datasets.recipe import load_recipe, resolve_recipe_path
    from goat_datasets.servers import free_port, serve_in_thread

    started = time.monotonic()
    hub_dir = cache_dir("demo-hub")
    shutil.rmtree(hub_dir, ignore_errors=True)
    if not _port_is_free(api_port):
        new_port = free_port()
        console.print(
            f"[yellow]port {api_port} is busy; the demo API uses {new_port} (its URL is part of the recipe, so "
            "this build cannot reuse the cache of earlier demo runs)[/]"
        )
        api_port = new_port
    with serve_in_thread(create_app(seed=0), port=api_port, health_path="/health") as api_url, running_hub(
        hub_dir
    ) as hub_url:
        console.print(f"demo API: {api_url}/openapi.json   local Hub: {hub_url} ({hub_dir})")
        os.environ["GOAT_DEMO_API"] = api_url
        recipe = load_recipe(resolve_recipe_path(DEMO_RECIPE), overrides or [])
        result = run_build(recipe, log=console.print)
        require_publishable(result)
        repo_id, tag = recipe.hub.repo_id, version_tag(recipe.version)
        with client_settings_for(hub_url):  # a loopback Hub: Xet off, it stores LFS like most mirrors
            revision, _ = publish_build(
                repo_id, result.dataset_dir, recipe.version, result.fingerprint, endpoint=hub_url
            )
        console.print(f"published {repo_id}@{tag} (commit {revision[:12]}) to the local Hub")
        console.print(f'loading it back: HF_ENDPOINT={hub_url} load_dataset("{repo_id}", "sft", revision="{tag}")')
        loaded = load_back(repo_id, "sft", tag, hub_url)
        console.print(f"loaded {loaded['rows']} rows with columns {', '.join(loaded['columns'])}")
        # require_publishable guaranteed at least one row
        show_row(console, loaded["first"], recipe.llm.model if recipe.llm.provider == "transformers" else "default")
    counts = result.counts
    console.print(
        f"[bold green]Hub id: {repo_id}@{tag}[/]  ({counts['kept']} of {counts['sampled']} samples kept; "
        f"{time.monotonic() - started:.0f}s). Serve it again with: goat hub serve --data-dir {hub_dir}"
    )
