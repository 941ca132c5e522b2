"""The SFT-traces pipeline: sampled chains -> executed calls -> query + final answer -> SFT rows.

The graph and the chains are computed by the core library before the pipeline (they are cheap and deterministic);
the pipeline holds the expensive, resumable part: API calls and LLM calls. Its cache lives in the build directory,
which the recipe fingerprint names, so re-running an interrupted build continues where it stopped.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import warnings

# distilabel 1.5.3's models trip a pydantic >= 2.12 warning at import; it is about distilabel's code, not the user's.
warnings.filterwarnings("ignore", message=r"The 'default' attribute with value None was provided to the `Field\(\)`")

from distilabel.pipeline import Pipeline  # noqa: E402
from distilabel.steps import LoadDataFromDicts  # noqa: E402

from goat_builders.steps.traces import ExecuteChains, FormatSFT, WriteQueryAndAnswer  # noqa: E402


def build_pipeline(
    *,
    name: str,
    build_dir: Path,
    chains: list[dict[str, Any]],
    sources: list[dict[str, Any]],
    llm_config: dict[str, Any],
    system_prompt: str | None = None,
    batch_size: int = 8,
) -> Pipeline:
    rows = [{"chain_id": c["id"], "chain": json.dumps(c, sort_keys=True)} for c in chains]
    with Pipeline(name=f"goat-sft-{name}", cache_dir=str(build_dir / "distilabel")) as pipeline:
        load = LoadDataFromDicts(name="load_chains", data=rows, batch_size=batch_size)
        execute = ExecuteChains(
            name="execute_chains",
            build_dir=str(build_dir),
            llm_config=llm_config,
            sources=sources,
            input_batch_size=batch_size,
        )
        write = WriteQueryAndAnswer(
            name="write_query_and_answer", build_dir=str(build_dir), llm_config=llm_config, input_batch_size=batch_size
        )
        fmt = FormatSFT(
            name="format_sft", build_dir=str(build_dir), system_prompt=system_prompt, input_batch_size=batch_size
        )
        load >> execute >> write >> fmt
    return pipeline


def run_pipeline(pipeline: Pipeline, *, use_cache: bool = True, quiet: bool = True) -> list[dict[str, Any]]:
    """Run and return the rows of the last step (ok and rejected)."""
    if quiet:
        for name in ("distilabel", "distilabel.pipeline", "distilabel.step"):
            logging.getLogger(name).setLevel(logging.WARNING)
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        distiset = pipeline.run(use_cache=use_cache)
    finally:
        # distilabel leaves a handler on the root logger that feeds a queue it closes when the run ends; any later
        # log record (httpx during publish, say) would then print a "Logging error" traceback.
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    ds = distiset["default"]["train"]
    return ds.to_list()
