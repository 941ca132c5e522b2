"""Chat generation with one interface for the embedded model and for OpenAI-compatible servers (vLLM, TGI, OpenAI).

Pipelines record failures instead of stopping, so neither client raises for a failed generation: the error comes
back in `Generation.error` with empty text, and the caller decides whether to retry or drop the item.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence
from urllib.parse import urlsplit

from pydantic import BaseModel

__all__ = ["Generation", "LocalLLM", "OpenAICompatibleLLM"]

Messages = list[dict[str, Any]]
_ROLES = {"system", "user", "assistant", "tool"}


class Generation(BaseModel):
    """One completion. ``error`` is set (and ``text`` empty) when the call failed."""

    text: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    finish_reason: str | None = None  # "stop" or "length" (cut at max_new_tokens)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _check_messages(messages: Any) -> list[dict[str, Any]]:
    """Validate chat messages up front: a bad message list is the caller's bug, reported with its position."""
    if not isinstance(messages, list) or not messages:
        raise ValueError(f"messages must be a non-empty list of {{role, content}} dicts, got {type(messages).__name__}")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise ValueError(f"messages[{i}] must be a dict with 'role' and 'content', got {type(m).__name__}")
        role = m.get("role")
        if role not in _ROLES:
            raise ValueError(f"messages[{i}].role must be one of {sorted(_ROLES)}, got {role!r}")
        content = m.get("content")
        if content is not None and not isinstance(content, str):
            raise ValueError(f"messages[{i}].content must be a string, got {type(content).__name__}")
        out.append({**m, "content": content or ""})
    return out


class LocalLLM:
    """The embedded GGUF model run by transformers on CPU; loaded lazily, once, and shared by threads.

    Greedy decoding when ``temperature == 0`` (deterministic); otherwise sampling seeded from ``seed`` and the
    prompt, so the same prompt gives the same text whatever order the calls come in.

    ``model``: a registered name (`goat_datasets.llm.models`, 'default' included) or a path to a ``.gguf`` file.
    ``convert_cache``: keep a dequantized safetensors copy beside the verified GGUF (loads in seconds instead of
    ~45-60 s; costs ~2x the parameters in bytes of disk: 3.5 GB for the default). Default: on for registered models
    unless ``GOAT_LLM_CONVERT_CACHE=0``. ``num_threads``: default ``GOAT_LLM_THREADS`` or every usable CPU.
    """

    def __init__(
        self,
        model: str = "default",
        dtype: str = "bfloat16",
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
        num_threads: int | None = None,
        top_p: float = 1.0,
        batch_size: int = 1,
        convert_cache: bool | None = None,
    ):
        if dtype not in ("bfloat16", "float32", "float16"):
            raise ValueError(f"dtype must be 'bfloat16', 'float32' or 'float16', got {dtype!r}")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model_name = model
        self.dtype = dtype
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.seed = seed
        self.num_threads = num_threads
        self.top_p = top_p
        self.batch_size = batch_size
        self.convert_cache = convert_cache
        self.load_seconds: float | None = None
        self.load_info: Any = None
        self._lock = threading.RLock()
        self._model: Any = None
        self._tokenizer: Any = None
        self._stop_ids: list[int] = []
        self._load_error: str | None = None

    # -- loading ----------------------------------------------------------------------------------------------

    def load(self) -> None:
        """Load now (raises on failure): for servers that should fail at startup, not on the first request."""
        with self._lock:
            if self._model is not None:
                return
            if self._load_error is not None:
                raise RuntimeError(self._load_error)
            try:
                self._load()
            except Exception as exc:  # noqa: BLE001 - remembered so later calls fail fast with the same reason
                self._load_error = f"could not load model {self.model_name!r}: {type(exc).__name__}: {exc}"
                raise RuntimeError(self._load_error) from exc

    def _load(self) -> None:
        from goat_datasets.llm.models import get_model, resolve_gguf_file

        t0 = time.monotonic()
        gguf = resolve_gguf_file(self.model_name)  # before importing torch: a missing model fails in milliseconds

        import torch

        from goat_datasets.llm.loading import load_gguf

        is_file = self.model_name.endswith(".gguf")
        threads = self.num_threads or int(os.environ.get("GOAT_LLM_THREADS", 0)) or _usable_cpus()
        torch.set_num_threads(max(1, threads))
        convert = self.convert_cache
        if convert is None:  # registered models only: never write beside a user's own file
            convert = not is_file and os.environ.get("GOAT_LLM_CONVERT_CACHE", "1") != "0"
        tokenizer, model, info = load_gguf(
            gguf, self.dtype, convert_cache=convert, sha256=None if is_file else get_model(self.model_name).sha256
        )
        self.load_info = info
        model.eval()
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
        candidates: list[Any] = [tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)]
        candidates += [tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>")]
        flat: set[int] = set()
        for c in candidates:
            for tid in c if isinstance(c, (list, tuple)) else [c]:
                if isinstance(tid, int) and tid != tokenizer.unk_token_id:
                    flat.add(tid)
        self._stop_ids = sorted(flat)
        self._tokenizer, self._model = tokenizer, model
        self.load_seconds = time.monotonic() - t0

    # -- generation ---------------------------------------------------------------------------------------------

    def generate(self, messages: Messages, max_new_tokens: int | None = None) -> Generation:
        return self.generate_batch([messages], max_new_tokens=max_new_tokens)[0]

    def generate_batch(self, batch: Sequence[Messages], max_new_tokens: int | None = None) -> list[Generation]:
        """One `Generation` per conversation, in order, ``batch_size`` prompts per forward pass.

        Batching 4 prompts raised throughput ~1.4x on 2 CPU cores (benchmarks/llm_quality.py --batch-check), but
        left-padding changes bf16 numerics, so a prompt's text then depends on its batch-mates. The default (1)
        keeps every output reproducible on its own; raise ``batch_size`` for throughput when that does not matter.
        """
        limit = max_new_tokens or self.max_new_tokens
        try:
            self.load()
        except RuntimeError as exc:
            return [Generation(error=str(exc)) for _ in batch]
        results: list[Generation | None] = [None] * len(batch)
        prompts: list[tuple[int, str]] = []
        for i, messages in enumerate(batch):
            try:
                prompts.append((i, self._render(_check_messages(messages))))
            except Exception as exc:  # noqa: BLE001 - a bad conversation fails alone
                results[i] = Generation(error=f"{type(exc).__name__}: {exc}")
        for start in range(0, len(prompts), self.batch_size):
            chunk = prompts[start : start + self.batch_size]
            try:
                gens = self._generate_chunk([p for _, p in chunk], limit)
            except Exception as exc:  # noqa: BLE001 - one failed forward pass must not stop the pipeline
                gens = [Generation(error=f"generation failed: {type(exc).__name__}: {exc}") for _ in chunk]
            for (i, _), gen in zip(chunk, gens):
                results[i] = gen
        return [r if r is not None else Generation(error="not generated") for r in results]

    def _render(self, messages: list[dict[str, Any]]) -> str:
        return self._tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def _generate_chunk(self, prompts: list[str], limit: int) -> list[Generation]:
        import torch

        with self._lock:
            t0 = time.monotonic()
            enc = self._tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
            kwargs: dict[str, Any] = {
                "max_new_tokens": limit,
                "eos_token_id": self._stop_ids,
                "pad_token_id": self._tokenizer.pad_token_id,
            }
            if self.temperature > 0:
                torch.manual_seed(_prompt_seed(self.seed, prompts))
                kwargs.update(do_sample=True, temperature=self.temperature, top_p=self.top_p, top_k=0)
            else:
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            with torch.inference_mode():
                out = self._model.generate(**enc, **kwargs)
            seconds = time.monotonic() - t0
        width = enc["input_ids"].shape[1]
        stop = set(self._stop_ids)
        gens = []
        for row, mask in zip(out.tolist(), enc["attention_mask"]):
            new = row[width:]
            # Rows that end early are padded with the pad token, which is a stop token here: cut at the first stop.
            cut = next((k for k, t in enumerate(new) if t in stop), None)
            kept = new if cut is None else new[:cut]
            gens.append(
                Generation(
                    text=self._tokenizer.decode(kept, skip_special_tokens=True).strip(),
                    prompt_tokens=int(mask.sum()),
                    completion_tokens=len(kept) + (0 if cut is None else 1),
                    seconds=seconds / len(prompts),
                    finish_reason="length" if cut is None else "stop",
                )
            )
        return gens


def _usable_cpus() -> int:
    """CPUs this process may run on (cgroup/affinity aware where the OS tells us)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _prompt_seed(seed: int, prompts: list[str]) -> int:
    digest = hashlib.sha256(("\x00".join(prompts)).encode()).digest()
    return (seed * 1_000_003 + int.from_bytes(digest[:6], "big")) % (2**63)


class OpenAICompatibleLLM:
    """``POST {base_url}/chat/completions`` with httpx; same interface as `LocalLLM`.

    ``base_url`` is the OpenAI-style root (``http://host:8000/v1``); a bare ``http://host:8000`` gets ``/v1`` added.
    Transient failures (connection errors, 429, 5xx) are retried ``max_retries`` times with a short backoff; what
    still fails comes back as ``Generation(error=...)``. Tool calls a server returns in ``message.tool_calls`` are
    rendered as ``<tool_call>`` text, so the same lenient parser reads both kinds of output.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str | None = None,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
        timeout_s: float = 600.0,
        max_retries: int = 2,
        retry_backoff_s: float = 0.5,
        max_concurrency: int = 4,
        extra_body: dict[str, Any] | None = None,
    ):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an http(s) URL like http://127.0.0.1:8000/v1, got {base_url!r}")
        root = base_url.rstrip("/")
        if parts.path in ("", "/"):
            root += "/v1"
        self.url = root + "/chat/completions"
        self.base_url = root
        self.model = model
        self.api_key_env = api_key_env
        if api_key_env and not os.environ.get(api_key_env):
            raise ValueError(f"environment variable {api_key_env} (api_key_env) is not set; export the API key first")
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.seed = seed
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.retry_backoff_s = retry_backoff_s
        self.max_concurrency = max(1, max_concurrency)
        self.extra_body = dict(extra_body or {})
        self._client: Any = None
        self._client_lock = threading.Lock()

    def _http(self):
        import httpx

        with self._client_lock:
            if self._client is None:
                headers = {"Content-Type": "application/json"}
                if self.api_key_env:
                    headers["Authorization"] = f"Bearer {os.environ.get(self.api_key_env, '')}"
                self._client = httpx.Client(timeout=httpx.Timeout(self.timeout_s, connect=10.0), headers=headers)
            return self._client

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __enter__(self) -> "OpenAICompatibleLLM":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def generate(self, messages: Messages, max_new_tokens: int | None = None) -> Generation:
        import httpx

        t0 = time.monotonic()
        try:
            body = {
                "model": self.model,
                "messages": _check_messages(messages),
                "max_tokens": max_new_tokens or self.max_new_tokens,
                "temperature": self.temperature,
                "seed": self.seed,
                **self.extra_body,
            }
        except ValueError as exc:
            return Generation(error=str(exc))
        error = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(min(8.0, self.retry_backoff_s * 2 ** (attempt - 1)))
            try:
                resp = self._http().post(self.url, json=body)
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__} calling {self.url}: {exc}"
                continue
            if resp.status_code == 429 or resp.status_code >= 500:
                error = f"HTTP {resp.status_code} from {self.url}: {_short(resp.text)}"
                continue
            if resp.status_code >= 400:
                return Generation(
                    error=f"HTTP {resp.status_code} from {self.url}: {_short(resp.text)}",
                    seconds=time.monotonic() - t0,
                )
            return _parse_completion(resp, self.url, time.monotonic() - t0)
        return Generation(error=f"{error} (after {self.max_retries + 1} attempts)", seconds=time.monotonic() - t0)

    def generate_batch(self, batch: Sequence[Messages], max_new_tokens: int | None = None) -> list[Generation]:
        """Concurrent requests (``max_concurrency``), results in input order: servers batch them themselves."""
        if len(batch) <= 1 or self.max_concurrency == 1:
            return [self.generate(m, max_new_tokens) for m in batch]
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(batch))) as pool:
            return list(pool.map(lambda m: self.generate(m, max_new_tokens), batch))


def _parse_completion(resp: Any, url: str, seconds: float) -> Generation:
    try:
        data = resp.json()
        choice = data["choices"][0]
        message = choice.get("message") or {}
        text = message.get("content") or ""
        for call in message.get("tool_calls") or []:
            fn = call.get("function") or {}
            args = fn.get("arguments", {})
            if isinstance(args, str):
                try:
                    args = json.loads(args)
                except ValueError:
                    pass
            call_json = json.dumps({"name": fn.get("name"), "arguments": args})
            text += ("\n" if text else "") + f"<tool_call>\n{call_json}\n</tool_call>"
        usage = data.get("usage") or {}
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        return Generation(
            error=f"unexpected response from {url} ({type(exc).__name__}: {exc}): {_short(resp.text)}", seconds=seconds
        )
    return Generation(
        text=text.strip(),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        seconds=seconds,
        finish_reason=choice.get("finish_reason"),
    )


def _short(text: str, limit: int = 300) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
