"""Validation of everything a Hub request names: repo types, repo ids, git ref names and file paths.

The local Hub maps these names onto folders and git refs, so each one is checked against a strict allow-list before
it touches the disk or git. Invalid names are a client error (HTTP 400) with a message that says what was wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

# Hub URL prefix ("datasets") <-> huggingface_hub repo_type ("dataset").
REPO_TYPES: dict[str, str] = {"models": "model", "datasets": "dataset", "spaces": "space"}
PLURAL_OF: dict[str, str] = {v: k for k, v in REPO_TYPES.items()}

_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$")
_REF_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/+-]{0,199}$")
_FULL_SHA_RE = re.compile(r"^[0-9a-f]{40}$")


class InvalidName(ValueError):
    """A repo id, revision, ref name or file path that the Hub refuses (answered with HTTP 400)."""


@dataclass(frozen=True)
class RepoRef:
    """One repository: ``kind`` is the URL plural ("datasets"), ``org``/``name`` the two halves of the repo id."""

    kind: str
    org: str
    name: str

    @property
    def repo_id(self) -> str:
        return f"{self.org}/{self.name}"

    @property
    def repo_type(self) -> str:
        return REPO_TYPES[self.kind]

    @property
    def url_prefix(self) -> str:
        """The prefix of web URLs: "" for models, "datasets/" for datasets (as on huggingface.co)."""
        return "" if self.kind == "models" else f"{self.kind}/"


def check_name_part(part: str, what: str) -> str:
    if "--" in part or ".." in part or not _NAME_RE.match(part):
        raise InvalidName(
            f"invalid {what} {part!r}: use 1-96 letters, digits, '-', '_' or '.', starting and ending with a letter"
            " or digit, without '--' or '..'"
        )
    if part.lower().endswith(".git"):
        raise InvalidName(f"invalid {what} {part!r}: names may not end with '.git'")
    return part


def parse_repo(kind: str, org: str, name: str) -> RepoRef:
    """Check a repo named by URL segments; every repo on this Hub is ``org/name``."""
    if kind not in REPO_TYPES:
        raise InvalidName(f"unknown repo type {kind!r}: expected one of {', '.join(REPO_TYPES)}")
    return RepoRef(kind, check_name_part(org, "organization"), check_name_part(name, "repo name"))


def parse_repo_id(repo_id: str, repo_type: str | None = "dataset") -> RepoRef:
    """Check a client-side repo id such as ``org/goat-demo``."""
    kind = PLURAL_OF.get(repo_type or "model")
    if kind is None:
        raise InvalidName(f"unknown repo_type {repo_type!r}: expected one of {', '.join(PLURAL_OF)}")
    parts = repo_id.split("/")
    if len(parts) != 2:
        raise InvalidName(f"invalid repo id {repo_id!r}: expected 'org/name'")
    return parse_repo(kind, parts[0], parts[1])


def is_full_sha(rev: str) -> bool:
    return bool(_FULL_SHA_RE.match(rev))


def check_ref_name(name: str, what: str = "ref name") -> str:
    """A branch or tag name, or a revision that is not a sha (git's check-ref-format rules, plus an allow-list)."""
    bad = (
        not _REF_RE.match(name)
        or ".." in name
        or "//" in name
        or "@{" in name
        or name.endswith(("/", ".", ".lock"))
        or any(seg.startswith(".") for seg in name.split("/"))
    )
    if bad:
        raise InvalidName(
            f"invalid {what} {name!r}: use letters, digits and '._/+-', no '..', no segment starting with '.',"
            " not ending with '/', '.' or '.lock'"
        )
    return name


def check_revision(rev: str) -> str:
    return rev.lower() if is_full_sha(rev.lower()) else check_ref_name(rev, "revision")


def check_repo_path(path: str, what: str = "path") -> str:
    """A file path inside a repo: relative, '/'-separated, no empty, '.', '..' or '.git' segments."""
    if not path or path.startswith("/") or "\\" in path or len(path) > 1000 or any(ord(c) < 32 for c in path):
        raise InvalidName(f"invalid {what} {path!r}: expected a relative '/'-separated path inside the repo")
    for seg in path.split("/"):
        if seg in ("", ".", "..") or seg.lower() == ".git":
            raise InvalidName(f"invalid {what} {path!r}: segment {seg!r} is not allowed")
    return path


def has_dot_segment(raw_path: str) -> bool:
    """True if any segment of a raw URL path is '.' or '..', also when percent-encoded (even repeatedly)."""
    for raw in raw_path.split("/"):
        seg = raw
        for _ in range(4):  # %252e%252e -> %2e%2e -> ..
            decoded = unquote(seg)
            if decoded == seg:
                break
            seg = decoded
        if any(piece in (".", "..") for piece in re.split(r"[/\\]", seg)):
            return True
    return False
