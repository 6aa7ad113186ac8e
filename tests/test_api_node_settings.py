"""A node's settings on every surface: ``PATCH /flowr/api/nodes/{id}/settings/``,
the node detail (``settings``, ``settings_schema``), the admin's settings
page -- each refusing bad values with the same problems and writing
nothing, as the model method and the import do."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from flowr.exceptions import InvalidSettings
from flowr.export import export_flow, validate_document
from flowr.models import Flow, FlowEdit, FlowNodeData, State
from tests.api_fixtures import (  # noqa: F401  (fixtures)
    API,
    api_fixture,
    client_for_fixture,
    snapshot,
    users_fixture,
)
from tests.testapp.settings_rules import Escalated, ticket_flow

pytestmark = pytest.mark.django_db


@pytest.fixture(name="group")
def group_fixture() -> Group:
    return Group.objects.create(name="ops")


@pytest.fixture(name="tickets")
def tickets_fixture() -> tuple[Flow, FlowNodeData, FlowNodeData, FlowNodeData]:
    return ticket_flow()


def url(data: FlowNodeData) -> str:
    return f"{API}/nodes/{data.node_id}/settings/"


def test_node_detail_shows_settings_and_the_schema(api, tickets, group):
    flow, root, escalated, _closed = tickets
    body = api.get(f"{API}/nodes/{escalated.node_id}/").json()
    assert body["settings"] == {}
    schema = body["settings_schema"]
    assert schema["required"] == ["group", "due_in", "level"]
    assert schema["properties"]["group"]["x-choices"] == [{"value": group.pk, "label": "ops"}]
    assert api.get(f"{API}/nodes/{root.node_id}/").json()["settings_schema"] is None


def test_patch_stores_merges_and_answers_the_node(api, tickets, group):
    flow, _root, escalated, _closed = tickets
    response = api.patch(url(escalated), {"settings": {"group": group.pk, "due_in": 3600}}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["settings"]["due_in"] == "P0DT01H00M00S"
    response = api.patch(url(escalated), {"settings": {"level": "high"}}, format="json")
    stored = FlowNodeData.objects.get(pk=escalated.pk).settings
    assert response.json()["settings"] == stored
    assert (stored["group"], stored["level"], stored["due_in"]) == (group.pk, "high", "P0DT01H00M00S")
    edit = FlowEdit.objects.filter(flow=flow).latest("seq")
    assert (edit.operation, edit.actor_repr) == ("settings", "admin")


@pytest.mark.parametrize(
    ("settings", "fields"),
    [
        ({"due_in": "soon"}, {"group", "due_in"}),  # group is required and nothing is stored yet
        ({"group": 10**9, "due_in": "P1D", "retries": 9}, {"group", "retries"}),
        ({"group": None, "colour": "red"}, {"colour"}),
        ({"note": ["a"], "notify": "yes"}, {"note", "notify"}),
    ],
)
def test_bad_values_get_400_with_problems_by_field_and_nothing_written(api, tickets, group, settings, fields):
    _flow, _root, escalated, _closed = tickets
    before = snapshot()
    response = api.patch(url(escalated), {"settings": settings}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_settings" and body["detail"].startswith("Invalid settings")
    assert set(body["problems"]) == fields and all(body["problems"][f] for f in fields)
    assert snapshot() == before


@pytest.mark.parametrize(
    "body",
    [{"settings": "due_in"}, {"settings": [1]}, {"values": {}}, {"settings": {}, "extra": 1}, ["settings"]],
)
def test_a_malformed_body_is_a_400(api, tickets, body):
    before = snapshot()
    response = api.patch(url(tickets[2]), body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert snapshot() == before


def test_frozen_flow_and_stale_revision_refuse(api, tickets, group):
    flow, _root, escalated, closed = tickets
    seen = Flow.objects.get(pk=flow.pk).revision
    api.patch(url(closed), {"settings": {"reason": "one"}}, format="json")
    stale = api.patch(url(closed), {"settings": {"reason": "two"}, "revision": seen}, format="json")
    assert stale.status_code == 409 and stale.json()["code"] == "concurrent_edit"
    State.start(flow)
    before = snapshot()
    frozen = api.patch(url(escalated), {"settings": {"group": group.pk}}, format="json")
    assert frozen.status_code == 409 and frozen.json()["code"] == "flow_frozen"
    assert snapshot() == before


def test_staff_without_permission_and_get_are_refused(client_for, tickets):
    escalated = tickets[2]
    before = snapshot()
    assert client_for("staff").patch(url(escalated), {"settings": {}}, format="json").status_code == 403
    assert client_for(None).patch(url(escalated), {"settings": {}}, format="json").status_code in (401, 403)
    assert client_for("admin").get(url(escalated)).status_code == 405
    assert snapshot() == before


# -- the admin's page -------------------------------------------------------------------


def admin_url(flow: Flow, data: FlowNodeData) -> str:
    return reverse("admin:flowr_flow_settings", args=[flow.pk, data.node_id])


@pytest.fixture(name="admin_client")
def admin_client_fixture(client, users):
    client.force_login(users["admin"])
    return client


def test_admin_page_renders_the_rules_form(admin_client, tickets, group):
    flow, _root, escalated, _closed = tickets
    change = admin_client.get(reverse("admin:flowr_flow_change", args=[flow.pk])).content.decode()
    assert admin_url(flow, escalated) in change  # the tree links each node with settings
    page = admin_client.get(admin_url(flow, escalated)).content.decode()
    assert 'name="group"' in page and 'name="due_in"' in page and "How long it may wait." in page
    assert 'id="flowr-settings-form"' in page


def test_admin_post_stores_or_shows_errors_writing_nothing(admin_client, tickets, group):
    flow, _root, escalated, _closed = tickets
    before = snapshot()
    page = admin_client.post(admin_url(flow, escalated), {"group": group.pk, "due_in": "soon", "level": "low"})
    assert page.status_code == 200
    assert page.context["form"].errors.keys() == {"due_in"}
    assert snapshot() == before
    done = admin_client.post(admin_url(flow, escalated), {"group": group.pk, "due_in": "2:00:00", "level": "high"})
    assert done.status_code == 302
    stored = FlowNodeData.objects.get(pk=escalated.pk).settings
    assert (stored["due_in"], stored["level"]) == ("P0DT02H00M00S", "high")


def test_admin_page_of_a_frozen_flow_is_read_only(admin_client, tickets, group):
    flow, _root, escalated, _closed = tickets
    State.start(flow)
    page = admin_client.get(admin_url(flow, escalated)).content.decode()
    assert "errornote" in page and '<fieldset class="module aligned" disabled>' in page
    before = snapshot()
    admin_client.post(admin_url(flow, escalated), {"group": group.pk, "due_in": "1:00:00", "level": "low"})
    assert snapshot() == before


# -- every surface gives the same answer ------------------------------------------------------


def test_every_surface_refuses_the_same_fields(api, admin_client, tickets, group):
    flow, _root, escalated, _closed = tickets
    bad: dict[str, Any] = {"group": group.pk, "due_in": "soon", "level": "urgent", "retries": 9}
    before = snapshot()
    with pytest.raises(InvalidSettings) as model:
        escalated.set_settings(bad)
    api_problems = api.patch(url(escalated), {"settings": bad}, format="json").json()["problems"]
    form_errors = admin_client.post(admin_url(flow, escalated), bad).context["form"].errors
    document = export_flow(flow)
    at = next(i for i, n in enumerate(document["nodes"]) if n["rule"] == Escalated.class_label)
    document["nodes"][at]["settings"] = bad
    paths = {p["path"].rsplit(".", 1)[1] for p in validate_document(document)}
    assert set(model.value.problems) == set(api_problems) == set(form_errors) == paths == {"due_in", "level", "retries"}
    assert model.value.problems == api_problems
    assert snapshot() == before
