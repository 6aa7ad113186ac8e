"""The rule registry: labels resolve only to Rule classes of installed apps."""

import pytest
from django.test import override_settings

from flowr import policy, sample_rules
from flowr import rules as registry
from flowr.exceptions import InvalidRule, MissingRule
from flowr.rules import Rule
from tests.testapp import rules as test_rules


class Local(Rule):
    """Defined in the tests package (an installed app in tests/settings.py)."""

    children = ["tests.test_rules.Local", sample_rules.B]


def test_label_and_name():
    assert Local.class_label == "tests.test_rules.Local"
    assert Local.name == "Local"


def test_resolves_registered_rules_of_installed_apps():
    assert registry.get_rule("flowr.sample_rules.A") is sample_rules.A
    assert registry.get_rule("tests.testapp.rules.Cycle1") is test_rules.Cycle1
    assert registry.get_rule(Local.class_label) is Local


@pytest.mark.parametrize(
    "label",
    ["", "os.system", "flowr.rules.Rule", "flowr.sample_rules.Missing", "django.db.models.Model", "nonsense"],
)
def test_unknown_labels_do_not_resolve(label):
    assert registry.get_rule(label) is None
    with pytest.raises(MissingRule):
        registry.resolve(label)


def test_never_imports_modules_named_by_labels():
    import sys

    before = set(sys.modules)
    assert registry.get_rule("wsgiref.simple_server.Rule") is None
    assert registry.get_rule("tests.not_a_module.Rule") is None
    assert set(sys.modules) == before


def test_rules_outside_installed_apps_do_not_resolve():
    with override_settings(INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "flowr"]):
        assert registry.get_rule(Local.class_label) is None
        assert registry.get_rule("flowr.sample_rules.A") is sample_rules.A
    assert registry.get_rule(Local.class_label) is Local


def test_children_may_be_labels_for_forward_references():
    assert test_rules.Cycle1.child_rules() == [test_rules.Cycle2]
    assert Local.child_rules() == [Local, sample_rules.B]
    assert Local.child_labels() == ["tests.test_rules.Local", "flowr.sample_rules.B"]


def test_children_that_name_no_rule_are_left_out_and_reported():
    class BadLabel(Rule):
        children = ["tests.test_rules.DoesNotExist", sample_rules.B]

    class BadObject(Rule):
        children = [object, sample_rules.B]
        multiple_paths = True

    # not offered, not counted toward the limit; the other children stay allowed
    assert BadLabel.child_rules() == [sample_rules.B]
    assert BadObject.child_rules() == [sample_rules.B]
    assert policy.max_children(BadObject) == 1
    assert [(b.position, b.missing) for b in policy.broken_children(BadLabel)] == [(0, True)]
    assert [(b.position, b.missing) for b in policy.broken_children(BadObject)] == [(0, False)]


def test_label_of_and_resolve_refuse_non_rules():
    for bad in (object, Rule, 3, None):
        with pytest.raises(InvalidRule):
            registry.label_of(bad)
        with pytest.raises(InvalidRule):
            registry.resolve(bad)


def test_all_rules_and_reachability():
    labels = [r.class_label for r in registry.all_rules()]
    assert labels == sorted(labels)
    assert "flowr.sample_rules.A" in labels
    assert [r.name for r in registry.rules_reachable_from(sample_rules.A)] == ["A", "B", "C", "D", "E"]
    assert registry.short_name("a.b.Cee") == "Cee"


def test_exceptions_are_attribute_errors():
    from flowr import exceptions

    classes = [c for c in vars(exceptions).values() if isinstance(c, type) and issubclass(c, Exception)]
    assert len(classes) >= 14
    codes = set()
    for cls in classes:
        assert issubclass(cls, AttributeError), cls
        assert issubclass(cls, exceptions.FlowrError)
        assert cls.__doc__
        codes.add(cls.code)
    assert len(codes) == len(classes), "codes must be unique"
    err = exceptions.RuleNotAllowed("Rule X not allowed at node 3", rule="X", node=3)
    assert str(err) == "Rule X not allowed at node 3" and err.rule == "X" and err.node == 3
