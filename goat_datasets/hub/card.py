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
    stages: dict[str, int] | None = None,
    filters: dict[str, str] | None = None,
    template_checks: dict[str, Any] | None = None,
) -> str:
    """``configs``: config name -> splits (files are ``data/<config>/<split>-*.parquet``). ``stages``: items left
    after each stage, in order (replaces ``counts`` in the table when given); ``usage``: LLM totals, with
    ``by_step`` (per kind of call: calls and tokens) shown as a table; ``filters``: the filter settings;
    ``template_checks``: `builders.build.check_chat_templates`'s report (which sft rows each chat template takes)."""
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
    if stages:
        lines += ["| stage | items left | removed |", "|---|---|---|"]
        previous = None
        for k, v in stages.items():
            lines.append(f"| {k.replace('_', ' ')} | {v} | {'' if previous is None else previous - v} |")
            previous = v
    else:
        lines.append("| stage | rows |")
        lines.append("|---|---|")
        lines += [f"| {k} | {v} |" for k, v in counts.items()]
    if filters:
        lines += [""] + [f"- {k.replace('_', ' ')}: {v}" for k, v in filters.items()]
    lines += ["", "| model | id |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in models.items()]
    if usage:
        by_step = usage.get("by_step") or {}
        if by_step:
            model = models.get("llm", "")
            lines += ["", "| LLM step | model | calls | failed | prompt tokens | completion tokens |"]
            lines.append("|---|---|---|---|---|---|")
            for step, u in by_step.items():
                lines.append(
                    f"| {step} | {model} | {u.get('calls', 0)} | {u.get('failed_calls', 0)} | "
                    f"{u.get('prompt_tokens', 0)} | {u.get('completion_tokens', 0)} |"
                )
        totals = {k: v for k, v in usage.items() if not isinstance(v, dict)}
        lines += ["", "LLM usage: " + ", ".join(f"{k} {v}" for k, v in totals.items())]
    if template_checks:
        lines += ["", "### Chat templates", ""]
        if template_checks.get("skipped"):
            lines.append(f"Not checked: {template_checks['skipped']}")
        else:
            lines += ["| template | model | rows rendered | rows rejected |", "|---|---|---|---|"]
            for name, check in template_checks.get("templates", {}).items():
                lines.append(f"| {name} | {check['model']} | {check['rendered']} | {check['rejected']} |")
            for name, check in template_checks.get("templates", {}).items():
                if check.get("examples"):
                    lines.append(f"\n{name} rejects e.g. `{check['examples'][0]['id']}`: {check['examples'][0]['reason']}")
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
