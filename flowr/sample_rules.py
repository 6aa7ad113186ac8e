"""0.2's example rules, used by the tests and the demo.

Rule structure::

          A
         / \\
        B   C          C has multiple_paths and an edit screen
           / \\
          D   E
               \\
                A      (loops)

``done_enter`` / ``done_leave`` record the names of the rules entered and
left; reassign them to fresh lists to reset (they are looked up at call time).
"""

from __future__ import annotations

from typing import Any

from django.utils.html import format_html

from flowr.rules import Rule

done_enter: list[str] = []
done_leave: list[str] = []


class LocalRule(Rule):
    """Records every enter and leave in the module's lists (a base, not a rule)."""

    abstract = True

    @classmethod
    def on_enter(cls, state: Any) -> None:
        done_enter.append(cls.__name__)

    @classmethod
    def on_leave(cls, state: Any) -> None:
        done_leave.append(cls.__name__)

    @classmethod
    def class_name(cls) -> str:
        return f"{cls.__module__}.{cls.__name__}"

    @classmethod
    def display_name(cls) -> str:
        return cls.__name__


class E(LocalRule):
    children: list[Any] = []


class D(LocalRule):
    children: list[Any] = []


class C(LocalRule):
    children = [D, E]
    multiple_paths = True
    has_edit_screen = True

    @classmethod
    def edit_screen(cls, request: Any, flow_node_data: Any) -> str:
        node = getattr(flow_node_data, "node_id", None)
        return format_html(
            '<div class="flowr-edit-screen"><h3>Rule {}</h3><p>Node {}: choose between D and E at run time.</p></div>',
            cls.__name__,
            node,
        )


class B(LocalRule):
    children: list[Any] = []


class A(LocalRule):
    children = [B, C]


E.children = [A]
