"""A fast, deterministic OpenAI-compatible LLM server for tests and benchmarks (``POST /v1/chat/completions``).

It recognises the builder's prompt kinds by their wording (`prompt_kind`) and answers each plausibly: argument JSON
built from the parameters' example values, sub-instructions rewritten from the steps the prompt lists, a judge
verdict, or a sentence naming the prompt. The judge keeps every item unless its prompt contains `JUDGE_NO` (it then
says no) or `JUDGE_GARBAGE` (it then answers without a verdict), so a test can force either through the text of a
query. Tests that need other answers pass ``respond`` (prompt -> text). Real HTTP, real client code; only the model
is replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

_KEYS_LINE = re.compile(r"keys are exactly: (\[.*\])\.?\s*$", re.M)
_PARAM_LINE = re.compile(r"^- `(?P<name>[^`]+)` \((?P<type>\w+)(?:, one of (?P<enum>\[.*?\]))?\):.*?(?: Example values: (?P<examples>\[.*\])\.)?$", re.M)  # fmt: skip
_STEP_LINE = re.compile(r"^Step \d+: (.*)$", re.M)
_DEFAULTS = {"string": "x", "integer": 1, "number": 1.0, "boolean": True, "array": [], "object": {}}
JUDGE_NO = "[judge:no]"
JUDGE_GARBAGE = "[judge:garbage]"


def prompt_kind(prompt: str) -> str:
    if "keys are exactly:" in prompt:
        return "arguments"
    if prompt.startswith("Write one sub-instruction per step"):
        return "sub_instructions"
    if prompt.startswith("You are checking one example"):
        return "judge"
    if prompt.startswith("User request:"):
        return "answer"
    return "query"


def fake_completion(prompt: str) -> str:
    """A deterministic answer: argument JSON from the parameters' example values, or a sentence naming the prompt."""
    digest = hashlib.sha256(prompt.encode()).hexdigest()[:8]
    kind = prompt_kind(prompt)
    if kind == "arguments":
        keys = json.loads(_KEYS_LINE.search(prompt).group(1))
        params = {m["name"]: m for m in _PARAM_LINE.finditer(prompt)}
        args: dict[str, Any] = {}
        for key in keys:
            m = params.get(key)
            if m is not None and m["examples"]:
                args[key] = json.loads(m["examples"])[0]
            elif m is not None and m["enum"]:
                args[key] = json.loads(m["enum"])[0]
            else:
                args[key] = _DEFAULTS.get(m["type"] if m else "string", "x")
        return json.dumps(args)
    if kind == "sub_instructions":  # each listed step as a sentence: given values kept, found ones described
        steps = [m.group(1) for m in _STEP_LINE.finditer(prompt)]
        rewrite = [s.replace(". Given: ", " with ").replace(". Found: ", ", using ").rstrip(".") for s in steps]
        return json.dumps(rewrite)
    if kind == "judge":
        if JUDGE_GARBAGE in prompt:
            return "Hard to say, it depends."
        if JUDGE_NO in prompt:
            return '{"keep": false, "reason": "the request does not say which item to start from"}'
        return '```json\n{"keep": true, "reason": "every step follows from the request"}\n```'
    if kind == "answer":
        return f"Here is what I found for you (answer {digest})."
    other = hashlib.sha256(digest.encode()).hexdigest()  # queries of different prompts share few word pairs
    return f"Can you look this up for me: {digest} {other[:6]} {other[6:12]} {other[12:18]}?"


class FakeLLM:
    """OpenAI-compatible ``POST /v1/chat/completions`` on loopback, answering after ``delay_s``.

    Every request is logged as ``(phase, kind, prompt sha256)``; ``on_request(phase, n)`` is called with the number
    of requests of the phase so far, before answering (the test kills a build from there, mid-request).
    """

    def __init__(self, delay_s: float = 0.05, respond: Callable[[str], str] | None = None):
        self.delay_s = delay_s
        self.respond = respond or fake_completion
        self.phase = ""
        self.log: list[tuple[str, str, str]] = []
        self.on_request: Callable[[str, int], None] | None = None
        self._lock = threading.Lock()

    def handle(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt = body["messages"][-1]["content"]
        with self._lock:
            phase = self.phase
            self.log.append((phase, prompt_kind(prompt), hashlib.sha256(prompt.encode()).hexdigest()))
            n = sum(1 for p, _, _ in self.log if p == phase)
        if self.on_request is not None:
            self.on_request(phase, n)
        time.sleep(self.delay_s)
        text = self.respond(prompt)
        return {
            "id": "fake",
            "object": "chat.completion",
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": len(text) // 4},
        }

    def requests(self, phase: str) -> list[tuple[str, str]]:
        with self._lock:
            return [(kind, h) for p, kind, h in self.log if p == phase]

    @contextlib.contextmanager
    def serve(self) -> Iterator[str]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: with Nagle, each answer waits ~40 ms for an ACK

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                data = json.dumps(fake.handle(body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a killed build resets its connections

        server = Server(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/v1"
        finally:
            server.shutdown()
            server.server_close()


@dataclass
class Gen:
    """A generation as the builder's clients return it (text, token counts, an error instead of text)."""

    text: str
    prompt_tokens: int = 10
    completion_tokens: int = 5
    seconds: float = 0.1
    error: str | None = None


class ScriptedLLM:
    """An in-process client answering ``answers`` in order (a string, or a `Gen` to script errors and counts);
    ``prompts`` records the last message of every request."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.prompts = []

    def generate(self, messages, max_new_tokens=None):
        self.prompts.append(messages[-1]["content"])
        answer = self.answers.pop(0)
        return answer if isinstance(answer, Gen) else Gen(answer)
