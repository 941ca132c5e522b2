"""Near-duplicate removal and benchmark decontamination of generated queries.

Both work on lower-cased word tokens (``\\w+``), so punctuation and case never make two texts differ.

Near-duplicates: the Jaccard similarity of two queries' sets of word n-grams (shingles, default n = 2). Queries are
short (10–40 words), where one changed word already moves bigram Jaccard to about 0.8 for a 20-word query, while
unigrams call reorderings duplicates and trigrams miss one-word edits of short texts. Candidates come from MinHash
signatures (numpy) banded for locality-sensitive hashing, and every candidate pair is then compared exactly, so a
reported similarity is the true Jaccard. The bands are chosen for the threshold so that a pair at the threshold is
missed with probability below 1e-6 (`lsh_bands`). The order is greedy and deterministic: the caller's first text
is kept, and a later one is a duplicate when it is as similar as the threshold to a text already kept.

Decontamination: a query is contaminated when it shares a word n-gram with a benchmark item. GPT-3 used 13-grams,
sized for documents; a 20-word query shares a 13-gram with a benchmark question only when it copies most of it,
so the default here is 8 words (`DEFAULT_CONTAMINATION_NGRAM`), still long enough that ordinary phrasing ("what are
the top rated movies") does not trip it. A text shorter than n words is one n-gram of all its words: it matches
only an identical short text, never a phrase inside a longer one. N-grams are 64-bit hashes; every hit is checked
against the words themselves before it is reported, so a hash collision cannot mark a clean query.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

__all__ = [
    "DEFAULT_CONTAMINATION_NGRAM",
    "DEFAULT_DEDUP_NGRAM",
    "Contamination",
    "NearDuplicate",
    "NgramIndex",
    "BenchmarkFileError",
    "ReferenceItem",
    "find_contaminated",
    "find_near_duplicates",
    "jaccard",
    "load_reference_items",
    "lsh_bands",
    "words",
]

DEFAULT_DEDUP_NGRAM = 2
DEFAULT_CONTAMINATION_NGRAM = 8
NUM_PERM = 128
MAX_MISS_PROBABILITY = 1e-6
_WORD_RE = re.compile(r"\w+", re.UNICODE)
_PRIME = np.uint64((1 << 31) - 1)  # MinHash permutations a*x+b mod p: a, x < 2**31 keeps a*x below 2**62
_MASK64 = (1 << 64) - 1
_MIX = np.uint64(0x9E3779B97F4A7C15)


def words(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


def _word_hash(word: str, cache: dict[str, int]) -> int:
    h = cache.get(word)
    if h is None:
        h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
        cache[word] = h
    return h


def _splitmix(x: np.ndarray) -> np.ndarray:
    """A bijective 64-bit mixer (splitmix64's finaliser): neighbouring inputs give unrelated outputs."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _ngram_hashes(token_lists: Sequence[Sequence[str]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(hash, text index) of every word n-gram of every text, texts shorter than n counting as one n-gram.

    Vectorised over all texts at once: one flat array of word hashes, n shifted views combined, and the windows
    that would cross a text boundary dropped.
    """
    cache: dict[str, int] = {}
    lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
    flat = np.fromiter(
        (_word_hash(w, cache) for t in token_lists for w in t), dtype=np.uint64, count=int(lengths.sum())
    )
    doc = np.repeat(np.arange(len(token_lists), dtype=np.int64), lengths)
    with np.errstate(over="ignore"):
        hashes: list[np.ndarray] = []
        owners: list[np.ndarray] = []
        windows = len(flat) - n + 1
        if windows > 0:
            h = np.zeros(windows, dtype=np.uint64)
            for j in range(n):
                h = _splitmix(h * _MIX + flat[j : j + windows])
            valid = doc[: windows] == doc[n - 1 :]
            hashes.append(h[valid])
            owners.append(doc[:windows][valid])
        short = np.nonzero((lengths > 0) & (lengths < n))[0]
        if len(short):  # rare: a text shorter than n words is one n-gram of all its words
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
            hs = np.empty(len(short), dtype=np.uint64)
            for k, i in enumerate(short):
                h1 = np.zeros(1, dtype=np.uint64)
                for w in flat[starts[i] : starts[i] + lengths[i]]:
                    h1 = _splitmix(h1 * _MIX + w)
                hs[k] = h1[0]
            hashes.append(hs)
            owners.append(short.astype(np.int64))
    if not hashes:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    return np.concatenate(hashes), np.concatenate(owners)


def _shingle_sets(texts: Sequence[str], n: int) -> list[np.ndarray]:
    """Each text's sorted unique n-gram hashes."""
    hashes, owners = _ngram_hashes([words(t) for t in texts], n)
    order = np.lexsort((hashes, owners))
    hashes, owners = hashes[order], owners[order]
    keep = np.ones(len(hashes), dtype=bool)
    keep[1:] = (hashes[1:] != hashes[:-1]) | (owners[1:] != owners[:-1])
    hashes, owners = hashes[keep], owners[keep]
    bounds = np.searchsorted(owners, np.arange(len(texts) + 1))
    return [hashes[bounds[i] : bounds[i + 1]] for i in range(len(texts))]


def jaccard(a: Iterable[Any], b: Iterable[Any]) -> float:
    sa, sb = set(a), set(b)
    if not sa and not sb:
        return 0.0
    return len(sa & sb) / len(sa | sb)


def lsh_bands(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """(bands, rows per band): the most rows per band (fewest needless candidates) for which a pair whose Jaccard
    is exactly ``threshold`` escapes every band with probability below `MAX_MISS_PROBABILITY`."""
    best = (num_perm, 1)
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        if (1.0 - threshold**rows) ** bands <= MAX_MISS_PROBABILITY:
            best = (bands, rows)
    return best


def _minhash(sets: Sequence[np.ndarray], num_perm: int, seed: int) -> np.ndarray:
    """(texts x num_perm) MinHash signatures; an empty set gets a row of the maximum value (it matches nothing)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, int(_PRIME), size=num_perm, dtype=np.uint64)
    b = rng.integers(0, int(_PRIME), size=num_perm, dtype=np.uint64)
    sig = np.full((len(sets), num_perm), _PRIME, dtype=np.uint64)
    nonempty = [i for i, s in enumerate(sets) if len(s)]
    if not nonempty:
        return sig
    flat = np.concatenate([sets[i] for i in nonempty]) % _PRIME
    starts = np.concatenate([[0], np.cumsum([len(sets[i]) for i in nonempty])[:-1]])
    chunk = 16  # permutations at a time: bounds memory at len(flat) * 16 * 8 bytes
    for lo in range(0, num_perm, chunk):
        hi = min(num_perm, lo + chunk)
        vals = (flat[:, None] * a[None, lo:hi] + b[None, lo:hi]) % _PRIME
        sig[nonempty, lo:hi] = np.minimum.reduceat(vals, starts, axis=0)
    return sig


@dataclass(frozen=True)
class NearDuplicate:
    index: int  # the removed text
    kept_index: int  # the earlier, kept text it is closest to
    similarity: float  # exact Jaccard of their word n-gram sets


def find_near_duplicates(
    texts: Sequence[str],
    *,
    threshold: float = 0.8,
    ngram: int = DEFAULT_DEDUP_NGRAM,
    num_perm: int = NUM_PERM,
    seed: int = 0,
) -> list[NearDuplicate]:
    """The texts to remove, in order: each is at least ``threshold`` similar to an earlier text that is kept."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if ngram < 1:
        raise ValueError(f"ngram must be at least 1, got {ngram}")
    sets = _shingle_sets(texts, ngram)
    bands, rows = lsh_bands(threshold, num_perm)
    sig = _minhash(sets, bands * rows, seed)
    with np.errstate(over="ignore"):
        mult = np.random.default_rng(seed + 1).integers(1, 1 << 62, size=rows, dtype=np.uint64) | np.uint64(1)
        keys = np.stack(
            [(sig[:, k * rows : (k + 1) * rows] * mult).sum(axis=1, dtype=np.uint64) for k in range(bands)], axis=1
        ).tolist()
    py_sets = [set(s.tolist()) for s in sets]
    buckets: list[dict[int, list[int]]] = [{} for _ in range(bands)]
    found: list[NearDuplicate] = []
    for i, own in enumerate(py_sets):
        if not own:
            continue
        candidates: set[int] = set()
        for k, key in enumerate(keys[i]):
            hit = buckets[k].get(key)
            if hit:
                candidates.update(hit)
        best_j, best_sim = -1, -1.0
        for j in sorted(candidates):
            other = py_sets[j]
            sim = len(own & other) / len(own | other)
            if sim > best_sim:
                best_j, best_sim = j, sim
        if best_j >= 0 and best_sim >= threshold:
            found.append(NearDuplicate(i, best_j, round(best_sim, 4)))
            continue
        for k, key in enumerate(keys[i]):
            buckets[k].setdefault(key, []).append(i)
    return found


@dataclass(frozen=True)
class ReferenceItem:
    """One benchmark text that generated data must not overlap."""

    source: str  # the benchmark, as the recipe names it (file path or Hub id with config/split)
    item_id: str  # its id column, else its row number
    text: str


@dataclass(frozen=True)
class Contamination:
    index: int  # the contaminated text
    source: str
    item_id: str
    ngram: str  # the shared words


class NgramIndex:
    """The word n-grams of a set of reference texts, as sorted 64-bit hashes with the first item holding each."""

    def __init__(self, items: Sequence[ReferenceItem], ngram: int = DEFAULT_CONTAMINATION_NGRAM):
        if ngram < 1:
            raise ValueError(f"ngram must be at least 1, got {ngram}")
        self.items = list(items)
        self.ngram = ngram
        hashes, owners = _ngram_hashes([words(it.text) for it in self.items], ngram)
        order = np.lexsort((owners, hashes))  # by hash, then by item: the first item holding a hash comes first
        hashes, owners = hashes[order], owners[order]
        first = np.ones(len(hashes), dtype=bool)
        first[1:] = hashes[1:] != hashes[:-1]
        self._hashes, self._owners = hashes[first], owners[first]
        self._all_hashes, self._all_owners = hashes, owners

    def __len__(self) -> int:
        return len(self._hashes)

    def _holders(self, h: int) -> np.ndarray:
        lo = np.searchsorted(self._all_hashes, np.uint64(h), side="left")
        hi = np.searchsorted(self._all_hashes, np.uint64(h), side="right")
        return self._all_owners[lo:hi]

    def find(self, texts: Sequence[str]) -> list[Contamination]:
        """The texts that share an n-gram with a reference item, each with the first such item and n-gram."""
        token_lists = [words(t) for t in texts]
        hashes, owners = _ngram_hashes(token_lists, self.ngram)
        if not len(hashes) or not len(self._hashes):
            return []
        pos = np.searchsorted(self._hashes, hashes)
        pos[pos >= len(self._hashes)] = 0
        hit = self._hashes[pos] == hashes
        found: dict[int, Contamination] = {}
        for k in np.nonzero(hit)[0]:  # in text order, then n-gram order: the first overlap of each text
            i = int(owners[k])
            if i in found:
                continue
            match = self._verify(token_lists[i], int(hashes[k]))
            if match is not None:
                item, gram = match
                found[i] = Contamination(i, item.source, item.item_id, gram)
        return [found[i] for i in sorted(found)]

    def _verify(self, tokens: list[str], h: int) -> tuple[ReferenceItem, str] | None:
        """The reference item and the words of the n-gram with hash ``h``, read from the texts themselves."""
        n = self.ngram
        own = [tuple(tokens)] if len(tokens) < n else [tuple(tokens[p : p + n]) for p in range(len(tokens) - n + 1)]
        for owner in self._holders(h):
            item = self.items[int(owner)]
            ref = words(item.text)
            ref_grams = {tuple(ref)} if len(ref) < n else {tuple(ref[p : p + n]) for p in range(len(ref) - n + 1)}
            for gram in own:
                if gram in ref_grams:
                    return item, " ".join(gram)
        return None


def find_contaminated(
    texts: Sequence[str], references: Sequence[ReferenceItem], *, ngram: int = DEFAULT_CONTAMINATION_NGRAM
) -> list[Contamination]:
    return NgramIndex(references, ngram).find(texts)


# ------------------------------------------------------------------------------------------------ reference loading


class BenchmarkFileError(ValueError):
    """A benchmark file or dataset that cannot be read as texts; the message names the file (or id) and field."""


def load_reference_items(
    *,
    path: str | Path | None = None,
    dataset: str | None = None,
    config: str | None = None,
    split: str = "test",
    column: str = "query",
    id_column: str | None = None,
    label: str | None = None,
) -> list[ReferenceItem]:
    """The texts of one benchmark split: a local ``.json`` (a list of objects), ``.jsonl`` or ``.parquet`` file, or
    a dataset loaded with ``datasets.load_dataset(dataset, config, split=split)`` (the Hub named by ``HF_ENDPOINT``,
    or a local dataset folder). ``column`` holds the text; ``id_column`` (default: ``id`` when present, else the row
    number) names each item in rejection reasons."""
    if (path is None) == (dataset is None):
        raise BenchmarkFileError("a benchmark needs exactly one of `path` (a local file) or `dataset` (a Hub id)")
    if path is not None:
        path = Path(path)
        where = label or str(path)
        rows = _read_rows(path)
    else:
        where = label or f"{dataset}" + (f" ({config})" if config else "") + f" [{split}]"
        rows = _load_dataset_rows(dataset, config, split)
    if not rows:
        raise BenchmarkFileError(f"{where}: no rows (an empty benchmark would decontaminate nothing)")
    columns = list(rows[0].keys())
    if column not in columns:
        raise BenchmarkFileError(f"{where}: no column {column!r} (columns: {', '.join(map(str, columns))})")
    if id_column is not None and id_column not in columns:
        raise BenchmarkFileError(f"{where}: no id column {id_column!r} (columns: {', '.join(map(str, columns))})")
    ids = id_column or ("id" if "id" in columns else None)
    items = []
    for i, row in enumerate(rows):
        text = row.get(column)
        if not isinstance(text, str):
            raise BenchmarkFileError(
                f"{where} row {i}: {column!r} must be a string, got {type(text).__name__} ({_clip(text)})"
            )
        item_id = str(row.get(ids)) if ids is not None and row.get(ids) is not None else f"row {i}"
        items.append(ReferenceItem(where, item_id, text))
    return items


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise BenchmarkFileError(f"{path}: benchmark file not found")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            return pq.read_table(path).to_pylist()
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise BenchmarkFileError(f"{path}: not a readable parquet file ({exc})") from exc
    text = path.read_text(encoding="utf-8")
    if suffix == ".jsonl":
        rows = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise BenchmarkFileError(f"{path}:{n}: not valid JSON ({exc})") from exc
            if not isinstance(row, dict):
                raise BenchmarkFileError(f"{path}:{n}: each line must be a JSON object, got {type(row).__name__}")
            rows.append(row)
        return rows
    if suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise BenchmarkFileError(f"{path}: not valid JSON ({exc})") from exc
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise BenchmarkFileError(f"{path}: must hold a JSON list of objects")
        return data
    raise BenchmarkFileError(f"{path}: unsupported benchmark file type {suffix!r} (use .json, .jsonl or .parquet)")


def _load_dataset_rows(dataset: str, config: str | None, split: str) -> list[dict[str, Any]]:
    from datasets import load_dataset

    try:
        ds = load_dataset(dataset, config, split=split)
    except Exception as exc:  # datasets raises many types (missing repo, config, split, network)
        raise BenchmarkFileError(f"{dataset}: cannot load config {config!r} split {split!r}: {exc}") from exc
    return ds.to_list()


def _clip(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
