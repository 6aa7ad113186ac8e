"""Abstract rules (``abstract = True`` in the class body): bases for other rules, never rules themselves.

They resolve for no one (flowr.rules), so every surface refuses them the same
way: not listed, not offered in the admin, refused as a root or a child by the
API, the admin and imports.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from flowr import rules, sample_rules
from flowr.exceptions import InvalidRule
from flowr.export import ImportErrors, export_flow, import_flow
from flowr.forms import RuleSetForm, known_rule_choices
from flowr.models import Flow, FlowNodeData, RuleSet
from flowr.rules import Rule
from tests.api_fixtures import (  # noqa: F401  (fixtures)
    API,
    api_fixture,
    build_flow,
    client_for_fixture,
    rule_set_fixture,
    snapshot,
    users_fixture,
)
from tests.testapp.rules import ProbeRule

ABSTRACT = sample_rules.LocalRule.class_label


def test_the_bases_are_abstract_and_their_subclasses_are_not() -> None:
    assert rules.is_abstract(sample_rules.LocalRule) and rules.is_abstract(ProbeRule)
    # inherited, ``abstract`` does not count
    assert sample_rules.E.abstract is True and not rules.is_abstract(sample_rules.E)
    assert rules.get_rule(sample_rules.E.class_label) is sample_rules.E


def test_the_registry_never_resolves_one() -> None:
    assert rules.get_rule(ABSTRACT) is None
    assert sample_rules.LocalRule not in rules.all_rules() and ProbeRule not in rules.all_rules()
    assert sample_rules.A in rules.all_rules()
    for given in (ABSTRACT, sample_rules.LocalRule):
        with pytest.raises(InvalidRule, match="abstract"):
            rules.resolve(given)
        with pytest.raises(InvalidRule, match="abstract"):
            rules.label_of(given)


def test_a_subclass_still_runs_the_bases_code(db: Any) -> None:
    from flowr.models import State

    sample_rules.done_enter = []
    State.start(Flow.factory("f", RuleSet.factory("s", sample_rules.A)))
    assert sample_rules.done_enter == ["A"]  # LocalRule.on_enter, inherited


def test_not_a_child_rule() -> None:
    class Base(Rule):
        abstract = True

    class Parent(Rule):
        children = [Base, sample_rules.D, f"{Base.__module__}.{Base.__qualname__}"]

    assert rules.child_rules(Parent) == (sample_rules.D,)


def test_not_a_root_rule_in_python(db: Any) -> None:
    with pytest.raises(InvalidRule):
        RuleSet.factory("no", sample_rules.LocalRule)
    assert not RuleSet.objects.exists()


def test_the_api_neither_lists_nor_accepts_one(api, rule_set) -> None:
    labels = {r["label"] for r in api.get(f"{API}/rules/?page_size=500").json()["results"]}
    assert sample_rules.A.class_label in labels and ABSTRACT not in labels
    assert ProbeRule.class_label not in labels
    before = snapshot()
    response = api.post(f"{API}/rule-sets/", {"name": "no", "root_rule": ABSTRACT}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_rule"
    assert snapshot() == before
    flow = Flow.factory("f", rule_set)
    before = snapshot()
    response = api.post(f"{API}/nodes/{flow.state_graph.root_id}/children/", {"rule": ABSTRACT}, format="json")
    assert response.status_code == 400
    assert snapshot() == before


def test_imports_refuse_one(api, rule_set) -> None:
    document = export_flow(build_flow(rule_set))
    for change in ("root", "node"):
        bad = {**document, "rule_set": {**document["rule_set"]}, "nodes": [dict(n) for n in document["nodes"]]}
        if change == "root":
            bad["rule_set"]["root_rule"] = ABSTRACT
        bad["nodes"][-1]["rule"] = ABSTRACT
        before = snapshot()
        with pytest.raises(ImportErrors):
            import_flow(bad, name="bad")
        response = api.post(f"{API}/flows/import/", {"document": bad, "name": "bad"}, format="json")
        assert response.status_code == 400
        assert snapshot() == before


def test_the_admin_neither_offers_nor_accepts_one(admin_client: Client) -> None:
    assert ABSTRACT not in dict(known_rule_choices())
    assert ABSTRACT not in dict(RuleSetForm().fields["root_rule_label"].choices)  # type: ignore[attr-defined]
    page = admin_client.get(reverse("admin:flowr_ruleset_add")).content.decode()
    assert sample_rules.A.class_label in page and ABSTRACT not in page
    response = admin_client.post(reverse("admin:flowr_ruleset_add"), {"name": "no", "root_rule_label": ABSTRACT})
    assert response.status_code == 200 and not RuleSet.objects.exists()


def test_a_stored_abstract_label_shows_as_missing(rule_set) -> None:
    flow = build_flow(rule_set)
    data = flow.root_data
    data.rule_label = ABSTRACT
    data.save(update_fields=["rule_label"])
    assert FlowNodeData.objects.get(pk=data.pk).rule_missing is True
