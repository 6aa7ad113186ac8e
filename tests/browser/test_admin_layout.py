"""flowr's admin pages in a laptop-sized window (1280 px, the admin's
sidebar open): flowr's sections sit below the change form, the node tree
fits the page, and the columns flowr adds to change lists stay readable."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from flowr import sample_rules as S
from flowr.models import Flow, RuleSet, State
from tests.testapp.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The text lines of each cell of a column: its text's boxes, counted again
# where one starts lower than half a line under the previous line's top.
LINES = """column => [...document.querySelectorAll(`#result_list td.${column}`)].map(cell => {
  const range = document.createRange();
  range.selectNodeContents(cell);
  const tops = [...range.getClientRects()].map(box => box.top).sort((a, b) => a - b);
  return tops.filter((top, i) => i === 0 || top - tops[i - 1] > 7).length;
})"""


def test_the_flow_list_keeps_its_badge_and_links_on_one_line_at_1280_px(page: Any) -> None:
    rule_set = RuleSet.factory("Sample rules", S.A)
    for name in ("A flow with a long enough name", "Another flow"):
        Flow.factory_from_rules(name, rule_set, [({"rule": S.B}, [])])
    State.start(Flow.objects.get(name="Another flow"))  # in use: the wider "in use · frozen" badge
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(reverse("admin:flowr_flow_changelist"))
    assert page.evaluate(LINES, "field-links") == [1, 1]
    assert page.evaluate(LINES, "field-badge") == [1, 1]
    links = page.locator("#result_list td.field-links").first
    assert links.inner_text() == "open editor · start a state"


# Where each flowr section (the modules after the change form) starts, and
# where the floated change form ends: a section that starts above it is laid
# out behind the form, its blue header drawn as an empty bar above the Save row.
SECTIONS = """() => {
  const form = document.querySelector("#content-main form").getBoundingClientRect();
  return {
    form: Math.round(form.bottom),
    sections: [...document.querySelectorAll("#content > .module")].map(
      m => [m.querySelector("h2").textContent.trim(), Math.round(m.getBoundingClientRect().top)]),
    overflow: document.documentElement.scrollWidth - window.innerWidth,
  };
}"""


def test_flowr_sections_sit_below_the_change_form_and_fit_the_page(page: Any) -> None:
    rule_set = RuleSet.factory("Sample rules", S.A)
    flow = Flow.factory_from_rules("Sample", rule_set, [({"rule": S.C}, [({"rule": S.D}, [])])])
    ticket = Ticket.objects.create(title="The printer is on fire")
    State.start(Flow.factory_from_rules("Tickets", rule_set, []), subject=ticket)
    page.set_viewport_size({"width": 1280, "height": 800})
    for url, headings in (
        (reverse("admin:flowr_flow_change", args=[flow.pk]), ["Status", "Nodes of this flow", "Edit log"]),
        (reverse("admin:flowr_ruleset_change", args=[rule_set.pk]), None),
        (reverse("admin:testapp_ticket_change", args=[ticket.pk]), ["Flows"]),
    ):
        page.goto(url)
        found = page.evaluate(SECTIONS)
        if headings is not None:
            assert [heading for heading, _ in found["sections"]][: len(headings)] == headings, url
        assert found["sections"], url
        assert all(top >= found["form"] for _, top in found["sections"]), (url, found)
        assert found["overflow"] <= 0, (url, found)
