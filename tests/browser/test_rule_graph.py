"""The rule set view in headless Chromium."""

from __future__ import annotations

import pytest

from flowr import sample_rules
from flowr.models import RuleSet
from tests.browser.pages import graph_size, node_point, open_rules
from tests.testapp.rules import Chain

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def rule_data(page, label, key):
    return page.evaluate("([id, key]) => window.flowrRules.graph.cy.getElementById(id).data(key)", [label, key])


def test_rule_set_view(page):
    rule_set = RuleSet.factory("Samples", sample_rules.A)
    open_rules(page, rule_set.pk)
    assert graph_size(page, "flowrRules") == (5, 5)
    assert rule_data(page, sample_rules.A.class_label, "is_root") is True
    assert rule_data(page, sample_rules.C.class_label, "multiple_paths") is True
    # the loop E -> A is drawn
    assert (
        page.evaluate(
            "([s, t]) => window.flowrRules.graph.cy.edges(`[source = '${s}'][target = '${t}']`).length",
            [sample_rules.E.class_label, sample_rules.A.class_label],
        )
        == 1
    )
    x, y = node_point(page, sample_rules.C.class_label, app="flowrRules")
    page.mouse.click(x, y)
    page.wait_for_selector(f".flowr-rule[data-label='{sample_rules.C.class_label}']")
    badges = page.locator(".flowr-rule .flowr-badge").all_inner_texts()
    assert badges == ["branching", "edit screen"]
    assert page.locator(".flowr-rule li button").all_inner_texts() == ["D", "E"]
    page.click(".flowr-rule li button >> text=E")
    page.wait_for_selector(f".flowr-rule[data-label='{sample_rules.E.class_label}']")


def test_rule_that_follows_itself(page):
    rule_set = RuleSet.factory("Chains", Chain)
    open_rules(page, rule_set.pk)
    assert graph_size(page, "flowrRules") == (1, 1)
