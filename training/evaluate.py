"""Evaluation of tool-use predictions against gold calls: GOATBench's SA and IA, RestBench's correct path rate,
ComplexFuncBench's call and turn accuracy, and SR when an LLM judge is configured (REFERENCE §1d, §3).

Per row, the predicted calls are the ``<tool_call>`` blocks (or structured ``tool_calls``) of the prediction, parsed
by `training.rewards.parse_rollout`; the gold calls come from ``gold_steps`` (``rl`` rows), ``gold_calls`` or GOAT's
released ``api_path`` (``docid`` + ``llm_generation``). Arguments are compared by the project's canonical key
(`goat_datasets.cache.keys.canonical_key`), so ``"2"`` and ``2`` are the same argument and ``null`` means absent.

* SA: Jaccard of the predicted and gold API-name sets, averaged over rows.
* IA: the same over sets of ``(api, canonical arguments)``.
* correct path rate: share of rows whose gold API sequence is a subsequence of the predicted calls.
* call accuracy: gold calls matched by a distinct predicted call with equal name and arguments, over all gold calls.
* turn accuracy: gold steps are grouped into turns by dependency depth (a step's turn is one more than its latest
  dependency's; independent steps share turn 0, as parallel calls do); the turns fully matched before the first
  turn with an unmatched call, over all gold turns.
* SR: an LLM judge reads the query, the calls and the final answer and answers ``{"solved": bool}``. Without a
  judge SR is reported as not computed (``null``) — never estimated from the other metrics. Verdicts the judge
  failed to give are counted and excluded from SR, with their reasons.

A prediction is one JSON object a line: ``{"id" | "index", "completion": text or chat messages, "final_answer"?}``.
Rows without a prediction are scored as empty predictions and listed, never skipped.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from goat_datasets.cache.keys import canonical_key

from .errors import TrainingInputError
from .rewards import GoldPlan, GoldStepsError, parse_gold_steps, parse_rollout
from .tool_cache import ToolResponseCache, with_tool_responses

__all__ = [
    "GOLD_COLUMNS",
    "Prediction",
    "RowScore",
    "EvalReport",
    "JudgeVerdict",
    "gold_plan",
    "score_row",
    "score_predictions",
    "read_predictions",
    "match_predictions",
    "turns_of",
    "generate_predictions",
    "LLMJudge",
]

GOLD_COLUMNS = ("gold_steps", "gold_calls", "api_path")
_QUERY_COLUMNS = ("query", "question", "instruction")
_GROUP_COLUMNS = ("category", "split", "domain")


class Prediction(BaseModel):
    index: int
    id: str | None = None
    completion: Any = None
    final_answer: str | None = None


class JudgeVerdict(BaseModel):
    solved: bool | None
    reason: str = ""


class RowScore(BaseModel):
    index: int
    id: str | None
    missing_prediction: bool
    gold_calls: int
    predicted_calls: int
    invalid_calls: int
    sa: float
    ia: float
    correct_path: bool
    correct_calls: int
    gold_turns: int
    completed_turns: int
    solved: bool | None = None
    judge_error: str | None = None
    groups: dict[str, str] = {}


class EvalReport(BaseModel):
    rows: int
    metrics: dict[str, float | None]
    sr_computed: bool
    sr_note: str
    judged: int = 0
    judge_failures: int = 0
    missing_predictions: int = 0
    missing_ids: list[str] = []
    by_group: dict[str, dict[str, dict[str, float | None]]] = {}
    scores: list[RowScore] = []

    def summary(self) -> str:
        def fmt(v: float | None) -> str:
            return "not computed" if v is None else f"{v:.3f}"

        missing = f" ({self.missing_predictions} without a prediction)" if self.missing_predictions else ""
        lines = [f"rows: {self.rows}{missing}"]
        lines += [f"{name}: {fmt(value)}" for name, value in self.metrics.items() if name != "SR"]
        lines.append(f"SR: {self.sr_note}")
        for column, groups in self.by_group.items():
            for group, metrics in groups.items():
                lines.append(f"  {column}={group}: " + ", ".join(f"{k} {fmt(v)}" for k, v in metrics.items()))
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------- gold side


def _api_path_steps(items: Any) -> list[dict[str, Any]]:
    """GOAT's released ``api_path``: ``[{docid, llm_generation, ...}]`` in call order (no dependency info)."""
    if isinstance(items, str):
        items = json.loads(items)
    steps = []
    for item in items or []:
        arguments = item.get("llm_generation", item.get("arguments"))
        steps.append({"name": item.get("docid", item.get("name")), "arguments": arguments})
    return steps


def gold_plan(row: Mapping[str, Any], column: str) -> GoldPlan:
    cell = row[column]
    return parse_gold_steps(_api_path_steps(cell) if column == "api_path" else cell)


def turns_of(plan: GoldPlan) -> list[list[int]]:
    """Gold step indices grouped by dependency depth (turn 0: steps that depend on nothing)."""
    depth: list[int] = []
    for step in plan.steps:
        depth.append(1 + max((depth[d] for d in step.depends_on), default=-1))
    turns: list[list[int]] = [[] for _ in range(max(depth, default=-1) + 1)]
    for index, d in enumerate(depth):
        turns[d].append(index)
    return turns


def _call_key(name: str, arguments: Any) -> tuple[str, str] | None:
    try:
        return name, canonical_key(arguments or {})
    except (TypeError, ValueError):
        return None


def _jaccard(first: set, second: set) -> float:
    if not first and not second:
        return 1.0
    return len(first & second) / len(first | second)


def _is_subsequence(needle: Sequence[str], haystack: Sequence[str]) -> bool:
    it = iter(haystack)
    return all(any(item == other for other in it) for item in needle)


def score_row(prediction: Any, plan: GoldPlan) -> dict[str, Any]:
    """The per-row counts behind every metric except SR."""
    calls = parse_rollout(prediction)
    valid = [c for c in calls if c.parse_error is None and isinstance(c.name, str) and c.arguments_error is None]
    predicted_names = [c.name for c in valid]
    predicted_keys = [k for k in (_call_key(c.name, c.arguments) for c in valid) if k is not None]
    gold_names = [s.name for s in plan.steps]
    gold_keys = [_call_key(s.name, s.given_arguments) for s in plan.steps]
    available = Counter(predicted_keys)
    correct = 0
    for key in gold_keys:
        if key is not None and available[key] > 0:
            available[key] -= 1
            correct += 1
    remaining = Counter(predicted_keys)
    completed = 0
    turns = turns_of(plan)
    for turn in turns:
        needed = Counter(gold_keys[i] for i in turn)
        if all(key is not None and remaining[key] >= n for key, n in needed.items()):
            remaining.subtract(needed)
            completed += 1
        else:
            break
    return {
        "gold_calls": len(plan.steps),
        "predicted_calls": len(calls),
        "invalid_calls": len(calls) - len(valid),
        "sa": _jaccard(set(predicted_names), set(gold_names)),
        "ia": _jaccard(set(predicted_keys), {k for k in gold_keys if k is not None}),
        "correct_path": _is_subsequence(gold_names, predicted_names),
        "correct_calls": correct,
        "gold_turns": len(turns),
        "completed_turns": completed,
    }


# ---------------------------------------------------------------------------------------------- predictions side


def read_predictions(path: Path) -> list[dict[str, Any]]:
    """Objects of a JSONL file; a bad line is reported as ``file:line``."""
    path = Path(path)
    if not path.is_file():
        raise TrainingInputError(f"--predictions {path}: no such file")
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise TrainingInputError(f"{path}:{number}: not JSON: {exc}") from None
        if not isinstance(item, dict):
            raise TrainingInputError(f"{path}:{number}: expected an object, got {type(item).__name__}")
        if "completion" not in item and "messages" not in item:
            raise TrainingInputError(f"{path}:{number}: no 'completion' (the model output: text or chat messages)")
        item["_line"] = number
        items.append(item)
    return items


def match_predictions(
    dataset: Any, items: list[dict[str, Any]], source: str
) -> tuple[list[Prediction | None], list[str]]:
    """Predictions in dataset row order (None where a row has none) and the ids/indices of those rows.

    By ``id`` when every prediction has one, else by ``index``, else by line order (then the counts must agree).
    """
    n = len(dataset)
    ids = [str(v) for v in dataset["id"]] if "id" in dataset.column_names else None
    by_row: list[Prediction | None] = [None] * n

    def place(row: int, item: dict[str, Any]) -> None:
        if by_row[row] is not None:
            name = ids[row] if ids else row
            raise TrainingInputError(f"{source}:{item['_line']}: a second prediction for row {name}")
        by_row[row] = Prediction(
            index=row,
            id=ids[row] if ids else None,
            completion=item.get("completion", item.get("messages")),
            final_answer=item.get("final_answer"),
        )

    if items and all("id" in item for item in items):
        if ids is None:
            raise TrainingInputError(
                f"{source}: predictions carry 'id' but the dataset has no 'id' column; use 'index'"
            )
        position = {v: i for i, v in enumerate(ids)}
        unknown = [str(item["id"]) for item in items if str(item["id"]) not in position]
        if unknown:
            raise TrainingInputError(
                f"{source}: {len(unknown)} prediction id(s) not in the dataset, e.g. {unknown[:5]}"
            )
        for item in items:
            place(position[str(item["id"])], item)
    elif items and all("index" in item for item in items):
        for item in items:
            index = item["index"]
            if not isinstance(index, int) or not 0 <= index < n:
                raise TrainingInputError(
                    f"{source}:{item['_line']}: index {index!r} is not a row of the {n}-row dataset"
                )
            place(index, item)
    else:
        if len(items) != n:
            raise TrainingInputError(
                f"{source}: {len(items)} predictions without 'id' or 'index' for {n} dataset rows; give every line "
                "an 'id' (or 'index') or one line per row in order"
            )
        for row, item in enumerate(items):
            place(row, item)
    missing = [ids[i] if ids else str(i) for i, p in enumerate(by_row) if p is None]
    return by_row, missing


# ------------------------------------------------------------------------------------------------------- judge


def _query_of(row: Mapping[str, Any]) -> str:
    for column in _QUERY_COLUMNS:
        if isinstance(row.get(column), str) and row[column].strip():
            return row[column]
    prompt = row.get("prompt")
    if isinstance(prompt, str):
        try:
            prompt = json.loads(prompt)
        except ValueError:
            return prompt
    for message in reversed(prompt or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return str(message.get("content") or "")
    return ""


def _final_answer(prediction: Prediction) -> str:
    if prediction.final_answer:
        return prediction.final_answer
    completion = prediction.completion
    if isinstance(completion, str):
        return completion.rsplit("</tool_call>", 1)[-1].strip()
    for message in reversed(completion or []):
        if isinstance(message, dict) and message.get("role") == "assistant" and not message.get("tool_calls"):
            text = str(message.get("content") or "")
            if "<tool_call>" not in text:
                return text.strip()
    return ""


class LLMJudge:
    """SR's judge: any object with ``generate(messages) -> Generation`` (an OpenAI-compatible endpoint in the CLI)."""

    PROMPT = (
        "Judge whether an assistant solved a user's request with tools.\n\n"
        "User request:\n{query}\n\nTool calls the assistant made:\n{calls}\n\n"
        "The assistant's final answer:\n{answer}\n\n"
        'Reply with JSON only: {{"solved": true or false, "reason": "one sentence"}}. solved is true only if the '
        "final answer gives the user what the request asks for."
    )

    def __init__(self, llm: Any, name: str = "judge"):
        self.llm = llm
        self.name = name

    def verdict(self, query: str, prediction: Prediction) -> JudgeVerdict:
        from goat_datasets.llm.parsing import ParseFailure, extract_json

        calls = parse_rollout(prediction.completion)
        listing = "\n".join(f"- {c.raw if c.raw is not None else json.dumps(c.body)}"[:500] for c in calls) or "(none)"
        prompt = self.PROMPT.format(query=query, calls=listing, answer=_final_answer(prediction) or "(none)")
        generation = self.llm.generate([{"role": "user", "content": prompt}])
        if not generation.ok:
            return JudgeVerdict(solved=None, reason=f"judge call failed: {generation.error}")
        try:
            value = extract_json(generation.text)
        except ParseFailure as exc:
            return JudgeVerdict(solved=None, reason=f"judge answer is not JSON: {exc}")
        if not isinstance(value, dict) or not isinstance(value.get("solved"), bool):
            return JudgeVerdict(solved=None, reason=f"judge answer has no boolean 'solved': {generation.text[:200]!r}")
        return JudgeVerdict(solved=value["solved"], reason=str(value.get("reason", ""))[:500])


# ------------------------------------------------------------------------------------------------------ scoring


def _aggregate(scores: Sequence[RowScore]) -> dict[str, float | None]:
    n = len(scores)
    if n == 0:
        return {"SA": None, "IA": None, "correct_path_rate": None, "call_accuracy": None, "turn_accuracy": None}
    gold_calls = sum(s.gold_calls for s in scores)
    gold_turns = sum(s.gold_turns for s in scores)
    return {
        "SA": sum(s.sa for s in scores) / n,
        "IA": sum(s.ia for s in scores) / n,
        "correct_path_rate": sum(s.correct_path for s in scores) / n,
        "call_accuracy": sum(s.correct_calls for s in scores) / gold_calls if gold_calls else None,
        "turn_accuracy": sum(s.completed_turns for s in scores) / gold_turns if gold_turns else None,
    }


def _sr(scores: Sequence[RowScore]) -> float | None:
    judged = [s for s in scores if s.solved is not None]
    return sum(s.solved for s in judged) / len(judged) if judged else None


def find_gold_column(dataset: Any, wanted: str | None, context: str) -> str:
    columns = list(dataset.column_names)
    if wanted is not None:
        if wanted not in columns:
            raise TrainingInputError(f"{context}: no gold column {wanted!r}; the dataset has {columns}")
        return wanted
    for column in GOLD_COLUMNS:
        if column in columns:
            return column
    raise TrainingInputError(
        f"{context}: no gold calls: expected one of the columns {', '.join(GOLD_COLUMNS)} (or name it with "
        f"--gold-column); the dataset has {columns}"
    )


def score_predictions(
    dataset: Any,
    predictions: Sequence[Prediction | None],
    *,
    gold_column: str,
    judge: LLMJudge | None = None,
    group_columns: Iterable[str] = _GROUP_COLUMNS,
    missing_ids: Sequence[str] = (),
    context: str = "dataset",
) -> EvalReport:
    groups_present = [c for c in group_columns if c in dataset.column_names]
    scores: list[RowScore] = []
    for index, row in enumerate(dataset):
        try:
            plan = gold_plan(row, gold_column)
        except (GoldStepsError, ValueError) as exc:
            name = row.get("id") or f"#{index}"
            raise TrainingInputError(f"{context}: row {name}: {gold_column!r}: {exc}") from None
        prediction = predictions[index]
        counts = score_row(prediction.completion if prediction is not None else None, plan)
        score = RowScore(
            index=index,
            id=str(row["id"]) if row.get("id") is not None else None,
            missing_prediction=prediction is None,
            groups={c: str(row[c]) for c in groups_present if row.get(c) is not None},
            **counts,
        )
        if judge is not None:
            if prediction is None:
                score.solved = False
            else:
                verdict = judge.verdict(_query_of(row), prediction)
                score.solved = verdict.solved
                if verdict.solved is None:
                    score.judge_error = verdict.reason
        scores.append(score)
    metrics = _aggregate(scores)
    judged = sum(s.solved is not None for s in scores)
    failures = sum(s.judge_error is not None for s in scores)
    if judge is None:
        sr_note = "not computed (no LLM judge configured: pass --judge-base-url and --judge-model)"
        metrics["SR"] = None
    else:
        metrics["SR"] = _sr(scores)
        sr_note = (
            f"{metrics['SR']:.3f} by judge {judge.name} over {judged} rows" if metrics["SR"] is not None
            else f"not computed: the judge gave no verdict for any row ({failures} failures)"
        )
        if failures and metrics["SR"] is not None:
            sr_note += f" ({failures} rows without a verdict, excluded)"
    by_group: dict[str, dict[str, dict[str, float | None]]] = {}
    for column in groups_present:
        values = sorted({s.groups[column] for s in scores if column in s.groups})
        by_group[column] = {}
        for value in values:
            part = [s for s in scores if s.groups.get(column) == value]
            by_group[column][value] = _aggregate(part) | ({"SR": _sr(part)} if judge is not None else {})
    return EvalReport(
        rows=len(scores),
        metrics=metrics,
        sr_computed=metrics["SR"] is not None,
        sr_note=sr_note,
        judged=judged,
        judge_failures=failures,
        missing_predictions=len(missing_ids),
        missing_ids=list(missing_ids[:20]),
        by_group=by_group,
        scores=scores,
    )


# --------------------------------------------------------------------------------------------------- generation


def _prompt_messages(row: Mapping[str, Any], context: str, index: int) -> list[dict[str, Any]]:
    from goat_datasets.formats.sft import clean_messages

    prompt = row.get("prompt")
    if isinstance(prompt, str):
        try:
            prompt = json.loads(prompt)
        except ValueError:
            prompt = None
    if isinstance(prompt, list) and prompt:
        return clean_messages(prompt)
    query = _query_of(row)
    if not query:
        raise TrainingInputError(
            f"{context}: row {row.get('id') or index} has neither a 'prompt' (chat messages) nor a query column "
            f"({', '.join(_QUERY_COLUMNS)}) to prompt the model with"
        )
    return [{"role": "user", "content": query}]


def _tools_of(row: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    tools = row.get("tools")
    if isinstance(tools, str):
        tools = json.loads(tools)
    return tools or None


def generate_predictions(
    dataset: Any,
    model: Any,
    tokenizer: Any,
    *,
    cache: ToolResponseCache | None,
    max_turns: int = 8,
    max_new_tokens: int = 512,
    context: str = "dataset",
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Run the model on every row: greedy, multi-turn, tool calls answered from ``cache`` (a miss is an error
    object), until a turn without tool calls (the final answer) or ``max_turns``."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    out: list[dict[str, Any]] = []
    for index, row in enumerate(dataset):
        messages = _prompt_messages(row, context, index)
        tools = _tools_of(row)
        completion: list[dict[str, Any]] = []
        final = ""
        for _ in range(max_turns):
            text = tokenizer.apply_chat_template(
                messages + completion, tools=tools, add_generation_prompt=True, tokenize=False
            )
            inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(device)
            with torch.no_grad():
                generated = model.generate(
                    **inputs, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
                )
            reply = tokenizer.decode(generated[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
            answered = with_tool_responses(reply, cache if cache is not None else ToolResponseCache())
            completion.extend(answered)
            if len(answered) == 1:  # no tool calls: this is the final answer
                final = reply.strip()
                break
        item = {"index": index, "completion": completion, "final_answer": final}
        if "id" in dataset.column_names:
            item["id"] = str(row["id"])
        out.append(item)
        if (index + 1) % 10 == 0 or index + 1 == len(dataset):
            log(f"generated {index + 1}/{len(dataset)}")
    return out
