"""Throughput of the graduated rewards and of the canonical cache key, against naive baselines in this process.

    .venv/bin/python benchmarks/rewards.py            # about a minute on one core
    .venv/bin/python benchmarks/rewards.py --quick    # smaller corpora (smoke run)
    .venv/bin/python benchmarks/rewards.py --no-orjson  # the standard-library path (orjson is optional)

Rollouts are built from the released Booking.com data (../shared/data/booking-orchestration): real gold calls with
their real recorded responses, perturbed the way a policy errs (wrong value, missing parameter, number sent as a
string, distractor tool, broken JSON, repeated call, error response), responses cut at 24,000 characters (~8,192
tokens, the released training setup). Rollouts come in GRPO groups of 16 per prompt, every rollout its own string.

Measured: rollouts scored per second for 1, 5 and 20 calls (text -> parse -> total reward), in ``paper`` and
``default`` mode, (a) as in training (verdict memo starts empty, responses recur within a group) and (b) cold (memo
cleared before every rollout); canonical keys and cache lookups per second. The baselines are straightforward
re-implementations of the released algorithm (regular-expression scans, ``json.loads`` of every block, the BFCL
checker fed with a freshly built description per call, exception-driven number parsing in the key); the benchmark
also checks that ``paper`` mode returns exactly the baseline's floats on every rollout and fails if not.
Last line: ``rollouts5_per_s=<paper mode, as in training> keys_per_s=<canonical_key>``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

from goat_train.rewards import canonical_key, parse_gold_steps, parse_rollout, responses
from goat_train.rewards.graduated import _atomic_parts, _orchestration
from goat_train.rewards.responses import clear_response_memo

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "booking-orchestration" / "training_workflows.json"

RESPONSE_CHAR_LIMIT = 24_000
GROUP = 16


# ===================================================================================== naive baseline: the reward
# A plain re-implementation of the released compute_score (weights 0.5/0.5), written for clarity, not speed. Where
# the released code would raise (documented in training/rewards/graduated.py), it scores a failure instead, like
# paper mode does, so both can be compared on any input.

_CALL_RE = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
_RESPONSE_RE = re.compile(r"<tool_response>(.*?)</tool_response>", re.DOTALL)


def baseline_extract(text: str) -> tuple[list, list]:
    calls = []
    for match in _CALL_RE.finditer(text):
        try:
            data = json.loads(match.group(1).strip())
        except json.JSONDecodeError:
            data = None
        calls.append({"data": data, "position": match.start()})
    responses = []
    for match in _RESPONSE_RE.finditer(text):
        try:
            data = json.loads(match.group(1).strip())
        except json.JSONDecodeError:
            data = None
        responses.append({"data": data, "position": match.start()})
    pairs, used = [], set()
    for call in calls:
        for number, response in enumerate(responses):
            if response["position"] > call["position"] and number not in used:
                used.add(number)
                pairs.append((call, response))
                break
    parsed_calls = [c["data"] for c in calls if c["data"] is not None]
    parsed_pairs = [(c["data"], r["data"]) for c, r in pairs if c["data"] is not None and r["data"] is not None]
    return parsed_calls, parsed_pairs


def baseline_arguments(call: Any) -> dict:
    if not isinstance(call, dict):
        return {}
    arguments = call.get("arguments", {})
    if isinstance(arguments, dict):
        return arguments
    if isinstance(arguments, str):
        try:
            decoded = json.loads(arguments)
        except (json.JSONDecodeError, ValueError):
            return {}
        return decoded if isinstance(decoded, dict) else {}
    return {}


_TYPE_NAMES = {"str": "string", "int": "integer", "bool": "boolean", "dict": "dict", "list": "array", "float": "float"}
_PY_TYPES = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}


def _std(text: str) -> str:
    return re.sub(r"[ \,\.\/\-\_\*\^]", "", text).lower().replace("'", '"')


def _first_answer_type(answers: list):
    for answer in answers:
        if answer != "":
            return type(answer)
    return None


def _type_ok(value, answers, expected, nested) -> bool:
    if type(value) == expected:
        if nested is None:
            return True
        for answer in answers:
            if type(answer) != list or all(_type_ok(item, answer, nested, None) for item in value):
                return True
        return False
    answer_type = _first_answer_type(answers)
    return answer_type is not None and type(value) == answer_type


def _dict_ok(model: dict, answers: list) -> bool:
    for answer in answers:
        if answer == "":
            continue
        ok = True
        for key, value in model.items():
            if key not in answer:
                ok = False
                break
            candidate = _std(value) if type(value) == str else value
            options = [
                _std(answer[key][i]) if type(answer[key][i]) == str else answer[key][i] for i in range(len(answer[key]))
            ]
            if candidate not in options:
                ok = False
                break
        for key, value in answer.items():
            if key not in model and "" not in value:
                ok = False
                break
        if ok:
            return True
    return False


def _bfcl_simple(description: dict, model_output: dict, possible: dict) -> bool:
    answers_by_param = list(possible.values())[0]
    properties = description["parameters"]["properties"]
    arguments = model_output[description["name"]]
    for param in description["parameters"]["required"]:
        if param not in arguments:
            return False
    for param, value in arguments.items():
        if param not in properties or param not in answers_by_param:
            return False
        type_name = properties[param]["type"]
        expected = _PY_TYPES[type_name]
        nested = _PY_TYPES[properties[param]["items"]["type"]] if type_name in ("array", "tuple") else None
        if type_name == "float" and type(value) == int:
            value = float(value)
        answers = answers_by_param[param]
        if not _type_ok(value, answers, expected, nested):
            return False
        if expected == dict:
            if not _dict_ok(value, answers):
                return False
            continue
        if expected == list and nested == dict:
            ok = False
            for answer in answers:
                if len(value) == len(answer) and all(_dict_ok(v, [a]) for v, a in zip(value, answer)):
                    ok = True
                    break
            if not ok:
                return False
            continue
        if expected == str:
            if _std(value) not in [_std(a) for a in answers if type(a) == str]:
                return False
            continue
        if expected == list:
            model_list = [_std(v) if type(v) == str else v for v in value]
            gold_lists = [[_std(x) if type(x) == str else x for x in answer] for answer in answers]
            if model_list not in gold_lists:
                return False
            continue
        if value not in answers:
            return False
    return True


def baseline_values_ok(call: dict, name: str, gold_arguments: dict) -> bool:
    properties = {}
    for param, value in gold_arguments.items():
        type_name = _TYPE_NAMES.get(type(value).__name__, type(value).__name__)
        if type_name == "array":
            item_type = _TYPE_NAMES.get(type(value[0]).__name__, type(value[0]).__name__) if value else "string"
            properties[param] = {"type": "array", "items": {"type": item_type}}
        else:
            properties[param] = {"type": type_name}
    description = {
        "name": name,
        "parameters": {"type": "dict", "required": list(gold_arguments), "properties": properties},
    }
    possible = {name: {param: [value] for param, value in gold_arguments.items()}}
    try:
        return _bfcl_simple(description, {name: baseline_arguments(call)}, possible)
    except (KeyError, TypeError, AttributeError, IndexError):
        return False


def baseline_score(text: str, gold: list[dict]) -> float:
    calls, pairs = baseline_extract(text)
    traces = [{step["name"]: step.get("arguments") or {}} for step in gold]
    lookup: dict = {}
    for index, (call, response) in enumerate(pairs):
        if call and isinstance(call, dict):
            try:
                signature = (call.get("name", ""), str(sorted(baseline_arguments(call).items())))
                lookup.setdefault(signature, []).append((index, response))
            except TypeError:
                pass
    used: set = set()
    ast_scores, semantic_scores = [], []
    for call in calls:
        ast, semantic = 0.0, 0.0
        if isinstance(call, dict):
            name = call.get("name", "")
            arguments = baseline_arguments(call)
            for step_traces in traces:
                try:
                    found = name in step_traces
                except TypeError:
                    found = False
                if not found:
                    continue
                gold_arguments = step_traces[name]
                if len(gold_arguments) == 0:
                    structure = 0.33 if len(arguments) == 0 else 0.0
                else:
                    correct = set(arguments) & set(gold_arguments)
                    overlap = len(correct) / len(set(gold_arguments))
                    matches = sum(
                        1
                        for p in correct
                        if (isinstance(arguments[p], (int, float)) and isinstance(gold_arguments[p], (int, float)))
                        or type(arguments[p]) == type(gold_arguments[p])
                    )
                    accuracy = matches / len(correct) if correct else 0.0
                    structure = 0.33 * overlap * accuracy
                values = 0.34 if baseline_values_ok(call, name, gold_arguments) else 0.0
                ast = 0.33 + structure + values
                response = None
                for index, candidate in lookup.get((name, str(sorted(arguments.items()))), []):
                    if index not in used:
                        used.add(index)
                        response = candidate
                        break
                if response is not None:
                    if isinstance(response, dict):
                        bad = "error" in response or ("status" in response and response["status"] == False)
                        semantic = 0.0 if bad or len(response) == 0 else 1.0
                    else:
                        semantic = 1.0
                break
        ast_scores.append(ast)
        semantic_scores.append(semantic)
    atomic = 0.0
    if calls:
        atomic = (sum(ast_scores) / len(calls) + sum(semantic_scores) / len(calls)) / 2
    rewards, matched = [], {}
    for step_index, step in enumerate(gold):
        reward = 0.0
        for position, call in enumerate(calls):
            if isinstance(call, dict) and "name" in call and call["name"] == step["name"]:
                deps = step.get("depends_on") or None
                if deps and any(d not in matched or matched[d] >= position for d in deps):
                    continue
                reward, matched[step_index] = 1.0, position
                break
        rewards.append(reward)
    orchestration = sum(r * 1.0 for r in rewards) / sum(1.0 for _ in rewards) if rewards else 0.0
    return 0.5 * atomic + 0.5 * orchestration


# ======================================================================================== naive baseline: the key


def baseline_key(arguments: dict) -> str:
    def normalise(value):
        if isinstance(value, str):
            try:
                return float(value) if "." in value else int(value)
            except (ValueError, TypeError):
                return value
        if isinstance(value, (list, tuple)):
            return [normalise(v) for v in value]
        if isinstance(value, dict):
            return {k: normalise(v) for k, v in value.items()}
        return value

    normalised = {k: normalise(v) for k, v in arguments.items()}
    return json.dumps(sorted(normalised.items()), sort_keys=True, default=str)


# ============================================================================================== rollout corpus


def load_samples() -> list[dict]:
    if not DATA.exists():
        sys.exit(f"benchmark data not found: {DATA} (the booking-orchestration data beside the repo)")
    samples = []
    for sample in json.loads(DATA.read_text()):
        gold, responses = [], []
        for step in sample["steps"]:
            truth = step["ground_truth"]
            gold.append({"name": truth["function"], "arguments": truth["arguments"], "depends_on": step["depends_on"]})
            text = json.dumps(step["execution_result"]["execution_result"], ensure_ascii=False)
            responses.append(text[:RESPONSE_CHAR_LIMIT])
        distractors = sorted(
            {t for step in sample["steps"] for t in step["candidate_tools"]} - {g["name"] for g in gold}
        )
        samples.append({"gold": gold, "responses": responses, "distractors": distractors or ["Unknown_Tool"]})
    return samples


_ERROR_RESPONSE = json.dumps({"error": "No results found"})


def perturbed_call(rng: random.Random, sample: dict, step_index: int, previous: str | None) -> tuple[str, str]:
    """(tool_call block text, tool_response text) for one call of a policy that is right about half the time."""
    step = sample["gold"][step_index]
    arguments = copy.deepcopy(step["arguments"])
    response = sample["responses"][step_index]
    roll = rng.random()
    name = step["name"]
    if roll < 0.5:
        pass
    elif roll < 0.6 and arguments:
        key = rng.choice(sorted(arguments))
        arguments[key] = "wrong-" + str(arguments[key])
        response = _ERROR_RESPONSE
    elif roll < 0.7 and arguments:
        del arguments[rng.choice(sorted(arguments))]
        response = _ERROR_RESPONSE
    elif roll < 0.75 and arguments:
        key = rng.choice(sorted(arguments))
        arguments[key] = str(arguments[key]) if not isinstance(arguments[key], str) else arguments[key].upper()
    elif roll < 0.8:
        name = rng.choice(sample["distractors"])
        response = _ERROR_RESPONSE
    elif roll < 0.85:
        return '{"name": "' + name + '", "arguments": {"broken": ', _ERROR_RESPONSE
    elif roll < 0.9 and previous is not None:
        return previous, response
    elif roll < 0.95:
        response = '{"status": false, "message": "Invalid value"}'
    body = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
    return body, response


def make_rollout(rng: random.Random, sample: dict, n_calls: int) -> str:
    parts = ["I will look this up step by step.\n"]
    previous = None
    for call_number in range(n_calls):
        step_index = call_number % len(sample["gold"])
        body, response = perturbed_call(rng, sample, step_index, previous)
        previous = body
        parts.append(f"<tool_call>\n{body}\n</tool_call>\n<tool_response>\n{response}\n</tool_response>\n")
    parts.append("Here is what I found.")
    return "".join(parts)


def build_corpus(samples: list[dict], n_calls: int, n_prompts: int, seed: int) -> list[tuple[str, list[dict], str]]:
    rng = random.Random(seed)
    corpus = []
    for sample in samples[:n_prompts]:
        cell = json.dumps(sample["gold"])
        for _ in range(GROUP):
            corpus.append((make_rollout(rng, sample, n_calls), sample["gold"], cell))
    return corpus


# ================================================================================================= measurement


def time_best(function, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def measure_rollouts(corpus, repeats: int) -> dict[str, float]:
    plans = {cell: parse_gold_steps(cell) for _, _, cell in corpus}
    items = [(text, plans[cell]) for text, _, cell in corpus]

    def ours(mode: str, cold: bool):
        def run():
            clear_response_memo()
            for text, plan in items:
                if cold:
                    clear_response_memo()
                calls = parse_rollout(text)
                0.5 * _atomic_parts(calls, plan, mode)[0] + 0.5 * _orchestration(calls, plan, mode)[0]

        return run

    def baseline():
        for text, gold, _ in corpus:
            baseline_score(text, gold)

    result = {}
    for label, function in (
        ("paper", ours("paper", False)),
        ("paper_cold", ours("paper", True)),
        ("default", ours("default", False)),
        ("default_cold", ours("default", True)),
        ("baseline", baseline),
    ):
        result[label] = len(corpus) / time_best(function, repeats if label != "baseline" else 1)
    return result


def check_identical(corpus) -> int:
    mismatches = 0
    for text, gold, cell in corpus:
        calls = parse_rollout(text)
        plan = parse_gold_steps(cell)
        ours = 0.5 * _atomic_parts(calls, plan, "paper")[0] + 0.5 * _orchestration(calls, plan, "paper")[0]
        theirs = baseline_score(text, gold)
        if ours != theirs:
            mismatches += 1
            if mismatches <= 3:
                print(f"  MISMATCH paper={ours!r} baseline={theirs!r}", file=sys.stderr)
    return mismatches


def measure_keys(samples: list[dict], repeats: int) -> dict[str, float]:
    rng = random.Random(7)
    cache: dict[tuple[str, str], str] = {}
    queries = []
    for sample in samples:
        for step, response in zip(sample["gold"], sample["responses"]):
            cache[(step["name"], canonical_key(step["arguments"]))] = response
            for _ in range(4):  # the same call spelled differently: numbers as strings, shuffled keys
                arguments = {
                    k: (str(v) if isinstance(v, (int, float)) and rng.random() < 0.5 else v)
                    for k, v in step["arguments"].items()
                }
                items = list(arguments.items())
                rng.shuffle(items)
                queries.append((step["name"], dict(items)))
    arguments_only = [arguments for _, arguments in queries]

    def keys():
        for arguments in arguments_only:
            canonical_key(arguments)

    def lookups():
        hits = 0
        for name, arguments in queries:
            if (name, canonical_key(arguments)) in cache:
                hits += 1
        assert hits == len(queries), f"{len(queries) - hits} lookups missed"

    def baseline_keys():
        for arguments in arguments_only:
            baseline_key(arguments)

    return {
        "keys": len(queries) / time_best(keys, repeats),
        "lookups": len(queries) / time_best(lookups, repeats),
        "baseline_keys": len(queries) / time_best(baseline_keys, repeats),
        "n": len(queries),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small corpora, one repeat")
    parser.add_argument("--no-orjson", action="store_true", help="measure the standard-library-only path")
    args = parser.parse_args()
    if args.no_orjson:
        responses._fast_loads = None
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    samples = load_samples()
    repeats = 1 if args.quick else 3
    prompts = {1: 101, 5: 101, 20: 30} if not args.quick else {1: 10, 5: 10, 20: 4}
    json_note = "orjson fast path" if responses._fast_loads is not None else "standard json only"
    print(f"booking-orchestration: {len(samples)} prompts, GRPO groups of {GROUP}; one core; {json_note}")
    rollouts5 = 0.0
    for n_calls, n_prompts in prompts.items():
        corpus = build_corpus(samples, n_calls, n_prompts, seed=n_calls)
        mismatches = check_identical(corpus)
        rates = measure_rollouts(corpus, repeats)
        size = sum(len(text) for text, _, _ in corpus) / len(corpus) / 1000
        print(
            f"{n_calls:>2} calls ({len(corpus)} rollouts, {size:.0f} kB each): "
            f"paper {rates['paper']:,.0f}/s (cold {rates['paper_cold']:,.0f}/s), "
            f"default {rates['default']:,.0f}/s (cold {rates['default_cold']:,.0f}/s), "
            f"baseline {rates['baseline']:,.0f}/s -> x{rates['paper'] / rates['baseline']:.1f} "
            f"(cold x{rates['paper_cold'] / rates['baseline']:.1f}); paper == baseline on "
            f"{len(corpus) - mismatches}/{len(corpus)}"
        )
        if mismatches:
            sys.exit(f"paper mode differs from the baseline on {mismatches} rollouts")
        if n_calls == 5:
            rollouts5 = rates["paper"]
    keys = measure_keys(samples, repeats)
    print(
        f"keys: canonical_key {keys['keys']:,.0f}/s, lookups {keys['lookups']:,.0f}/s, "
        f"baseline key {keys['baseline_keys']:,.0f}/s -> x{keys['keys'] / keys['baseline_keys']:.1f} "
        f"({keys['n']} real argument sets, numbers half spelled as strings)"
    )
    print(f"rollouts5_per_s={rollouts5:.0f} keys_per_s={keys['keys']:.0f}")


if __name__ == "__main__":
    main()
