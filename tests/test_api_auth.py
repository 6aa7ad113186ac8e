"""Authentication and permissions of the API."""

from __future__ import annotations

import base64

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from flowr.models import Flow, State
from tests.api_fixtures import (  # noqa: F401  (fixtures)
    API,
    api_fixture,
    client_for_fixture,
    flow_fixture,
    make_user,
    rule_set_fixture,
    snapshot,
    users_fixture,
)

READS = ["/rules/", "/rule-sets/", "/flows/", "/flows/{flow}/", "/flows/{flow}/graph/", "/nodes/{root}/"]
STATE_READS = ["/states/", "/states/{state}/", "/states/{state}/history/"]


def _url(template: str, flow: Flow, state: State | None = None) -> str:
    return API + template.format(flow=flow.pk, root=flow.state_graph.root_id, state=state.pk if state else 0)


@pytest.mark.parametrize("template", READS + STATE_READS + ["/", "/schema/"])
def test_anonymous_gets_401(client_for, flow, template):
    state = State.start(flow)
    response = client_for(None).get(_url(template, flow, state))
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Token")


@pytest.mark.parametrize("template", READS + STATE_READS)
def test_user_without_permissions_gets_403(client_for, flow, template):
    state = State.start(flow)
    response = client_for("nobody").get(_url(template, flow, state))
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"


def test_staff_without_permissions_edits_nothing(client_for, flow, rule_set):
    staff = client_for("staff")
    before = snapshot()
    root = flow.state_graph.root_id
    assert staff.post(f"{API}/flows/", {"name": "x", "rule_set": rule_set.pk}, format="json").status_code == 403
    assert staff.post(f"{API}/flows/{flow.pk}/clone/", format="json").status_code == 403
    assert staff.post(f"{API}/nodes/{root}/prune/", format="json").status_code == 403
    assert staff.delete(f"{API}/flows/{flow.pk}/").status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize("who", ["editor", "admin"])
def test_model_permissions_edit_flows(client_for, rule_set, who):
    client = client_for(who)
    response = client.post(f"{API}/flows/", {"name": "x", "rule_set": rule_set.pk}, format="json")
    assert response.status_code == 201
    flow_id = response.json()["id"]
    root = response.json()["root_node"]
    assert (
        client.post(f"{API}/nodes/{root}/children/", {"rule": "flowr.sample_rules.C"}, format="json").status_code == 201
    )
    assert client.get(f"{API}/flows/{flow_id}/graph/").status_code == 200
    assert client.delete(f"{API}/flows/{flow_id}/").status_code == 204


@pytest.mark.parametrize("who", ["staff", "editor", "nobody"])
def test_states_need_state_permissions_not_staff(client_for, flow, who):
    before = snapshot()
    response = client_for(who).post(f"{API}/states/", {"flow": flow.pk}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert snapshot() == before


def test_runner_runs_states_but_cannot_edit(client_for, flow):
    runner = client_for("runner")
    created = runner.post(f"{API}/states/", {"flow": flow.pk}, format="json")
    assert created.status_code == 201
    assert runner.post(f"{API}/states/{created.json()['id']}/advance/", format="json").status_code == 200
    assert runner.get(f"{API}/states/").status_code == 200
    before = snapshot()
    response = runner.patch(f"{API}/flows/{flow.pk}/", {"name": "no"}, format="json")
    assert response.status_code == 403 and snapshot() == before


def test_change_permission_implies_view(client_for, flow, db):
    user = make_user("changer", "flowr.change_flow")
    client = APIClient()
    client.force_authenticate(user)
    assert client.get(f"{API}/flows/{flow.pk}/graph/").status_code == 200
    assert client.post(f"{API}/flows/{flow.pk}/clone/").status_code == 403  # needs add_flow


def test_view_permission_does_not_allow_edits(flow, db):
    user = make_user("viewer", "flowr.view_flow")
    client = APIClient()
    client.force_authenticate(user)
    assert client.get(f"{API}/flows/").status_code == 200
    before = snapshot()
    response = client.post(f"{API}/nodes/{flow.state_graph.root_id}/prune/")
    assert response.status_code == 403 and snapshot() == before


def test_session_needs_csrf(users, rule_set):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["admin"])
    before = snapshot()
    payload = {"name": "x", "rule_set": rule_set.pk}
    response = client.post(f"{API}/flows/", payload, content_type="application/json")
    assert response.status_code == 403 and response.json()["code"] == "csrf_failed"
    assert snapshot() == before
    token = "k" * 32  # any 32-character secret works as the cookie and the header
    client.cookies["csrftoken"] = token
    response = client.post(f"{API}/flows/", payload, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201


def test_token_auth_needs_no_csrf(users, rule_set):
    token = Token.objects.create(user=users["editor"])
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.post(f"{API}/flows/", {"name": "x", "rule_set": rule_set.pk}, format="json")
    assert response.status_code == 201
    client.credentials(HTTP_AUTHORIZATION="Token wrong")
    response = client.get(f"{API}/flows/")
    assert response.status_code == 401 and response.json()["code"] == "authentication_failed"


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_basic_auth_is_refused_by_default(users, flow):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=_basic("admin", "pw"))
    response = client.get(f"{API}/flows/")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Token")
    # what a cross-origin page could make a browser with cached credentials send
    before = snapshot()
    root = flow.state_graph.root_id
    for url in (f"{API}/flows/{flow.pk}/clone/", f"{API}/nodes/{root}/prune/", f"{API}/states/"):
        assert client.post(url).status_code == 401
    assert snapshot() == before


def test_basic_auth_when_the_setting_lists_it(users, flow, settings):
    settings.FLOWR = {
        "API_AUTHENTICATION_CLASSES": [
            "flowr.api.authentication.CsrfSessionAuthentication",
            "rest_framework.authentication.BasicAuthentication",
        ]
    }
    client = APIClient()
    assert client.get(f"{API}/states/")["WWW-Authenticate"].startswith("Basic")
    client.credentials(HTTP_AUTHORIZATION=_basic("runner", "pw"))
    assert client.get(f"{API}/states/").status_code == 200
    client.credentials(HTTP_AUTHORIZATION=_basic("runner", "nope"))
    assert client.get(f"{API}/states/").status_code == 401
    token = Token.objects.create(user=users["runner"])
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")  # not listed: anonymous
    assert client.get(f"{API}/states/").status_code == 401


def test_session_only_answers_403_to_anonymous(flow, settings):
    settings.FLOWR = {"API_AUTHENTICATION_CLASSES": ["flowr.api.authentication.CsrfSessionAuthentication"]}
    response = APIClient().get(f"{API}/flows/")
    assert response.status_code == 403 and response.json()["code"] == "not_authenticated"


def test_inactive_user_is_refused(users, flow):
    users["admin"].is_active = False
    users["admin"].save()
    client = APIClient()
    client.force_authenticate(users["admin"])
    assert client.get(f"{API}/flows/").status_code == 403


def test_project_permission_classes(client_for, flow, settings):
    state = State.start(flow)
    settings.FLOWR = {
        "API_EDIT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
        "API_STATE_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    }
    assert client_for("editor").get(f"{API}/flows/").status_code == 403
    assert client_for("staff").get(f"{API}/flows/").status_code == 200
    assert client_for("nobody").get(f"{API}/states/{state.pk}/").status_code == 200


def test_project_rest_framework_settings_do_not_matter(client_for, flow, settings):
    settings.REST_FRAMEWORK = {
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
        "DEFAULT_AUTHENTICATION_CLASSES": [],
        "DEFAULT_PAGINATION_CLASS": None,
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.TemplateHTMLRenderer"],
        "EXCEPTION_HANDLER": "tests.nowhere.handler",
        "UNAUTHENTICATED_USER": None,
    }
    assert client_for(None).get(f"{API}/flows/").json()["code"] == "not_authenticated"
    body = client_for("admin").get(f"{API}/flows/").json()
    assert body["count"] == 1 and body["results"][0]["id"] == flow.pk
