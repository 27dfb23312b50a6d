"""YAML with its aliases bounded: a file mlobs loads (config, rule files, runbooks) may come from anyone on the team.

An alias is a reference, so composing or constructing a "billion laughs" file is cheap; everything that walks the
result afterwards (the schema, the linter, JSON output) expands it, and hangs. The expanded size of a document is
counted once per distinct node (memoised, so the count itself is linear in the file) and a document larger than
MAX_EXPANDED nodes, or an alias that contains itself, is refused with one line before anything walks it.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_EXPANDED = 1_000_000  # nodes once aliases are expanded: a 10,000-rule file is about 200,000


class YamlBoundError(yaml.YAMLError):
    """A document too large once its aliases are expanded, or with a recursive alias; `problem` says which."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = None


def check(node: yaml.Node | None) -> None:
    """Refuse `node` when its aliases expand past MAX_EXPANDED nodes or refer to themselves.

    Raises:
        YamlBoundError: Too large, or recursive.
    """
    if node is None:
        return
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    # an explicit stack, not recursion: a deeply nested file must not exhaust Python's stack either
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        current, children_done = stack.pop()
        key = id(current)
        if children_done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in _children(current))
            if sizes[key] > MAX_EXPANDED:
                raise YamlBoundError(f"more than {MAX_EXPANDED:,} values once its aliases (*name) are expanded: "
                                     "refused (a YAML bomb?)")
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise YamlBoundError("an alias (*name) that contains itself: refused")
        open_nodes.add(key)
        stack.append((current, True))
        stack.extend((c, False) for c in _children(current) if id(c) not in sizes)
    return


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def safe_load(text: str) -> Any:
    """yaml.safe_load, with the document checked first.

    Raises:
        yaml.YAMLError: Not valid YAML, or refused by `check` (YamlBoundError).
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        check(node)
        return None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()
