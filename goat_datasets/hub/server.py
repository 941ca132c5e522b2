"""A Hugging Face Hub on 127.0.0.1 that the unmodified clients (huggingface_hub, datasets) talk to.

One ASGI app, one process: olah's read helpers (configured ``offline`` with ``mirrors-path`` = our bare repos) answer
repo info, tree, paths-info and refs; ``routes_write`` adds what olah lacks (create repo, preupload, LFS, commits,
tags, branches); ``routes_read`` adds the reads olah cannot serve (see its docstring). The olah config lives on
*this* app's state, not olah's module-level app, so several hubs can run in one process (tests).

Point the clients at it with ``HF_ENDPOINT=http://127.0.0.1:PORT`` and ``HF_HUB_DISABLE_XET=1`` set before they are
imported, or, in a process that already imported them, with ``goat_datasets.hub.endpoint.use_hub_endpoint``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from goat_datasets.cache_dir import cache_dir
from goat_datasets.hub.context import HubContext, olah_settings, write_olah_config
from goat_datasets.hub.guards import DotSegmentGuard
from goat_datasets.hub.http_errors import hub_error, install_error_handlers
from goat_datasets.hub.routes_read import router as read_router
from goat_datasets.hub.routes_write import router as write_router
from goat_datasets.servers import require_loopback, serve_in_thread

DEFAULT_PORT = 8740


def create_hub_app(data_dir: Path | None = None) -> DotSegmentGuard:
    """The Hub as an ASGI app storing everything under ``data_dir`` (default ``$GOAT_CACHE_DIR/hub``; created if
    missing)."""
    ctx = HubContext.create(Path(data_dir) if data_dir is not None else cache_dir("hub"))
    app = FastAPI(title="goat-datasets local Hub", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.hub = ctx
    app.state.app_settings = olah_settings(write_olah_config(ctx.store))  # what olah's helpers read
    app.state.logger = None
    install_error_handlers(app)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return hub_error(400, f"invalid request: {problems}", "BadRequest")

    @app.get("/")
    def index() -> dict:
        repos = sorted(
            f"{p.parent.parent.name}/{p.parent.name}/{p.name}" for p in ctx.store.mirrors.glob("*/*/*") if p.is_dir()
        )
        return {"hub": "goat-datasets local Hub", "data_dir": str(ctx.store.data_dir), "repos": repos}

    # Write routes first: their paths are more specific than the read routes' catch-alls.
    app.include_router(write_router)
    app.include_router(read_router)
    return DotSegmentGuard(app)


def serve_hub(host: str = "127.0.0.1", port: int = DEFAULT_PORT, data_dir: Path | None = None) -> None:
    """Serve until interrupted (``goat hub serve``)."""
    import uvicorn

    require_loopback(host)
    app = create_hub_app(Path(data_dir).expanduser() if data_dir is not None else None)
    uvicorn.run(app, host=host, port=port, log_level="info")


@contextlib.contextmanager
def running_hub(data_dir: Path, port: int = 0, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve a Hub in a background thread for the duration of the block; yields its endpoint URL."""
    with serve_in_thread(create_hub_app(Path(data_dir).expanduser()), host=host, port=port) as url:
        yield url
