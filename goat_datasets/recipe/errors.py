"""Recipe problems as values: each one knows its file, line, column and field path.

A user fixing a recipe wants every problem at once, each pointing at a line their editor can jump to
(``file:line:col``, the format compilers use), so loading collects issues and raises them together.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class RecipeIssue(BaseModel):
    """One problem in a recipe. ``line``/``column`` are 1-based; None when the problem has no place in the file
    (the file is missing, or the value came from a ``--set`` override, in which case ``file`` names the override)."""

    file: str = Field(description="The recipe file, or '--set key=value' for a problem in an override.")
    line: int | None = Field(default=None, description="1-based line of the offending key or value.")
    column: int | None = Field(default=None, description="1-based column of the offending key or value.")
    field_path: str = Field(default="", description="Dotted path like 'sampling.max_calls' or 'sources[1].kind'.")
    message: str = Field(description="What is wrong and, where possible, how to fix it.")

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}:{self.column or 1}"
        return f"{where}: {self.field_path}: {self.message}" if self.field_path else f"{where}: {self.message}"


class RecipeError(ValueError):
    """Every issue found in one recipe; ``str()`` lists all of them, one per line."""

    def __init__(self, issues: list[RecipeIssue]):
        if not issues:
            raise ValueError("RecipeError needs at least one issue")
        self.issues = list(issues)
        super().__init__(str(self))

    def __str__(self) -> str:
        count = len(self.issues)
        head = f"{count} issue{'s' if count != 1 else ''} in the recipe:"
        return head + "\n" + "\n".join(str(issue) for issue in self.issues)
