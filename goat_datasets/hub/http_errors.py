"""How the local Hub reports errors: the Hub's own shape, so huggingface_hub raises its usual typed exceptions.

huggingface_hub picks the exception class from the ``X-Error-Code`` header (RepoNotFound -> RepositoryNotFoundError,
RevisionNotFound, EntryNotFound) and shows ``X-Error-Message`` / the JSON ``error`` field to the user.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from goat_datasets.hub.gitstore import HubStoreError
from goat_datasets.hub.lfs_store import LfsError
from goat_datasets.hub.names import InvalidName


def hub_error(status: int, message: str, code: str | None = None, **extra) -> JSONResponse:
    headers = {"X-Error-Message": message.encode("ascii", "backslashreplace").decode()[:1000]}
    if code:
        headers["X-Error-Code"] = code
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HubStoreError)
    async def _store_error(_: Request, exc: HubStoreError) -> JSONResponse:
        return hub_error(exc.status, str(exc), exc.code)

    @app.exception_handler(InvalidName)
    async def _invalid_name(_: Request, exc: InvalidName) -> JSONResponse:
        return hub_error(400, str(exc), "InvalidName")

    @app.exception_handler(LfsError)
    async def _lfs_error(_: Request, exc: LfsError) -> JSONResponse:
        return hub_error(400, str(exc), "BadLfsObject")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return hub_error(404, f"the local Hub has no endpoint {request.method} {request.url.path}")
        if exc.status_code == 405:
            return hub_error(405, f"{request.method} is not supported on {request.url.path}")
        return hub_error(exc.status_code, str(exc.detail))
