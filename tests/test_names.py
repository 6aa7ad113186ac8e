"""Readable names: Rule.verbose_name (derived or set, lazy-translatable), the
flowr.E005 check on a ``name`` set in a rule's body, readable ``__str__``s."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import translation
from django.utils.translation import gettext_lazy

from flowr import checks, rules
from flowr import sample_rules as sr
from flowr.rules import Rule, derive_verbose_name


@pytest.fixture
def temporary_rules():
    """Define Rule classes for one test, then unregister them."""
    made: list[type[Rule]] = []

    def make(class_name: str, /, **body) -> type[Rule]:
        cls = type(class_name, (Rule,), {"__qualname__": class_name, "__module__": "tests.test_names", **body})
        made.append(cls)
        return cls

    yield make
    for cls in made:
        rules._registry.pop(cls.class_label, None)


@pytest.mark.parametrize(
    "class_name, expected",
    [
        ("WaitingOnCustomer", "Waiting on customer"),
        ("HTTPCheck", "HTTP check"),
        ("SendSMSReminder", "Send SMS reminder"),
        ("CheckHTTP", "Check HTTP"),
        ("Step2", "Step 2"),
        ("snake_case_rule", "Snake case rule"),
        ("Review", "Review"),
        ("A", "A"),
    ],
)
def test_verbose_name_derived_from_the_class_name(class_name, expected):
    assert derive_verbose_name(class_name) == expected


def test_every_rule_gets_a_verbose_name_once_per_class(temporary_rules):
    waiting = temporary_rules("WaitingOnCustomer")
    assert str(waiting.verbose_name) == "Waiting on customer"
    assert waiting.__dict__["verbose_name"] is waiting.verbose_name  # computed at class creation, stored
    assert str(sr.A.verbose_name) == "A"


def test_explicit_verbose_name_wins_and_is_not_inherited(temporary_rules):
    parent = temporary_rules("Parent", verbose_name="In progress")
    child = type("StrictChild", (parent,), {"__qualname__": "StrictChild", "__module__": "tests.test_names"})
    try:
        assert parent.verbose_name == "In progress"
        assert str(child.verbose_name) == "Strict child"  # a subclass is another rule: its own name
    finally:
        rules._registry.pop(child.class_label, None)


def test_lazy_verbose_name_follows_the_active_language(temporary_rules):
    rule = temporary_rules("Removal", verbose_name=gettext_lazy("Delete"))  # in Django's own catalogs
    with translation.override("fr"):
        assert str(rule.verbose_name) == "Supprimer"
        assert rules.verbose_name_of(rule.class_label) == "Supprimer"
    with translation.override("en"):
        assert str(rule.verbose_name) == "Delete"


def test_name_stays_the_class_name(temporary_rules):
    rule = temporary_rules("WaitingOnCustomer", verbose_name="Waiting")
    assert rule.name == "WaitingOnCustomer"  # 0.2's API
    assert rules.verbose_name_of("tests.test_names.Gone") == "Gone"  # a missing rule: the class-name part


def test_e005_name_in_a_rule_body(temporary_rules):
    temporary_rules("InProgress", name="In progress")
    messages = checks.check_rule_names()
    assert [m.id for m in messages] == ["flowr.E005"]
    assert "tests.test_names.InProgress sets name = 'In progress'" in messages[0].msg
    assert "verbose_name" in messages[0].hint
    assert rules.get_rule("tests.test_names.InProgress").name == "InProgress"  # still the class name


def test_e005_clean_project():
    assert checks.check_rule_names() == []


def test_docs_snippet_readable_names():
    """The snippet of docs/core.md, "Readable names and translations", run as written."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "core.md").read_text(encoding="utf-8")
    section = text.split("### Readable names and translations", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {"__name__": "tests.docs_core_names"}
    exec(compile(code, "docs/core.md", "exec"), namespace)  # noqa: S102 -- the documentation's own example
    try:
        assert str(namespace["WaitingOnCustomer"].verbose_name) == "Waiting on customer"
        assert str(namespace["HTTPCheck"].verbose_name) == "HTTP check"
        assert namespace["InProgress"].verbose_name == "In progress"
        assert namespace["InProgress"].name == "InProgress"
        assert checks.check_rule_names() == []
    finally:
        for name in ("WaitingOnCustomer", "HTTPCheck", "InProgress"):
            rules._registry.pop(f"tests.docs_core_names.{name}", None)
