"""Bare git repositories as the storage of the local Hub: one repo per Hub repo, real commits, tags and branches.

Writes go through git plumbing (hash-object, a throw-away index, write-tree, commit-tree) and end with a
compare-and-swap ``update-ref``, so a branch only ever moves from the head a writer saw to its new commit: a stale
writer fails instead of silently dropping someone else's commit. The same repos are what olah reads (its
``mirrors-path``), so every write is immediately visible to the read side.

Files uploaded through LFS are committed as plain git blobs (not LFS pointer files): olah's mirror reader only
understands pointers inside a non-bare working copy (``<repo>/.git/lfs/objects``) and guesses pointers by blob size,
and one plain blob per file keeps the repos self-contained (``git clone`` shows the real parquet files).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

from goat_datasets.hub.names import RepoRef, check_ref_name, is_full_sha

try:  # POSIX: also serialise writers from other processes on the same data dir
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

ZERO_SHA = "0" * 40
DEFAULT_BRANCH = "main"
GITATTRIBUTES = (
    "# goat-datasets local Hub: every file, parquet included, is stored as a plain git blob (no LFS pointers).\n"
)


class HubStoreError(Exception):
    """Base of the errors a Hub route turns into an HTTP status with ``X-Error-Code``."""

    status = 400
    code = "BadRequest"


class RepoNotFound(HubStoreError):
    status, code = 404, "RepoNotFound"


class RevisionNotFound(HubStoreError):
    status, code = 404, "RevisionNotFound"


class EntryNotFound(HubStoreError):
    status, code = 404, "EntryNotFound"


class RefExists(HubStoreError):
    status, code = 409, "Conflict"


class StaleParent(HubStoreError):
    status, code = 412, "PreconditionFailed"


class PathConflict(HubStoreError):
    status, code = 400, "PathConflict"


class GitCommandError(HubStoreError):
    status, code = 500, "GitError"


@dataclass(frozen=True)
class Identity:
    name: str = "goat"
    email: str = "goat@localhost"


@dataclass(frozen=True)
class Addition:
    """A file to write: ``content`` (small files sent inline) or ``source`` (an LFS object on disk)."""

    path: str
    content: bytes | None = None
    source: Path | None = None


@dataclass(frozen=True)
class CommitRecord:
    sha: str
    author: str
    date: str  # ISO 8601, UTC, as the Hub writes it
    title: str
    message: str


@dataclass(frozen=True)
class Entry:
    sha: str
    kind: str  # "blob" or "tree"
    size: int


def _git_env(identity: Identity | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,  # a user's commit.gpgSign or hooks must not change what the Hub writes
        "GIT_LITERAL_PATHSPECS": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
    }
    if identity is not None:
        env.update(
            GIT_AUTHOR_NAME=identity.name,
            GIT_AUTHOR_EMAIL=identity.email,
            GIT_COMMITTER_NAME=identity.name,
            GIT_COMMITTER_EMAIL=identity.email,
        )
    return env


def _iso_utc(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class BareRepo:
    """One bare repository on disk. Reads are lock-free; writers hold ``HubStore.writing(ref)``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    # -- plumbing -------------------------------------------------------------------------------------------
    def git(
        self,
        *args: str,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(
            ["git", f"--git-dir={self.path}", *args],
            input=input,
            capture_output=True,
            env=env or _git_env(),
        )
        if check and proc.returncode != 0:
            raise GitCommandError(
                f"git {' '.join(args[:2])} failed in {self.path}: {proc.stderr.decode(errors='replace').strip()}"
            )
        return proc

    def _out(self, *args: str, **kw) -> str:
        return self.git(*args, **kw).stdout.decode().strip()

    # -- refs -----------------------------------------------------------------------------------------------
    def ref_target(self, ref: str) -> str | None:
        """The commit a full ref name (``refs/heads/main``) points to, tags peeled; None if it does not exist."""
        proc = self.git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return proc.stdout.decode().strip() or None if proc.returncode == 0 else None

    def branch_head(self, branch: str) -> str | None:
        return self.ref_target(f"refs/heads/{check_ref_name(branch, 'branch name')}")

    def resolve(self, rev: str) -> str:
        """A branch, tag, ``refs/...`` name or full commit sha -> commit sha (branches win over tags, as on the Hub)."""
        if is_full_sha(rev.lower()):
            proc = self.git("cat-file", "-t", rev.lower(), check=False)
            if proc.returncode == 0 and proc.stdout.strip() == b"commit":
                return rev.lower()
            raise RevisionNotFound(f"Invalid rev id: {rev}")
        check_ref_name(rev, "revision")
        candidates = [rev] if rev.startswith("refs/") else [f"refs/heads/{rev}", f"refs/tags/{rev}"]
        for ref in candidates:
            sha = self.ref_target(ref)
            if sha:
                return sha
        raise RevisionNotFound(f"Invalid rev id: {rev}")

    def refs(self, prefix: str) -> dict[str, str]:
        out = self._out("for-each-ref", "--format=%(refname)%00%(objectname)%00%(*objectname)", prefix)
        result = {}
        for line in out.splitlines():
            name, obj, peeled = line.split("\x00")
            result[name[len(prefix) :]] = peeled or obj
        return result

    def create_ref(self, ref: str, sha: str) -> None:
        """Create ``ref`` only if it does not exist yet (atomic in git)."""
        proc = self.git("update-ref", ref, sha, ZERO_SHA, check=False)
        if proc.returncode != 0:
            if self.ref_target(ref):
                raise RefExists(f"{ref.split('/', 2)[-1]!r} already exists")
            raise GitCommandError(f"could not create {ref}: {proc.stderr.decode(errors='replace').strip()}")

    def delete_ref(self, ref: str) -> None:
        if self.git("rev-parse", "--verify", "--quiet", ref, check=False).returncode != 0:
            raise RevisionNotFound(f"{ref.split('/', 2)[-1]!r} does not exist")
        self.git("update-ref", "-d", ref)

    def create_tag(self, name: str, sha: str, message: str | None, identity: Identity) -> None:
        ref = f"refs/tags/{check_ref_name(name, 'tag name')}"
        if self.ref_target(ref):
            raise RefExists(f"tag {name!r} already exists")
        if not message:
            self.create_ref(ref, sha)
            return
        body = (
            f"object {sha}\ntype commit\ntag {name}\n"
            f"tagger {identity.name} <{identity.email}> {int(datetime.now().timestamp())} +0000\n\n{message}\n"
        )
        tag_obj = self._out("mktag", input=body.encode(), env=_git_env(identity))
        self.create_ref(ref, tag_obj)

    # -- reads ----------------------------------------------------------------------------------------------
    def entry(self, commit: str, path: str) -> Entry | None:
        """What ``path`` is at ``commit`` (blob or tree), or None; ``path`` is matched literally."""
        line = self.git("cat-file", "--batch-check", input=f"{commit}:{path}\n".encode()).stdout.decode().strip()
        parts = line.split(" ")
        if len(parts) != 3 or parts[1] not in ("blob", "tree"):
            return None
        return Entry(sha=parts[0], kind=parts[1], size=int(parts[2]))

    def files(self, commit: str) -> dict[str, str]:
        """path -> blob sha of every file at ``commit``."""
        out = self.git("ls-tree", "-r", "-z", commit).stdout.decode()
        result = {}
        for rec in filter(None, out.split("\x00")):
            meta, path = rec.split("\t", 1)
            _mode, kind, sha = meta.split(" ")
            if kind == "blob":
                result[path] = sha
        return result

    def write_blob_to(self, blob_sha: str, target: Path) -> Path:
        """Copy a blob to ``target`` once (blobs are immutable, so a file named by its sha never goes stale)."""
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".blob-")
        try:
            with os.fdopen(fd, "wb") as out:
                proc = subprocess.run(
                    ["git", f"--git-dir={self.path}", "cat-file", "blob", blob_sha],
                    stdout=out,
                    stderr=subprocess.PIPE,
                    env=_git_env(),
                )
            if proc.returncode != 0:
                raise GitCommandError(f"cannot read blob {blob_sha}: {proc.stderr.decode(errors='replace').strip()}")
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return target

    def log(self, rev: str, skip: int = 0, limit: int = 50) -> list[CommitRecord]:
        # -z ends each commit with NUL, which a commit message cannot contain; fields are split on the first three
        # unit separators, so the message (the last field) may hold anything else.
        out = self.git(
            "log", "-z", f"--skip={skip}", f"--max-count={limit}", "--format=%H%x1f%an%x1f%aI%x1f%B", rev, "--"
        ).stdout.decode()
        records = []
        for rec in out.split("\x00"):
            if not rec.strip():
                continue
            sha, author, date, body = rec.split("\x1f", 3)
            title, _, message = body.strip().partition("\n")
            records.append(CommitRecord(sha.strip(), author, _iso_utc(date), title.strip(), message.strip()))
        return records

    # -- writes ---------------------------------------------------------------------------------------------
    def commit(
        self,
        branch: str,
        *,
        additions: Sequence[Addition],
        deleted_files: Sequence[str] = (),
        deleted_folders: Sequence[str] = (),
        summary: str,
        description: str = "",
        parent_commit: str | None = None,
        identity: Identity = Identity(),
    ) -> str:
        """Write one commit on ``branch``; the caller holds the repo's write lock."""
        head = self.branch_head(branch)
        if head is None:
            raise RevisionNotFound(f"branch {branch!r} does not exist: create it first (create_branch)")
        if parent_commit is not None and parent_commit.lower() != head:
            raise StaleParent(
                f"parentCommit {parent_commit} is not the head of {branch!r} ({head}): a commit has happened since;"
                " refresh and try again"
            )
        files = self.files(head)
        removals: set[str] = set()
        for path in deleted_files:
            if path not in files:
                raise EntryNotFound(f"cannot delete {path!r}: A file with this name doesn't exist on {branch!r}")
            removals.add(path)
        for folder in deleted_folders:
            prefix = folder.rstrip("/") + "/"
            matched = {p for p in files if p.startswith(prefix)}
            if not matched:
                raise EntryNotFound(f"cannot delete folder {folder!r}: it does not exist on {branch!r}")
            removals |= matched
        remaining = set(files) - removals
        added = [a.path for a in additions]
        _check_no_path_conflicts(remaining - set(added), added)

        lines: list[str] = [f"0 {ZERO_SHA}\t{p}" for p in sorted(removals - set(added))]
        for add in additions:
            lines.append(f"100644 {self._hash_object(add)}\t{add.path}")
        with tempfile.TemporaryDirectory(prefix="goat-index-") as tmp:
            env = {**_git_env(identity), "GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self.git("read-tree", head, env=env)
            if lines:
                self.git("update-index", "-z", "--index-info", input="\x00".join(lines).encode() + b"\x00", env=env)
            tree = self._out("write-tree", env=env)
        message = summary.strip() + (f"\n\n{description.strip()}" if description.strip() else "") + "\n"
        new = self._out("commit-tree", tree, "-p", head, input=message.encode(), env=_git_env(identity))
        proc = self.git("update-ref", f"refs/heads/{branch}", new, head, check=False)
        if proc.returncode != 0:
            raise StaleParent(f"branch {branch!r} moved while this commit was being written; refresh and try again")
        return new

    def _hash_object(self, add: Addition) -> str:
        if add.source is not None:
            return self._out("hash-object", "-w", "--no-filters", "--", str(add.source))
        return self._out("hash-object", "-w", "--no-filters", "--stdin", input=add.content or b"")


def _check_no_path_conflicts(existing: set[str], added: list[str]) -> None:
    """A path cannot be both a file and a folder: refuse ``a`` + ``a/b`` instead of letting git pick one."""
    if len(set(added)) != len(added):
        dup = next(p for p in added if added.count(p) > 1)
        raise PathConflict(f"the commit writes {dup!r} twice")
    all_files = existing | set(added)
    folders = {p.rsplit("/", 1)[0] for p in all_files if "/" in p}
    folders = {"/".join(f.split("/")[: i + 1]) for f in folders for i in range(f.count("/") + 1)}
    clash = sorted(all_files & folders)
    if clash:
        raise PathConflict(f"{clash[0]!r} would be both a file and a folder")


class HubStore:
    """The data folder of a local Hub: ``mirrors/<datasets|models|spaces>/<org>/<name>`` bare repos (olah's
    mirrors-path), ``lfs/`` uploaded objects, ``blob-cache/`` blobs materialised for ranged downloads."""

    def __init__(self, data_dir: Path, identity: Identity = Identity()) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.mirrors = self.data_dir / "mirrors"
        self.lfs_root = self.data_dir / "lfs"
        self.blob_cache = self.data_dir / "blob-cache"
        self.identity = identity
        for d in (self.mirrors, self.lfs_root, self.blob_cache, self.data_dir / "locks", self.data_dir / "tmp"):
            d.mkdir(parents=True, exist_ok=True)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def repo_path(self, ref: RepoRef) -> Path:
        return self.mirrors / ref.kind / ref.org / ref.name

    def exists(self, ref: RepoRef) -> bool:
        return (self.repo_path(ref) / "HEAD").is_file()

    def open(self, ref: RepoRef) -> BareRepo:
        if not self.exists(ref):
            raise RepoNotFound(f"Repository not found: {ref.kind}/{ref.repo_id}")
        return BareRepo(self.repo_path(ref))

    @contextlib.contextmanager
    def writing(self, ref: RepoRef) -> Iterator[None]:
        """Serialise writers of one repo: threads of this server, and other processes sharing the data dir."""
        key = f"{ref.kind}/{ref.repo_id}"
        with self._locks_guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            lock_file = self.data_dir / "locks" / (key.replace("/", "__") + ".lock")
            with open(lock_file, "a+b") as fh:
                if fcntl is not None:
                    fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    if fcntl is not None:
                        fcntl.flock(fh, fcntl.LOCK_UN)

    def create(self, ref: RepoRef) -> bool:
        """Create an empty repo whose ``main`` holds one commit (as the Hub does); False if it already exists."""
        with self.writing(ref):
            if self.exists(ref):
                return False
            target = self.repo_path(ref)
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=self.data_dir / "tmp", prefix="new-repo-"))
            try:
                subprocess.run(
                    ["git", "init", "--bare", "--quiet", f"--initial-branch={DEFAULT_BRANCH}", str(staging)],
                    check=True,
                    capture_output=True,
                    env=_git_env(),
                )
                repo = BareRepo(staging)
                blob = repo._hash_object(Addition(".gitattributes", content=GITATTRIBUTES.encode()))
                tree = repo._out("mktree", input=f"100644 blob {blob}\t.gitattributes\n".encode())
                first = repo._out("commit-tree", tree, input=b"initial commit\n", env=_git_env(self.identity))
                repo.create_ref(f"refs/heads/{DEFAULT_BRANCH}", first)
                if target.exists():  # a leftover empty folder from a crash; never a real repo (checked above)
                    target.rmdir()
                os.rename(staging, target)
            except subprocess.CalledProcessError as exc:
                raise GitCommandError(f"git init failed: {exc.stderr.decode(errors='replace').strip()}") from exc
            finally:
                if staging.exists():
                    shutil.rmtree(staging, ignore_errors=True)
            return True

    def blob_file(self, repo: BareRepo, blob_sha: str) -> Path:
        return repo.write_blob_to(blob_sha, self.blob_cache / blob_sha[:2] / blob_sha)
