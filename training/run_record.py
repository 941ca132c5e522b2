"""``training_args.json``: what a run was given and what it read, written when it starts and completed when it ends.

A checkpoint alone does not say which rows trained it. The record pins the dataset to the commit sha it was loaded
at (or the content hash of local files), the model to its location (and, for the embedded model, the sha256 of its
GGUF), and keeps every option plus the trainer's full argument set and the library versions, so the run can be
repeated. It is rewritten at the end with the status, the time taken and the final metrics; a run that crashed is
left with ``status: running`` and the options that crashed it.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["RECORD_NAME", "RunRecord", "TrainResult", "common_trainer_args", "library_versions", "train_and_record"]

RECORD_NAME = "training_args.json"
_LIBRARIES = ("torch", "transformers", "trl", "peft", "datasets", "huggingface_hub", "accelerate")


def library_versions() -> dict[str, str | None]:
    import importlib.metadata as md

    versions: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in ("goat-datasets", *_LIBRARIES):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = None
    return versions


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


class RunRecord:
    """The record of one run in ``output_dir``; `start` writes it, `finish` completes it."""

    def __init__(self, output_dir: Path, command: str):
        self.path = Path(output_dir) / RECORD_NAME
        self.data: dict[str, Any] = {"command": command, "argv": list(sys.argv), "status": "running"}
        self._t0 = time.monotonic()

    def start(self, **sections: Any) -> Path:
        self.data["started_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.data["versions"] = library_versions()
        self.data.update(_jsonable(sections))
        return self._write()

    def update(self, **sections: Any) -> Path:
        self.data.update(_jsonable(sections))
        return self._write()

    def finish(self, **sections: Any) -> Path:
        self.data["status"] = "finished"
        self.data["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.data["seconds"] = round(time.monotonic() - self._t0, 3)
        self.data.update(_jsonable(sections))
        return self._write()

    def _write(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        tmp.replace(self.path)
        return self.path


class TrainResult:
    """What a finished training run hands back (also in the run record)."""

    def __init__(self, output_dir: Path, record_path: Path, log_history: list[dict[str, Any]],
                 metrics: dict[str, Any], global_step: int, seconds: float):
        self.output_dir = Path(output_dir)
        self.record_path = Path(record_path)
        self.log_history = log_history
        self.metrics = metrics
        self.global_step = global_step
        self.seconds = seconds

    def logged(self, key: str) -> list[float]:
        """Every value logged under ``key``, in step order."""
        return [float(entry[key]) for entry in self.log_history if key in entry]


def common_trainer_args(options: Any, precision: Any) -> dict[str, Any]:
    """The TrainingArguments both trainers take alike: device and precision, seed, logging and checkpoint cadence,
    no external loggers. ``options`` has ``seed``, ``logging_steps`` and ``save_steps`` (None: no checkpoints)."""
    return {
        "bf16": precision.bf16,
        "use_cpu": precision.device == "cpu",
        "seed": options.seed,
        "logging_steps": options.logging_steps,
        "save_strategy": "steps" if options.save_steps else "no",
        "save_steps": options.save_steps or 500,
        "report_to": [],
        "disable_tqdm": True,
    }


def train_and_record(
    trainer: Any, record: RunRecord, record_path: Path, output_dir: Path, started: float, *, save_tokenizer: Any
) -> TrainResult:
    """Run ``trainer``, save the model (or adapter) and the tokenizer (``save_tokenizer()``) into ``output_dir``, and
    complete the run record with the metrics, the log history and what was saved."""
    output = trainer.train()
    trainer.save_model(str(output_dir))
    save_tokenizer()
    result = TrainResult(
        output_dir=output_dir,
        record_path=record_path,
        log_history=list(trainer.state.log_history),
        metrics=dict(output.metrics),
        global_step=trainer.state.global_step,
        seconds=time.monotonic() - started,
    )
    record.finish(metrics=result.metrics, global_step=result.global_step, log_history=result.log_history,
                  saved=sorted(p.name for p in output_dir.iterdir()))  # fmt: skip
    return result
