"""System checks: each id, and no crash before migrate."""

from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection

from flowr import checks, rules
from flowr import sample_rules as sr
from flowr.models import Flow, FlowNodeData, RuleSet
from flowr.rules import Rule

pytestmark = pytest.mark.django_db


def ids(messages) -> list[str]:
    return [m.id for m in messages]


def run() -> list:
    return checks.check_rule_classes() + checks.check_stored_flows()


@pytest.fixture
def sample() -> Flow:
    rs = RuleSet.factory("Sample", sr.A)
    flow = Flow.factory_from_rules("Sample flow", rs, [({"rule": sr.C}, [({"rule": sr.D}, []), ({"rule": sr.E}, [])])])
    nodes = {d.rule_name: d for d in flow.nodes_data()}
    nodes["E"].connect_child(nodes["A"])
    return flow


@pytest.fixture
def temporary_rule():
    """Define Rule classes for one test, then unregister them."""
    made: list[type[Rule]] = []

    def make(name: str, children: list) -> type[Rule]:
        cls = type(name, (Rule,), {"__qualname__": name, "__module__": __name__, "children": children})
        made.append(cls)
        return cls

    yield make
    for cls in made:
        rules._registry.pop(cls.class_label, None)


def test_clean_project_has_no_messages(sample):
    assert run() == []


def test_e001_rule_set_root_does_not_resolve(sample):
    bad = RuleSet.objects.create(name="Legacy set", root_rule_label="old.rules.Gone")
    messages = run()
    assert ids(messages) == ["flowr.E001"]
    assert "Legacy set" in messages[0].msg and f"id {bad.pk}" in messages[0].msg and "old.rules.Gone" in messages[0].msg
    assert messages[0].hint


def test_e002_node_label_does_not_resolve(sample):
    d = FlowNodeData.objects.get(node__graph_id=sample.state_graph_id, rule_label=sr.D.class_label)
    FlowNodeData.objects.filter(pk=d.pk).update(rule_label="flowr.sample_rules.Renamed")
    messages = run()
    assert ids(messages) == ["flowr.E002"]
    assert "'Sample flow'" in messages[0].msg and f"id {sample.pk}" in messages[0].msg
    assert str(d.node_id) in messages[0].msg and "flowr.sample_rules.Renamed" in messages[0].msg
    assert messages[0].hint


def test_e003_children_holds_a_non_rule(temporary_rule):
    bad = temporary_rule("HoldsJunk", [sr.A, 42])
    messages = run()
    assert ids(messages) == ["flowr.E003"]
    assert bad.class_label in messages[0].msg and "children[1]" in messages[0].msg and "42" in messages[0].msg
    assert messages[0].obj is bad and messages[0].hint


def test_e004_children_label_does_not_resolve(temporary_rule):
    bad = temporary_rule("NamesGhost", ["tests.nowhere.Ghost"])
    messages = run()
    assert ids(messages) == ["flowr.E004"]
    assert bad.class_label in messages[0].msg and "tests.nowhere.Ghost" in messages[0].msg


def test_rule_checks_respect_app_configs(temporary_rule):
    temporary_rule("HoldsJunk", [object()])
    assert ids(checks.check_rule_classes(app_configs=[apps.get_app_config("tests")])) == ["flowr.E003"]
    assert checks.check_rule_classes(app_configs=[apps.get_app_config("auth")]) == []
    assert checks.check_stored_flows(app_configs=[apps.get_app_config("auth")]) == []


def test_w001_child_rule_no_longer_allowed(sample, monkeypatch):
    monkeypatch.setattr(sr.E, "children", [])
    messages = run()
    assert ids(messages) == ["flowr.W001"]
    e = FlowNodeData.objects.get(node__graph_id=sample.state_graph_id, rule_label=sr.E.class_label)
    assert "'Sample flow'" in messages[0].msg and "rule A is no longer allowed after rule E" in messages[0].msg
    assert f"node(s) {e.node_id}" in messages[0].msg and messages[0].hint


def test_w001_and_w002_together(sample, monkeypatch):
    monkeypatch.setattr(sr.C, "children", [sr.D])  # E dropped: C's E edge, and 2 children > 1
    assert sorted(ids(run())) == ["flowr.W001", "flowr.W002"]


def test_w002_more_children_than_allowed(sample, monkeypatch):
    monkeypatch.setattr(sr.C, "multiple_paths", False)
    messages = run()
    assert ids(messages) == ["flowr.W002"]
    assert "rule C have more children than the 1 the rule allows now" in messages[0].msg
    assert messages[0].hint


def test_w003_root_rule_changed(sample):
    RuleSet.objects.filter(pk=sample.rule_set_id).update(root_rule_label=sr.B.class_label)
    messages = run()
    assert ids(messages) == ["flowr.W003"]
    assert "flowr.sample_rules.A" in messages[0].msg and "flowr.sample_rules.B" in messages[0].msg


def test_label_graph_of_other_data_classes_is_ignored(sample):
    from tests.helpers import build_graph_c

    build_graph_c()  # Label nodes: not flows
    assert run() == []


def test_database_errors_skip_the_database_checks(sample, monkeypatch):
    def broken(db: str) -> list:
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM flowr_table_that_does_not_exist")
        return []

    monkeypatch.setattr(checks, "_stored_label_errors", broken)
    assert checks.check_stored_flows() == []
    assert Flow.objects.filter(pk=sample.pk).exists()  # the connection still works


def test_manage_py_check_reports(sample, monkeypatch):
    monkeypatch.setattr(sr.C, "multiple_paths", False)
    out = StringIO()
    call_command("check", stdout=out, stderr=out)
    assert "flowr.W002" in out.getvalue()
    RuleSet.objects.create(name="Legacy", root_rule_label="old.Gone")
    with pytest.raises(SystemCheckError, match="flowr.E001"):
        call_command("check", stdout=out, stderr=out)
