"""Turn one rollout into the model's tool calls, each paired with the tool response it got.

Two rollout shapes are understood:

* text: ``<tool_call>{"name": ..., "arguments": ...}</tool_call>`` blocks and ``<tool_response>...</tool_response>``
  blocks anywhere in a string (what verl-style trainers and the released reward code see);
* trl's conversational form: a list of messages where assistant messages carry ``tool_calls``
  (``[{"type": "function", "function": {"name", "arguments": dict | JSON string}}]``) and ``tool`` messages carry the
  results. ``<tool_call>`` blocks left in an assistant's ``content`` (trl leaves them there when it cannot parse
  them) and ``<tool_response>`` blocks in user messages are read too.

Pairing (the released code's rule): every call, parseable or not, takes the first not-yet-used response that comes
after it. Unparseable calls are kept and marked (``parse_error``) so that each scoring mode decides what they are
worth. Tags are found with ``str.find`` rather than a lazy ``.*?`` regular expression: same matches (leftmost opening
tag, nearest closing tag after it, no overlaps), but a scan costs microseconds instead of tens of microseconds per
kilobyte.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from .responses import UNDECODABLE, ToolResponse, decode_json

__all__ = ["ParsedCall", "ToolResponse", "parse_rollout", "make_call", "find_blocks"]

CALL_OPEN, CALL_CLOSE = "<tool_call>", "</tool_call>"
RESPONSE_OPEN, RESPONSE_CLOSE = "<tool_response>", "</tool_response>"


class ParsedCall:
    """One tool call of the model.

    ``body`` is the decoded JSON of the call (``None`` when it did not decode, see ``parse_error``); ``name`` is
    ``body["name"]`` when that is a string; ``arguments`` is the argument mapping (a JSON string holding an object is
    decoded; anything else becomes ``{}`` and ``arguments_error`` says why); ``response`` is the paired tool result.
    """

    __slots__ = ("index", "raw", "body", "parse_error", "name", "arguments", "arguments_error", "response")

    def __init__(
        self,
        index: int,
        raw: str | None,
        body: Any,
        parse_error: str | None = None,
        response: ToolResponse | None = None,
    ):
        self.index = index
        self.raw = raw
        self.body = body
        self.parse_error = parse_error
        self.response = response
        self.name: str | None = None
        self.arguments: dict = {}
        self.arguments_error: str | None = None
        if parse_error is not None:
            return
        if type(body) is not dict:
            if body is None:
                self.parse_error = "the tool call body is JSON null"
            return
        name = body.get("name")
        if type(name) is str:
            self.name = name
        arguments = body.get("arguments", _ABSENT)
        if type(arguments) is dict:
            self.arguments = arguments
        elif arguments is _ABSENT or arguments is None:
            pass
        elif type(arguments) is str:
            try:
                decoded = json.loads(arguments)
            except (ValueError, RecursionError) as exc:
                self.arguments_error = f"arguments is a string that is not JSON: {exc}"
            else:
                if type(decoded) is dict:
                    self.arguments = decoded
                else:
                    self.arguments_error = f"arguments is a JSON string holding {type(decoded).__name__}, not an object"
        else:
            self.arguments_error = f"arguments is {type(arguments).__name__}, not an object"

    @property
    def parsed(self) -> bool:
        """The body decoded to a JSON value other than null (the released code keeps exactly these calls)."""
        return self.parse_error is None

    @property
    def well_formed(self) -> bool:
        """A JSON object with a string ``name``: the only kind of call that can match a gold step."""
        return self.name is not None

    def __repr__(self) -> str:
        if self.parse_error is not None:
            return f"ParsedCall(#{self.index}, parse_error={self.parse_error!r})"
        if self.name is None:
            return f"ParsedCall(#{self.index}, body={self.body!r:.60})"
        return f"ParsedCall(#{self.index}, {self.name}({self.arguments!r:.80}), response={self.response!r})"


_ABSENT = object()


def make_call(name: str, arguments: dict | None = None, response: Any = None, *, index: int = 0) -> ParsedCall:
    """A well-formed call built from Python values (tests, environments that already hold structured calls).

    ``response`` may be text (judged like a tool message) or a decoded value; ``None`` means no response.
    """
    body: dict[str, Any] = {"name": name, "arguments": {} if arguments is None else arguments}
    paired = None
    if response is not None:
        paired = ToolResponse(text=response) if isinstance(response, str) else ToolResponse(value=response)
    return ParsedCall(index, None, body, None, paired)


def find_blocks(text: str, open_tag: str, close_tag: str) -> list[tuple[int, str]]:
    """``(start, inner_text)`` of every ``open_tag ... close_tag`` block, exactly as ``re.finditer`` with
    ``open(.*?)close`` and DOTALL would report them."""
    blocks = []
    find = text.find
    skip = len(open_tag)
    step = len(close_tag)
    position = 0
    while True:
        start = find(open_tag, position)
        if start < 0:
            return blocks
        end = find(close_tag, start + skip)
        if end < 0:
            return blocks
        blocks.append((start, text[start + skip : end]))
        position = end + step


def _decode_call(index: int, inner: str) -> ParsedCall:
    body = decode_json(inner)
    if body is not UNDECODABLE:
        return ParsedCall(index, inner, body)
    try:  # decode again only to say why
        json.loads(inner.strip())
        reason = "not decodable"
    except (ValueError, RecursionError) as exc:
        reason = str(exc) or type(exc).__name__
    return ParsedCall(index, inner, None, f"tool call is not JSON: {reason}")


def _pair(calls: list[ParsedCall], call_positions: Sequence, responses: list[tuple[Any, ToolResponse]]) -> None:
    # Each call takes the first unused response after it. Calls come in order, so every unused response before the
    # current call stays unused for good and a single forward pointer reproduces the quadratic search exactly.
    pointer = 0
    count = len(responses)
    for call, position in zip(calls, call_positions):
        while pointer < count and responses[pointer][0] <= position:
            pointer += 1
        if pointer == count:
            return
        call.response = responses[pointer][1]
        pointer += 1


def _parse_text(text: str) -> list[ParsedCall]:
    if CALL_OPEN not in text:
        return []
    blocks = find_blocks(text, CALL_OPEN, CALL_CLOSE)
    calls = [_decode_call(index, inner) for index, (_, inner) in enumerate(blocks)]
    if calls and RESPONSE_OPEN in text:
        responses = [
            (start, ToolResponse(text=inner)) for start, inner in find_blocks(text, RESPONSE_OPEN, RESPONSE_CLOSE)
        ]
        _pair(calls, [start for start, _ in blocks], responses)
    return calls


def _content_text(content: Any) -> str | None:
    """Text of a message content: a string, or the text parts of a list of content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content and all(isinstance(part, dict) and "type" in part for part in content):
        return "".join(str(part.get("text", "")) for part in content if part.get("type") == "text")
    return None


def _structured_call(index: int, item: Any) -> ParsedCall:
    if isinstance(item, dict):
        kind = item.get("type", "function")
        if kind != "function":
            return ParsedCall(index, None, None, f"unsupported tool call type {kind!r}")
        function = item.get("function", item)
        if isinstance(function, dict):
            body = {"name": function.get("name")}
            if "arguments" in function:
                body["arguments"] = function["arguments"]
            return ParsedCall(index, None, body)
    return ParsedCall(index, None, item)


def _parse_messages(messages: Iterable[Any]) -> list[ParsedCall]:
    calls: list[ParsedCall] = []
    call_positions: list[tuple[int, int]] = []
    responses: list[tuple[tuple[int, int], ToolResponse]] = []
    for number, message in enumerate(messages):
        if not isinstance(message, dict):
            raise TypeError(f"conversational rollout: message {number} is {type(message).__name__}, not a dict")
        role = message.get("role")
        content = message.get("content")
        if role == "tool":
            text = _content_text(content)
            responses.append(
                ((number, 0), ToolResponse(text=text) if text is not None else ToolResponse(value=content))
            )
            continue
        text = _content_text(content)
        if role == "assistant":
            if text and CALL_OPEN in text:
                for start, inner in find_blocks(text, CALL_OPEN, CALL_CLOSE):
                    calls.append(_decode_call(len(calls), inner))
                    call_positions.append((number, start))
            for offset, item in enumerate(message.get("tool_calls") or ()):
                calls.append(_structured_call(len(calls), item))
                call_positions.append((number, len(text or "") + 1 + offset))
        elif text and RESPONSE_OPEN in text:
            for start, inner in find_blocks(text, RESPONSE_OPEN, RESPONSE_CLOSE):
                responses.append(((number, start), ToolResponse(text=inner)))
    if calls and responses:
        _pair(calls, call_positions, responses)
    return calls


def parse_rollout(completion: str | Sequence[dict] | dict | None) -> list[ParsedCall]:
    """All tool calls of one rollout, in order, each with its paired response (or ``None``).

    ``completion`` is a string, a list of chat messages, or a single message; ``None`` is an empty rollout.
    """
    if completion is None:
        return []
    if isinstance(completion, str):
        return _parse_text(completion)
    if isinstance(completion, dict):
        return _parse_messages([completion])
    if isinstance(completion, (list, tuple)):
        return _parse_messages(completion)
    raise TypeError(f"parse_rollout: a rollout is a string or a list of chat messages, got {type(completion).__name__}")
