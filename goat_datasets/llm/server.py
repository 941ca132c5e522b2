"""An OpenAI-compatible endpoint in front of the embedded model, run as its own process.

distilabel runs each step in its own process; if every step loaded the model, memory and load time would multiply.
Instead one process holds the model and every step (and any other tool) calls ``/v1/chat/completions`` over loopback:
the same client code then works unchanged against vLLM, TGI or OpenAI for real builds.
Run: ``python -m goat_datasets.llm.server --port 8790 --model default``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
import uuid
from typing import Any, Iterator

from pydantic import BaseModel, Field


class ChatMessage(BaseModel):
    role: str
    content: str | None = ""


class ChatRequest(BaseModel):
    model: str = "default"
    messages: list[ChatMessage]
    max_tokens: int | None = Field(default=None, ge=1, le=8192)
    temperature: float | None = Field(default=None, ge=0, le=2)
    seed: int | None = None


def create_app(model: str = "default", dtype: str = "bfloat16", max_new_tokens: int = 256, preload: bool = True):
    """``preload`` loads the model before the app exists, so /health only answers once requests can be served and a
    model that cannot load stops the process at startup with its reason, instead of failing every request."""
    from fastapi import FastAPI, HTTPException

    from goat_datasets.llm.generation import LocalLLM

    llm = LocalLLM(model=model, dtype=dtype, max_new_tokens=max_new_tokens)
    if preload:
        llm.load()
    app = FastAPI(title="goat-datasets local LLM", docs_url=None, redoc_url=None)
    stats = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "seconds": 0.0}

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model": model, **stats}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model, "object": "model", "owned_by": "goat-datasets"}]}

    @app.post("/v1/chat/completions")
    def chat(req: ChatRequest) -> dict[str, Any]:
        gen = llm.generate([m.model_dump() for m in req.messages], max_new_tokens=req.max_tokens)
        if getattr(gen, "error", None):
            raise HTTPException(status_code=500, detail=f"generation failed: {gen.error}")
        stats["requests"] += 1
        stats["prompt_tokens"] += gen.prompt_tokens
        stats["completion_tokens"] += gen.completion_tokens
        stats["seconds"] += gen.seconds
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": gen.text}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": gen.prompt_tokens,
                "completion_tokens": gen.completion_tokens,
                "total_tokens": gen.prompt_tokens + gen.completion_tokens,
            },
        }

    app.state.llm = llm
    return app


@contextlib.contextmanager
def running_llm_server(
    model: str = "default", port: int = 0, dtype: str = "bfloat16", startup_timeout_s: float = 600.0
) -> Iterator[str]:
    """Start the endpoint in a child process; yields the base URL (``http://127.0.0.1:PORT/v1``).

    The first start of a model dequantizes its GGUF (about 45 s for the default on 2 cores, minutes for 1.5B under
    load); later starts load the cached converted copy in seconds. Hence the generous timeout.
    """
    import httpx

    from goat_datasets.servers import free_port

    port = port or free_port()
    cmd = [sys.executable, "-m", "goat_datasets.llm.server", "--port", str(port), "--model", model, "--dtype", dtype]
    proc = subprocess.Popen(cmd, env={**os.environ, "TQDM_DISABLE": "1"})  # no conversion progress bars in build logs
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"the local LLM server exited with code {proc.returncode} (command: {' '.join(cmd)}); "
                    "its stderr above says why (a model that cannot load stops it at startup)"
                )
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the local LLM server did not start in {startup_timeout_s:.0f}s")
            time.sleep(0.2)
        yield base + "/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from goat_datasets.servers import require_loopback

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8790)
    ap.add_argument("--model", default="default")
    ap.add_argument("--dtype", default="bfloat16")
    args = ap.parse_args(argv)
    require_loopback(args.host)
    app = create_app(args.model, args.dtype)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
