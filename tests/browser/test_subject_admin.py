"""A subject's own admin page (FlowrSubjectAdminMixin) and the Start-a-state
subject search, in headless Chromium."""

from __future__ import annotations

import pytest
from django.urls import reverse

from flowr import sample_rules as S
from flowr.models import Flow, RuleSet, State
from tests.testapp.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sample_flow() -> Flow:
    """A -> C, C -> D | E (0.2's sample rules, as the demo has them)."""
    flow = Flow.factory("Sample", RuleSet.factory("Sample rules", S.A))
    c = flow.root_data.add_child_rule(S.C)
    c.add_child_rule(S.D)
    c.add_child_rule(S.E)
    return flow


def test_a_ticket_page_moves_its_state(page):
    ticket = Ticket.objects.create(title="Printer on fire")
    state = State.start(sample_flow(), subject=ticket)
    page.goto(reverse("admin:testapp_ticket_change", args=[ticket.pk]))
    section = page.locator(f"#flowr-state-{state.pk}")
    assert section.locator(".flowr-current").inner_text() == "A"
    assert section.locator("button[name=rule]").all_inner_texts() == ["C"]
    section.locator("textarea[name=note]").fill("looked at it")
    section.locator("button[name=rule]", has_text="C").click()
    page.wait_for_selector("ul.messagelist li.success")
    assert f"State {state.pk} moved from A to C." in page.locator("ul.messagelist").inner_text()
    section = page.locator(f"#flowr-state-{state.pk}")
    assert section.locator(".flowr-current").inner_text() == "C"
    assert section.locator("button[name=rule]").all_inner_texts() == ["D", "E"]
    state.refresh_from_db()
    assert state.current_node.rule_label == S.C.class_label and state.version == 1
    assert section.locator(".flowr-history tbody tr").count() == 2


def test_start_a_state_finds_its_subject_by_name(page):
    flow = sample_flow()
    Ticket.objects.create(title="Printer on fire")
    wanted = Ticket.objects.create(title="Cannot log in")
    page.goto(reverse("admin:flowr_state_add"))
    picker = page.locator("[data-flowr-picker='testapp.ticket']")
    assert not picker.is_visible()
    page.select_option("#id_flow", str(flow.pk))
    page.select_option("#id_subject_type", "testapp.ticket")
    assert picker.is_visible()
    picker.locator(".select2-selection").click()
    page.fill(".select2-search__field", "log")
    page.wait_for_selector(f".select2-results__option:has-text('{wanted}')")
    page.click(f".select2-results__option:has-text('{wanted}')")
    page.click("input[type=submit][value=Start]")
    page.wait_for_selector("ul.messagelist li.success")
    assert State.objects.get().subject == wanted
