"""Read endpoints. Repo info, tree, paths-info and refs are answered by olah's own route helpers over the bare repos
(olah's ``offline`` + ``mirrors-path`` mode); this module only checks the repo and revision first, so olah never
falls through to its upstream-Hub code path (which, offline, answers a missing file or revision with 401
RepoNotFound).

Three reads are implemented here instead, because olah 0.5.4 cannot serve them to the real clients:
- repo info without a revision: olah looks for the newest commit in its *cache* folder, not in the mirrors, and
  answers 401;
- the commits list: olah returns ``authors[].name`` (huggingface_hub reads ``authors[].user``) and puts the whole
  message in ``title``;
- resolve (file download): olah's mirror reader ignores HTTP Range (``streaming=True`` needs it), reads each file
  into memory, and a GET of a missing path raises KeyError (HTTP 500) instead of 404 EntryNotFound.
"""

from __future__ import annotations

import mimetypes
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from olah.server_api_routes import (
    meta_proxy_common,
    pathsinfo_proxy_common,
    refs_proxy_common,
    tree_proxy_common,
)
from starlette.concurrency import run_in_threadpool

from goat_datasets.hub.context import base_url, hub, repo_of, tail_after
from goat_datasets.hub.gitstore import DEFAULT_BRANCH, EntryNotFound
from goat_datasets.hub.names import InvalidName, check_repo_path, check_revision

router = APIRouter()

COMMITS_PAGE = 50


def _auth(request: Request) -> str | None:
    return request.headers.get("authorization")


def _rev_and_path(request: Request, marker_index: int) -> tuple[str, str]:
    tail = tail_after(request, marker_index)
    if not tail or not tail[0]:
        raise InvalidName("missing revision in the URL")
    return check_revision(tail[0]), "/".join(tail[1:]).strip("/")


@router.api_route("/api/{kind}/{org}/{name}", methods=["GET", "HEAD"])
async def repo_info(kind: str, org: str, name: str, request: Request) -> Response:
    ref, repo = repo_of(request, kind, org, name)
    sha = await run_in_threadpool(repo.resolve, DEFAULT_BRANCH)
    return await meta_proxy_common(request.app, kind, org, name, sha, request.method.lower(), _auth(request))


@router.api_route("/api/{kind}/{org}/{name}/revision/{rest:path}", methods=["GET", "HEAD"])
async def repo_info_at(kind: str, org: str, name: str, rest: str, request: Request) -> Response:
    ref, repo = repo_of(request, kind, org, name)
    rev = check_revision("/".join(tail_after(request, 4)))
    sha = await run_in_threadpool(repo.resolve, rev)
    return await meta_proxy_common(request.app, kind, org, name, sha, request.method.lower(), _auth(request))


@router.get("/api/{kind}/{org}/{name}/tree/{rest:path}")
async def tree(
    kind: str, org: str, name: str, rest: str, request: Request, recursive: bool = False, expand: bool = False
) -> Response:
    ref, repo = repo_of(request, kind, org, name)
    rev, path = _rev_and_path(request, 4)
    sha = await run_in_threadpool(repo.resolve, rev)
    if path:
        check_repo_path(path)
        entry = await run_in_threadpool(repo.entry, sha, path)
        if entry is None or entry.kind != "tree":
            raise EntryNotFound(f"{path} is not a folder on {rev!r}")
    return await tree_proxy_common(
        request.app, kind, org, name, sha, path, recursive, expand, "get", _auth(request)
    )


@router.post("/api/{kind}/{org}/{name}/paths-info/{rest:path}")
async def paths_info(kind: str, org: str, name: str, rest: str, request: Request) -> Response:
    ref, repo = repo_of(request, kind, org, name)
    rev = check_revision("/".join(tail_after(request, 4)))
    sha = await run_in_threadpool(repo.resolve, rev)
    form = await request.form()
    paths = [str(p) for p in form.getlist("paths")]
    return await pathsinfo_proxy_common(request.app, kind, org, name, sha, paths, "post", _auth(request))


@router.get("/api/{kind}/{org}/{name}/refs")
async def refs(kind: str, org: str, name: str, request: Request, include_prs: bool = False) -> Response:
    repo_of(request, kind, org, name)
    return await refs_proxy_common(request.app, kind, org, name, include_prs, _auth(request))


@router.get("/api/{kind}/{org}/{name}/commits/{rest:path}")
def list_commits(kind: str, org: str, name: str, rest: str, request: Request, p: int = 0, limit: int = COMMITS_PAGE):
    """Newest first, ``limit`` per page; the next page is announced in a ``Link: <...>; rel="next"`` header, which
    huggingface_hub's paginate() follows."""
    ref, repo = repo_of(request, kind, org, name)
    rev = check_revision("/".join(tail_after(request, 4)))
    sha = repo.resolve(rev)
    if p < 0 or not 1 <= limit <= 1000:
        raise InvalidName(f"invalid page p={p} limit={limit}: p >= 0 and 1 <= limit <= 1000")
    records = repo.log(sha, skip=p * limit, limit=limit + 1)
    body = [
        {
            "id": r.sha,
            "title": r.title,
            "message": r.message,
            "authors": [{"user": r.author, "avatar": None}],
            "date": r.date,
        }
        for r in records[:limit]
    ]
    headers = {}
    if len(records) > limit:
        next_url = f"{base_url(request)}{request.url.path}?{urlencode({'p': p + 1, 'limit': limit})}"
        headers["Link"] = f'<{next_url}>; rel="next"'
    return JSONResponse(body, headers=headers)


def _resolve_file(request: Request, kind: str, org: str, name: str, marker_index: int) -> Response:
    ref, repo = repo_of(request, kind, org, name)
    rev, path = _rev_and_path(request, marker_index)
    if not path:
        raise EntryNotFound(f"no file path after the revision {rev!r}")
    check_repo_path(path)
    sha = repo.resolve(rev)
    entry = repo.entry(sha, path)
    if entry is None or entry.kind != "blob":
        raise EntryNotFound(f"{path} does not exist on {rev!r}")
    file = hub(request).store.blob_file(repo, entry.sha)
    headers = {
        "ETag": f'"{entry.sha}"',
        "X-Repo-Commit": sha,
        # A file at a commit never changes; a branch or tag name may move.
        "Cache-Control": "public, max-age=31536000, immutable" if rev == sha else "no-cache",
    }
    media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return FileResponse(file, headers=headers, media_type=media_type)


@router.api_route("/{kind}/{org}/{name}/resolve/{rest:path}", methods=["GET", "HEAD"])
def resolve_typed(kind: str, org: str, name: str, rest: str, request: Request) -> Response:
    if kind not in ("datasets", "spaces"):
        raise InvalidName(f"unknown repo type {kind!r} in a download URL: expected datasets or spaces")
    return _resolve_file(request, kind, org, name, 3)


@router.api_route("/{org}/{name}/resolve/{rest:path}", methods=["GET", "HEAD"])
def resolve_model(org: str, name: str, rest: str, request: Request) -> Response:
    return _resolve_file(request, "models", org, name, 2)
