"""Rules for the test kit's tests (tests/test_testing_kit*.py)."""

from __future__ import annotations

from typing import Any

from flowr.rules import Rule


class Submitted(Rule):
    children = ["tests.kit_rules.Review"]


class Review(Rule):
    multiple_paths = True
    children = ["tests.kit_rules.Approved", "tests.kit_rules.Rejected"]


class Approved(Rule):
    children: list[Any] = []


class Rejected(Rule):
    children = [Submitted]

    @classmethod
    def can_enter(cls, state: Any) -> bool | str:
        return "no rejections today" if getattr(state.subject, "title", "") == "perfect" else True
