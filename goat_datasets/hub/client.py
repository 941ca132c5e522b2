"""Publishing a built dataset folder as a tagged version, through ``huggingface_hub.HfApi`` only.

The same calls work against huggingface.co and the local Hub (``goat hub serve``): nothing here knows which one it
talks to. A version is a git tag ``v<version>``; tags are never moved, so an earlier version keeps loading the same
rows after later publishes.
"""

from __future__ import annotations

import re
from pathlib import Path

from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$")
# Files under data/ that are on the branch but not in the folder are deleted by the publish commit, so a version
# never mixes shards of an older build; files elsewhere (a LICENSE added by hand) are kept.
DELETE_PATTERNS = ["data/**"]


class VersionExistsError(RuntimeError):
    """The version tag already exists: publishing it again would change what an earlier publish promised."""


class PublishConflictError(RuntimeError):
    """The branch moved while publishing (someone else committed); nothing was tagged."""


def version_tag(version: str) -> str:
    """``1.0.0`` -> ``v1.0.0`` (a leading ``v`` is accepted and not doubled)."""
    bare = version[1:] if version.startswith("v") else version
    if not _VERSION_RE.match(bare):
        raise ValueError(f"invalid version {version!r}: expected MAJOR.MINOR.PATCH such as 1.0.0")
    return f"v{bare}"


def check_publish_folder(folder: Path) -> None:
    """A publishable folder: README.md (the card, with ``configs:``) and at least one file under ``data/``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"publish folder {folder} does not exist")
    if not (folder / "README.md").is_file():
        raise FileNotFoundError(f"publish folder {folder} has no README.md (the dataset card)")
    data = folder / "data"
    if not data.is_dir() or not any(p.is_file() for p in data.rglob("*")):
        raise FileNotFoundError(f"publish folder {folder} has no files under data/ (expected data/<config>/*.parquet)")


def publish_folder(
    repo_id: str,
    folder: Path,
    version: str,
    endpoint: str | None = None,
    token: str | None = None,
    commit_message: str | None = None,
    *,
    repo_type: str = "dataset",
    private: bool = False,
    branch: str = "main",
) -> str:
    """Upload ``folder`` to ``branch`` and tag the commit ``v<version>``; returns the tagged commit sha.

    Refuses with ``VersionExistsError`` before uploading anything if the tag exists. The upload names the branch
    head it saw as its parent, so a concurrent commit makes it fail (``PublishConflictError``) instead of tagging
    a mix of two builds.
    """
    tag = version_tag(version)
    folder = Path(folder)
    check_publish_folder(folder)
    api = HfApi(endpoint=endpoint, token=token)
    api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
    refs = api.list_repo_refs(repo_id, repo_type=repo_type)
    existing = {t.name: t.target_commit for t in refs.tags}
    if tag in existing:
        raise VersionExistsError(
            f"{repo_id} already has version {tag} (commit {existing[tag]}); publish a new version number instead"
        )
    head = next((b.target_commit for b in refs.branches if b.name == branch), None)
    try:
        info = api.upload_folder(
            repo_id=repo_id,
            repo_type=repo_type,
            folder_path=str(folder),
            revision=branch,
            commit_message=commit_message or f"Publish {tag}",
            parent_commit=head,
            delete_patterns=DELETE_PATTERNS,
        )
    except HfHubHTTPError as exc:
        if exc.response is not None and exc.response.status_code == 412:
            raise PublishConflictError(
                f"{repo_id}@{branch} moved while publishing {tag} (it was at {head}); nothing was tagged, retry"
            ) from exc
        raise
    try:
        api.create_tag(repo_id, tag=tag, revision=info.oid, repo_type=repo_type, tag_message=f"Version {tag}")
    except HfHubHTTPError as exc:
        if exc.response is not None and exc.response.status_code == 409:
            raise VersionExistsError(
                f"{repo_id} version {tag} was created by someone else while publishing; commit {info.oid} is on"
                f" {branch} but not tagged"
            ) from exc
        raise
    return info.oid


def published_fingerprint(
    repo_id: str, version: str, endpoint: str | None = None, token: str | None = None, *, repo_type: str = "dataset"
) -> str | None:
    """The build fingerprint in the card at tag ``v<version>``, or None if the tag does not exist.

    A tag whose card has no fingerprint (published by something else) gives ``""``.
    """
    from huggingface_hub.errors import EntryNotFoundError, RevisionNotFoundError

    from goat_datasets.hub.card import FINGERPRINT_KEY, read_card_metadata

    tag = version_tag(version)
    api = HfApi(endpoint=endpoint, token=token)
    if not api.repo_exists(repo_id, repo_type=repo_type):
        return None
    if tag not in {t.name for t in api.list_repo_refs(repo_id, repo_type=repo_type).tags}:
        return None
    try:
        path = api.hf_hub_download(repo_id, "README.md", revision=tag, repo_type=repo_type)
    except (EntryNotFoundError, RevisionNotFoundError):
        return ""
    return str(read_card_metadata(Path(path).read_text(encoding="utf-8")).get(FINGERPRINT_KEY) or "")


def publish_build(
    repo_id: str,
    folder: Path,
    version: str,
    fingerprint: str,
    endpoint: str | None = None,
    token: str | None = None,
    *,
    private: bool = False,
) -> tuple[str, bool]:
    """Publish a built dataset folder unless this exact build is already that version: ``(revision, uploaded)``.

    Re-running a publish of the same build is a no-op (``uploaded`` False, revision = the tag); the same version
    holding a different build raises `VersionExistsError` and changes nothing.
    """
    existing = published_fingerprint(repo_id, version, endpoint, token)
    tag = version_tag(version)
    if existing is not None:
        if existing == fingerprint:
            return tag, False
        raise VersionExistsError(
            f"{repo_id} {tag} already holds a different build (fingerprint {existing[:12] or 'none'}, this build "
            f"{fingerprint[:12]}); published versions never change: bump the recipe's version or pass --version"
        )
    return publish_folder(repo_id, folder, version, endpoint, token, private=private), True
