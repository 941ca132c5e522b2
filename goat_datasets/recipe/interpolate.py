"""``${VAR}`` and ``${VAR:-default}`` in recipe strings, resolved from the environment before validation.

Recipes are published verbatim with their dataset, so anything machine-specific (a server address, a token) belongs
in the environment, not in the file. The syntax is the shell's: ``:-`` falls back when the variable is unset or
empty, and ``$${`` writes a literal ``${``. The result stays a string (``n: ${N:-3}`` is the string "3", which the
schema then converts), so an environment variable can never inject YAML structure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_TOKEN_RE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_BODY_RE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>.*))?$", re.DOTALL)


class InterpolationError(ValueError):
    """A ``${...}`` that cannot be resolved; the message says which variable and how to fix it."""


def interpolate(text: str, environ: Mapping[str, str]) -> str:
    """Replace every ``${...}`` in ``text``; raises `InterpolationError` on an unset variable or bad syntax."""
    if "$" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$${":
            return "${"
        if match.group(1) is None:
            raise InterpolationError(
                f"unterminated '${{' in {text!r}: close it with '}}' or write '$${{' for a literal"
            )
        body = _BODY_RE.match(match.group(1))
        if body is None:
            raise InterpolationError(
                f"bad variable reference {token!r}: write ${{NAME}} or ${{NAME:-default}} (NAME: letters, digits, _)"
            )
        name, default = body.group("name"), body.group("default")
        value = environ.get(name)
        if value:
            return value
        if default is not None:
            return default
        if value is not None:
            return value
        raise InterpolationError(
            f"environment variable {name} is not set (set it, or give a default: ${{{name}:-value}})"
        )

    return _TOKEN_RE.sub(replace, text)
