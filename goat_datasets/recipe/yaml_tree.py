"""YAML text -> plain data plus the position of every key, from PyYAML's node tree (`yaml.compose`).

`yaml.safe_load` forgets where values came from and silently keeps the last of two equal keys; a recipe error must
name its line, and a duplicated key is almost always a mistake, so the tree is walked here instead. Scalars are still
typed by PyYAML's SafeConstructor (so ``true``, ``3``, ``null`` mean what they mean in YAML), and ``<<`` merge keys
work as in YAML 1.1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Loc = tuple[str | int, ...]
MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_DEPTH = 64


@dataclass(frozen=True)
class Position:
    """1-based line and column in the recipe file."""

    line: int
    column: int

    @classmethod
    def of(cls, node: Node) -> Position:
        return cls(node.start_mark.line + 1, node.start_mark.column + 1)


@dataclass
class TreeIssue:
    loc: Loc
    position: Position
    message: str


@dataclass
class LocatedTree:
    """The data, where each key or list item starts (``positions``), and problems found while reading it."""

    data: Any
    positions: dict[Loc, Position] = field(default_factory=dict)
    issues: list[TreeIssue] = field(default_factory=list)

    def position_of(self, loc: Loc) -> tuple[Position | None, bool]:
        """Where ``loc`` is, or its nearest present ancestor. The flag says whether ``loc`` itself was found."""
        for cut in range(len(loc), -1, -1):
            position = self.positions.get(loc[:cut])
            if position is not None:
                return position, cut == len(loc)
        return None, False


StringHook = Callable[[str], str]  # may raise ValueError; the message becomes an issue at the value's line


def read_tree(text: str, on_string: StringHook | None = None) -> LocatedTree | None:
    """Parse ``text``; None for an empty document. Raises `yaml.YAMLError` (with a mark) on a syntax error.

    ``on_string`` rewrites every string scalar that is a value (not a key), e.g. to interpolate ``${VAR}``.
    """
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:
        return None
    tree = LocatedTree(data=None)
    tree.positions[()] = Position.of(root)
    tree.data = _Walker(tree, on_string).convert(root, (), 0)
    return tree


class _Walker:
    def __init__(self, tree: LocatedTree, on_string: StringHook | None):
        self.tree = tree
        self.on_string = on_string
        self.constructor = yaml.SafeLoader("")  # a SafeConstructor with the standard scalar resolvers
        self.open_nodes: set[int] = set()  # collections being converted: an alias to one of them is recursive

    def issue(self, loc: Loc, node: Node, message: str) -> None:
        self.tree.issues.append(TreeIssue(loc, Position.of(node), message))

    def convert(self, node: Node, loc: Loc, depth: int) -> Any:
        if isinstance(node, ScalarNode):
            return self.convert_scalar(node, loc)
        if id(node) in self.open_nodes:
            self.issue(loc, node, "this alias refers to a collection that contains it (a recursive structure)")
            return None
        if depth > MAX_DEPTH:
            self.issue(loc, node, f"nested more than {MAX_DEPTH} levels deep")
            return None
        self.open_nodes.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self.convert_mapping(node, loc, depth)
            items = []
            for i, item in enumerate(node.value):
                self.tree.positions.setdefault(loc + (i,), Position.of(item))
                items.append(self.convert(item, loc + (i,), depth + 1))
            return items
        finally:
            self.open_nodes.discard(id(node))

    def convert_scalar(self, node: ScalarNode, loc: Loc) -> Any:
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.issue(loc, node, f"cannot read this value: {getattr(exc, 'problem', None) or exc}")
            return None
        if isinstance(value, str) and self.on_string is not None:
            try:
                value = self.on_string(value)
            except ValueError as exc:
                self.issue(loc, node, str(exc))
        return value

    def convert_mapping(self, node: MappingNode, loc: Loc, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        explicit: dict[str, Node] = {}
        merged: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merged.extend(self.merge_pairs(value_node, loc))
                continue
            if not isinstance(key_node, ScalarNode):
                self.issue(loc, key_node, "a key must be a plain name, not a list or mapping")
                continue
            key = key_node.value
            if key in explicit:
                first = Position.of(explicit[key])
                self.issue(loc + (key,), key_node, f"duplicate key {key!r} (first defined on line {first.line})")
                continue
            explicit[key] = key_node
            self.tree.positions[loc + (key,)] = Position.of(key_node)
            result[key] = self.convert(value_node, loc + (key,), depth + 1)
        for key_node, value_node in merged:
            key = key_node.value
            if key in result:
                continue  # explicit keys (and earlier merges) win, as in YAML 1.1
            self.tree.positions[loc + (key,)] = Position.of(key_node)
            result[key] = self.convert(value_node, loc + (key,), depth + 1)
        return result

    def merge_pairs(self, value_node: Node, loc: Loc) -> list[tuple[Node, Node]]:
        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        pairs: list[tuple[Node, Node]] = []
        for source in sources:
            if not isinstance(source, MappingNode):
                self.issue(loc, source, "'<<' merges a mapping (or a list of mappings) into this one")
                continue
            for key_node, sub_value in source.value:
                if isinstance(key_node, ScalarNode) and key_node.tag != MERGE_TAG:
                    pairs.append((key_node, sub_value))
        return pairs
