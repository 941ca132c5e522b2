"""The dataset card (README.md) of a published build: Hub metadata, how to load it, and how it was made.

The card carries the fingerprint and the verbatim recipe so a published version can be audited and rebuilt, and so
`goat publish` can tell "this exact build is already published" (idempotent) from "this tag holds other data" (refuse).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

FINGERPRINT_KEY = "goat_fingerprint"


def render_card(
    *,
    repo_id: str,
    name: str,
    version: str,
    description: str,
    license: str,
    configs: dict[str, list[str]],
    fingerprint: str,
    code_version: str,
    models: dict[str, str],
    counts: dict[str, int],
    recipe_text: str,
    sources: list[dict[str, Any]],
    usage: dict[str, Any] | None = None,
) -> str:
    """``configs``: config name -> splits (files are ``data/<config>/<split>-*.parquet``)."""
    meta = {
        "license": license,
        "pretty_name": name,
        "tags": ["tool-use", "function-calling", "synthetic", "goat-datasets"],
        "task_categories": ["text-generation"],
        "configs": [
            {
                "config_name": cfg,
                "data_files": [{"split": split, "path": f"data/{cfg}/{split}-*.parquet"} for split in splits],
            }
            for cfg, splits in configs.items()
        ],
        FINGERPRINT_KEY: fingerprint,
        "goat_version": version,
        "goat_code_version": code_version,
    }
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    lines = [
        "---",
        front.rstrip(),
        "---",
        "",
        f"# {name} {version}",
        "",
        description.strip() or "Synthetic tool-use dataset built with goat-datasets.",
        "",
        "## Load it",
        "",
        "```python",
        "from datasets import load_dataset",
    ]
    for cfg in configs:
        lines.append(f'{cfg} = load_dataset("{repo_id}", "{cfg}", revision="v{version}")')
    lines += ["```", "", "## How it was made", ""]
    lines.append("| stage | rows |")
    lines.append("|---|---|")
    lines += [f"| {k} | {v} |" for k, v in counts.items()]
    lines += ["", "| model | id |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in models.items()]
    if usage:
        lines += ["", "LLM usage: " + ", ".join(f"{k} {v}" for k, v in usage.items())]
    lines += ["", "### Sources", ""]
    for s in sources:
        lines.append(f"- `{s['name']}` ({s.get('kind', 'openapi')}): {s.get('spec', '')}")
    lines += [
        "",
        f"Fingerprint: `{fingerprint}` (recipe, spec contents, model ids and code version). "
        f"Code version: `{code_version}`.",
        "",
        "### Recipe",
        "",
        "```yaml",
        recipe_text.rstrip(),
        "```",
        "",
    ]
    return "\n".join(lines)


def read_card_metadata(card_text: str) -> dict[str, Any]:
    m = re.match(r"^---\n(.*?)\n---\n", card_text, flags=re.S)
    if not m:
        return {}
    data = yaml.safe_load(m.group(1))
    return data if isinstance(data, dict) else {}
