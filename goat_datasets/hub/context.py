"""State shared by the Hub routes of one app: the store, and the olah configuration of its read side."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from fastapi import Request
from olah.configs import OlahConfig

from goat_datasets.hub.gitstore import BareRepo, HubStore
from goat_datasets.hub.guards import raw_segments
from goat_datasets.hub.lfs_store import LfsStore
from goat_datasets.hub.names import RepoRef, parse_repo

OLAH_TOML = """\
# Written by goat_datasets.hub.server: the read side of the local Hub (olah) serves these bare git repos offline.
[basic]
host = "127.0.0.1"
mirrors-path = [{mirrors}]
repos-path = {cache}

[accessibility]
offline = true
"""


def write_olah_config(store: HubStore) -> OlahConfig:
    """olah reads its settings from TOML; writing the file keeps ``olah-cli -c <data_dir>/olah.toml`` equivalent."""
    path = store.data_dir / "olah.toml"
    text = OLAH_TOML.format(
        mirrors=_toml_str(str(store.mirrors)), cache=_toml_str(str(store.data_dir / "olah-cache"))
    )
    path.write_text(text, encoding="utf-8")
    config = OlahConfig(str(path))
    if not config.offline or config.mirrors_path != [str(store.mirrors)]:
        raise RuntimeError(f"olah did not read {path} as written (offline={config.offline}, {config.mirrors_path})")
    return config


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class HubContext:
    store: HubStore
    lfs: LfsStore
    # oid -> size announced by an LFS batch request; a PUT is accepted only for an announced object
    pending_uploads: dict[str, int] = field(default_factory=dict)
    max_upload_bytes: int = 50 * 1024**3

    @classmethod
    def create(cls, data_dir: Path) -> "HubContext":
        store = HubStore(data_dir)
        return cls(store=store, lfs=LfsStore(store.lfs_root))


def olah_settings(config: OlahConfig) -> SimpleNamespace:
    """What olah's route helpers read from ``app.state.app_settings``."""
    return SimpleNamespace(config=config)


def hub(request: Request) -> HubContext:
    return request.app.state.hub


def repo_of(request: Request, kind: str, org: str, name: str) -> tuple[RepoRef, BareRepo]:
    ref = parse_repo(kind, org, name)
    return ref, hub(request).store.open(ref)


def tail_after(request: Request, marker_index: int) -> list[str]:
    """Raw-decoded path segments after position ``marker_index`` (see ``guards.raw_segments``)."""
    return raw_segments(request.scope)[marker_index + 1 :]


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")
