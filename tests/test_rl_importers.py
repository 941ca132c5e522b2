"""Filling a response cache from recorded calls (goat_datasets.cache.importers) and `goat cache import / stats`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shared_data import SHARED_DATA
from typer.testing import CliRunner

from goat_datasets.cache import ResponseCache, canonical_key
from goat_datasets.cache.importers import cache_importers, import_files
from goat_datasets.execution.replay import ReplayExecutor
from goat_datasets.registry import UnknownNameError

FIXTURE = Path(__file__).parent / "fixtures" / "complexfuncbench_sample.jsonl"
BOOKING = SHARED_DATA / "booking-orchestration"
APIBANK_DIALOGUES = SHARED_DATA / "api-bank" / "lv1-lv2-samples"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data missing: {path}")
    return path


@pytest.fixture
def cache(tmp_path: Path):
    with ResponseCache(tmp_path / "responses.sqlite") as c:
        yield c


def write_jsonl(path: Path, lines: list) -> Path:
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


# ------------------------------------------------------------------------------------------ ComplexFuncBench


def test_complexfuncbench_pairs_calls_with_responses_by_position(cache: ResponseCache):
    report = import_files("complexfuncbench", [FIXTURE], cache)
    # 17 calls in 6 records; Search_Hotel_Destination("Lisbon") recorded twice with the same answer, and
    # Search_Attraction_Location("Porto") twice with a different productCount (the first answer is kept)
    assert (report.read, report.imported, report.duplicates, report.conflicting) == (17, 15, 2, 1)
    assert report.already_cached == 0 and report.skipped_count == 0 and report.source == "booking"
    assert len(cache) == 15 and sum(report.by_api.values()) == 15

    # parallel calls in one assistant turn: each gets the observation content at its own position
    berlin = cache.get("booking.Search_Flight_Location", {"query": "Berlin"})
    rome = cache.get("booking.Search_Flight_Location", {"query": "Rome"})
    assert berlin.response[0]["id"] == "BER.CITY" and rome.response[0]["id"] == "ROM.CITY"
    porto = cache.get("booking.Search_Attraction_Location", {"query": "Porto"})
    assert porto.response["destinations"][0]["productCount"] == 412  # Attraction-0 came first
    # the key is the canonical one: a number spelled as a string finds the entry recorded with a string
    hotels = cache.get("booking.Search_Hotels", {"dest_id": -2167973, "search_type": "CITY",
                                                  "arrival_date": "2025-03-14", "departure_date": "2025-03-16"})
    assert hotels is not None and hotels.provenance == "real" and hotels.ok
    assert hotels.key == canonical_key(hotels.arguments)

    again = import_files("complexfuncbench", [FIXTURE], cache)  # idempotent
    assert (again.read, again.imported, again.already_cached, again.duplicates) == (17, 0, 15, 2)
    assert len(cache) == 15


def test_complexfuncbench_malformed_records_are_skipped_with_file_line_and_reason(tmp_path: Path, cache):
    good_turns = [
        {"role": "user", "content": "hotels in Faro"},
        {"role": "assistant", "function_call": [{"name": "Search_Hotel_Destination",
                                                 "arguments": json.dumps({"query": "Faro"})}]},
        {"role": "observation", "content": json.dumps([[{"dest_id": "-2164208", "search_type": "city"}]])},
        {"role": "assistant", "content": "Found Faro."},
    ]
    path = write_jsonl(tmp_path / "cfb.jsonl", [
        {"id": "ok-1", "conversations": good_turns, "functions": []},
        "{not json",
        {"id": "no-conv", "functions": []},
        {"id": "mismatch", "conversations": [
            {"role": "assistant", "function_call": [{"name": "A", "arguments": {}}, {"name": "B", "arguments": {}}]},
            {"role": "observation", "content": [{"x": 1}]}]},
        {"id": "dangling", "conversations": [{"role": "assistant", "function_call": [{"name": "A", "arguments": {}}]}]},
        {"id": "bad-call", "conversations": [
            {"role": "assistant", "function_call": [{"arguments": {}}, {"name": "C", "arguments": [1, 2]},
                                                    {"name": "D", "arguments": {"k": "v"}}]},
            {"role": "observation", "content": [1, 2, {"d": True}]}]},
    ])  # fmt: skip
    report = import_files("complexfuncbench", [path], cache)
    reasons = [str(s) for s in report.skipped]
    assert report.read == 2 and report.imported == 2 and report.skipped_count == 6, reasons
    assert reasons[0] == (f"{path}: line 2: not JSON: Expecting property name enclosed in double quotes: line 1 "
                          "column 2 (char 1)")
    assert reasons[1] == f"{path}: line 3 (id no-conv): 'conversations' must be a list of turns"
    assert reasons[2].endswith("line 4 (id mismatch) turn 0: 2 function call(s) but 1 response(s) in the observation; "
                               "cannot pair them")  # fmt: skip
    assert reasons[3].endswith("line 5 (id dangling) turn 0: 1 function call(s) without an observation turn after them")
    assert reasons[4].endswith("line 6 (id bad-call) turn 0 call 0: a function call must be an object with a "
                               "non-empty 'name'")
    assert reasons[5].endswith("line 6 (id bad-call) turn 0 call 1: C: 'arguments' must be an object (or its JSON "
                               "text), got list")
    # arguments and observation content given as JSON text are decoded
    assert cache.get("booking.Search_Hotel_Destination", {"query": "Faro"}).response == [
        {"dest_id": "-2164208", "search_type": "city"}
    ]
    assert cache.get("booking.D", {"k": "v"}).response == {"d": True}

    # a file that is neither JSON nor JSON Lines is one reason, not one per line; so is a file that is not text
    broken = tmp_path / "broken.json"
    broken.write_text('[{"id": "x",\n  "conversations": [}\n]')
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    report = import_files("complexfuncbench", [broken, binary], cache)
    assert report.read == 0 and [(s.where, s.reason.split(":")[0]) for s in report.skipped] == [
        ("whole file", "not JSON"), ("whole file", "not UTF-8 text")
    ]


# ------------------------------------------------------------------------------------------ API-Bank


def test_apibank_dialogues_import_every_api_turn_with_the_received_arguments(cache: ResponseCache):
    folder = need(APIBANK_DIALOGUES)
    report = import_files("apibank", [folder], cache)
    assert len(report.files) == 264  # level-1 and level-2 folders, read recursively
    assert (report.read, report.imported, report.duplicates, report.skipped_count) == (508, 290, 218, 0)
    assert report.conflicting == 0 and report.failures == 0
    token = cache.get("apibank.GetUserToken", {"username": "JaneSmith", "password": "password"})
    assert token.response == {"token": "o8i7u6y5t4r3e2w1q0"} and token.provenance == "real"
    # result.input holds the list itself where param_dict spells it as a Python literal in a string
    health = cache.get("apibank.RecordHealthData", {
        "user_id": "1234", "time": "2022-01-01 10:00:00",
        "health_data": [{"name": "blood_pressure", "value": "110/70"}, {"name": "heart_rate", "value": "90"}]})
    assert health is not None and health.response == "success"
    assert cache.get("apibank.TimedSwitch", {"device_id": "12345", "time": "2021-08-05 19:00:00", "on": True})
    # ids are what the apibank source parser names the same APIs, so replaying parsed specs hits these entries
    from goat_datasets.sources.apibank import load_apibank_source

    descriptions = need(SHARED_DATA / "api-bank" / "api_descriptions.derived.json")
    parsed = load_apibank_source(descriptions.read_bytes(), source="apibank", doc_name=descriptions.name).apis
    assert set(report.by_api) <= {api.id for api in parsed}
    again = import_files("apibank", [folder], cache)
    assert (again.imported, again.already_cached) == (0, 290) and len(cache) == 290


def test_apibank_exceptions_are_recorded_failures_and_bad_turns_are_skipped(tmp_path: Path, cache):
    path = write_jsonl(tmp_path / "dialogue.jsonl", [
        {"role": "User", "text": "delete my meeting"},
        {"role": "API", "api_name": "DeleteMeeting", "param_dict": {"token": "t1"},
         "result": {"input": {"token": "t1"}, "output": None, "exception": "Token is invalid"}},
        {"role": "API", "api_name": "GetToday", "param_dict": {}, "result": {"input": None, "output": "2023-03-31",
                                                                            "exception": None}},
        {"role": "API", "param_dict": {}, "result": {"output": 1}},
        {"role": "API", "api_name": "X", "result": "oops"},
    ])  # fmt: skip
    report = import_files("apibank", [path], cache)
    assert (report.read, report.imported, report.failures, report.skipped_count) == (2, 2, 1, 2)
    assert [s.reason for s in report.skipped] == [
        "API turn without a usable 'api_name' (got None)", "API turn X: 'result' must be an object with 'output'"
    ]
    failed = cache.get("apibank.DeleteMeeting", {"token": "t1"})
    assert (failed.ok, failed.provenance, failed.error) == (False, "error", "Token is invalid")
    assert cache.get("apibank.GetToday", {}).response == "2023-03-31"


# ------------------------------------------------------------------------------------------ booking samples


def test_booking_samples_fill_a_cache_that_replays_every_gold_call(cache: ResponseCache, tmp_path: Path):
    samples = need(BOOKING / "training_workflows.json")
    report = import_files("booking", [samples], cache)
    assert (report.read, report.imported, report.duplicates, report.conflicting) == (442, 379, 63, 0)
    assert cache.stats()["by_provenance"] == {"real": 379, "simulated": 0, "error": 0}

    from goat_datasets.sources.functions import load_functions_source

    functions = BOOKING / "booking_api_functions.jsonl"
    apis = {a.name: a for a in load_functions_source(functions.read_bytes(), source="booking",
                                                     doc_name=functions.name).apis}  # fmt: skip
    replay = ReplayExecutor(cache_path=cache.path)
    for sample in json.loads(samples.read_text()):
        for step in sample["steps"]:
            gold = step["ground_truth"]
            result = replay.call(apis[gold["function"]], gold["arguments"])
            assert result.ok and result.response == step["execution_result"]["execution_result"], gold
    replay.close()

    # names are sanitised as the parsers sanitise them: the double underscore of this function collapses
    odd = write_jsonl(tmp_path / "odd.json", [[{"workflow_id": "w", "steps": [
        {"ground_truth": {"function": "Get_Hotel_Reviews_Tips__Sort_Option", "arguments": {"hotel_id": 1}},
         "execution_result": {"execution_result": {"status": True, "data": [{"id": "sort_most_relevant"}]}}},
        {"ground_truth": {"function": "Search_Hotels", "arguments": {"dest_id": 1}},
         "execution_result": {"execution_result": {"status": False, "message": "quota exceeded", "data": None}}},
        {"ground_truth": {"function": "Search_Hotels"}},
    ]}]])  # fmt: skip
    report = import_files("booking", [odd], cache)
    assert "booking.Get_Hotel_Reviews_Tips_Sort_Option" in report.by_api
    assert "Get_Hotel_Reviews_Tips_Sort_Option" in apis
    assert report.failures == 1 and cache.get("booking.Search_Hotels", {"dest_id": 1}).error == "quota exceeded"
    assert [str(s) for s in report.skipped] == [
        f"{odd}: record 0 (w) step 2: Search_Hotels: no 'execution_result' (the recorded response)"
    ]


def test_a_better_recording_replaces_a_recorded_failure_but_never_the_reverse(tmp_path: Path, cache):
    def sample(status: bool) -> list:
        return [{"workflow_id": "w", "steps": [{"ground_truth": {"function": "F", "arguments": {"a": "1"}},
                 "execution_result": {"execution_result": {"status": status, "message": "m", "data": [1]}}}]}]

    failed, real = tmp_path / "failed.json", tmp_path / "real.json"
    failed.write_text(json.dumps(sample(False)))
    real.write_text(json.dumps(sample(True)))
    assert import_files("booking", [failed], cache).imported == 1
    assert import_files("booking", [real], cache).imported == 1  # a real answer replaces the recorded failure
    assert cache.get("booking.F", {"a": 1}).ok
    assert import_files("booking", [failed], cache).already_cached == 1 and cache.get("booking.F", {"a": 1}).ok


def test_unknown_kind_missing_path_and_bad_source_are_clear_errors(cache: ResponseCache, tmp_path: Path):
    assert cache_importers.names() == ["apibank", "booking", "complexfuncbench"]
    with pytest.raises(UnknownNameError, match="did you mean 'complexfuncbench'"):
        import_files("complexfunc", [FIXTURE], cache)
    with pytest.raises(FileNotFoundError, match="nowhere.jsonl"):
        import_files("complexfuncbench", [tmp_path / "nowhere.jsonl"], cache)
    with pytest.raises(ValueError, match="directory without .jsonl"):
        import_files("apibank", [tmp_path], cache)
    with pytest.raises(ValueError, match="source must be a plain name"):
        import_files("complexfuncbench", [FIXTURE], cache, source="my source")


# ------------------------------------------------------------------------------------------ the CLI


def test_goat_cache_import_and_stats(tmp_path: Path):
    from goat_datasets.cli import app

    runner = CliRunner()
    target = tmp_path / "c.sqlite"
    result = runner.invoke(app, ["cache", "import", "complexfuncbench", str(FIXTURE), "--into", str(target),
                                 "--fingerprint", "fp-test"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "17 calls read, 15 imported, 2 duplicates (1 with another response)" in result.output
    assert f"cache {target}: 15 entries" in result.output
    with ResponseCache(target, create=False) as written:
        assert written.get("booking.Search_Flight_Location", {"query": "Rome"}).recipe_fingerprint == "fp-test"

    again = runner.invoke(app, ["cache", "import", "complexfuncbench", str(FIXTURE), "--into", str(target)])
    assert again.exit_code == 0 and "0 imported" in again.output and "15 already cached" in again.output

    stats = runner.invoke(app, ["cache", "stats", str(target)])
    assert stats.exit_code == 0, stats.output
    assert "15 entries (15 ok) over 11 APIs; real 15, simulated 0, error 0" in stats.output
    assert "booking.Search_Hotels" in stats.output

    wrong = runner.invoke(app, ["cache", "import", "apibnk", str(FIXTURE), "--into", str(tmp_path / "new.sqlite")])
    assert wrong.exit_code == 1 and "did you mean 'apibank'" in wrong.output
    assert not (tmp_path / "new.sqlite").exists()  # a wrong kind creates no cache file
    missing = runner.invoke(app, ["cache", "stats", str(tmp_path / "none.sqlite")])
    assert missing.exit_code == 1 and "no response cache" in missing.output
