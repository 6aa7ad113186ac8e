"""Subjects in the API: only declared models (``FLOWR["SUBJECT_MODELS"]``), named by users who may view them.

An undeclared or unviewable type gets one 400 whether or not the object
exists, so the API does not tell which primary keys exist in which model.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient

from flowr.models import State
from tests.api_fixtures import (  # noqa: F401  (fixtures)
    API,
    STATE_PERMS,
    client_for_fixture,
    flow_fixture,
    make_user,
    rule_set_fixture,
    snapshot,
    users_fixture,
)
from tests.testapp.models import Ticket


def client_of(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture(name="ticket_runner")
def ticket_runner_fixture(db: Any) -> User:
    """Runs States and may view tickets (not users, nor documents)."""
    user = make_user("ticket_runner", *STATE_PERMS)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="testapp", codename="view_ticket"))
    return user


def start(client: APIClient, flow: Any, kind: str, pk: Any) -> Any:
    return client.post(f"{API}/states/", {"flow": flow.pk, "subject_type": kind, "subject_id": str(pk)}, format="json")


@pytest.mark.parametrize("kind", ["auth.user", "flowr.state", "flowr.flow", "no.model"])
def test_undeclared_types_get_one_answer_whether_or_not_the_object_exists(client_for, users, flow, kind):
    State.start(flow)
    existing = {"auth.user": users["admin"].pk, "flowr.state": State.objects.get().pk, "flowr.flow": flow.pk}
    before = snapshot()
    answers = [start(client_for("admin"), flow, kind, pk) for pk in (existing.get(kind, 1), 987654)]
    assert [a.status_code for a in answers] == [400, 400]
    assert answers[0].json() == answers[1].json()
    assert answers[0].json()["errors"] == {"subject_type": [f"Not a subject type: {kind!r}."]}
    assert snapshot() == before


def test_declared_type_without_its_view_permission_gets_the_same_answer(users, flow):
    ticket = Ticket.objects.create(title="secret")
    runner = client_of(users["runner"])  # the State permissions, not testapp.view_ticket
    answers = [start(runner, flow, "testapp.ticket", pk) for pk in (ticket.pk, ticket.pk + 1000)]
    assert [a.status_code for a in answers] == [400, 400]
    assert answers[0].json() == answers[1].json()
    assert answers[0].json()["errors"] == {"subject_type": ["Not a subject type: 'testapp.ticket'."]}


def test_declared_type_with_its_view_permission(ticket_runner, flow):
    ticket = Ticket.objects.create(title="t")
    client = client_of(ticket_runner)
    created = start(client, flow, "testapp.ticket", ticket.pk)
    assert created.status_code == 201, created.json()
    missing = start(client, flow, "testapp.ticket", ticket.pk + 1000)
    assert missing.status_code == 400 and "subject_id" in missing.json()["errors"]
    assert start(client, flow, "testapp.document", "00000000-0000-0000-0000-000000000000").status_code == 400


def test_nothing_is_a_subject_by_default(users, flow, settings):
    settings.FLOWR = {}
    ticket = Ticket.objects.create(title="t")
    response = start(client_of(users["admin"]), flow, "testapp.ticket", ticket.pk)
    assert response.status_code == 400 and response.json()["errors"] == {
        "subject_type": ["Not a subject type: 'testapp.ticket'."]
    }


def test_the_states_filter_asks_the_same(users, ticket_runner, flow):
    ticket = Ticket.objects.create(title="t")
    State.start(flow, subject=ticket)
    query = f"{API}/states/?subject_type=testapp.ticket&subject_id={ticket.pk}"
    assert client_of(ticket_runner).get(query).json()["count"] == 1
    refused = client_of(users["runner"]).get(query)
    assert refused.status_code == 400 and refused.json()["errors"] == {
        "subject_type": ["Not a subject type: 'testapp.ticket'."]
    }
    undeclared = client_of(users["admin"]).get(f"{API}/states/?subject_type=auth.user&subject_id=1")
    assert undeclared.status_code == 400
    # the id alone filters on the stored id, whatever the type: no subject is read
    other = Ticket.objects.create(title="other")
    State.start(flow, subject=other)
    by_id = client_of(users["admin"]).get(f"{API}/states/?subject_id={other.pk}").json()
    assert [row["subject_id"] for row in by_id["results"]] == [str(other.pk)]


def test_a_states_subject_is_shown_as_type_and_id_only(users, flow):
    """Reading a State never reads its subject: a runner without the subject's view permission learns nothing more."""
    ticket = Ticket.objects.create(title="secret title")
    state = State.start(flow, subject=ticket)
    runner = client_of(users["runner"])
    for url in (f"{API}/states/", f"{API}/states/{state.pk}/", f"{API}/states/{state.pk}/history/"):
        response = runner.get(url)
        assert response.status_code == 200 and "secret title" not in response.content.decode()
    body = runner.get(f"{API}/states/{state.pk}/").json()
    assert (body["subject_type"], body["subject_id"]) == ("testapp.ticket", str(ticket.pk))
    assert not {key for key in body if key.startswith("subject")} - {"subject_type", "subject_id"}
