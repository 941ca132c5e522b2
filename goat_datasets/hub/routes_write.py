"""Write endpoints olah lacks: the calls huggingface_hub makes for create_repo, upload_folder / create_commit,
create_tag / create_branch and their deletes (traced in REFERENCE.md §5). Any ``Authorization: Bearer`` token is
accepted; the local Hub has no users, commits are authored by the store's identity.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.concurrency import run_in_threadpool

from goat_datasets.hub.context import HubContext, base_url, hub, repo_of, tail_after
from goat_datasets.hub.gitstore import (
    DEFAULT_BRANCH,
    Addition,
    BareRepo,
    HubStore,
    RepoNotFound,
)
from goat_datasets.hub.http_errors import hub_error
from goat_datasets.hub.lfs_store import LfsError, check_oid, sha256_of
from goat_datasets.hub.names import (
    PLURAL_OF,
    InvalidName,
    RepoRef,
    check_ref_name,
    check_repo_path,
    check_revision,
    parse_repo,
)

router = APIRouter()

LFS_MEDIA_TYPE = "application/vnd.git-lfs+json"
# As on huggingface.co: big files, and binary formats whatever their size, go through LFS. push_to_hub deletes each
# parquet shard right after preupload, so parquet must be "lfs" (the bytes are read once, for the LFS upload).
LFS_MIN_BYTES = 10 * 1024 * 1024
BINARY_SUFFIXES = {
    ".parquet", ".arrow", ".feather", ".avro", ".orc", ".npy", ".npz", ".h5", ".hdf5", ".pkl", ".pickle", ".pt",
    ".pth", ".bin", ".safetensors", ".gguf", ".onnx", ".ckpt", ".msgpack", ".zip", ".gz", ".tgz", ".tar", ".bz2",
    ".xz", ".zst", ".7z", ".rar", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".tiff", ".bmp", ".wav", ".mp3", ".flac",
    ".ogg", ".mp4", ".avi", ".mkv", ".pdf", ".db", ".sqlite", ".lance", ".model", ".joblib", ".tflite", ".wasm",
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _parse(model: type[_Body], raw: bytes, where: str) -> Any:
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        raise InvalidName(f"invalid request body for {where}: {problems}") from None


# --- repos -------------------------------------------------------------------------------------------------------
class CreateRepoBody(_Body):
    name: str
    organization: str | None = None
    type: str | None = None


def _repo_from_body(body: CreateRepoBody) -> RepoRef:
    if body.type is not None and body.type not in PLURAL_OF:
        raise InvalidName(f"unknown repo type {body.type!r}: expected one of {', '.join(PLURAL_OF)}")
    org, name = body.organization, body.name
    if org is None and "/" in name:
        org, name = name.split("/", 1)
    if not org:
        raise InvalidName(f"repo {name!r} has no organization: repos on the local Hub are named 'org/name'")
    return parse_repo(PLURAL_OF[body.type or "model"], org, name)


def _repo_url(request: Request, ref: RepoRef) -> str:
    return f"{base_url(request)}/{ref.url_prefix}{ref.repo_id}"


@router.post("/api/repos/create")
async def create_repo(request: Request) -> Response:
    ref = _repo_from_body(_parse(CreateRepoBody, await request.body(), "repos/create"))
    created = await run_in_threadpool(hub(request).store.create, ref)
    body = {"url": _repo_url(request, ref), "name": ref.repo_id, "id": ref.repo_id}
    if not created:
        return hub_error(409, f"You already created this {ref.repo_type} repo: {ref.repo_id}", None, **body)
    return JSONResponse(body)


@router.delete("/api/repos/delete")
async def delete_repo(request: Request) -> Response:
    ref = _repo_from_body(_parse(CreateRepoBody, await request.body(), "repos/delete"))
    await run_in_threadpool(_delete_repo, hub(request).store, ref)
    return JSONResponse({"deleted": ref.repo_id})


def _delete_repo(store: HubStore, ref: RepoRef) -> None:
    with store.writing(ref):
        path = store.repo_path(ref)
        if not store.exists(ref):
            raise RepoNotFound(f"Repository not found: {ref.kind}/{ref.repo_id}")
        trash = Path(tempfile.mkdtemp(dir=store.data_dir / "tmp", prefix="deleted-"))
        path.rename(trash / "repo")  # atomic: readers see the repo or nothing
    shutil.rmtree(trash, ignore_errors=True)


# --- card metadata ---------------------------------------------------------------------------------------------
class ValidateYamlBody(_Body):
    content: str
    repoType: str | None = None


def card_metadata_problems(readme: str) -> tuple[list[str], list[str]]:
    """(errors, warnings) of a README's YAML front matter, checking the ``configs:`` shape datasets relies on."""
    match = re.match(r"^\s*---\r?\n(.*?)\r?\n---\s*(\r?\n|$)", readme, flags=re.S)
    if not match:
        return [], ["empty or missing yaml metadata in repo card"]
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        return [f"the YAML front matter does not parse: {exc}"], []
    if meta is None:
        return [], ["empty or missing yaml metadata in repo card"]
    if not isinstance(meta, dict):
        return [f"the YAML front matter must be a mapping, got {type(meta).__name__}"], []
    errors = []
    configs = meta.get("configs")
    if configs is not None:
        if not isinstance(configs, list):
            errors.append("'configs' must be a list of {config_name, data_files} mappings")
        else:
            for i, cfg in enumerate(configs):
                if not isinstance(cfg, dict) or not isinstance(cfg.get("config_name"), str):
                    errors.append(f"configs[{i}] needs a string 'config_name'")
                    continue
                files = cfg.get("data_files")
                ok = isinstance(files, str) or (
                    isinstance(files, list)
                    and all(
                        isinstance(f, str) or (isinstance(f, dict) and "split" in f and "path" in f) for f in files
                    )
                )
                if files is not None and not ok:
                    errors.append(
                        f"configs[{i}] ({cfg['config_name']}): 'data_files' must be a path, a list of paths or a"
                        " list of {split, path}"
                    )
    return errors, []


@router.post("/api/validate-yaml")
async def validate_yaml(request: Request) -> Response:
    body = _parse(ValidateYamlBody, await request.body(), "validate-yaml")
    errors, warnings = card_metadata_problems(body.content)
    payload = {"errors": [{"message": e} for e in errors], "warnings": [{"message": w} for w in warnings]}
    if errors:
        return hub_error(400, "Invalid metadata in README.md: " + "; ".join(errors), None, **payload)
    return JSONResponse(payload)


# --- preupload + LFS -------------------------------------------------------------------------------------------
class PreuploadFile(_Body):
    path: str
    sample: str = ""
    size: int


class PreuploadBody(_Body):
    files: list[PreuploadFile]


def upload_mode(path: str, size: int, sample: bytes) -> str:
    if size >= LFS_MIN_BYTES or PurePosixPath(path).suffix.lower() in BINARY_SUFFIXES or b"\x00" in sample:
        return "lfs"
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 3:  # a multi-byte character cut at the end of the sample is still text
            return "lfs"
    return "regular"


def _remote_oid(ctx: HubContext, repo: BareRepo, blob_sha: str, mode: str) -> str:
    """The oid huggingface_hub compares to skip unchanged files: sha256 of the content for LFS, git sha1 else."""
    if mode != "lfs":
        return blob_sha
    file = ctx.store.blob_file(repo, blob_sha)
    sidecar = file.with_name(file.name + ".sha256")
    if sidecar.is_file():
        return sidecar.read_text().strip()
    with open(file, "rb") as fh:
        digest = sha256_of(fh)
    sidecar.write_text(digest)
    return digest


@router.post("/api/{kind}/{org}/{name}/preupload/{rest:path}")
async def preupload(kind: str, org: str, name: str, rest: str, request: Request) -> Response:
    ref, repo = repo_of(request, kind, org, name)
    parsed = _parse(PreuploadBody, await request.body(), "preupload")
    rev = check_revision("/".join(tail_after(request, 4)))
    return await run_in_threadpool(_preupload, hub(request), repo, rev, parsed)


def _preupload(ctx: HubContext, repo: BareRepo, rev: str, parsed: PreuploadBody) -> Response:
    sha = repo.resolve(rev)
    existing = repo.files(sha)
    files = []
    for f in parsed.files:
        check_repo_path(f.path)
        try:
            sample = base64.b64decode(f.sample, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidName(f"preupload sample of {f.path!r} is not base64") from None
        mode = upload_mode(f.path, f.size, sample)
        oid = _remote_oid(ctx, repo, existing[f.path], mode) if f.path in existing else None
        files.append({"path": f.path, "uploadMode": mode, "shouldIgnore": False, "oid": oid})
    return JSONResponse({"files": files, "commitOid": sha})


class LfsObject(_Body):
    oid: str
    size: int


class LfsBatchBody(_Body):
    operation: str
    objects: list[LfsObject]
    transfers: list[str] = ["basic"]
    hash_algo: str = "sha256"


def _lfs_batch(request: Request, kind: str, org: str, name: str, raw: bytes) -> Response:
    repo_of(request, kind, org, name)
    body = _parse(LfsBatchBody, raw, "LFS batch")
    if body.hash_algo != "sha256":
        raise LfsError(f"unsupported LFS hash_algo {body.hash_algo!r}: only sha256")
    if "basic" not in body.transfers:
        raise LfsError(f"none of the LFS transfers {body.transfers} is supported: only 'basic'")
    if body.operation not in ("upload", "download"):
        raise LfsError(f"unknown LFS operation {body.operation!r}: expected upload or download")
    ctx = hub(request)
    objects = []
    for obj in body.objects:
        check_oid(obj.oid)
        item: dict[str, Any] = {"oid": obj.oid, "size": obj.size, "authenticated": True}
        href = f"{base_url(request)}/_goat/lfs/objects/{obj.oid}"
        stored = ctx.lfs.has(obj.oid, obj.size)
        if body.operation == "upload":
            if obj.size < 0 or obj.size > ctx.max_upload_bytes:
                item["error"] = {"code": 422, "message": f"size {obj.size} is out of range"}
            elif not stored:  # no "actions" means "already stored": the client skips the upload
                ctx.pending_uploads[obj.oid] = obj.size
                item["actions"] = {"upload": {"href": href, "expires_in": 3600}}
        elif stored:
            item["actions"] = {"download": {"href": href, "expires_in": 3600}}
        else:
            item["error"] = {"code": 404, "message": "Object does not exist"}
        objects.append(item)
    return JSONResponse({"transfer": "basic", "objects": objects, "hash_algo": "sha256"}, media_type=LFS_MEDIA_TYPE)


@router.post("/{kind}/{org}/{name}.git/info/lfs/objects/batch")
async def lfs_batch_typed(kind: str, org: str, name: str, request: Request) -> Response:
    if kind not in ("datasets", "spaces"):
        raise InvalidName(f"unknown repo type {kind!r} in an LFS URL: expected datasets or spaces")
    raw = await request.body()
    return await run_in_threadpool(_lfs_batch, request, kind, org, name, raw)


@router.post("/{org}/{name}.git/info/lfs/objects/batch")
async def lfs_batch_model(org: str, name: str, request: Request) -> Response:
    raw = await request.body()
    return await run_in_threadpool(_lfs_batch, request, "models", org, name, raw)


@router.put("/_goat/lfs/objects/{oid}")
async def lfs_put(oid: str, request: Request) -> Response:
    """Receive one announced object; sha256 and size are checked before it becomes visible under its oid."""
    ctx = hub(request)
    check_oid(oid)
    size = ctx.pending_uploads.get(oid)
    if size is None:
        if ctx.lfs.has_any(oid):
            return Response(status_code=200)
        raise LfsError(f"LFS object {oid} was not announced by a batch request; ask objects/batch first")
    upload = ctx.lfs.begin(oid, size)
    try:
        async for chunk in request.stream():
            upload.write(chunk)
        await run_in_threadpool(upload.finish)
    finally:
        upload.abort()
    ctx.pending_uploads.pop(oid, None)
    return Response(status_code=200)


@router.get("/_goat/lfs/objects/{oid}")
def lfs_get(oid: str, request: Request) -> Response:
    path = hub(request).lfs.path(oid)
    if not path.is_file():
        return hub_error(404, f"LFS object {oid} does not exist", "EntryNotFound")
    return FileResponse(path, media_type="application/octet-stream")


# --- commits ---------------------------------------------------------------------------------------------------
def parse_commit_payload(raw: bytes, ctx: HubContext) -> dict[str, Any]:
    """The NDJSON commit body -> summary, description, parentCommit, additions and deletions (all checked)."""
    header: dict[str, Any] | None = None
    additions: list[Addition] = []
    deleted_files: list[str] = []
    deleted_folders: list[str] = []
    for lineno, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            key, value = item["key"], item["value"]
        except (ValueError, KeyError, TypeError):
            raise InvalidName(f"commit payload line {lineno} is not a {{key, value}} JSON object") from None
        if key == "header":
            header = value
        elif key == "file":
            path = check_repo_path(value.get("path", ""), f"file path (line {lineno})")
            if value.get("encoding", "base64") != "base64":
                raise InvalidName(f"line {lineno}: unsupported encoding {value.get('encoding')!r}: use base64")
            try:
                content = base64.b64decode(value.get("content", ""), validate=True)
            except (binascii.Error, ValueError):
                raise InvalidName(f"line {lineno}: content of {path!r} is not valid base64") from None
            additions.append(Addition(path, content=content))
        elif key == "lfsFile":
            path = check_repo_path(value.get("path", ""), f"LFS file path (line {lineno})")
            oid, size = check_oid(str(value.get("oid", ""))), value.get("size")
            if value.get("algo", "sha256") != "sha256":
                raise LfsError(f"line {lineno}: unsupported LFS algo {value.get('algo')!r}")
            if not isinstance(size, int) or not ctx.lfs.has(oid, size):
                raise LfsError(
                    f"line {lineno}: LFS object {oid} ({size} bytes) for {path!r} was not uploaded; upload it first"
                )
            additions.append(Addition(path, source=ctx.lfs.path(oid)))
        elif key == "deletedFile":
            deleted_files.append(check_repo_path(value.get("path", ""), f"deleted path (line {lineno})"))
        elif key == "deletedFolder":
            deleted_folders.append(
                check_repo_path(value.get("path", "").rstrip("/"), f"deleted folder (line {lineno})")
            )
        else:
            raise InvalidName(f"commit payload line {lineno}: unsupported operation {key!r}")
    if header is None or not str(header.get("summary", "")).strip():
        raise InvalidName("the commit payload needs a header line with a non-empty 'summary'")
    return {
        "summary": str(header["summary"]),
        "description": str(header.get("description") or ""),
        "parent_commit": header.get("parentCommit"),
        "additions": additions,
        "deleted_files": deleted_files,
        "deleted_folders": deleted_folders,
    }


@router.post("/api/{kind}/{org}/{name}/commit/{rest:path}")
async def commit(kind: str, org: str, name: str, rest: str, request: Request) -> Response:
    ref, repo = repo_of(request, kind, org, name)
    branch = check_ref_name("/".join(tail_after(request, 4)), "branch name")
    if request.query_params.get("create_pr") in ("1", "true", "True"):
        return hub_error(400, "pull requests are not supported by the local Hub: commit to a branch instead")
    ctx = hub(request)
    payload = parse_commit_payload(await request.body(), ctx)

    def write() -> str:
        with ctx.store.writing(ref):
            return repo.commit(branch, identity=ctx.store.identity, **payload)

    sha = await run_in_threadpool(write)
    url = f"{_repo_url(request, ref)}/commit/{sha}"
    return JSONResponse({"success": True, "commitOid": sha, "commitUrl": url, "hookOutput": "", "pullRequestUrl": None})


# --- tags and branches -----------------------------------------------------------------------------------------
class TagBody(_Body):
    tag: str
    message: str | None = None


class BranchBody(_Body):
    startingPoint: str | None = None


@router.post("/api/{kind}/{org}/{name}/tag/{rest:path}")
async def create_tag(kind: str, org: str, name: str, rest: str, request: Request) -> Response:
    ref, repo = repo_of(request, kind, org, name)
    rev = check_revision("/".join(tail_after(request, 4)))
    body = _parse(TagBody, await request.body(), "tag")
    ctx = hub(request)

    def write() -> None:
        with ctx.store.writing(ref):
            repo.create_tag(body.tag, repo.resolve(rev), body.message, ctx.store.identity)

    await run_in_threadpool(write)
    return JSONResponse({"tag": body.tag, "revision": rev})


@router.delete("/api/{kind}/{org}/{name}/tag/{rest:path}")
def delete_tag(kind: str, org: str, name: str, rest: str, request: Request) -> Response:
    ref, repo = repo_of(request, kind, org, name)
    tag = check_ref_name("/".join(tail_after(request, 4)), "tag name")
    with hub(request).store.writing(ref):
        repo.delete_ref(f"refs/tags/{tag}")
    return JSONResponse({"deleted": tag})


@router.post("/api/{kind}/{org}/{name}/branch/{rest:path}")
async def create_branch(kind: str, org: str, name: str, rest: str, request: Request) -> Response:
    ref, repo = repo_of(request, kind, org, name)
    branch = check_ref_name("/".join(tail_after(request, 4)), "branch name")
    body = _parse(BranchBody, await request.body(), "branch")
    start = check_revision(body.startingPoint) if body.startingPoint else DEFAULT_BRANCH
    ctx = hub(request)

    def write() -> None:
        with ctx.store.writing(ref):
            repo.create_ref(f"refs/heads/{branch}", repo.resolve(start))

    await run_in_threadpool(write)
    return JSONResponse({"branch": branch, "startingPoint": start})


@router.delete("/api/{kind}/{org}/{name}/branch/{rest:path}")
def delete_branch(kind: str, org: str, name: str, rest: str, request: Request) -> Response:
    ref, repo = repo_of(request, kind, org, name)
    branch = check_ref_name("/".join(tail_after(request, 4)), "branch name")
    if branch == DEFAULT_BRANCH:
        return hub_error(403, f"cannot delete the default branch {DEFAULT_BRANCH!r}")
    with hub(request).store.writing(ref):
        repo.delete_ref(f"refs/heads/{branch}")
    return JSONResponse({"deleted": branch})


# --- what a local Hub does not have ----------------------------------------------------------------------------
@router.get("/api/whoami-v2")
def whoami(request: Request) -> Response:
    """Answered locally: olah would forward the caller's token to huggingface.co."""
    user = hub(request).store.identity.name
    return JSONResponse(
        {"type": "user", "name": user, "fullname": user, "orgs": [], "auth": {"accessToken": {"role": "write"}}}
    )


@router.api_route("/api/{kind}/{org}/{name}/xet-write-token/{rest:path}", methods=["GET", "POST"])
@router.api_route("/api/{kind}/{org}/{name}/xet-read-token/{rest:path}", methods=["GET", "HEAD"])
def no_xet(kind: str, org: str, name: str, rest: str) -> Response:
    return hub_error(
        501,
        "the local Hub has no Xet storage: set HF_HUB_DISABLE_XET=1 before huggingface_hub is imported"
        " (uploads then use the LFS protocol)",
        "XetNotSupported",
    )


__all__ = ["router", "upload_mode", "card_metadata_problems", "parse_commit_payload"]
