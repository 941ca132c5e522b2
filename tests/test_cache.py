"""The response cache (goat_datasets.cache): the canonical key, the SQLite store under several writing processes, the
upsert rule, the rl_cache export, the replay and caching executors, and argument validation before live calls."""

from __future__ import annotations

import ast
import json
import multiprocessing
import pickle
import socket
import sqlite3
import subprocess
import sys
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from goat_datasets.cache import ResponseCache, canonical_arguments, canonical_key, number_from_string
from goat_datasets.execution.base import CallResult
from goat_datasets.execution.replay import CachingExecutor, ReplayExecutor
from goat_datasets.execution.validate import ValidatingExecutor, validate_arguments
from goat_datasets.registry import executors
from goat_datasets.sources.models import ApiSpec, Param

REPO = Path(__file__).resolve().parents[1]

MOVIE = ApiSpec(
    id="demo.get_movie",
    source="demo",
    tool="movies",
    name="get_movie",
    path="/movies/{movie_id}",
    params=(Param(name="movie_id", location="path", required=True, schema={"type": "string"}),),
)
SEARCH = ApiSpec(
    id="demo.search_movies",
    source="demo",
    tool="movies",
    name="search_movies",
    path="/movies/search",
    params=(
        Param(name="query", location="query", required=True, schema={"type": "string", "minLength": 1}),
        Param(name="limit", location="query", schema={"type": "integer", "minimum": 1, "maximum": 50}),
    ),
)


class FakeExecutor:
    """Answers from a table (or fails), counting calls; ``forbid=True`` makes any call a test failure."""

    def __init__(self, answers: dict[str, Any] | None = None, *, forbid: bool = False, provenance: str = "real"):
        self.answers = answers or {}
        self.forbid = forbid
        self.provenance = provenance
        self.calls: list[tuple[str, dict]] = []
        self.closed = False

    def call(self, api: ApiSpec, arguments: dict[str, Any]) -> CallResult:
        if self.forbid:
            raise AssertionError(f"inner executor called for {api.id} {arguments}")
        self.calls.append((api.id, arguments))
        try:
            key = canonical_key(arguments)
        except TypeError:
            key = None
        if key in self.answers:
            return CallResult(api_id=api.id, arguments=arguments, ok=True, status_code=200,
                              response=self.answers[key], provenance=self.provenance)  # fmt: skip
        return CallResult(api_id=api.id, arguments=arguments, ok=False, status_code=404, error="HTTP 404 Not Found",
                          provenance="error")  # fmt: skip

    def close(self) -> None:
        self.closed = True


def ok(response: Any, provenance: str = "real", status_code: int | None = 200) -> dict[str, Any]:
    return {"ok": True, "provenance": provenance, "response": response, "status_code": status_code}


def failed(error: str = "timeout: no complete answer within 10s") -> dict[str, Any]:
    return {"ok": False, "provenance": "error", "error": error}


@pytest.fixture
def cache(tmp_path: Path):
    with ResponseCache(tmp_path / "responses.sqlite") as c:
        yield c


# ------------------------------------------------------------------------------------------------- the key


def test_key_hand_worked_examples():
    # number-like strings -> numbers (recursively), None dropped in mappings, keys sorted, compact JSON
    assert canonical_key({"a": "3", "b": None, "c": {"d": "2.50"}}) == '{"a":3,"c":{"d":2.5}}'
    assert canonical_key({"z": ["1", None, {"k": None, "j": "-0.0"}], "y": "01"}) == '{"y":1,"z":[1,null,{"j":0}]}'
    assert canonical_key({"dest_id": "-2092174", "search_type": "CITY"}) == canonical_key(
        {"search_type": "CITY", "dest_id": -2092174.0}
    )
    assert canonical_key({"arrival_date": "2024-05-01", "adults": "2", "sort": True}) == (
        '{"adults":2,"arrival_date":"2024-05-01","sort":true}'
    )
    assert canonical_key({"lat": "48.8566", "lon": " 2.35"}) == '{"lat":48.8566,"lon":" 2.35"}'
    assert canonical_arguments({"a": "3", "b": None}) == {"a": 3}
    assert [number_from_string(t) for t in ("007", "2.50", "1e3", "-0", "2024-05-01", "nan", "", " 1")] == [
        7, 2.5, 1000, 0, None, None, None, None,
    ]  # fmt: skip


def test_one_definition_of_the_key_shared_with_the_rewards():
    import goat_datasets.cache.keys as keys
    import goat_train.rewards as rewards
    from goat_train.rewards import canonical as reexport

    assert rewards.canonical_key is keys.canonical_key is reexport.canonical_key
    assert rewards.is_number_like is keys.is_number_like and rewards.canonical_arguments is keys.canonical_arguments


def test_cache_package_is_light_and_never_imports_builders_or_training():
    code = (
        "import sys, goat_datasets.cache; heavy = [m for m in ('pydantic', 'httpx', 'datasets', 'torch', 'distilabel',"
        " 'goat_builders', 'goat_train', 'builders', 'training') if m in sys.modules]; print(heavy);"
        " sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    core = REPO / "goat_datasets"
    for path in [*(core / "cache").glob("*.py"), *(core / "execution").glob("*.py"), core / "formats" / "rl_cache.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top not in ("goat_builders", "goat_train", "builders", "training"), f"{path.name}: {name}"


# ----------------------------------------------------------------------------------------------- the store


def test_put_get_by_any_spelling_len_iter_stats(cache: ResponseCache):
    result = CallResult(api_id=SEARCH.id, arguments={"query": "circus", "limit": "5"}, ok=True, status_code=200,
                        response={"results": [{"movie_id": "m0001", "title": "Circus"}], "total": 1})  # fmt: skip
    assert cache.put(SEARCH.id, result.arguments, result, "fp1") is True
    cache.put(MOVIE.id, {"movie_id": "m0001"}, ok({"movie_id": "m0001", "year": 1999}, "simulated", None), "fp1")
    cache.put(MOVIE.id, {"movie_id": "m9999"}, failed("HTTP 404 Not Found: movie m9999"), "fp1")

    entry = cache.get(SEARCH.id, {"limit": 5.0, "query": "circus", "genre": None})
    assert entry is not None and entry.key == '{"limit":5,"query":"circus"}'
    assert entry.arguments == {"query": "circus", "limit": "5"}  # as the recorded call spelled them
    assert entry.response == result.response and entry.status_code == 200 and entry.ok and entry.error is None
    assert entry.provenance == "real" and entry.recipe_fingerprint == "fp1"
    assert abs(entry.created_at - datetime.now(timezone.utc).timestamp()) < 60
    assert cache.get(SEARCH.id, {"query": "circus"}) is None  # exact: a missing argument is another call
    assert cache.get(MOVIE.id, {"query": "circus", "limit": 5}) is None  # keys are per API id
    assert (SEARCH.id, {"query": "circus", "limit": "5"}) in cache

    assert len(cache) == 3
    assert [(e.api_id, e.key) for e in cache] == [
        (MOVIE.id, '{"movie_id":"m0001"}'), (MOVIE.id, '{"movie_id":"m9999"}'), (SEARCH.id, entry.key),
    ]  # fmt: skip
    stats = cache.stats()
    assert stats["entries"] == 3 and stats["ok"] == 2 and stats["apis"] == 2
    assert stats["by_provenance"] == {"real": 1, "simulated": 1, "error": 1}
    assert stats["by_api"][MOVIE.id] == {"real": 0, "simulated": 1, "error": 1}


def test_iteration_pages_through_many_entries(cache: ResponseCache):
    cache.put_many(((f"a.op{i % 3}", {"i": i}, ok(i)) for i in range(1234)), "fp")
    keys = [(e.api_id, e.key) for e in cache]
    assert len(keys) == len(set(keys)) == len(cache) == 1234 and keys == sorted(keys)


def test_upsert_rule(cache: ResponseCache):
    api, args = "booking.Search_Hotels", {"dest_id": "-2092174", "arrival_date": "2024-05-01"}

    def stored() -> tuple[str, Any, str | None]:
        entry = cache.get(api, args)
        return entry.provenance, entry.response, entry.error

    assert cache.put(api, args, failed("timeout")) is True
    assert cache.put(api, args, failed("HTTP 429 Too Many Requests")) is True  # error replaces error: latest reason
    assert stored() == ("error", None, "HTTP 429 Too Many Requests")
    assert cache.put(api, args, ok({"hotels": ["simulated"]}, "simulated", None)) is True  # answer replaces error
    assert cache.put(api, args, failed()) is False  # error never replaces an answer
    assert cache.put(api, args, ok({"hotels": ["real"]})) is True  # real replaces simulated
    assert cache.put(api, args, ok({"hotels": ["simulated again"]}, "simulated", None)) is False
    assert cache.put(api, args, failed("connection failed")) is False  # a real answer is never overwritten by an error
    assert cache.put(api, args, ok({"hotels": ["second real"]})) is False  # first real answer wins
    assert stored() == ("real", {"hotels": ["real"]}, None)
    assert cache.put(api, args, ok({"hotels": ["refreshed"]}), force=True) is True  # deliberate refresh
    assert stored() == ("real", {"hotels": ["refreshed"]}, None)

    # a failed result is an error whatever it claims; a success cannot claim to be an error
    cache.put("x.y", {}, {"ok": False, "provenance": "real", "status_code": 500, "error": "HTTP 500"})
    assert cache.get("x.y", None).provenance == "error"
    with pytest.raises(ValueError, match="ok=True"):
        cache.put("x.y", {}, {"ok": True, "provenance": "error"})
    with pytest.raises(ValueError, match="provenance"):
        cache.put("x.y", {}, {"ok": True, "provenance": "live"})
    with pytest.raises(TypeError, match="not JSON"):
        cache.put("x.y", {"s": {1, 2}}, ok(1))


def test_open_rules_and_pickling(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        ResponseCache(tmp_path / "missing.sqlite", create=False)
    with pytest.raises(ValueError, match="file path"):
        ResponseCache(":memory:")
    path = tmp_path / "nested" / "c.sqlite"
    cache = ResponseCache(path)
    cache.put(MOVIE.id, {"movie_id": "m1"}, ok({"t": "x"}))
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    clone = pickle.loads(pickle.dumps(cache))  # what distilabel and multiprocessing do with a step's attributes
    assert clone.path == path and clone.get(MOVIE.id, {"movie_id": "m1"}).response == {"t": "x"}
    clone.close()
    cache.close()
    with pytest.raises(ValueError, match="closed"):
        len(cache)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(RuntimeError, match="schema 99"):
        ResponseCache(path)


def _writer(cache: ResponseCache, worker: int, n: int, start: Any, errors: Any) -> None:
    try:
        start.wait(30)
        for i in range(n):
            if i % 4 == 0:  # shared keys: every worker writes them; worker 0 with real answers, the others errors
                result = ok({"from": worker}) if worker == 0 else failed(f"worker {worker} failed")
                cache.put("demo.shared", {"j": str(i)}, result, "fp")
            else:
                cache.put("demo.own", {"worker": worker, "i": i}, ok({"worker": worker, "i": i}), "fp")
            if i % 50 == 0:
                cache.get("demo.own", {"worker": worker, "i": 1})
                len(cache)
    except BaseException:
        errors.put(f"worker {worker}: {traceback.format_exc()}")
        raise


def test_four_processes_writing_at_once_lose_nothing(tmp_path: Path):
    context = multiprocessing.get_context("fork")  # the parent's open connection is inherited and must not be used
    cache = ResponseCache(tmp_path / "shared.sqlite", timeout_s=30)
    assert len(cache) == 0
    start, errors = context.Event(), context.Queue()
    workers = [context.Process(target=_writer, args=(cache, w, 200, start, errors)) for w in range(4)]
    for process in workers:
        process.start()
    start.set()
    for process in workers:
        process.join(120)
    reported = []
    while not errors.empty():
        reported.append(errors.get())
    assert not reported, "\n".join(reported)
    assert [p.exitcode for p in workers] == [0, 0, 0, 0]
    own = [e for e in cache if e.api_id == "demo.own"]
    shared = [e for e in cache if e.api_id == "demo.shared"]
    assert len(own) == 4 * 150 and len(shared) == 50 and len(cache) == 650
    assert all(e.response == {"worker": e.arguments["worker"], "i": e.arguments["i"]} for e in own)
    # whatever the interleaving, worker 0's real answers won over the other workers' errors
    assert {(e.provenance, e.error, json.dumps(e.response)) for e in shared} == {("real", None, '{"from": 0}')}
    cache.close()


# ---------------------------------------------------------------------------------------------- the export


def test_export_rows_round_trip_through_datasets(cache: ResponseCache):
    import datasets

    from goat_datasets.formats.rl_cache import RL_CACHE_COLUMNS, RL_CACHE_FEATURES

    cache.put(SEARCH.id, {"query": "Zürich", "limit": "2"}, ok({"results": [{"title": "Zürich", "score": 0.5}]}), "f")
    cache.put(MOVIE.id, {"movie_id": "m0001"}, ok(["plain", 1, None], "simulated", None), "f")
    cache.put(MOVIE.id, {"movie_id": "m/.."}, failed("HTTP 404 Not Found"), "f")
    rows = list(cache.export_rows())
    assert all(tuple(row) == RL_CACHE_COLUMNS for row in rows)
    dataset = datasets.Dataset.from_list(rows, features=RL_CACHE_FEATURES)
    assert dataset.features == RL_CACHE_FEATURES and len(dataset) == 3
    entries = {(e.api_id, e.key): e for e in cache}
    for row in dataset:
        entry = entries[(row["api_id"], row["key"])]
        assert json.loads(row["arguments"]) == entry.arguments
        assert json.loads(row["response"]) == entry.response
        assert (row["status_code"], row["ok"], row["provenance"], row["error"], row["recipe_fingerprint"]) == (
            entry.status_code, entry.ok, entry.provenance, entry.error, entry.recipe_fingerprint,
        )  # fmt: skip
        assert abs(row["created_at"].timestamp() - entry.created_at) < 1e-5
        assert row["key"] == canonical_key(json.loads(row["arguments"]))  # a consumer needs nothing but the key
    by_provenance = {row["provenance"]: row for row in dataset}
    assert by_provenance["error"]["status_code"] is None and by_provenance["error"]["response"] == "null"
    assert by_provenance["simulated"]["status_code"] is None


# --------------------------------------------------------------------------------------------- the executors


def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the replay executor opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_replay_hits_exactly_and_a_miss_never_calls_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "responses.sqlite"
    with ResponseCache(path) as cache:
        cache.put(SEARCH.id, {"query": "circus", "limit": 5}, ok({"results": [{"movie_id": "m0001"}]}), "fp")
        cache.put(MOVIE.id, {"movie_id": "m9999"}, {**failed("HTTP 404 Not Found"), "status_code": 404}, "fp")
    _no_network(monkeypatch)
    assert executors.get("replay") is ReplayExecutor
    replay = executors.get("replay")(base_url="http://api.example.com", allowed_hosts=[], timeout_s=10.0, headers={},
                                     cache_path=str(path))  # fmt: skip
    with replay:
        hit = replay.call(SEARCH, {"limit": "5", "query": "circus"})
        assert hit.ok and hit.provenance == "real" and hit.status_code == 200
        assert hit.response == {"results": [{"movie_id": "m0001"}]}
        assert hit.arguments == {"limit": "5", "query": "circus"}  # as this call spelled them
        recorded_failure = replay.call(MOVIE, {"movie_id": "m9999"})
        assert not recorded_failure.ok and recorded_failure.status_code == 404
        assert recorded_failure.error == "HTTP 404 Not Found"
        miss = replay.call(SEARCH, {"query": "circus", "limit": 6})
        assert not miss.ok and miss.provenance == "error" and miss.status_code is None and miss.response is None
        assert miss.error == 'cache miss: demo.search_movies {"limit":6,"query":"circus"}'
        assert replay.call(SEARCH, {"query": {1}}).error.startswith("invalid arguments:")
    assert replay.call(SEARCH, {"query": "circus", "limit": 5}).error == "executor is closed"
    with pytest.raises(ValueError, match="cache_path"):
        ReplayExecutor(base_url="")
    with pytest.raises(FileNotFoundError):
        ReplayExecutor(cache_path=tmp_path / "never-built.sqlite")


def test_caching_executor_records_and_answers_repeats(cache: ResponseCache):
    inner = FakeExecutor({canonical_key({"movie_id": "m0001"}): {"movie_id": "m0001", "title": "Circus"}})
    caching = CachingExecutor(inner, cache, "fp-build")
    first = caching.call(MOVIE, {"movie_id": "m0001"})
    again = caching.call(MOVIE, {"movie_id": "m0001"})
    assert first.ok and again.ok and again.response == first.response and again.provenance == "real"
    assert len(inner.calls) == 1
    assert caching.counts == {"hits": 1, "live": 1, "recorded": 1, "record_failures": 0}
    assert cache.get(MOVIE.id, {"movie_id": "m0001"}).recipe_fingerprint == "fp-build"

    # failures are recorded but retried (mostly transient); replay_errors=True answers them from the cache
    for _ in range(2):
        assert caching.call(MOVIE, {"movie_id": "m404"}).error == "HTTP 404 Not Found"
    assert len(inner.calls) == 3 and caching.counts["live"] == 3 and caching.counts["recorded"] == 3
    strict = CachingExecutor(FakeExecutor(forbid=True), cache, "fp-build", replay_errors=True)
    replayed = strict.call(MOVIE, {"movie_id": "m404"})
    assert not replayed.ok and replayed.status_code == 404 and strict.counts["hits"] == 1

    # a pre-filled cache answers without the inner executor (which raises if called), for any spelling
    cache.put(SEARCH.id, {"query": "circus", "limit": 5}, ok({"results": []}, "simulated", None))
    offline = CachingExecutor(FakeExecutor(forbid=True), cache)
    assert offline.call(SEARCH, {"limit": 5.0, "query": "circus"}).provenance == "simulated"
    assert offline.counts == {"hits": 1, "live": 0, "recorded": 0, "record_failures": 0}

    # arguments that are not JSON cannot be keyed: passed through, not recorded
    before = len(cache)
    caching.call(MOVIE, {"movie_id": {"a", "b"}})
    assert len(cache) == before and caching.counts["live"] == 4
    caching.close()
    assert inner.closed and len(cache) == before  # the cache stays open: it belongs to the caller


# ---------------------------------------------------------------------------------------------- validation


@pytest.fixture(scope="module")
def demo_apis() -> dict[str, ApiSpec]:
    """The bundled demo service's own OpenAPI document, parsed like any source: realistic FastAPI schemas."""
    from goat_datasets.demo_api.app import create_app
    from goat_datasets.sources.openapi import parse_openapi

    return {api.name: api for api in parse_openapi(create_app().openapi(), "demo").apis}


def test_validation_rules_on_the_demo_api(demo_apis: dict[str, ApiSpec]):
    showtimes, search, review = demo_apis["list_showtimes"], demo_apis["search_movies"], demo_apis["post_review"]
    assert showtimes.param("date").json_schema["format"] == "date"  # the document really says so

    good = {"cinema_id": "c001", "date": "2024-02-29", "format": "IMAX", "limit": 20}
    assert validate_arguments(showtimes, good) == []
    # format: date
    assert validate_arguments(showtimes, {"cinema_id": "c001", "date": "2024-13-01"}) == [
        "date: '2024-13-01' is not a 'date'"
    ]
    for bad in ("2023-02-29", "2024-1-5", "01/05/2024", "2024-05-01T10:00:00", "２０２４-05-01"):
        assert validate_arguments(showtimes, {"cinema_id": "c001", "date": bad}) == [f"date: {bad!r} is not a 'date'"]
    # enum
    assert validate_arguments(showtimes, {"cinema_id": "c001", "format": "4D"}) == [
        "format: '4D' is not one of ['2D', '3D', 'IMAX']"
    ]
    # required (None means not given), unknown, empty required string
    assert validate_arguments(showtimes, {"cinema_id": None}) == ["cinema_id: required parameter missing"]
    assert validate_arguments(showtimes, {"cinema_id": "c001", "cinema": "c001"})[0].startswith(
        "cinema: unknown parameter of demo.list_showtimes (known: cinema_id, movie_id, date, format, limit)"
    )
    assert validate_arguments(search, {"query": "  "}) == ["query: required parameter is an empty string"]
    # minimum / maximum, on numbers and on number-like query text
    assert validate_arguments(search, {"query": "x", "year_from": 1899, "min_rating": "10.5", "limit": "0"}) == [
        "year_from: 1899 is less than the minimum of 1900",
        "min_rating: 10.5 is greater than the maximum of 10",
        "limit: 0 is less than the minimum of 1",
    ]
    # types: query values travel as text, so "20" is an integer there, but "2.5", "abc" and "1e3" are not
    assert validate_arguments(search, {"query": "x", "limit": "20", "year_from": "2000"}) == []
    for bad in ("2.5", "abc", "1e3"):
        assert validate_arguments(search, {"query": "x", "limit": bad}) == [f"limit: {bad!r} is not of type 'integer'"]
    assert validate_arguments(search, {"query": "x", "limit": True}) == ["limit: True is not of type 'integer'"]
    assert validate_arguments(demo_apis["discover_movies"], {"genre": "Drama", "now_showing": "true"}) == []
    assert validate_arguments(demo_apis["discover_movies"], {"genre": "Drama", "now_showing": "yes"}) == [
        "now_showing: 'yes' is not of type 'boolean'"
    ]
    # minLength / maxLength
    assert validate_arguments(search, {"query": "x" * 101}) == [f"query: {'x' * 101!r} is too long"]
    assert validate_arguments(demo_apis["search_cinemas"], {"city": "Silverlake", "name": ""}) == [
        "name: '' should be non-empty"
    ]
    # pattern, and JSON body values are checked as they are ("8" is a string there)
    good_review = {"movie_id": "m0001", "username": "nightowl_ana", "rating": 8, "headline": "Fine", "body": "Good."}
    assert validate_arguments(review, good_review) == []
    assert validate_arguments(review, {**good_review, "username": "Ana!", "rating": "8"}) == [
        "username: 'Ana!' does not match '^[a-z0-9_]{3,30}$'",
        "rating: '8' is not of type 'integer'",
    ]
    long_body = validate_arguments(review, {**good_review, "body": "y" * 3000})
    assert len(long_body) == 1 and long_body[0].startswith("body: 'yyy") and len(long_body[0]) < 220
    assert validate_arguments(review, ["a"]) == ["arguments must be an object of parameter name to value, got list"]


def _api(*params: Param) -> ApiSpec:
    return ApiSpec(id="booking.Search_Flights", source="booking", tool="flights", name="Search_Flights", params=params)


def test_validation_date_time_arrays_coordinates_and_bad_schemas():
    flights = _api(
        Param(name="departAt", location="query", required=True, schema={"type": "string", "format": "date-time"}),
        Param(name="latitude", location="query", schema={"type": "number", "minimum": -90, "maximum": 90}),
        Param(name="cabins", location="query",
              schema={"type": "array", "items": {"type": "string", "enum": ["ECONOMY", "BUSINESS"]}}),  # fmt: skip
        Param(name="stops", location="query", schema={"type": "array", "items": {"type": "integer", "maximum": 2}}),
        Param(name="adults", location="body", schema={"type": "integer", "exclusiveMinimum": True}),  # OpenAPI 3.0
        Param(name="flight_id", location="path", schema={"type": "string", "pattern": "^[0-9]+$"}),
    )
    for good in ("2024-06-01T10:00:00Z", "2024-06-01T10:00:00.250+02:00", "2024-06-01 10:00", "2024-06-01T10:00:00"):
        assert validate_arguments(flights, {"departAt": good}) == [], good
    for bad in ("2024-06-01T25:00:00Z", "2024-02-30T10:00:00Z", "2024-06-01T10:00:00+24:00", "2024-06-01", "soon"):
        assert validate_arguments(flights, {"departAt": bad}) == [f"departAt: {bad!r} is not a 'date-time'"], bad
    assert validate_arguments(flights, {"departAt": "2024-06-01T10:00Z", "latitude": "-91.5"}) == [
        "latitude: -91.5 is less than the minimum of -90"
    ]
    assert validate_arguments(flights, {"departAt": "2024-06-01T10:00Z", "cabins": ["ECONOMY", "FIRST"],
                                        "stops": ["1", "3"]}) == [  # fmt: skip
        "cabins[1]: 'FIRST' is not one of ['ECONOMY', 'BUSINESS']",
        "stops[1]: 3 is greater than the maximum of 2",
    ]
    # a number for a string path parameter is checked as the text sent; a schema jsonschema rejects checks nothing
    assert validate_arguments(flights, {"departAt": "2024-06-01T10:00Z", "flight_id": 123, "adults": 0}) == []
    assert validate_arguments(flights, {"departAt": "2024-06-01T10:00Z", "flight_id": 1.5}) == [
        "flight_id: '1.5' does not match '^[0-9]+$'"
    ]


def test_validating_executor_refuses_before_calling():
    inner = FakeExecutor({canonical_key({"query": "circus"}): {"results": []}})
    validating = ValidatingExecutor(inner)
    refused = validating.call(SEARCH, {"query": "", "limit": 99})
    assert not refused.ok and refused.provenance == "error" and refused.status_code is None
    assert refused.error == (
        "invalid arguments: query: required parameter is an empty string; limit: 99 is greater than the maximum of 50"
    )
    assert inner.calls == [] and validating.rejected == 1
    assert validating.call(SEARCH, {"query": "circus"}).ok and len(inner.calls) == 1
    validating.close()
    assert inner.closed
