"""An interrupted build resumes without redoing finished work.

The end-to-end test runs `goat build` with the real parts (demo API, sources, graph, sampling, the distilabel
pipeline) and a fast fake OpenAI-compatible LLM served here: an uninterrupted build, then a build SIGKILLed (the
whole process group: distilabel's step processes too) while LLM requests are in flight, then the same build again.
The resumed build must repeat no LLM or API call that had already succeeded, and its dataset must equal the
uninterrupted one. Also: the unit rules of `CachedLLM` (failures are not stored, the URL is not in the key).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from demo_builds import demo_api, finish, only_build_dir, start_build, write_recipe
from fake_llm import FakeLLM

from goat_datasets.llm.cache import CachedLLM
from goat_datasets.llm.generation import Generation, OpenAICompatibleLLM

# ------------------------------------------------------------------------------------------------ the builds


def build_log(build_dir: Path) -> list[dict[str, Any]]:
    path = build_dir / "build_log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def stored_llm_keys(build_dir: Path) -> list[str]:
    """sha256 of the prompts whose generations llm.sqlite holds."""
    conn = sqlite3.connect(build_dir / "llm.sqlite")
    try:
        requests = [json.loads(r[0]) for r in conn.execute("SELECT request FROM generations")]
    finally:
        conn.close()
    return [hashlib.sha256(r["messages"][-1]["content"].encode()).hexdigest() for r in requests]


def stored_api_calls(build_dir: Path) -> dict[tuple[str, str], bool]:
    conn = sqlite3.connect(build_dir / "calls.sqlite")
    try:
        return {(a, k): bool(ok) for a, k, ok in conn.execute("SELECT api_id, key, ok FROM entries")}
    finally:
        conn.close()


def sft_rows(build_dir: Path) -> list[str]:
    import pyarrow.parquet as pq

    table = pq.read_table(next((build_dir / "dataset" / "data" / "sft").glob("*.parquet")))
    return sorted(json.dumps(row, sort_keys=True, default=str) for row in table.to_pylist())


def totals(records: list[dict[str, Any]]) -> dict[str, int]:
    return {k: sum(r[k] for r in records) for k in ("api_live", "api_cached", "llm_live", "llm_cached")}


@pytest.mark.slow
def test_a_killed_build_resumes_without_repeating_calls_and_builds_the_same_dataset(tmp_path: Path):
    from goat_datasets.servers import serve_in_thread

    fake = FakeLLM()
    api_log: list[tuple[str, str, int]] = []
    with fake.serve() as llm_url, serve_in_thread(demo_api(api_log, lambda: fake.phase), health_path="/health") as api:
        recipe = write_recipe(tmp_path, api, llm_url)

        # 1. uninterrupted
        fake.phase = "whole"
        whole_cache = tmp_path / "whole"
        t0 = time.monotonic()
        proc = start_build(recipe, whole_cache, tmp_path / "whole.log")
        out = finish(proc, tmp_path / "whole.log")
        whole_s = time.monotonic() - t0
        assert proc.returncode == 0, out[-4000:]
        whole_dir = only_build_dir(whole_cache)
        whole_requests = fake.requests("whole")
        whole_log = totals(build_log(whole_dir))
        n_arguments = sum(kind == "arguments" for kind, _ in whole_requests)
        assert whole_log["llm_live"] == len(whole_requests) and whole_log["llm_cached"] == 0
        assert len(set(whole_requests)) == len(whole_requests)  # each distinct request once, even within a build
        assert len(whole_requests) - n_arguments >= 4, "too few query/answer calls to interrupt in the middle"
        assert f"LLM {len(whole_requests)} live, 0 cached" in out

        # 2. the same build in another cache directory, killed while query/answer requests are in flight (the
        # argument requests are done and execute_chains has logged its batch)
        kill_at = n_arguments + (len(whole_requests) - n_arguments) // 2
        cache = tmp_path / "resumed"
        killed = threading.Event()
        running: dict[str, subprocess.Popen] = {}

        def kill_mid_request(phase: str, n: int) -> None:
            if phase == "interrupted" and n >= kill_at and not killed.is_set():
                killed.set()
                os.killpg(running["proc"].pid, signal.SIGKILL)

        fake.on_request = kill_mid_request
        fake.phase = "interrupted"
        running["proc"] = start_build(recipe, cache, tmp_path / "interrupted.log")
        out1 = finish(running["proc"], tmp_path / "interrupted.log")
        assert killed.is_set() and running["proc"].returncode == -signal.SIGKILL, out1[-4000:]
        build_dir = only_build_dir(cache)
        assert not (build_dir / "rows.jsonl").exists()
        first_log = build_log(build_dir)
        assert [r["step"] for r in first_log] == ["execute_chains"], first_log
        stored_after_kill = stored_llm_keys(build_dir)
        api_after_kill = stored_api_calls(build_dir)
        first_requests = fake.requests("interrupted")

        # 3. again, to the end
        fake.phase = "resumed"
        t0 = time.monotonic()
        proc = start_build(recipe, cache, tmp_path / "resumed.log")
        out2 = finish(proc, tmp_path / "resumed.log")
        resumed_s = time.monotonic() - t0
        assert proc.returncode == 0, out2[-4000:]
        second_requests = fake.requests("resumed")
        second_records = build_log(build_dir)[len(first_log):]
        second_log = totals(second_records)

    # The LLM: no request whose generation the killed run had stored was sent again, and the two runs together
    # made exactly the uninterrupted build's requests, each once.
    stored = set(stored_after_kill)
    assert len(stored) == len(stored_after_kill) >= n_arguments
    assert not stored & {h for _, h in second_requests}
    assert len(stored_after_kill) + len(second_requests) == len(whole_requests)
    assert stored | {h for _, h in second_requests} == {h for _, h in whole_requests}
    # ... as the build log says: the resumed run's live calls are the ones the server saw, the rest came from llm.sqlite
    assert second_log["llm_live"] == len(second_requests)
    assert second_log["llm_live"] + second_log["llm_cached"] == whole_log["llm_live"]
    assert sum(r["llm_live"] for r in first_log) == n_arguments <= len(first_requests)
    assert f"LLM {len(second_requests)} live, {second_log['llm_cached']} cached" in out2
    # The API: the killed run had made every call (it died in the query/answer step); the resumed run repeated only
    # those that had failed (a failure is retried), and answered the others from calls.sqlite. The graph stage was not
    # redone either: the demo API saw no other request in the resumed run.
    second_api = [(r, status) for p, r, status in api_log if p == "resumed"]
    assert second_log["api_live"] == len(second_api)
    assert all(status >= 400 for _, status in second_api), second_api
    assert second_log["api_cached"] >= sum(api_after_kill.values()) > 0
    assert second_log["api_live"] + second_log["api_cached"] == whole_log["api_live"] + whole_log["api_cached"]
    assert stored_api_calls(build_dir) == stored_api_calls(whole_dir)
    # The data: the same rows as the uninterrupted build (order aside).
    assert sft_rows(build_dir) == sft_rows(whole_dir)
    print(
        f"\nuninterrupted: {len(whole_requests)} LLM requests ({n_arguments} for arguments), {whole_log['api_live']} "
        f"pipeline API calls, {whole_s:.0f}s; killed run: {len(first_requests)} LLM requests, {len(stored)} stored; "
        f"resumed: {len(second_requests)} LLM requests, {len(second_api)} API requests, {second_log}, {resumed_s:.0f}s"
    )


# ------------------------------------------------------------------------------------------------ CachedLLM rules


class ScriptedLLM:
    """Answers from a list of Generations (then "ok"), counting calls."""

    def __init__(self, script: list[Generation] | None = None, model: str = "m"):
        self.script = list(script or [])
        self.model = model
        self.temperature = 0.0
        self.max_new_tokens = 64
        self.seed = 0
        self.calls = 0
        self.closed = False

    def generate(self, messages: list[dict[str, Any]], max_new_tokens: int | None = None) -> Generation:
        self.calls += 1
        return self.script.pop(0) if self.script else Generation(text=f"ok {self.calls}", completion_tokens=2)

    def close(self) -> None:
        self.closed = True


HI = [{"role": "user", "content": "hi"}]


def test_cached_llm_stores_successes_only_and_answers_repeats_from_the_file(tmp_path: Path):
    inner = ScriptedLLM([Generation(error="HTTP 503 (after 3 attempts)")])
    llm = CachedLLM(inner, tmp_path / "llm.sqlite")
    assert llm.generate(HI).error  # a failure is returned, not stored ...
    assert len(llm.store) == 0
    first = llm.generate(HI)  # ... so the same request is asked again
    assert first.text == "ok 2" and inner.calls == 2 and len(llm.store) == 1
    assert llm.generate(HI) == first and inner.calls == 2
    assert llm.counts == {"hits": 1, "live": 2, "failed": 1, "record_failures": 0}
    assert (llm.hits, llm.live) == (1, 2)
    # what decides the text is in the key: another token limit or model is another request
    assert llm.generate(HI, max_new_tokens=8).text == "ok 3"
    other_model = CachedLLM(ScriptedLLM(model="other"), tmp_path / "llm.sqlite")
    assert other_model.key(HI) != llm.key(HI) and other_model.generate(HI).text == "ok 1"
    llm.close()
    assert inner.closed
    # another process (here: another object) reads what this one stored
    again = CachedLLM(ScriptedLLM(), tmp_path / "llm.sqlite")
    assert again.generate(HI) == first and again.live == 0 and again.hits == 1
    again.close()


def test_cached_llm_key_leaves_the_endpoint_url_out(tmp_path: Path):
    a = OpenAICompatibleLLM(base_url="http://127.0.0.1:8001/v1", model="qwen", temperature=0.0, seed=3)
    b = OpenAICompatibleLLM(base_url="http://127.0.0.1:9002/v1", model="qwen", temperature=0.0, seed=3)
    ca, cb = CachedLLM(a, tmp_path / "llm.sqlite"), CachedLLM(b, tmp_path / "llm.sqlite")
    assert ca.key(HI) == cb.key(HI)
    other_seed = OpenAICompatibleLLM(base_url=a.base_url, model="qwen", seed=4)
    assert ca.key(HI) != CachedLLM(other_seed, tmp_path / "other.sqlite").key(HI)
    assert ca.key(HI) != ca.key([{"role": "user", "content": "hi!"}])
    # a stored answer serves the endpoint on its new port: nothing listens on either, yet no call is made
    ca.store.put(ca.key(HI), "{}", Generation(text="cached").model_dump())
    assert cb.generate(HI).text == "cached" and cb.live == 0
    ca.close()
    cb.close()


def test_identical_requests_in_flight_at_once_are_sent_once(tmp_path: Path):
    class Slow(ScriptedLLM):
        def generate(self, messages, max_new_tokens=None):
            time.sleep(0.2)
            return super().generate(messages, max_new_tokens)

    inner = Slow()
    llm = CachedLLM(inner, tmp_path / "llm.sqlite")
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        texts = list(pool.map(lambda _: llm.generate(HI).text, range(4)))
    assert texts == ["ok 1"] * 4 and inner.calls == 1 and llm.counts["hits"] == 3
    llm.close()


# ------------------------------------------------------------------------------------------------ step signatures


def test_template_and_code_hashes_are_in_the_step_signatures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import goat_builders.sft_traces  # noqa: F401  (first: it quiets distilabel's import-time pydantic warning)
    from distilabel.pipeline import Pipeline
    from goat_builders.steps.context import code_hash
    from goat_builders.steps.traces import STEP_CODE_MODULES, ExecuteChains, FormatSFT, WriteQueryAndAnswer

    def step(cls: Any, **attrs: Any) -> Any:
        with Pipeline(name="signatures"):
            return cls(name="step", build_dir="b", **attrs)

    assert step(ExecuteChains).code_hash == step(FormatSFT).code_hash == code_hash(*STEP_CODE_MODULES)
    for cls in (ExecuteChains, WriteQueryAndAnswer, FormatSFT):
        assert step(cls).signature == step(cls).signature
        assert step(cls, code_hash="0" * 16).signature != step(cls, code_hash="1" * 16).signature
    for cls in (ExecuteChains, WriteQueryAndAnswer):
        assert step(cls, template_hash="a").signature != step(cls, template_hash="b").signature

    # the hash follows the source of the modules (read without importing them)
    package = tmp_path / "hashme_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mod.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = code_hash("hashme_pkg.mod")
    (package / "mod.py").write_text("X = 2\n")
    code_hash.cache_clear()
    assert code_hash("hashme_pkg.mod") != before
