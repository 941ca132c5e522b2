"""SFT rows against the Qwen2.5 and Llama 3.1 chat templates (issue 4), with parallel tool calls.

The templates are the original ones trl ships (verified by sha256), rendered by transformers' own machinery; the
embedded model's real tokenizer is used too when its converted copy is already in the cache. The end-to-end test
executes chains against the demo API over HTTP and formats them with the real FormatSFT step.
"""

from __future__ import annotations

import json

import pytest
from datasets import Dataset

from goat_datasets.formats.chat_templates import (
    LLAMA3_1,
    QWEN2_5,
    ChatTemplate,
    ChatTemplateUnavailable,
    get_chat_template,
)
from goat_datasets.formats.render import check_rows, render_row, render_row_with
from goat_datasets.formats.sft import SFT_FEATURES, build_messages
from goat_datasets.registry import UnknownNameError


def _installed(dist: str) -> bool:
    import importlib.metadata as md

    try:
        md.distribution(dist)
    except md.PackageNotFoundError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not _installed("trl"), reason="the templates are read from trl (the train extra: pip install -e '.[train]')"
)

TOOLS = [
    {"type": "function", "function": {"name": n, "description": f"{n} API", "parameters": {"type": "object",
     "properties": {}}}} for n in ("list_genres", "list_cities", "discover_movies")
]  # fmt: skip
CALLS = [
    {"name": "list_genres", "arguments": {}, "response": {"results": [{"genre": "Drama"}]}, "derived": {}},
    {"name": "list_cities", "arguments": {"limit": 1}, "response": {"results": [{"city": "Oslo"}]}, "derived": {}},
    {"name": "discover_movies", "arguments": {"genre": "Drama"}, "response": {"results": [{"movie_id": "m1"}]},
     "derived": {"genre": "list_genres.results[0].genre"}},
]  # fmt: skip


def _row(row_id: str, parallel: bool) -> dict:
    return {"id": row_id, "messages": build_messages("Find a drama.", CALLS, "Try m1.", parallel_calls=parallel),
            "tools": json.dumps(TOOLS)}  # fmt: skip


def test_templates_are_read_from_the_installed_package_and_verified():
    for template in (QWEN2_5, LLAMA3_1):
        assert get_chat_template(template.name) is template
        assert "tool_calls" in template.text()
    with pytest.raises(UnknownNameError, match="did you mean 'llama3.1'"):
        get_chat_template("llama3")
    wrong = ChatTemplate("x", "m", "trl", LLAMA3_1.path, "0" * 64, "1.16.0")
    with pytest.raises(ChatTemplateUnavailable, match=r"llama3_1.jinja \(trl [\d.]+\) has sha256 e10ca381.*expected 0{64}"):
        wrong.text()
    absent = ChatTemplate("y", "m", "no-such-dist-goat", "x.jinja", "0" * 64, "1.0")
    with pytest.raises(ChatTemplateUnavailable, match="'no-such-dist-goat' package, which is not installed"):
        absent.text()


def test_qwen_renders_a_parallel_turn_as_several_tool_call_blocks():
    text = render_row_with("qwen2.5", _row("p", parallel=True))
    conversation = text[text.index("<|im_start|>user\nFind a drama.") :]
    assert conversation == (
        "<|im_start|>user\nFind a drama.<|im_end|>\n"
        "<|im_start|>assistant\n<tool_call>\n{\"name\": \"list_genres\", \"arguments\": {}}\n</tool_call>\n"
        "<tool_call>\n{\"name\": \"list_cities\", \"arguments\": {\"limit\": 1}}\n</tool_call><|im_end|>\n"
        "<|im_start|>user\n<tool_response>\n{\"results\": [{\"genre\": \"Drama\"}]}\n</tool_response>\n"
        "<tool_response>\n{\"results\": [{\"city\": \"Oslo\"}]}\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\n<tool_call>\n{\"name\": \"discover_movies\", \"arguments\": {\"genre\": \"Drama\"}}\n"
        "</tool_call><|im_end|>\n"
        "<|im_start|>user\n<tool_response>\n{\"results\": [{\"movie_id\": \"m1\"}]}\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\nTry m1.<|im_end|>\n"
    )


def test_llama_takes_one_call_per_turn_and_the_check_names_the_rows_it_cannot_take():
    rows = [_row("parallel", parallel=True), _row("sequential", parallel=False)]
    qwen, llama = check_rows(rows)
    assert (qwen.template, qwen.rendered, qwen.ok) == ("qwen2.5", 2, True)
    assert (llama.template, llama.rendered) == ("llama3.1", 1)
    assert [r.id for r in llama.rejected] == ["parallel"]
    assert "2 tool calls in one assistant turn, llama3.1 takes 1" in llama.rejected[0].reason
    assert "This model only supports single tool-calls at once!" in llama.rejected[0].reason
    split = render_row_with("llama3.1", rows[0], split_parallel=True)
    assert split == render_row_with("llama3.1", rows[1])
    assert split.startswith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\n")
    turns = [t for t in split.split("<|start_header_id|>assistant<|end_header_id|>\n\n")[1:]]
    assert [t.split("<|eot_id|>")[0] for t in turns] == [
        '{"name": "list_genres", "parameters": {}}',
        '{"name": "list_cities", "parameters": {"limit": 1}}',
        '{"name": "discover_movies", "parameters": {"genre": "Drama"}}',
        "Try m1.",
    ]


@pytest.mark.slow
def test_the_embedded_models_own_tokenizer_renders_parallel_turns():
    """The embedded model's own template (Qwen2.5-Coder's, from its GGUF) takes several calls in one turn. The first
    run assembles the model file (shared with every later build); later ones read the converted copy."""
    from goat_datasets.llm.loading import load_tokenizer

    tokenizer = load_tokenizer("default")
    row = Dataset.from_list([{**_sft_columns(), **_row("p", parallel=True)}], features=SFT_FEATURES)[0]
    text = render_row(tokenizer, row)
    turn = text[text.index("<|im_start|>assistant\n<tool_call>") :].split("<|im_end|>")[0]
    assert turn.count("<tool_call>") == 2 and '"list_genres"' in turn and '"list_cities"' in turn
    assert text.count("<tool_response>") == 3 and text.endswith("<|im_start|>assistant\nTry m1.<|im_end|>\n")


def _sft_columns() -> dict:
    return {"query": "Find a drama.", "final_answer": "Try m1.", "api_ids": [c["name"] for c in CALLS],
            "num_calls": len(CALLS), "chain_id": "c", "recipe_fingerprint": "f", "generator_model": "m",
            "sub_instructions": [], "judge_reason": ""}  # fmt: skip


def test_formatted_demo_api_traces_render_with_both_templates(tmp_path):
    """Real HTTP to the demo API, the real FormatSFT step, the published Features, then both templates."""
    from goat_builders.steps.context import save_apis
    from goat_builders.steps.traces import FormatSFT
    from goat_builders.traces import execute_chain
    from goat_datasets.demo_api import create_app
    from goat_datasets.execution.http import HttpExecutor
    from goat_datasets.sampling.chains import ChainStep
    from goat_datasets.servers import serve_in_thread
    from goat_datasets.sources.openapi import parse_openapi

    app = create_app()
    apis = parse_openapi(app.openapi(), "demo").apis
    save_apis(tmp_path, apis)
    by_name = {a.name: a for a in apis}

    def step(name, **bindings):
        return ChainStep(api_id=by_name[name].id, bindings=[
            {"param": p, "from_step": s, "source_path": path} for p, (s, path) in bindings.items()])  # fmt: skip

    chains = {
        "two-branches": [step("list_genres"), step("list_cities"),
                         step("discover_movies", genre=(0, "results[*].genre")),
                         step("search_cinemas", city=(1, "results[*].city"))],
        "path": [step("list_genres"), step("discover_movies", genre=(0, "results[*].genre"))],
    }  # fmt: skip
    rows = []
    with serve_in_thread(app, health_path="/health") as url, HttpExecutor(url) as ex:
        for chain_id, steps in chains.items():
            chain = {"id": chain_id, "steps": [s.model_dump(mode="json") for s in steps]}
            run = execute_chain(chain["steps"], {a.id: a for a in apis}, ex, llm=None)  # every argument is bound
            assert run.ok, run.failure
            rows.append({"chain_id": chain_id, "chain": json.dumps(chain), "status": "ok", "query": f"q {chain_id}",
                         "final_answer": f"a {chain_id}", "calls": json.dumps([c.as_dict() for c in run.calls])})  # fmt: skip

    def formatted(parallel: bool) -> list[dict]:
        fmt = FormatSFT(name="format_sft", build_dir=str(tmp_path), parallel_calls=parallel)
        fmt.load()
        out = next(fmt.process([dict(r) for r in rows]))
        assert all(r["status"] == "ok" for r in out)
        table = [{**_sft_columns(), "id": r["chain_id"], "messages": json.loads(r["messages"]), "tools": r["tools"],
                  "api_ids": r["api_ids"], "num_calls": len(r["api_ids"])} for r in out]  # fmt: skip
        path = tmp_path / f"sft-{parallel}.parquet"
        Dataset.from_list(table, features=SFT_FEATURES).to_parquet(str(path))
        return Dataset.from_parquet(str(path)).to_list()

    parallel = formatted(True)
    widths = {r["id"]: [len(m["tool_calls"]) for m in r["messages"] if m["tool_calls"]] for r in parallel}
    assert widths == {"two-branches": [2, 2], "path": [1, 1]}
    qwen, llama = check_rows(parallel)
    assert qwen.ok and qwen.rendered == 2
    assert [r.id for r in llama.rejected] == ["two-branches"] and llama.rendered == 1
    sequential = formatted(False)
    assert all(c.ok and c.rendered == 2 for c in check_rows(sequential))
    text = render_row_with("qwen2.5", parallel[0])
    conversation = text[text.index("<|im_start|>user\nq two-branches") :]  # after the tool list and its instructions
    assert conversation.count("<tool_call>\n{") == 4 and conversation.count("<tool_response>") == 4
    assert conversation.count("</tool_call><|im_end|>") == 2  # two assistant turns of two calls each
