"""flowr in French, in headless Chromium: with ``LANGUAGE_CODE = "fr"`` the
editor (its template and its JavaScript, through the catalog) and an admin
flow page speak French, and rules show their verbose names."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils.translation import gettext_lazy

from flowr import rules
from flowr.models import Flow, RuleSet, State
from flowr.rules import Rule
from tests.browser.pages import open_editor, open_rules, select_node

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def support_flow() -> Any:
    """WaitingOnCustomer (derived verbose name) -> HTTPCheck (lazy verbose name "start": "début" in French)."""
    body = {"__module__": __name__}
    http = type("HTTPCheck", (Rule,), {**body, "__qualname__": "HTTPCheck", "verbose_name": gettext_lazy("start")})
    waiting = type("WaitingOnCustomer", (Rule,), {**body, "__qualname__": "WaitingOnCustomer", "children": [http]})
    flow = Flow.factory_from_rules("Support", RuleSet.factory("Support rules", waiting), [({"rule": http}, [])])
    yield flow
    for cls in (waiting, http):
        rules._registry.pop(cls.class_label, None)


def test_editor_in_french(page: Any, support_flow: Flow, settings: Any) -> None:
    settings.LANGUAGE_CODE = "fr"
    open_editor(page, support_flow)
    assert page.locator("#flowr-node-panel").inner_text() == "Sélectionnez un nœud pour le voir et le modifier."
    assert "Légende" in page.locator("#flowr-legend").inner_text()
    assert page.locator("#flowr-relayout").inner_text() == "Redisposer"
    assert "1 problème à examiner." not in page.locator("#flowr-problems-list").inner_text()
    assert "Fins (aucun enfant) (1)" in page.locator("#flowr-problems-list").inner_text()
    # node labels in the graph are verbose names; the dotted label stays in the details panel
    labels = page.evaluate("() => window.flowrEditor.graph.cy.nodes().map((n) => n.data('display'))")
    assert labels == ["Waiting on customer", "début"]
    root = support_flow.root_data.node_id
    select_node(page, root)
    panel = page.locator("#flowr-node-panel")
    assert panel.locator(".flowr-node-title").inner_text().startswith("Waiting on customer")
    assert panel.locator(".flowr-rule-label").inner_text() == f"{__name__}.WaitingOnCustomer"
    assert "Enfants" in panel.inner_text() and "racine" in panel.inner_text()
    assert panel.locator("#flowr-remove").inner_text() == "Supprimer"


def test_admin_flow_page_and_rule_graph_in_french(page: Any, support_flow: Flow, settings: Any) -> None:
    settings.LANGUAGE_CODE = "fr"
    State.start(support_flow)
    page.goto(reverse("admin:flowr_flow_change", args=[support_flow.pk]))
    tree = page.locator("#flowr-tree")
    assert tree.locator("h2").inner_text() == "Nœuds de ce flux"
    assert "1 état utilise ce flux : ses nœuds ne peuvent donc pas changer." in tree.inner_text()
    root, child = (d.node_id for d in support_flow.nodes_data())
    assert f"#{root} Waiting on customer" in tree.inner_text() and f"#{child} début" in tree.inner_text()
    assert page.locator("html").get_attribute("lang") == "fr"
    open_rules(page, support_flow.rule_set_id)
    assert page.locator("#flowr-rule-panel").inner_text() == "Sélectionnez une règle pour voir ce qui peut la suivre."
    labels = page.evaluate("() => window.flowrRules.graph.cy.nodes().map((n) => n.data('display'))")
    assert labels == ["Waiting on customer", "début"]
