"""`CachedEndpointLLM`: a distilabel `LLM` over the build's OpenAI-compatible endpoint and its generation cache.

distilabel's own OpenAI LLM needs the ``openai`` package (not a dependency here), and the build's generations must go
through ``llm.sqlite`` like every other LLM call so that a rerun costs nothing. So the adapter wraps
`goat_builders.steps.context.make_cached_llm`: the same client, the same cache, in distilabel's `LLM` shape. Every
Task that uses it talks to one shared endpoint (the recipe's server, or the one local process holding the embedded
model), so no step process loads a model of its own.

A request that fails comes back as a ``None`` generation, with the error in the extra ``errors`` list, never as
an exception: the Task records it on its row.
"""

from __future__ import annotations

from typing import Any

from distilabel.models.llms.base import LLM
from pydantic import Field, PrivateAttr

from goat_builders.steps.context import make_cached_llm
from goat_datasets.graph.llm_check import generate_concurrently


class CachedEndpointLLM(LLM):
    """``llm_config`` is the dict `goat_builders.build.llm_endpoint` yields; ``build_dir`` holds ``llm.sqlite``."""

    llm_config: dict[str, Any]
    build_dir: str
    concurrency: int = Field(default=4, ge=1, description="requests in flight at once")

    _client: Any = PrivateAttr(default=None)

    def load(self) -> None:
        super().load()
        if self._client is None:
            self._client = make_cached_llm(self.llm_config, self.build_dir)

    def unload(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        super().unload()

    @property
    def model_name(self) -> str:
        return str(self.llm_config.get("model", ""))

    def counts(self) -> dict[str, int]:
        """The generation cache's counters (hits, live, failed, record_failures) since `load`."""
        return self._client.snapshot() if self._client is not None else {}

    # distilabel 1.5.3 turns every parameter of generate() into a runtime parameter, and **kwargs into a required one
    def generate(  # type: ignore[override]
        self, inputs: list[list[dict[str, Any]]], num_generations: int = 1, max_new_tokens: int | None = None
    ) -> list[dict[str, Any]]:
        if num_generations != 1:
            raise ValueError(
                f"{type(self).__name__} gives one generation per input (got num_generations={num_generations}): "
                "the generation cache answers a repeated request with the same text"
            )
        if self._client is None:
            self.load()
        return [
            {
                "generations": [gen.text if gen.error is None else None],
                "statistics": {"input_tokens": [gen.prompt_tokens], "output_tokens": [gen.completion_tokens]},
                "errors": [gen.error],
            }
            for gen in generate_concurrently(self._client, inputs, max_new_tokens, self.concurrency)
        ]
