"""Datasets for training and evaluation, named by Hub id and revision (``org/name@v1.0.0``) or by a local path.

A training run is only reproducible if we know exactly which rows it saw, so a Hub dataset is resolved to the commit
sha of the requested revision first and then loaded *at that sha*; the sha goes into the run record. Everything goes
through ``huggingface_hub``/``datasets`` and therefore honours ``HF_ENDPOINT`` (``goat hub serve`` offline, the real
Hub online). Mistakes a user can fix (unknown repo, revision, config or split, a missing column) raise
`TrainingInputError` listing what exists instead.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from pydantic import BaseModel

from .errors import TrainingInputError, did_you_mean

__all__ = [
    "DatasetRef",
    "LoadedDataset",
    "parse_dataset_ref",
    "load_split",
    "require_columns",
]

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_FILE_BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


class DatasetRef(BaseModel):
    """What the user named: a Hub repo (with an optional revision after ``@``) or an existing local path."""

    text: str
    repo_id: str | None = None
    revision: str | None = None
    path: str | None = None

    @property
    def is_local(self) -> bool:
        return self.path is not None


def parse_dataset_ref(text: str) -> DatasetRef:
    """``org/name``, ``org/name@v1.0.0`` (a tag, branch or commit sha) or a path that exists.

    An existing path wins over a Hub id of the same spelling, so ``./org/name`` style folders work too.
    """
    text = (text or "").strip()
    if not text:
        raise TrainingInputError("--dataset is empty: give a Hub id such as org/goat-demo@v1.0.0 or a local path")
    path = Path(text).expanduser()
    if path.exists():
        return DatasetRef(text=text, path=str(path.resolve()))
    repo, sep, revision = text.partition("@")
    if sep and not revision:
        raise TrainingInputError(f"dataset {text!r}: nothing after '@' (expected a revision such as v1.0.0)")
    if not _HUB_ID.match(repo):
        raise TrainingInputError(
            f"dataset {text!r} is neither an existing local path nor a Hub id 'org/name[@revision]'"
        )
    return DatasetRef(text=text, repo_id=repo, revision=revision or None)


@dataclass
class LoadedDataset:
    """One split of one config, plus where it came from (for the run record)."""

    dataset: Any  # datasets.Dataset
    ref: DatasetRef
    config: str | None
    split: str
    resolved_revision: str  # Hub: the commit sha; local: sha256 of the data files
    source: str  # the endpoint URL or the local path
    configs: list[str] = field(default_factory=list)

    def provenance(self) -> dict[str, Any]:
        return {
            "dataset": self.ref.text,
            "repo_id": self.ref.repo_id,
            "path": self.ref.path,
            "requested_revision": self.ref.revision,
            "resolved_revision": self.resolved_revision,
            "source": self.source,
            "config": self.config,
            "split": self.split,
            "num_rows": len(self.dataset),
            "columns": list(self.dataset.column_names),
        }

    def describe(self) -> str:
        where = f"{self.ref.repo_id}@{self.resolved_revision[:12]}" if self.ref.repo_id else self.ref.path
        config = f" config {self.config!r}" if self.config else ""
        return f"{where}{config} split {self.split!r}: {len(self.dataset)} rows"


def require_columns(dataset: Any, columns: Sequence[str], context: str) -> None:
    """Raise naming every missing column (and the ones that exist) before a trainer fails on the first row."""
    present = list(dataset.column_names)
    missing = [c for c in columns if c not in present]
    if missing:
        raise TrainingInputError(
            f"{context}: missing column(s) {', '.join(repr(c) for c in missing)}; the dataset has {present}"
        )


def load_split(
    text: str,
    config: str | None = None,
    split: str | None = None,
    *,
    preferred_configs: Sequence[str] = (),
    preferred_splits: Sequence[str] = ("train",),
    cache_dir: str | None = None,
) -> LoadedDataset:
    """Load one split of ``text`` (see `parse_dataset_ref`).

    ``config``/``split`` None: the first of ``preferred_configs``/``preferred_splits`` that exists, or the only one.
    """
    ref = parse_dataset_ref(text)
    if ref.is_local:
        return _load_local(ref, config, split, preferred_configs, preferred_splits, cache_dir)
    return _load_hub(ref, config, split, preferred_configs, preferred_splits, cache_dir)


# ------------------------------------------------------------------------------------------------------ choosing


def _choose(kind: str, wanted: str | None, known: list[str], preferred: Sequence[str], where: str) -> str | None:
    """Pick a config or split name; ``known`` empty means "not known before loading" (then ``wanted`` is trusted)."""
    if wanted is not None:
        if known and wanted not in known:
            raise TrainingInputError(
                f"{where} has no {kind} {wanted!r}{did_you_mean(wanted, known)} (available: {', '.join(known)})"
            )
        return wanted
    if not known:
        return None
    for name in preferred:
        if name in known:
            return name
    if len(known) == 1:
        return known[0]
    flag = "--config" if kind == "config" else "--split"
    raise TrainingInputError(f"{where} has several {kind}s ({', '.join(known)}); choose one with {flag}")


def _card_configs(card: dict[str, Any] | None) -> dict[str, list[str]]:
    """config name -> split names, from the ``configs:`` list of a dataset card (splits empty when not listed)."""
    out: dict[str, list[str]] = {}
    for entry in (card or {}).get("configs") or []:
        if not isinstance(entry, dict) or "config_name" not in entry:
            continue
        files = entry.get("data_files")
        splits = [f["split"] for f in files if isinstance(f, dict) and "split" in f] if isinstance(files, list) else []
        out[str(entry["config_name"])] = splits
    return out


def _pick_split(loaded: Any, split: str | None, preferred: Sequence[str], where: str) -> tuple[Any, str]:
    """``loaded`` is a DatasetDict (or a Dataset, whose split is 'train')."""
    import datasets

    if isinstance(loaded, datasets.Dataset):
        loaded = datasets.DatasetDict({"train": loaded})
    name = _choose("split", split, list(loaded.keys()), preferred, where)
    return loaded[name], name


# ------------------------------------------------------------------------------------------------------------ Hub


def _hub_errors():
    import httpx
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    return httpx, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError


def _refs_listing(api: Any, repo_id: str) -> tuple[list[str], str]:
    refs = api.list_repo_refs(repo_id, repo_type="dataset")
    tags = sorted(t.name for t in refs.tags)
    branches = sorted(b.name for b in refs.branches)
    return tags + branches, f"tags: {', '.join(tags) or 'none'}; branches: {', '.join(branches) or 'none'}"


def _hub_info(ref: DatasetRef) -> tuple[Any, str]:
    from huggingface_hub import HfApi, constants

    httpx, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError = _hub_errors()
    endpoint = constants.ENDPOINT
    api = HfApi()
    try:
        return api.dataset_info(ref.repo_id, revision=ref.revision), endpoint
    except RepositoryNotFoundError:
        raise TrainingInputError(
            f"dataset repo {ref.repo_id!r} not found on {endpoint} (HF_ENDPOINT); check the id, or publish it first"
        ) from None
    except RevisionNotFoundError:
        names, listing = _refs_listing(api, ref.repo_id)
        raise TrainingInputError(
            f"dataset {ref.repo_id!r} has no revision {ref.revision!r}{did_you_mean(ref.revision or '', names)} "
            f"({listing})"
        ) from None
    except httpx.TransportError as exc:
        raise TrainingInputError(
            f"cannot reach the Hub at {endpoint} to resolve {ref.text!r}: {exc}. Offline, start a local Hub with "
            "`goat hub serve` and set HF_ENDPOINT to its URL"
        ) from None
    except HfHubHTTPError as exc:
        raise TrainingInputError(f"the Hub at {endpoint} refused {ref.text!r}: {exc}") from None


def _load_hub(ref, config, split, preferred_configs, preferred_splits, cache_dir) -> LoadedDataset:
    import datasets

    info, endpoint = _hub_info(ref)
    sha = info.sha
    where = f"dataset {ref.repo_id}@{ref.revision or 'main'} ({sha[:12]})"
    card = info.card_data.to_dict() if info.card_data is not None else {}
    by_config = _card_configs(card)
    configs = list(by_config)
    if not configs:
        try:
            configs = list(datasets.get_dataset_config_names(ref.repo_id, revision=sha))
        except Exception:  # noqa: BLE001 - the configs are then only known after loading (datasets raises there)
            configs = []
    chosen = _choose("config", config, configs, preferred_configs, where)
    known_splits = by_config.get(chosen or "", [])
    if known_splits:
        name = _choose("split", split, known_splits, preferred_splits, f"{where} config {chosen!r}")
        try:
            loaded = datasets.load_dataset(ref.repo_id, chosen, split=name, revision=sha, cache_dir=cache_dir)
        except ValueError as exc:
            raise TrainingInputError(f"{where} config {chosen!r} split {name!r}: {exc}") from None
    else:
        try:
            loaded_all = datasets.load_dataset(ref.repo_id, chosen, revision=sha, cache_dir=cache_dir)
        except ValueError as exc:
            raise TrainingInputError(f"{where}: {exc}") from None
        loaded, name = _pick_split(loaded_all, split, preferred_splits, f"{where} config {chosen!r}")
    return LoadedDataset(loaded, ref, chosen, name, sha, endpoint, configs)


# ---------------------------------------------------------------------------------------------------------- local


def _files_digest(files: Sequence[Path], root: Path) -> str:
    """A content hash of the files a local dataset was read from (what a commit sha is for Hub datasets)."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(str(path.relative_to(root) if path != root else path.name).encode())
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _local_card_configs(folder: Path) -> dict[str, list[str]]:
    readme = folder / "README.md"
    if not readme.is_file():
        return {}
    from goat_datasets.hub.card import read_card_metadata

    return _card_configs(read_card_metadata(readme.read_text(encoding="utf-8")))


def _load_local(ref, config, split, preferred_configs, preferred_splits, cache_dir) -> LoadedDataset:
    import datasets

    path = Path(ref.path)
    where = f"local dataset {path}"
    if path.is_file():
        builder = _FILE_BUILDERS.get(path.suffix.lower())
        if builder is None:
            raise TrainingInputError(
                f"{where}: unsupported file type {path.suffix!r} (use {', '.join(sorted(_FILE_BUILDERS))}, a folder "
                "saved with save_to_disk, or a published dataset folder with README.md and data/)"
            )
        loaded = datasets.load_dataset(builder, data_files=str(path), split="train", cache_dir=cache_dir)
        return LoadedDataset(loaded, ref, None, "train", _files_digest([path], path), str(path), [])
    if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
        loaded_all = datasets.load_from_disk(str(path))
        loaded, name = _pick_split(loaded_all, split, preferred_splits, where)
        files = [p for p in path.rglob("*.arrow")]
        return LoadedDataset(loaded, ref, None, name, _files_digest(files, path), str(path), [])
    by_config = _local_card_configs(path)
    if not by_config and (path / "data").is_dir():  # data/<config>/<split>-*.parquet without a card
        by_config = {p.name: [] for p in sorted((path / "data").iterdir()) if p.is_dir()}
        data_files: dict[str, dict[str, list[str]]] = {}
        for cfg in by_config:
            for shard in sorted((path / "data" / cfg).glob("*.parquet")):
                data_files.setdefault(cfg, {}).setdefault(shard.name.split("-")[0], []).append(str(shard))
    else:
        data_files = {}
    configs = list(by_config)
    chosen = _choose("config", config, configs, preferred_configs, where)
    try:
        if chosen is not None and chosen in data_files:
            loaded_all = datasets.load_dataset("parquet", data_files=data_files[chosen], cache_dir=cache_dir)
        else:
            loaded_all = datasets.load_dataset(str(path), chosen, cache_dir=cache_dir)
    except (ValueError, FileNotFoundError) as exc:
        raise TrainingInputError(f"{where}: {exc}") from None
    loaded, name = _pick_split(loaded_all, split, preferred_splits, f"{where} config {chosen!r}")
    sub = path / "data" / chosen if chosen and (path / "data" / chosen).is_dir() else path
    files = [p for p in sub.rglob("*") if p.is_file() and p.suffix in (".parquet", ".jsonl", ".json", ".csv", ".arrow")]
    return LoadedDataset(loaded, ref, chosen, name, _files_digest(files, path), str(path), configs)
