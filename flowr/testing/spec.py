"""The compact flow text of :func:`flowr.testing.build_flow`, parsed.

Grammar (whitespace is free)::

    flow    := chain
    chain   := element ( ">" element )*
    element := NAME                     a new node of that rule
             | "@" NAME                 an edge to the existing node of that rule
             | "(" chain ( "|" chain )* ")"   branches: each chain hangs under the node before

``NAME`` is a rule's class name or a dotted label.  A link or a group ends
its chain (nothing can follow it: write the rest inside the group).  This
module is pure: it knows no rule and touches no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_][\w.]*)|(?P<op>[>|()@])|(?P<bad>\S))")


class FlowSpecError(ValueError):
    """The flow text is wrong: ``position`` (0-based) is where, in ``text``."""

    def __init__(self, message: str, text: str, position: int) -> None:
        self.message, self.text, self.position = message, text, position
        super().__init__(f"{message} (position {position})\n    {text}\n    {' ' * position}^")


@dataclass(frozen=True)
class NodeSpec:
    """A new node of the rule ``name``."""

    name: str
    position: int


@dataclass(frozen=True)
class LinkSpec:
    """An edge to the existing node whose rule is ``name``."""

    name: str
    position: int


@dataclass(frozen=True)
class GroupSpec:
    """Branches: each chain starts under the node before the group."""

    branches: tuple[tuple[Element, ...], ...]
    position: int


Element = NodeSpec | LinkSpec | GroupSpec


def _tokens(text: str) -> list[tuple[str, str, int]]:
    """(kind, value, position) for each token; kind is "name", an operator, or "end"."""
    found = []
    position = 0
    while True:
        match = _TOKEN.match(text, position)
        if match is None:  # only whitespace is left
            break
        start = match.start(match.lastgroup or 0)
        if match.group("bad") is not None:
            raise FlowSpecError(f"Unexpected character {match.group('bad')!r}", text, start)
        if match.group("name") is not None:
            found.append(("name", match.group("name"), start))
        else:
            found.append((match.group("op"), match.group("op"), start))
        position = match.end()
    found.append(("end", "", len(text.rstrip())))
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.at]

    def take(self) -> tuple[str, str, int]:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def fail(self, message: str, position: int | None = None) -> FlowSpecError:
        return FlowSpecError(message, self.text, self.peek()[2] if position is None else position)

    def name(self, what: str) -> tuple[str, int]:
        kind, value, position = self.peek()
        if kind != "name":
            found = "the end of the text" if kind == "end" else repr(value)
            raise self.fail(f"Expected {what}, found {found}")
        self.take()
        return value, position

    def chain(self) -> tuple[Element, ...]:
        elements = [self.element()]
        while self.peek()[0] == ">":
            _, _, arrow = self.take()
            last = elements[-1]
            if not isinstance(last, NodeSpec):
                what = "a link (@...)" if isinstance(last, LinkSpec) else "a group (...)"
                raise self.fail(f"Nothing can follow {what}: it ends its chain", arrow)
            elements.append(self.element())
        return tuple(elements)

    def element(self) -> Element:
        kind, _, position = self.peek()
        if kind == "@":
            self.take()
            name, _ = self.name("a rule name after '@'")
            return LinkSpec(name, position)
        if kind == "(":
            self.take()
            branches = [self.chain()]
            while self.peek()[0] == "|":
                self.take()
                branches.append(self.chain())
            if self.peek()[0] != ")":
                raise self.fail("Expected '|' or ')' to close the group opened at position " + str(position))
            self.take()
            return GroupSpec(tuple(branches), position)
        name, position = self.name("a rule name, '@' or '('")
        return NodeSpec(name, position)


def parse(text: str) -> tuple[Element, ...]:
    """The chain of elements the text describes; the first is the root (a
    :class:`NodeSpec`).  Raises :class:`FlowSpecError` with the position."""
    parser = _Parser(text)
    if parser.peek()[0] != "name":
        raise parser.fail("The flow must start with the root rule's name")
    chain = parser.chain()
    kind, value, position = parser.peek()
    if kind != "end":
        raise FlowSpecError(f"Unexpected {value!r}: expected '>' or the end of the text", text, position)
    return chain
