"""The local Hub with the real, unmodified clients: huggingface_hub.HfApi and datasets.load_dataset over HTTP on
127.0.0.1. How the clients are pointed at it in one process: see goat_datasets.hub.endpoint (HF_ENDPOINT is read at
import time, so the env var alone is not enough once huggingface_hub/datasets are imported)."""

from __future__ import annotations

import hashlib
import http.client
import json
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import datasets
import httpx
import huggingface_hub.constants as hf_constants
import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from goat_datasets.hub.client import VersionExistsError, publish_folder, version_tag
from goat_datasets.hub.endpoint import use_hub_endpoint
from goat_datasets.hub.names import InvalidName, check_repo_path, has_dot_segment
from goat_datasets.hub.routes_write import card_metadata_problems, upload_mode
from goat_datasets.hub.server import running_hub

CARD = """---
configs:
- config_name: calls
  data_files:
  - split: train
    path: data/calls/train-*.parquet
- config_name: bench
  data_files:
  - split: test
    path: data/bench/test-*.parquet
---
# tiny goat dataset
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("hub")) as url:
        yield url


@pytest.fixture
def api(hub, tmp_path, monkeypatch):
    """HfApi on the local Hub, with every client cache in tmp_path (nothing written to ~/.cache)."""
    monkeypatch.setenv("HF_ENDPOINT", hub)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "ds-cache")
    monkeypatch.setattr(datasets.config, "HF_MODULES_CACHE", tmp_path / "ds-modules")
    with use_hub_endpoint(hub):
        yield HfApi(endpoint=hub, token="hf_any_token_is_accepted")


def write_build(folder: Path, calls: list[dict], bench: list[dict]) -> Path:
    for cfg, split, rows in (("calls", "train", calls), ("bench", "test", bench)):
        (folder / "data" / cfg).mkdir(parents=True, exist_ok=True)
        datasets.Dataset.from_list(rows).to_parquet(str(folder / "data" / cfg / f"{split}-00000-of-00001.parquet"))
    (folder / "README.md").write_text(CARD, encoding="utf-8")
    return folder


def load(repo: str, config: str, revision: str, tmp_path: Path, **kw):
    return datasets.load_dataset(repo, config, revision=revision, cache_dir=str(tmp_path / "ds-cache"), **kw)


def raw_status(url: str, path: str, method: str = "GET") -> int:
    """http.client sends the path byte for byte (httpx would normalise '..' away before sending)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, path)
        return conn.getresponse().status
    finally:
        conn.close()


def test_publish_versions_load_and_refuse_republish(api, hub, tmp_path):
    repo = "goat/tiny-tools"
    v1 = write_build(tmp_path / "v1", [{"q": "a", "n": 1}, {"q": "b", "n": 2}], [{"query": "old"}])
    sha1 = publish_folder(repo, v1, "1.0.0", endpoint=hub, token="t")

    calls = load(repo, "calls", "v1.0.0", tmp_path)["train"]
    assert calls["q"] == ["a", "b"] and calls["n"] == [1, 2]
    assert load(repo, "bench", "v1.0.0", tmp_path)["test"]["query"] == ["old"]

    v2 = write_build(tmp_path / "v2", [{"q": "c", "n": 3}], [{"query": "new"}, {"query": "newer"}])
    sha2 = publish_folder(repo, v2, "1.1.0", endpoint=hub, token="t")
    assert sha2 != sha1
    assert load(repo, "calls", "v1.1.0", tmp_path)["train"]["q"] == ["c"]
    assert load(repo, "calls", "v1.0.0", tmp_path)["train"]["q"] == ["a", "b"]  # old version untouched
    assert load(repo, "bench", "v1.0.0", tmp_path)["test"]["query"] == ["old"]

    refs = api.list_repo_refs(repo, repo_type="dataset")
    assert {t.name: t.target_commit for t in refs.tags} == {"v1.0.0": sha1, "v1.1.0": sha2}
    assert [b.target_commit for b in refs.branches if b.name == "main"] == [sha2]

    commits = api.list_repo_commits(repo, repo_type="dataset")
    assert [c.commit_id for c in commits[:2]] == [sha2, sha1]
    assert commits[0].title == "Publish v1.1.0" and commits[0].authors == ["goat"]
    assert commits[-1].title == "initial commit"

    # Republishing v1.0.0 is refused before anything is uploaded: no new LFS object, no commit, no ref change.
    lfs_root = Path(httpx.get(hub + "/").json()["data_dir"]) / "lfs"
    objects_before = sorted(p.name for p in lfs_root.rglob("*") if p.is_file())
    v3 = write_build(tmp_path / "v3", [{"q": "zzz", "n": 9}], [{"query": "other"}])
    with pytest.raises(VersionExistsError, match="v1.0.0"):
        publish_folder(repo, v3, "1.0.0", endpoint=hub, token="t")
    assert sorted(p.name for p in lfs_root.rglob("*") if p.is_file()) == objects_before
    assert api.list_repo_refs(repo, repo_type="dataset") == refs
    assert load(repo, "calls", "v1.0.0", tmp_path)["train"]["q"] == ["a", "b"]

    streamed = load(repo, "calls", "v1.0.0", tmp_path, streaming=True)["train"]
    assert [row["q"] for row in streamed] == ["a", "b"]

    # The store is a plain bare git repo: the tag holds the exact parquet bytes of the first build.
    git_dir = lfs_root.parent / "mirrors" / "datasets" / repo
    shard = "data/calls/train-00000-of-00001.parquet"
    shown = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"v1.0.0:{shard}"], capture_output=True, check=True)
    assert shown.stdout == (v1 / shard).read_bytes()


def test_reads_through_hfapi(api, hub, tmp_path):
    repo = "goat/reads"
    folder = write_build(tmp_path / "b", [{"q": "x", "n": 1}], [{"query": "y"}])
    sha = publish_folder(repo, folder, "0.1.0", endpoint=hub)
    info = api.dataset_info(repo)  # no revision: olah alone would ask huggingface.co
    assert info.sha == sha
    assert info.card_data["configs"][0]["config_name"] == "calls"
    assert {s.rfilename for s in info.siblings} >= {"README.md", "data/calls/train-00000-of-00001.parquet"}
    assert api.dataset_info(repo, revision="v0.1.0").sha == sha
    files = api.list_repo_files(repo, repo_type="dataset", revision="v0.1.0")
    assert "data/bench/test-00000-of-00001.parquet" in files
    readme = api.hf_hub_download(repo, "README.md", repo_type="dataset", revision="v0.1.0")
    assert Path(readme).read_text(encoding="utf-8") == CARD
    snap = Path(api.snapshot_download(repo, repo_type="dataset", revision="v0.1.0"))
    assert (snap / "data/calls/train-00000-of-00001.parquet").stat().st_size > 0

    with pytest.raises(EntryNotFoundError):
        api.hf_hub_download(repo, "nope.txt", repo_type="dataset")
    with pytest.raises(RevisionNotFoundError):
        api.hf_hub_download(repo, "README.md", repo_type="dataset", revision="v9.9.9")
    with pytest.raises(RepositoryNotFoundError):
        api.dataset_info("goat/does-not-exist")


def test_resolve_serves_http_ranges(api, hub, tmp_path):
    repo = "goat/ranges"
    folder = write_build(tmp_path / "b", [{"q": "x" * 100, "n": i} for i in range(50)], [{"query": "y"}])
    publish_folder(repo, folder, "1.0.0", endpoint=hub)
    content = (folder / "data/calls/train-00000-of-00001.parquet").read_bytes()
    url = f"{hub}/datasets/{repo}/resolve/v1.0.0/data/calls/train-00000-of-00001.parquet"

    head = httpx.head(url)
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(content)
    assert len(head.headers["x-repo-commit"]) == 40 and head.headers["etag"]
    part = httpx.get(url, headers={"Range": "bytes=4-11"})
    assert part.status_code == 206 and part.content == content[4:12]
    assert part.headers["content-range"] == f"bytes 4-11/{len(content)}"
    tail = httpx.get(url, headers={"Range": "bytes=-8"})
    assert tail.status_code == 206 and tail.content == content[-8:] and tail.content.endswith(b"PAR1")
    assert httpx.get(url, headers={"Range": f"bytes={len(content) + 10}-"}).status_code == 416
    assert httpx.get(url).content == content


@pytest.mark.parametrize(
    "path",
    [
        "/datasets/goat/../../etc/resolve/main/passwd",
        "/api/datasets/goat/%2e%2e/tree/main",
        "/datasets/%2E%2E/x/resolve/main/README.md",
        "/api/datasets/goat/x/tree/main/%252e%252e/%252e%252e",
        "/datasets/goat/x/resolve/main/./README.md",
        "/api/datasets/goat/x/revision/..%2f..%2f",
        "/no/such/%2e%2e/endpoint",  # only the guard refuses this one: without it, 404
    ],
)
def test_dot_segments_get_400(hub, path):
    assert raw_status(hub, path) == 400


def test_plain_unknown_path_is_404_not_400(hub):
    assert raw_status(hub, "/no/such/endpoint") == 404


def test_invalid_repo_names_get_400(hub):
    for body in ({"name": "a b", "organization": "goat", "type": "dataset"},
                 {"name": "ok", "type": "dataset"},
                 {"name": "ok", "organization": "-bad", "type": "dataset"},
                 {"name": "x", "organization": "goat", "type": "weird"}):
        r = httpx.post(hub + "/api/repos/create", json=body)
        assert r.status_code == 400, body
        assert r.json()["error"]
    assert httpx.get(hub + "/api/datasets/goat/na$me").status_code == 400
    assert httpx.get(hub + "/datasets/goat/x.git/resolve/main/README.md").status_code == 400


def test_stale_parent_commit_gets_412(api):
    repo = "goat/parents"
    api.create_repo(repo, repo_type="dataset")
    first = api.list_repo_refs(repo, repo_type="dataset").branches[0].target_commit
    second = api.upload_file(path_or_fileobj=b"one\n", path_in_repo="a.txt", repo_id=repo, repo_type="dataset",
                             parent_commit=first).oid
    with pytest.raises(HfHubHTTPError) as err:
        api.create_commit(repo, [CommitOperationAdd("b.txt", b"two\n")], commit_message="stale",
                          repo_type="dataset", parent_commit=first)
    assert err.value.response.status_code == 412
    assert api.dataset_info(repo).sha == second
    assert "b.txt" not in api.list_repo_files(repo, repo_type="dataset")

    page = httpx.get(f"{api.endpoint}/api/datasets/{repo}/commits/main", params={"limit": 1})
    assert [c["id"] for c in page.json()] == [second]
    following = httpx.get(page.links["next"]["url"]).json()
    assert [c["id"] for c in following] == [first] and "next" not in httpx.get(page.links["next"]["url"]).links


def test_create_repo_conflict_tags_and_branches(api):
    repo = "goat/refs"
    api.create_repo(repo, repo_type="dataset")
    with pytest.raises(HfHubHTTPError) as err:
        api.create_repo(repo, repo_type="dataset")
    assert err.value.response.status_code == 409
    assert api.create_repo(repo, repo_type="dataset", exist_ok=True).repo_id == repo

    api.create_tag(repo, tag="v0.0.1", repo_type="dataset", tag_message="first")
    with pytest.raises(HfHubHTTPError) as err:
        api.create_tag(repo, tag="v0.0.1", repo_type="dataset")
    assert err.value.response.status_code == 409
    api.create_branch(repo, branch="dev", repo_type="dataset")
    api.upload_file(path_or_fileobj=b"dev only\n", path_in_repo="dev.txt", repo_id=repo, repo_type="dataset",
                    revision="dev")
    assert "dev.txt" in api.list_repo_files(repo, repo_type="dataset", revision="dev")
    assert "dev.txt" not in api.list_repo_files(repo, repo_type="dataset")
    refs = api.list_repo_refs(repo, repo_type="dataset")
    assert {b.name for b in refs.branches} == {"main", "dev"} and [t.name for t in refs.tags] == ["v0.0.1"]
    api.delete_branch(repo, branch="dev", repo_type="dataset")
    api.delete_tag(repo, tag="v0.0.1", repo_type="dataset")
    refs = api.list_repo_refs(repo, repo_type="dataset")
    assert [b.name for b in refs.branches] == ["main"] and refs.tags == []


def test_lfs_upload_is_verified(api, hub):
    api.create_repo("goat/lfs", repo_type="dataset")
    data = b"PAR1 pretend parquet PAR1"
    oid = hashlib.sha256(data).hexdigest()
    batch = httpx.post(f"{hub}/datasets/goat/lfs.git/info/lfs/objects/batch",
                       json={"operation": "upload", "transfers": ["basic"], "hash_algo": "sha256",
                             "objects": [{"oid": oid, "size": len(data)}]}).json()
    href = batch["objects"][0]["actions"]["upload"]["href"]
    assert httpx.put(href, content=b"PAR1 tampered parquet PAR1").status_code == 400
    assert httpx.put(href, content=data[:-1]).status_code == 400
    commit = [{"key": "header", "value": {"summary": "add"}},
              {"key": "lfsFile", "value": {"path": "x.parquet", "algo": "sha256", "oid": oid, "size": len(data)}}]
    body = "\n".join(json.dumps(line) for line in commit)
    refused = httpx.post(f"{hub}/api/datasets/goat/lfs/commit/main", content=body,
                         headers={"Content-Type": "application/x-ndjson"})
    assert refused.status_code == 400 and "not uploaded" in refused.json()["error"]
    assert httpx.put(href, content=data).status_code == 200
    again = httpx.post(f"{hub}/datasets/goat/lfs.git/info/lfs/objects/batch",
                       json={"operation": "upload", "objects": [{"oid": oid, "size": len(data)}]}).json()
    assert "actions" not in again["objects"][0]  # already stored: the client skips the upload
    ok = httpx.post(f"{hub}/api/datasets/goat/lfs/commit/main", content=body,
                    headers={"Content-Type": "application/x-ndjson"})
    assert ok.status_code == 200, ok.text
    assert httpx.get(f"{hub}/datasets/goat/lfs/resolve/{ok.json()['commitOid']}/x.parquet").content == data


def test_preupload_modes_and_card_validation():
    assert upload_mode("data/a/train-0.parquet", 900, b"PAR1\x15\x04") == "lfs"
    assert upload_mode("README.md", 200, b"---\nconfigs: []\n---\n") == "regular"
    assert upload_mode("notes.txt", 50 * 1024 * 1024, b"text") == "lfs"
    assert upload_mode("blob.dat", 10, b"\x00\x01") == "lfs"
    assert card_metadata_problems(CARD) == ([], [])
    errors, _ = card_metadata_problems("---\nconfigs: {a: 1}\n---\n")
    assert errors and "configs" in errors[0]
    assert card_metadata_problems("# no front matter\n")[1]


def test_names_and_versions():
    assert has_dot_segment("/a/%2e%2e/b") and has_dot_segment("/a/%252E%252E") and has_dot_segment("/a/./b")
    assert not has_dot_segment("/datasets/org/name/resolve/main/data/a.b..c")
    for bad in ("../x", "a//b", "/abs", ".git/config", "a/./b", "a\\b"):
        with pytest.raises(InvalidName):
            check_repo_path(bad)
    assert version_tag("1.2.3") == "v1.2.3" == version_tag("v1.2.3")
    with pytest.raises(ValueError, match="MAJOR.MINOR.PATCH"):
        version_tag("latest")


def test_loopback_only_and_endpoint_patch_is_restored(tmp_path):
    from goat_datasets.hub.server import serve_hub

    with pytest.raises(ValueError, match="loopback"):
        serve_hub(host="0.0.0.0", port=1, data_dir=tmp_path)
    before = (hf_constants.ENDPOINT, datasets.config.HF_ENDPOINT)
    with use_hub_endpoint("http://127.0.0.1:9/") as url:
        assert url == hf_constants.ENDPOINT == datasets.config.HF_ENDPOINT == "http://127.0.0.1:9"
        assert hf_constants.HF_HUB_DISABLE_XET is True
    assert (hf_constants.ENDPOINT, datasets.config.HF_ENDPOINT) == before
