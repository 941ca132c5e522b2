"""Content-addressed store for objects uploaded through the git-LFS batch protocol.

huggingface_hub uploads "lfs" files (parquet shards) before it sends the commit that names them by sha256. The
objects wait here until a commit turns them into git blobs; they are kept afterwards so that a later upload of the
same bytes is answered "already stored" (the LFS batch protocol's way to skip an upload).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterable

_OID_RE = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


class LfsError(ValueError):
    """An upload whose oid or size is malformed or does not match its content."""


def check_oid(oid: str) -> str:
    if not _OID_RE.match(oid):
        raise LfsError(f"invalid LFS oid {oid!r}: expected 64 lowercase hex digits (a sha256)")
    return oid


class LfsStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, oid: str) -> Path:
        check_oid(oid)
        return self.root / oid[:2] / oid[2:4] / oid

    def has(self, oid: str, size: int) -> bool:
        p = self.path(oid)
        return p.is_file() and p.stat().st_size == size

    def has_any(self, oid: str) -> bool:
        return self.path(oid).is_file()

    def begin(self, oid: str, size: int) -> "LfsUpload":
        """Start an upload; feed it chunks, then ``finish()`` checks sha256 and size and moves it into place."""
        return LfsUpload(self.path(oid), oid, size)

    def put(self, oid: str, size: int, chunks: Iterable[bytes]) -> Path:
        upload = self.begin(oid, size)
        try:
            for chunk in chunks:
                upload.write(chunk)
            return upload.finish()
        finally:
            upload.abort()


class LfsUpload:
    """One object being received: written to a temp file beside its target, so that a half-written or wrong
    upload is never visible under its oid."""

    def __init__(self, target: Path, oid: str, size: int) -> None:
        if size < 0:
            raise LfsError(f"invalid size {size} for LFS object {oid}")
        self.target, self.oid, self.size = target, oid, size
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        self._tmp = Path(tmp_name)
        self._out = os.fdopen(fd, "wb")
        self._digest = hashlib.sha256()
        self._written = 0

    def write(self, chunk: bytes) -> None:
        self._written += len(chunk)
        if self._written > self.size:
            raise LfsError(f"upload for {self.oid} is larger than the announced {self.size} bytes")
        self._digest.update(chunk)
        self._out.write(chunk)

    def finish(self) -> Path:
        self._out.close()
        if self._written != self.size:
            raise LfsError(f"upload for {self.oid} has {self._written} bytes, the batch request announced {self.size}")
        actual = self._digest.hexdigest()
        if actual != self.oid:
            raise LfsError(f"upload content has sha256 {actual}, not the announced oid {self.oid}")
        os.replace(self._tmp, self.target)
        return self.target

    def abort(self) -> None:
        """Drop the temp file; harmless after ``finish()``."""
        if not self._out.closed:
            self._out.close()
        self._tmp.unlink(missing_ok=True)


def sha256_of(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()
