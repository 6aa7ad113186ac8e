"""A rule set with every problem lint_rule_set finds (tests/test_testing_kit.py)."""

from __future__ import annotations

from typing import Any

from flowr.rules import Rule


class LintEnd(Rule):
    children: list[Any] = []


class LintLoopB(Rule):
    children = ["tests.kit_lint_rules.LintLoopA"]


class LintLoopA(Rule):
    """Branching with one child, and every path from it loops."""

    multiple_paths = True
    children = [LintLoopB]


class LintRoot(Rule):
    multiple_paths = True
    children = [LintEnd, LintLoopA]


class LintOrphan(Rule):
    """Nothing leads here."""

    children = [LintEnd]


class LintAbstract(Rule):
    """Abstract: never a rule, never reported."""

    abstract = True
