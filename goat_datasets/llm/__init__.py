"""The LLM layer: packaged offline models, generation clients (local transformers, OpenAI-compatible HTTP) and lenient
parsing of what small models write. Heavy imports (torch, transformers, httpx) happen only when a model is used."""

from goat_datasets.llm.generation import Generation, LocalLLM, OpenAICompatibleLLM
from goat_datasets.llm.models import DEFAULT_MODEL, describe_model, resolve_model
from goat_datasets.llm.parsing import ParseFailure, extract_arguments, extract_json

__all__ = [
    "DEFAULT_MODEL",
    "Generation",
    "LocalLLM",
    "OpenAICompatibleLLM",
    "ParseFailure",
    "describe_model",
    "extract_arguments",
    "extract_json",
    "resolve_model",
]
