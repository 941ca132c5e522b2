import pytest

from goat_datasets import jsonpath
from goat_datasets.registry import Registry, UnknownNameError
from goat_datasets.servers import require_loopback
from goat_datasets.sources.models import ApiSpec, Param

DOC = {"results": [{"id": 1, "tags": [{"n": "a"}]}, {"id": 2, "tags": []}], "total": 2, "a.b": {"c": 3}}


def test_jsonpath_reads_wildcards_indices_and_quoted_keys():
    assert jsonpath.get_all(DOC, "results[*].id") == [1, 2]
    assert jsonpath.get_all(DOC, "$.results[*].tags[*].n") == ["a"]
    assert jsonpath.get_first(DOC, "results[1].id") == 2
    assert jsonpath.get_first(DOC, "results[-1].id") == 2
    assert jsonpath.get_first(DOC, "['a.b'].c") == 3
    assert jsonpath.get_first(DOC, "$") is DOC
    assert jsonpath.get_first(DOC, "results[5].id") is jsonpath.MISSING
    assert jsonpath.get_first(DOC, "total.x") is jsonpath.MISSING
    assert jsonpath.concretize("results[*].tags[*].n") == "results[0].tags[0].n"
    assert jsonpath.is_prefix("results[*]", "results[*].id") and not jsonpath.is_prefix("results[*].id", "results")
    with pytest.raises(jsonpath.JsonPathError):
        jsonpath.parse("results[x")


def test_registry_suggests_close_names():
    reg: Registry = Registry("executor")
    reg.register("http")(object)
    reg.register("simulated")(object)
    with pytest.raises(UnknownNameError) as err:
        reg.get("htttp")
    assert "did you mean 'http'" in str(err.value) and "simulated" in str(err.value)
    with pytest.raises(ValueError):
        reg.register("http")(int)


def test_servers_bind_loopback_only():
    require_loopback("127.0.0.1")
    require_loopback("::1")
    for host in ("0.0.0.0", "192.168.1.2", "example.com"):
        with pytest.raises(ValueError):
            require_loopback(host)


def test_tool_schema_is_openai_shaped():
    api = ApiSpec(id="s.get", source="s", tool="t", name="get", description="Get one",
                  params=(Param(name="x", location="query", required=True, schema={"type": "integer", "title": "X"},
                                description="the x"),))
    schema = api.tool_schema()
    assert schema["function"]["parameters"] == {
        "type": "object", "properties": {"x": {"type": "integer", "description": "the x"}}, "required": ["x"]}
    assert api.param("x").type == "integer"
    with pytest.raises(KeyError):
        api.param("y")
