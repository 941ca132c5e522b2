"""The one shape every API document is parsed into.

Every source kind (OpenAPI, Swagger, ToolBench, JSON-schema functions) produces `ApiSpec`s, so the graph, the
sampler, the executors and the output formats never look at a source document again.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ParamLocation = Literal["path", "query", "header", "body"]


class Param(BaseModel):
    """One input parameter of an operation, with its JSON Schema (``$ref``s already resolved)."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    name: str
    location: ParamLocation
    required: bool = False
    json_schema: dict[str, Any] = Field(default_factory=dict, alias="schema")
    description: str = ""

    @property
    def type(self) -> str:
        t = self.json_schema.get("type", "string")
        return t if isinstance(t, str) else (t[0] if t else "string")


class OutputField(BaseModel):
    """A leaf (or object) of the success response, addressed by a JSON path (see `goat_datasets.jsonpath`).

    ``path`` uses ``[*]`` for "every element of an array", e.g. ``results[*].id``; the root object itself is ``$``.
    """

    model_config = ConfigDict(frozen=True)

    path: str
    type: str = "string"
    description: str = ""


def _public_schema(schema: Any) -> Any:
    """A parameter schema as a tool-calling model should see it: without titles and our ``x-goat-*`` parser notes."""
    if isinstance(schema, dict):
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key == "title" or str(key).startswith("x-goat-"):
                continue
            if key in ("properties", "patternProperties", "$defs", "definitions") and isinstance(value, dict):
                out[key] = {name: _public_schema(sub) for name, sub in value.items()}  # names are data, not keywords
            else:
                out[key] = _public_schema(value)
        return out
    if isinstance(schema, list):
        return [_public_schema(v) for v in schema]
    return schema


class ApiSpec(BaseModel):
    """One callable operation. ``id`` is unique within a build: ``<source>.<operation name>``."""

    model_config = ConfigDict(frozen=True)

    id: str
    source: str
    tool: str = Field(description="The service/tool the operation belongs to (OpenAPI tag, ToolBench tool...)")
    name: str = Field(description="Operation name as a tool-calling model sees it (operationId, sanitised)")
    method: str = "GET"
    path: str = ""
    summary: str = ""
    description: str = ""
    params: tuple[Param, ...] = ()
    output_fields: tuple[OutputField, ...] = ()
    response_schema: dict[str, Any] | None = None
    response_examples: tuple[Any, ...] = ()

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"{self.id} has no parameter {name!r}")

    @property
    def required_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.required)

    def tool_schema(self) -> dict[str, Any]:
        """The OpenAI/HF tool-calling schema (``{"type": "function", "function": {...}}``) for this operation."""
        properties: dict[str, Any] = {}
        for p in self.params:
            prop = _public_schema(p.json_schema)
            prop.setdefault("type", "string")
            if p.description and "description" not in prop:
                prop["description"] = p.description
            properties[p.name] = prop
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": (self.description or self.summary or self.name).strip(),
                "parameters": {
                    "type": "object",
                    "properties": properties,
                    "required": [p.name for p in self.params if p.required],
                },
            },
        }
