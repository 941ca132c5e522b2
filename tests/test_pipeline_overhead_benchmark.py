"""benchmarks/pipeline_overhead.py runs as a user runs it (small): its servers start in their own process, every
sample becomes a row, and it prints its table and the machine-readable last line."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_overhead_benchmark_prints_a_ratio_per_concurrency(tmp_path):
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "pipeline_overhead.py"), "--samples", "8", "--llm-latency", "0.05",
         "--api-latency", "0.0", "--concurrency", "1", "4"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert lines[-5].startswith("8 sampled chains") and lines[-4].split()[:2] == ["concurrency", "wall"]
    last = dict(re.findall(r"(\w+)=([\d.]+)", lines[-1]))
    assert set(last) == {"ratio_at_1", "ratio_at_4", "overhead_ms_per_row_at_1", "overhead_ms_per_row_at_4"}
    assert all(0.0 < float(last[f"ratio_at_{c}"]) < 1.5 for c in (1, 4))  # measured against the LLM-bound ideal
