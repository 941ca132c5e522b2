"""What ``--model`` may name, and loading it for training or generation.

* a local transformers folder (``config.json``), e.g. the output of an earlier full fine-tune;
* a local peft adapter folder (``adapter_config.json``), e.g. the output of ``goat-train sft`` with LoRA: the base
  model it names is loaded and the adapter put on top (trainable again for GRPO after SFT);
* ``embedded`` or ``embedded:<name>``: the packaged GGUF model of goat-datasets (`goat_datasets.llm.models`),
  dequantized once into a transformers folder beside the verified GGUF (transformers refuses to train a quantized
  model); later runs reuse that folder;
* a path to a ``.gguf`` file: converted the same way, into a folder beside it;
* a Hugging Face model id (``Qwen/Qwen2.5-0.5B-Instruct``): downloaded by transformers, so online only.

Precision: float32 on CPU (bf16 training on CPU is slow and lossy here), bf16 on a CUDA GPU that supports it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel

from .errors import TrainingInputError, did_you_mean

__all__ = ["ModelSpec", "Precision", "resolve_model", "embedded_model_dir", "load_model", "load_tokenizer", "precision"]

EMBEDDED = "embedded"
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_CONVERTED_MARKER = "goat-converted-from.json"  # written by goat_datasets.llm.loading next to a converted copy


class ModelSpec(BaseModel):
    """A resolved ``--model``: ``location`` is a folder or a Hub id that ``from_pretrained`` accepts."""

    text: str
    kind: Literal["local", "adapter", "embedded", "gguf", "hub"]
    location: str
    base: "ModelSpec | None" = None  # adapters: the model the adapter was trained on
    details: dict[str, Any] = {}

    def provenance(self) -> dict[str, Any]:
        out = {"model": self.text, "kind": self.kind, "location": self.location, **self.details}
        if self.base is not None:
            out["base"] = self.base.provenance()
        return out


class Precision(BaseModel):
    device: Literal["cpu", "cuda"]
    bf16: bool

    @property
    def dtype(self) -> str:
        return "bfloat16" if self.bf16 else "float32"


def precision(bf16: bool | None = None) -> Precision:
    """Where and in which dtype to train: bf16 only on a CUDA GPU (``bf16=None``: when that GPU supports it)."""
    import torch

    cuda = torch.cuda.is_available()
    if bf16 is None:
        bf16 = bool(cuda and torch.cuda.is_bf16_supported())
    if bf16 and not cuda:
        raise TrainingInputError("--bf16 needs a CUDA GPU; on CPU training runs in float32 (drop --bf16)")
    return Precision(device="cuda" if cuda else "cpu", bf16=bf16)


def resolve_model(text: str, *, log: Callable[[str], None] = print) -> ModelSpec:
    """Turn ``--model`` into something ``from_pretrained`` can load; converts the embedded/GGUF model on first use."""
    text = (text or "").strip()
    if not text:
        raise TrainingInputError("--model is empty: give a local model folder, 'embedded' or a Hugging Face model id")
    if text == EMBEDDED or text.startswith(EMBEDDED + ":"):
        name = text.partition(":")[2] or "default"
        folder, details = embedded_model_dir(name, log=log)
        return ModelSpec(text=text, kind="embedded", location=str(folder), details=details)
    path = Path(text).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        folder, details = _converted_gguf(path, None, log)
        return ModelSpec(text=text, kind="gguf", location=str(folder), details=details)
    if path.is_dir():
        return _local_dir(text, path.resolve(), log)
    if path.exists():
        raise TrainingInputError(f"--model {text}: a file that is not a .gguf model; give a model folder instead")
    if _HUB_ID.match(text) and not text.startswith((".", "/")):
        if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
            raise TrainingInputError(
                f"--model {text}: Hugging Face model ids are downloaded, but HF_HUB_OFFLINE is set; give a local "
                "model folder or 'embedded'"
            )
        return ModelSpec(text=text, kind="hub", location=text)
    hint = did_you_mean(text, [EMBEDDED])
    raise TrainingInputError(
        f"--model {text!r}: not an existing folder, not '{EMBEDDED}'{hint} and not a Hugging Face id 'org/name'"
    )


def _local_dir(text: str, path: Path, log: Callable[[str], None]) -> ModelSpec:
    if (path / "adapter_config.json").is_file():
        try:
            adapter = json.loads((path / "adapter_config.json").read_text(encoding="utf-8"))
        except ValueError as exc:
            raise TrainingInputError(f"--model {text}: adapter_config.json is not JSON: {exc}") from None
        base_name = adapter.get("base_model_name_or_path")
        if not base_name:
            raise TrainingInputError(f"--model {text}: adapter_config.json names no base_model_name_or_path")
        try:
            base = resolve_model(str(base_name), log=log)
        except TrainingInputError as exc:
            raise TrainingInputError(
                f"--model {text} is a LoRA adapter whose base model cannot be used: {exc}"
            ) from None
        return ModelSpec(text=text, kind="adapter", location=str(path), base=base)
    if (path / "config.json").is_file():
        return ModelSpec(text=text, kind="local", location=str(path))
    present = sorted(p.name for p in path.iterdir())[:12]
    raise TrainingInputError(
        f"--model {text}: folder has neither config.json (a transformers model) nor adapter_config.json (a LoRA "
        f"adapter); it holds {present}"
    )


def embedded_model_dir(name: str = "default", *, log: Callable[[str], None] = print) -> tuple[Path, dict[str, Any]]:
    """The transformers folder of a packaged GGUF model (goat_datasets' embedded LLM), converting it once."""
    from goat_datasets.llm.models import ChecksumMismatch, ModelNotInstalled, describe_model, get_model
    from goat_datasets.registry import UnknownNameError

    try:
        entry = get_model(name)
    except UnknownNameError as exc:
        raise TrainingInputError(f"--model {EMBEDDED}:{name}: {exc}") from None
    try:
        from goat_datasets.llm.models import resolve_gguf_file

        gguf = resolve_gguf_file(entry)
    except (ModelNotInstalled, ChecksumMismatch) as exc:
        raise TrainingInputError(f"--model {EMBEDDED}:{name}: {exc}") from None
    folder, details = _converted_gguf(gguf, entry.sha256, log)
    details.update({"embedded_model": entry.name, "id": describe_model(entry), "license": entry.license})
    return folder, details


def _converted_gguf(gguf: Path, sha256: str | None, log: Callable[[str], None]) -> tuple[Path, dict[str, Any]]:
    """A dequantized transformers copy of ``gguf`` (bf16, as `goat_datasets.llm.loading` writes it)."""
    import transformers

    from goat_datasets.llm.loading import load_gguf

    major = transformers.__version__.split(".")[0]
    for dtype in ("bfloat16", "float32"):
        folder = gguf.parent / f"transformers-{dtype}"
        try:
            marker = json.loads((folder / _CONVERTED_MARKER).read_text())
        except (OSError, ValueError):
            continue
        if (sha256 is None or marker.get("gguf_sha256") == sha256) and marker.get("transformers_major") == major:
            if (folder / "config.json").is_file():
                return folder, {"gguf": str(gguf), "gguf_sha256": marker.get("gguf_sha256"),
                                "converted_dir": str(folder)}
    log(f"converting {gguf.name} to a transformers folder (once; later runs reuse it)...")
    _, _, info = load_gguf(gguf, dtype="bfloat16", convert_cache=True, sha256=sha256)
    if not info.converted_dir:
        raise TrainingInputError(f"could not write the converted copy of {gguf} beside it (read-only or full disk?)")
    folder = Path(info.converted_dir)
    marker = json.loads((folder / _CONVERTED_MARKER).read_text())
    return folder, {"gguf": str(gguf), "gguf_sha256": marker.get("gguf_sha256"), "converted_dir": str(folder)}


def load_tokenizer(spec: ModelSpec) -> Any:
    """The tokenizer (with its chat template); an adapter folder's own copy wins over its base model's."""
    import transformers

    location = spec.location
    if spec.kind == "adapter" and not (Path(location) / "tokenizer_config.json").is_file():
        location = spec.base.location  # type: ignore[union-attr]
    tokenizer = transformers.AutoTokenizer.from_pretrained(location)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        raise TrainingInputError(
            f"--model {spec.text}: the tokenizer has no chat template, so tool-use conversations cannot be rendered"
        )
    return tokenizer


def load_model(spec: ModelSpec, dtype: str = "float32", *, trainable_adapter: bool = True) -> Any:
    """A causal LM in ``dtype``; an adapter spec gives a ``PeftModel`` (trainable unless told otherwise)."""
    import torch
    import transformers

    torch_dtype = getattr(torch, dtype)
    if spec.kind == "adapter":
        from peft import PeftModel

        base = load_model(spec.base, dtype)  # type: ignore[arg-type]
        return PeftModel.from_pretrained(base, spec.location, is_trainable=trainable_adapter)
    try:
        return transformers.AutoModelForCausalLM.from_pretrained(spec.location, dtype=torch_dtype)
    except OSError as exc:
        raise TrainingInputError(f"--model {spec.text}: cannot load it: {exc}") from None
