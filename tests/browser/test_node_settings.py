"""The editor's side panel: a node's settings, rendered from the JSON Schema
the node endpoint serves, saved through the API; refused values stay in the
panel with the form's messages at their fields, and nothing is written."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from flowr.models import Flow, FlowEdit, FlowNodeData, State
from tests.browser.pages import open_editor, select_node, wait_idle
from tests.browser.test_editor_edits import wait_detail
from tests.testapp.settings_rules import ticket_flow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_panel_edits_settings_and_shows_refusals_by_field(page):
    ops = Group.objects.create(name="ops & <b>night</b>")  # shown as text, never markup
    flow, _root, escalated, _closed = ticket_flow()
    open_editor(page, flow)
    select_node(page, escalated.node_id)
    wait_detail(page, escalated.node_id)
    form = page.locator("#flowr-settings")
    assert form.is_visible()
    labels = page.eval_on_selector_all("#flowr-settings label", "ls => ls.map(l => l.textContent)")
    assert "Assignee group *" in labels
    options = page.eval_on_selector_all("#flowr-setting-group option", "os => os.map(o => o.textContent)")
    assert options == ["\u2014", "ops & <b>night</b>"]
    assert page.input_value("#flowr-setting-due_in") == "P1DT00H00M00S"  # the form's initial
    # refused: no group (required), a bad duration, retries out of range
    page.fill("#flowr-setting-due_in", "soon")
    page.fill("#flowr-setting-retries", "9")
    edits_before = FlowEdit.objects.filter(flow=flow).count()
    page.click("#flowr-settings-save")
    page.wait_for_selector("[data-errors-for=group]:not([hidden])")
    for field in ("group", "due_in", "retries"):
        assert page.locator(f"[data-errors-for={field}]").inner_text().strip() != ""
    wait_idle(page)
    escalated.refresh_from_db()
    assert escalated.settings == {}
    assert FlowEdit.objects.filter(flow=flow).count() == edits_before
    # accepted: stored as the form cleans it, one edit-log row
    page.select_option("#flowr-setting-group", label="ops & <b>night</b>")
    page.fill("#flowr-setting-due_in", "7200")
    page.fill("#flowr-setting-retries", "2")
    page.check("#flowr-setting-notify")
    revision = Flow.objects.get(pk=flow.pk).revision
    page.click("#flowr-settings-save")
    page.wait_for_function("n => window.flowrEditor.api.revision === n", arg=revision + 1)
    wait_idle(page)
    escalated.refresh_from_db()
    assert escalated.settings["group"] == ops.pk
    assert escalated.settings["due_in"] == "P0DT02H00M00S"  # ISO 8601, as Django writes it
    assert (escalated.settings["retries"], escalated.settings["notify"]) == (2, True)
    assert FlowEdit.objects.filter(flow=flow).latest("seq").operation == "settings"


def test_a_frozen_flow_shows_its_settings_read_only(page):
    flow, _root, _escalated, closed = ticket_flow()
    closed.set_settings({"reason": "fixed"})
    State.start(flow)
    open_editor(page, flow)
    select_node(page, closed.node_id)
    wait_detail(page, closed.node_id)
    assert page.input_value("#flowr-setting-reason") == "fixed"
    assert page.locator("#flowr-setting-reason").is_disabled()
    assert page.locator("#flowr-settings-save").count() == 0
    assert FlowNodeData.objects.get(pk=closed.pk).settings["reason"] == "fixed"
