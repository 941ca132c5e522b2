"""Which packaged small LLM should be the default? Load time, memory, speed and quality on the builder's own prompts.

    .venv/bin/python benchmarks/llm_quality.py                          # every installed candidate (~10 min, 2 cores)
    .venv/bin/python benchmarks/llm_quality.py --models qwen2.5-coder-0.5b --batch-check
    .venv/bin/python benchmarks/llm_quality.py --quick                  # 3 prompts per model (one of each kind)

Each model runs in fresh child processes, so load time and peak RSS are its own: one process loads the GGUF the way
a first run does (dequantize; it also leaves the converted copy that later runs load), a second loads that copy,
measures decode speed (64 greedy tokens, prefill subtracted) and answers the prompts. The prompts are rendered with
the builder's templates (builders/prompts/*.jinja) on realistic API documents and responses (Booking.com and TMDB
shaped), and scored the way the builder uses the answers:

  (a) fill arguments -> parsed by goat_datasets.llm.parsing, valid against the JSON Schema, and plausible (values
      copied correctly from earlier results, dates as YYYY-MM-DD in order, no placeholders);
  (b) user request   -> non-empty, one paragraph, states the values it must, no API names or internal ids;
  (c) final answer   -> non-empty and quotes a concrete value from the results.

Numbers depend on what else the machine runs; the table says how many CPU threads were used.
Last line: ``default=<name> quality=<passed>/<total> decode_tok_s=<x> load_s=<cached> peak_rss_mib=<x>``.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from goat_builders.prompting import render
from goat_builders.traces import clean_text
from goat_datasets.llm.models import DEFAULT_MODEL, get_model, packaged_models, resolve_gguf_file
from goat_datasets.llm.parsing import extract_arguments

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PLACEHOLDERS = {"", "string", "query", "value", "example", "your_query", "<query>", "xxx", "text"}


# ---------------------------------------------------------------------------------------------------------------
# The prompts: the builder's templates filled with realistic documents and responses.


def _param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    examples = schema.get("examples", [])
    return {"name": name, "type": schema.get("type", "string"), "description": description, "json_schema": schema,
            "examples": examples}


def _args_schema(params: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {p["name"]: {k: v for k, v in p["json_schema"].items() if k != "examples"} for p in params},
        "required": [p["name"] for p in params],
    }


@dataclass
class Case:
    kind: str  # "args" | "query" | "answer"
    name: str
    prompt: str
    check: Callable[[str], tuple[bool, str]]
    schema: dict[str, Any] = field(default_factory=dict)


def _fill_case(name: str, api: dict[str, Any], params: list[dict[str, Any]], plausible: Callable[[dict], str],
               fixed: dict[str, Any] | None = None, previous: list[dict[str, Any]] | None = None) -> Case:
    prompt = render("fill_arguments", api=api, params=params, fixed_arguments=fixed or {},
                    previous_calls=previous or [], error="")
    schema = _args_schema(params)

    def check(text: str) -> tuple[bool, str]:
        args, reason = extract_arguments(text, schema)
        if args is None:
            return False, reason
        problem = plausible(args)
        return (not problem), problem or "ok"

    return Case("args", name, prompt, check, schema)


def _no_placeholder(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() not in PLACEHOLDERS and "<" not in value


def _dates_ok(args: dict[str, Any], a: str, b: str) -> str:
    if not (DATE.match(str(args[a])) and DATE.match(str(args[b]))):
        return f"dates not YYYY-MM-DD: {args[a]!r}, {args[b]!r}"
    if str(args[b]) <= str(args[a]):
        return f"{b} {args[b]} is not after {a} {args[a]}"
    return ""


def cases() -> list[Case]:
    out: list[Case] = []
    booking = "Booking.com travel services: hotels, flights, car rentals, attractions and taxis"

    # (a1) root call, free text: a destination search.
    out.append(_fill_case(
        "hotel-destination",
        {"name": "Search_Hotel_Destination", "tool": "BookingAPI", "summary": "",
         "description": f"{booking}. Search for a hotel destination (city, district, landmark) to get its dest_id."},
        [_param("query", {"type": "string"}, "Names of locations, cities, districts, places, countries, etc.")],
        lambda a: "" if _no_placeholder(a["query"]) and len(a["query"]) >= 3 else f"placeholder query {a['query']!r}",
    ))
    # (a2) dependent call: ids are given, the model picks dates and guests.
    dest_prev = [{"name": "Search_Hotel_Destination", "arguments": {"query": "Lisbon"},
                  "response_text": json.dumps({"status": True, "data": [
                      {"dest_id": "-2167973", "search_type": "CITY", "name": "Lisbon", "country": "Portugal"},
                      {"dest_id": "2045", "search_type": "DISTRICT", "name": "Lisbon Downtown"}]})}]
    out.append(_fill_case(
        "hotel-search-dates",
        {"name": "Search_Hotels", "tool": "BookingAPI", "summary": "",
         "description": f"{booking}. Search hotels by destination id and stay dates."},
        [_param("arrival_date", {"type": "string"}, "Checkin date in format yyyy-mm-dd."),
         _param("departure_date", {"type": "string"}, "Checkout date in format yyyy-mm-dd."),
         _param("adults", {"type": "integer", "minimum": 1}, "Number of adult guests (18 years or more)."),
         _param("room_qty", {"type": "integer", "minimum": 1}, "Number of rooms required.")],
        lambda a: _dates_ok(a, "arrival_date", "departure_date")
        or ("" if 1 <= a["adults"] <= 10 and 1 <= a["room_qty"] <= a["adults"] else f"odd guests/rooms {a}"),
        fixed={"dest_id": "-2167973", "search_type": "CITY"}, previous=dest_prev,
    ))
    # (a3) the value must be copied from the previous result (no binding given).
    movie_prev = [{"name": "search_movie", "arguments": {"query": "The Matrix"},
                   "response_text": json.dumps({"page": 1, "results": [
                       {"id": 603, "title": "The Matrix", "release_date": "1999-03-30", "vote_average": 8.2},
                       {"id": 604, "title": "The Matrix Reloaded", "release_date": "2003-05-15"}],
                       "total_results": 2})}]
    out.append(_fill_case(
        "movie-credits-id",
        {"name": "movie_credits", "tool": "TMDB", "summary": "Get the cast and crew for a movie.",
         "description": ""},
        [_param("movie_id", {"type": "integer"}, "The TMDB id of the movie.")],
        lambda a: "" if a["movie_id"] == 603 else f"movie_id {a['movie_id']} is not the id of The Matrix (603)",
        previous=movie_prev,
    ))
    # (a4) enum + integer bounds + date.
    out.append(_fill_case(
        "room-booking-enum",
        {"name": "create_booking", "tool": "demo-hotels", "summary": "",
         "description": "Book a room in a hotel for a number of nights."},
        [_param("room_type", {"type": "string", "enum": ["single", "double", "suite"]}, "Kind of room."),
         _param("nights", {"type": "integer", "minimum": 1, "maximum": 30}, "Number of nights."),
         _param("check_in", {"type": "string", "examples": ["2025-07-01"]}, "Arrival date, YYYY-MM-DD.")],
        lambda a: "" if DATE.match(str(a["check_in"])) else f"check_in {a['check_in']!r} is not YYYY-MM-DD",
        fixed={"hotel_id": "h-17"},
        previous=[{"name": "get_hotel", "arguments": {"hotel_id": "h-17"},
                   "response_text": json.dumps({"hotel_id": "h-17", "name": "Hotel Lisboa Plaza", "stars": 4,
                                                "rooms": ["single", "double", "suite"]})}],
    ))

    # (b) user requests from executed chains.
    hotels_result = {"status": True, "data": {"hotels": [
        {"hotel_id": 74717, "property": {"name": "Lisbon Heritage Collection - Avenida", "reviewScore": 9.1,
                                         "priceBreakdown": {"grossPrice": {"value": 612.4, "currency": "EUR"}}}},
        {"hotel_id": 245361, "property": {"name": "Memmo Alfama", "reviewScore": 9.3,
                                          "priceBreakdown": {"grossPrice": {"value": 845.0, "currency": "EUR"}}}}]}}
    hotel_chain = [
        {"name": "Search_Hotel_Destination", "description": "Search for a hotel destination to get its dest_id.",
         "arguments": {"query": "Lisbon"}, "derived": [],
         "response_text": json.dumps({"status": True, "data": [{"dest_id": "-2167973", "name": "Lisbon"}]})},
        {"name": "Search_Hotels", "description": "Search hotels by destination id and stay dates.",
         "arguments": {"dest_id": "-2167973", "arrival_date": "2025-06-10", "departure_date": "2025-06-13",
                       "adults": 2},
         "derived": ["dest_id"], "response_text": json.dumps(hotels_result)[:400]},
    ]
    out.append(Case("query", "hotels-query", render("user_query", calls=hotel_chain, fixed_values=[
        'query="Lisbon"', 'arrival_date="2025-06-10"', 'departure_date="2025-06-13"', "adults=2"]),
        _query_check(must=[["lisbon"], ["10", "tenth"], ["13", "thirteenth"],
                           ["2 adult", "two adult", "2 people", "two people", "2 guest", "two guest", "for 2",
                            "for two"]],
                     forbidden=["search_hotel", "dest_id", "-2167973", "{"])))
    movie_chain = [
        {"name": "search_movie", "description": "Search for movies by their original, translated and alternative "
         "titles.", "arguments": {"query": "Inception"}, "derived": [],
         "response_text": json.dumps({"results": [{"id": 27205, "title": "Inception", "release_date": "2010-07-15"}]})},
        {"name": "movie_credits", "description": "Get the cast and crew for a movie.", "arguments": {"movie_id": 27205},
         "derived": ["movie_id"], "response_text": json.dumps({"id": 27205, "cast": [
             {"name": "Leonardo DiCaprio", "character": "Dom Cobb"},
             {"name": "Joseph Gordon-Levitt", "character": "Arthur"}]})},
    ]
    out.append(Case("query", "movie-query", render("user_query", calls=movie_chain, fixed_values=['query="Inception"']),
                    _query_check(must=[["inception"], ["cast", "actor", "star", "who play", "crew", "credit"]],
                                 forbidden=["27205", "movie_credits", "search_movie", "{"])))

    # (c) final answers grounded in the results.
    out.append(Case("answer", "hotels-answer", render(
        "final_answer", query="Find me a hotel in Lisbon from June 10 to June 13, 2025 for 2 adults.",
        calls=[{"name": c["name"], "response_text": c["response_text"]} for c in hotel_chain]),
        _answer_check(["Lisbon Heritage", "Memmo Alfama", "612", "845", "9.1", "9.3"])))
    out.append(Case("answer", "movie-answer", render(
        "final_answer", query="Who is in the cast of Inception?",
        calls=[{"name": c["name"], "response_text": c["response_text"]} for c in movie_chain]),
        _answer_check(["Leonardo DiCaprio", "DiCaprio", "Joseph Gordon-Levitt", "Gordon-Levitt"])))
    return out


def _query_check(must: list[list[str]], forbidden: list[str]) -> Callable[[str], tuple[bool, str]]:
    def check(text: str) -> tuple[bool, str]:
        q = clean_text(text)
        if not q:
            return False, "empty"
        if "\n\n" in q.strip() or len(q) > 600:
            return False, "more than one paragraph"
        low = q.lower()
        if low.startswith(("the user", "a user", "user ", "the assistant", "a:", "1.")) or "returned" in low:
            return False, "describes the calls instead of being the user's request"
        missing = [alts[0] for alts in must if not any(a in low for a in alts)]
        leaked = [f for f in forbidden if f.lower() in low]
        if missing or leaked:
            return False, f"missing {missing} leaked {leaked}".strip()
        return True, "ok"

    return check


def _answer_check(values: list[str]) -> Callable[[str], tuple[bool, str]]:
    def check(text: str) -> tuple[bool, str]:
        a = clean_text(text)
        if not a:
            return False, "empty"
        if not any(v.lower() in a.lower() for v in values):
            return False, "no concrete value from the results"
        return True, "ok"

    return check


# ---------------------------------------------------------------------------------------------------------------
# Child processes: one per (model, phase), so load time and peak RSS belong to that phase alone.


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_cold(model: str, dtype: str) -> dict[str, Any]:
    """First-run load: dequantize the GGUF (and leave the converted copy for the warm phase)."""
    from goat_datasets.llm.loading import load_gguf

    t0 = time.monotonic()
    gguf = resolve_gguf_file(model)
    resolve_s = time.monotonic() - t0
    shutil.rmtree(gguf.parent / f"transformers-{dtype}", ignore_errors=True)
    _, _, info = load_gguf(gguf, dtype, convert_cache=False, sha256=get_model(model).sha256)
    rss = _peak_rss_mib()
    load_gguf(gguf, dtype, convert_cache=True, sha256=get_model(model).sha256)  # writes the copy (not timed)
    return {"resolve_s": resolve_s, "gguf_load_s": info.seconds, "gguf_peak_rss_mib": rss}


def worker_warm(model: str, dtype: str, limit: int | None, batch_check: bool, max_new_tokens: int) -> dict[str, Any]:
    import torch

    from goat_datasets.llm.generation import LocalLLM

    llm = LocalLLM(model=model, dtype=dtype, max_new_tokens=max_new_tokens)
    llm.load()
    res: dict[str, Any] = {"cached_load_s": llm.load_seconds, "load_source": llm.load_info.source,
                           "threads": torch.get_num_threads()}
    count = [{"role": "user", "content": "Write the numbers from 1 to 300, separated by commas, nothing else."}]
    one = llm.generate(count, max_new_tokens=1)
    many = llm.generate(count, max_new_tokens=65)
    res["prefill_s"] = one.seconds
    res["decode_tok_s"] = (many.completion_tokens - 1) / max(1e-6, many.seconds - one.seconds)
    selected = _select(cases(), limit)
    rows = []
    t0 = time.monotonic()
    for case in selected:
        gen = llm.generate([{"role": "user", "content": case.prompt}])
        passed, why = (False, gen.error) if gen.error else case.check(gen.text)
        strict = _strict_json(gen.text) if case.kind == "args" else None
        rows.append({"kind": case.kind, "name": case.name, "passed": passed, "why": why, "strict_json": strict,
                     "text": gen.text, "completion_tokens": gen.completion_tokens, "seconds": gen.seconds})
    res["eval_s"] = time.monotonic() - t0
    res["rows"] = rows
    res["generated_tok_s"] = sum(r["completion_tokens"] for r in rows) / max(1e-6, sum(r["seconds"] for r in rows))
    if batch_check:
        res["batch"] = _batch_check(llm, [c for c in cases() if c.kind == "args"])
    res["peak_rss_mib"] = _peak_rss_mib()
    return res


def _batch_check(llm: Any, args_cases: list[Case]) -> dict[str, Any]:
    """Same 4 prompts sequentially and as one padded batch: throughput and whether the texts are identical."""
    batch = [[{"role": "user", "content": c.prompt}] for c in args_cases]
    t0 = time.monotonic()
    seq = llm.generate_batch(batch)
    seq_s = time.monotonic() - t0
    llm.batch_size = len(batch)
    t0 = time.monotonic()
    together = llm.generate_batch(batch)
    batch_s = time.monotonic() - t0
    llm.batch_size = 1
    toks = sum(g.completion_tokens for g in seq)
    return {"prompts": len(batch), "sequential_s": seq_s, "batched_s": batch_s,
            "sequential_tok_s": toks / seq_s, "batched_tok_s": sum(g.completion_tokens for g in together) / batch_s,
            "same_texts": [a.text == b.text for a, b in zip(seq, together)]}


def _strict_json(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def _select(all_cases: list[Case], limit: int | None) -> list[Case]:
    """The first ``limit`` cases, taking kinds in turn so a short run still sees all three."""
    if not limit or limit >= len(all_cases):
        return all_cases
    by_kind: dict[str, list[Case]] = {}
    for c in all_cases:
        by_kind.setdefault(c.kind, []).append(c)
    picked: list[Case] = []
    while len(picked) < limit:
        for kind in list(by_kind):
            if by_kind[kind] and len(picked) < limit:
                picked.append(by_kind[kind].pop(0))
    return picked


# ---------------------------------------------------------------------------------------------------------------


def _run_child(args: list[str], timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-800:]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _installed(model: str) -> bool:
    try:
        resolve_gguf_file(model)
        return True
    except Exception as exc:  # noqa: BLE001 - reported, the other models still run
        print(f"skipping {model}: {exc}", file=sys.stderr)
        return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", default=None, help=f"default: all ({', '.join(packaged_models.names())})")
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--quick", action="store_true", help="3 prompts per model")
    ap.add_argument("--limit", type=int, default=None, help="prompts per model (default: all 8)")
    ap.add_argument("--limit-for", action="append", default=[], metavar="MODEL=N",
                    help="fewer prompts for a slow model, e.g. qwen2.5-coder-1.5b=3")
    ap.add_argument("--skip-cold", action="store_true", help="do not measure the first (GGUF) load")
    ap.add_argument("--batch-check", action="store_true", help="also compare batched vs sequential generation")
    ap.add_argument("--max-new-tokens", type=int, default=192)
    ap.add_argument("--json-out", type=Path, default=None)
    ap.add_argument("--_worker", choices=["cold", "warm"], help=argparse.SUPPRESS)
    ap.add_argument("--_model", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args._worker:
        if args._worker == "cold":
            out = worker_cold(args._model, args.dtype)
        else:
            out = worker_warm(args._model, args.dtype, args.limit, args.batch_check, args.max_new_tokens)
        print(json.dumps(out))
        return 0

    models = [m for m in (args.models or packaged_models.names()) if _installed(m)]
    per_model_limit = dict(x.split("=", 1) for x in args.limit_for)
    results: dict[str, dict[str, Any]] = {}
    for model in models:
        entry = get_model(model)
        res: dict[str, Any] = {"size_mib": entry.size_bytes / 2**20}
        if not args.skip_cold:
            print(f"[{model}] first load from GGUF ...", file=sys.stderr, flush=True)
            res.update(_run_child(["--_worker", "cold", "--_model", model, "--dtype", args.dtype], 1200))
        limit = int(per_model_limit.get(model, 3 if args.quick else (args.limit or 0))) or None
        print(f"[{model}] cached load, decode speed, {limit or len(cases())} prompts ...", file=sys.stderr, flush=True)
        warm = ["--_worker", "warm", "--_model", model, "--dtype", args.dtype, "--max-new-tokens",
                str(args.max_new_tokens)] + (["--limit", str(limit)] if limit else [])
        if args.batch_check:
            warm.append("--batch-check")
        res.update(_run_child(warm, 3600))
        results[model] = res
        _print_rows(model, res)
    _print_table(results)
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=1))
    d = results.get(DEFAULT_MODEL, {})
    rows = d.get("rows", [])
    print(f"default={DEFAULT_MODEL} quality={sum(r['passed'] for r in rows)}/{len(rows)} "
          f"decode_tok_s={d.get('decode_tok_s', float('nan')):.1f} load_s={d.get('cached_load_s', float('nan')):.1f} "
          f"peak_rss_mib={d.get('peak_rss_mib', float('nan')):.0f}")
    return 0 if all("error" not in r for r in results.values()) else 1


def _print_rows(model: str, res: dict[str, Any]) -> None:
    if "error" in res:
        print(f"[{model}] FAILED: {res['error']}", file=sys.stderr)
        return
    for r in res.get("rows", []):
        mark = "PASS" if r["passed"] else "fail"
        print(f"  [{model}] {mark} {r['kind']:<6} {r['name']:<20} {r['completion_tokens']:>3} tok "
              f"{r['seconds']:5.1f}s  {r['why'][:90]}", file=sys.stderr)
        print(f"      {' '.join(r['text'].split())[:160]}", file=sys.stderr)
    if "batch" in res:
        print(f"  [{model}] batch: {res['batch']}", file=sys.stderr)


def _print_table(results: dict[str, dict[str, Any]]) -> None:
    head = ("model", "MiB", "gguf load s", "gguf peak MiB", "cached load s", "run peak MiB", "decode tok/s",
            "args", "query", "answer", "quality", "strict JSON", "eval s")
    lines = [head]
    for model, r in results.items():
        rows = r.get("rows", [])

        def score(kind: str) -> str:
            ks = [x for x in rows if x["kind"] == kind]
            return f"{sum(x['passed'] for x in ks)}/{len(ks)}" if ks else "-"

        strict = [x["strict_json"] for x in rows if x["kind"] == "args"]
        lines.append((
            model, f"{r['size_mib']:.0f}", _f(r.get("gguf_load_s")), _f(r.get("gguf_peak_rss_mib"), 0),
            _f(r.get("cached_load_s")), _f(r.get("peak_rss_mib"), 0), _f(r.get("decode_tok_s")),
            score("args"), score("query"), score("answer"),
            f"{sum(x['passed'] for x in rows)}/{len(rows)}" if rows else "-",
            f"{sum(strict)}/{len(strict)}" if strict else "-", _f(r.get("eval_s"), 0),
        ))
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(head))]
    threads = {r.get("threads") for r in results.values() if r.get("threads")}
    threads_text = ", ".join(map(str, threads)) or "?"
    print(f"\nLLM candidates (torch threads: {threads_text}; machine shared, timings indicative)")
    for i, row in enumerate(lines):
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths)))
        if i == 0:
            print("-+-".join("-" * w for w in widths))


def _f(x: Any, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


if __name__ == "__main__":
    sys.exit(main())
