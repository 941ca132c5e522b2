"""Loading a GGUF file into transformers, with a one-time converted copy to make later loads fast.

Offline, transformers cannot keep GGUF weights packed (the matmul kernel comes from the Hub), so every load
dequantizes the whole file: ~40 s and ~3 GB peak for the 0.5B model on 2 cores. Saving the dequantized model once
as safetensors beside the verified GGUF brings later loads to a few seconds and a fraction of the memory, with
identical outputs. The GGUF stays the source of truth: the copy records the GGUF's sha256 and is rebuilt when it
(or the dtype, or the transformers major version) differs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

from pydantic import BaseModel

__all__ = ["LoadInfo", "load_gguf", "load_tokenizer"]

_MARKER = "goat-converted-from.json"


class LoadInfo(BaseModel):
    gguf: str
    dtype: str
    seconds: float
    source: str  # "gguf" (dequantized now) or "converted-cache"
    converted_dir: str | None = None


def load_gguf(
    gguf: Path, dtype: str = "bfloat16", convert_cache: bool = True, sha256: str | None = None
) -> tuple[Any, Any, LoadInfo]:
    """``(tokenizer, model, info)`` for a GGUF file; ``sha256`` (the verified hash) keys the converted copy.

    With ``convert_cache`` the copy lives in ``<gguf dir>/transformers-<dtype>/``.
    """
    import torch
    import transformers

    t0 = time.monotonic()
    torch_dtype = getattr(torch, dtype)
    marker = {
        "gguf_sha256": sha256 or _sha256(gguf),
        "dtype": dtype,
        "transformers_major": transformers.__version__.split(".")[0],
    }
    converted = gguf.parent / f"transformers-{dtype}"
    if convert_cache and _marker_matches(converted, marker):
        with _quiet_transformers():
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(converted))
            model = transformers.AutoModelForCausalLM.from_pretrained(str(converted), dtype=torch_dtype)
        return tokenizer, model, LoadInfo(
            gguf=str(gguf), dtype=dtype, seconds=time.monotonic() - t0, source="converted-cache",
            converted_dir=str(converted),
        )
    with _quiet_transformers():
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch_dtype, **_dequantize_kwargs()
        )
    info = LoadInfo(gguf=str(gguf), dtype=dtype, seconds=time.monotonic() - t0, source="gguf")
    if convert_cache:
        with contextlib.suppress(OSError):  # a read-only or full disk only costs speed next time
            _save_converted(tokenizer, model, converted, marker)
            info.converted_dir = str(converted)
    return tokenizer, model, info


def load_tokenizer(model: str = "default") -> Any:
    """The tokenizer (with its chat template) of a packaged model or a ``.gguf`` path, without loading weights.

    Used to render dataset rows exactly as the model would see them; reads the converted copy when one exists
    (fast), else the GGUF metadata.
    """
    import transformers

    from goat_datasets.llm.models import get_model, resolve_gguf_file

    gguf = resolve_gguf_file(model)
    pinned = None if str(model).endswith(".gguf") else get_model(model).sha256
    with _quiet_transformers():
        for dtype in ("bfloat16", "float32"):
            converted = gguf.parent / f"transformers-{dtype}"
            if pinned and (converted / "tokenizer_config.json").is_file():
                with contextlib.suppress(OSError, ValueError):
                    if json.loads((converted / _MARKER).read_text()).get("gguf_sha256") == pinned:
                        return transformers.AutoTokenizer.from_pretrained(str(converted))
        return transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)


def _dequantize_kwargs() -> dict[str, Any]:
    """Ask transformers to unpack the weights up front.

    Keeping them packed needs a matmul kernel fetched from the Hub (impossible offline); asking explicitly skips that
    lookup and its misleading dtype warning. Releases without GgufConfig always dequantize.
    """
    try:
        from transformers import GgufConfig
    except ImportError:
        return {}
    return {"quantization_config": GgufConfig(dequantize=True)}


def _marker_matches(converted: Path, marker: dict[str, str]) -> bool:
    try:
        return json.loads((converted / _MARKER).read_text()) == marker and (converted / "config.json").is_file()
    except (OSError, ValueError):
        return False


def _save_converted(tokenizer: Any, model: Any, converted: Path, marker: dict[str, str]) -> None:
    """Save into a temp dir and rename it into place, so readers never see a half-written copy."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{converted.name}.", dir=converted.parent))
    try:
        with _quiet_transformers():
            model.save_pretrained(str(tmp))
            tokenizer.save_pretrained(str(tmp))
        (tmp / _MARKER).write_text(json.dumps(marker, indent=1))
        tmp.chmod(0o755)  # mkdtemp makes it private; match the readable GGUF beside it
        for f in tmp.iterdir():
            f.chmod(0o644)
        if converted.exists():
            shutil.rmtree(converted, ignore_errors=True)  # stale copy (other GGUF hash, dtype or transformers)
        try:
            tmp.rename(converted)
        except OSError:
            if not _marker_matches(converted, marker):  # not a concurrent writer's identical copy: real failure
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence progress bars and load-time advice: they are noise in build logs (errors still raise)."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()
