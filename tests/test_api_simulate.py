"""``POST /flowr/api/flows/{id}/simulate/``: a dry run through the API."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from rest_framework.test import APIClient

from flowr.models import Flow
from flowr.testing import build_flow, flow_nodes
from tests import sim_rules as sr
from tests.api_fixtures import API, client_for_fixture, make_user, snapshot, users_fixture  # noqa: F401
from tests.testapp.models import CallbackLog, Ticket
from tests.testapp.timer_rules import reminder_flow

TEXT = "SimStart > SimReview > (SimApprove | SimReject > @SimReview | SimEscalate | SimMail | SimBoom)"
LABEL = "tests.sim_rules."


@pytest.fixture
def flow(db: Any) -> Flow:
    return build_flow(sr.SimStart, TEXT)


def url(flow: Flow | int) -> str:
    return f"{API}/flows/{flow.pk if isinstance(flow, Flow) else flow}/simulate/"


def post(client: APIClient, flow: Flow | int, body: Any) -> Any:
    return client.post(url(flow), body, format="json", HTTP_ACCEPT="application/json")


def rules_of(path: dict[str, Any]) -> list[str]:
    return [step["node"]["rule_label"].removeprefix(LABEL) for step in path["steps"]]


def test_a_walk_with_choices(client_for: Any, flow: Flow) -> None:
    before = snapshot(), CallbackLog.objects.count()
    answer = post(client_for("admin"), flow, {"choices": ["SimReview", "SimReject"], "max_steps": 3})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["flow"] == flow.pk and body["explore"] is False and body["truncated"] is False
    (path,) = body["paths"]
    assert rules_of(path) == ["SimStart", "SimReview", "SimReject", "SimReview"]
    assert path["outcome"] == "max_steps"
    escalate = next(c for c in path["steps"][1]["children"] if c["node"]["rule_label"] == LABEL + "SimEscalate")
    assert escalate == {
        "node": {
            "id": flow_nodes(flow)["SimEscalate"].node_id,
            "rule_label": LABEL + "SimEscalate",
            "rule_name": "Sim escalate",
        },
        "allowed": False,
        "reason": "escalation is closed",
        "code": "transition_refused",
    }
    assert (snapshot(), CallbackLog.objects.count()) == before


def test_explore_and_a_raising_callback(client_for: Any, flow: Flow) -> None:
    body = post(client_for("admin"), flow, {"explore": True}).json()
    assert body["explore"] is True
    assert len(body["paths"]) == 6
    failed = [p for p in body["paths"] if p["outcome"] == "error"]
    assert {p["steps"][-1]["error"]["message"] for p in failed} == {"the printer is on fire"}
    assert {n["rule_label"].removeprefix(LABEL) for n in body["unreached"]} == {"SimEscalate", "SimBoom"}
    mail = post(client_for("admin"), flow, {"choices": ["SimReview", "SimMail"]}).json()
    assert mail["paths"][0]["steps"][-1]["callbacks"][-1] == {
        "rule_label": LABEL + "SimMail",
        "hook": "on_enter",
        "outcome": "skipped",
    }


def test_a_subject_as_when_starting_a_state(client_for: Any, flow: Flow, users: Any) -> None:
    ticket = Ticket.objects.create(title="t", status="closed")
    body = {"subject_type": "testapp.ticket", "subject_id": str(ticket.pk)}
    answer = post(client_for("admin"), flow, body).json()
    assert answer["subject"] == str(ticket)
    assert answer["paths"][0]["steps"][0]["error"]["message"] == "this ticket is closed"
    # the subject's model needs its view permission, as for POST /states/
    viewer = make_user("viewer", "flowr.view_flow")
    client = APIClient()
    client.force_authenticate(viewer)
    refused = post(client, flow, body)
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"subject_type": ["Not a subject type: 'testapp.ticket'."]}
    allowed = make_user("ticket_viewer", "flowr.view_flow")
    allowed.user_permissions.add(Permission.objects.get(content_type__app_label="testapp", codename="view_ticket"))
    client.force_authenticate(allowed)
    assert post(client, flow, body).status_code == 200


def test_a_viewer_of_flows_may_simulate_with_their_own_permissions(flow: Flow) -> None:
    viewer = make_user("viewer", "flowr.view_flow")
    client = APIClient()
    client.force_authenticate(viewer)
    before = snapshot()
    assert post(client, flow, {}).status_code == 200
    assert snapshot() == before


@pytest.mark.parametrize("who", [None, "nobody", "staff", "runner"])
def test_refused_without_the_flow_view_permission(client_for: Any, flow: Flow, who: str | None) -> None:
    before = snapshot()
    answer = post(client_for(who), flow, {})
    assert answer.status_code == (401 if who is None else 403)
    assert snapshot() == before


def test_get_is_not_allowed(client_for: Any, flow: Flow) -> None:
    assert client_for("admin").get(url(flow), HTTP_ACCEPT="application/json").status_code == 405


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_steps": 1001}, "max_steps"),
        ({"max_steps": -1}, "max_steps"),
        ({"max_steps": "3"}, "max_steps"),
        ({"max_steps": True}, "max_steps"),
        ({"explore": "yes"}, "explore"),
        ({"choices": "SimReview"}, "choices"),
        ({"choices": [None]}, "choices"),
        ({"choices": [True]}, "choices"),
        ({"choices": [""]}, "choices"),
        ({"choices": ["x" * 256]}, "choices"),
        ({"choices": [0]}, "choices"),
        ({"choices": [2**63]}, "choices"),
        ({"choices": [1.5]}, "choices"),
        ({"choices": [{"rule": "x"}]}, "choices"),
        ({"choices": ["x"] * 1001}, "choices"),
        ({"subject_type": "testapp.ticket"}, "non_field_errors"),
        ({"subject_type": "auth.user", "subject_id": "1"}, "subject_type"),
        ({"subject_type": "testapp.ticket", "subject_id": "999999"}, "subject_id"),
        ({"subject_type": "testapp.ticket", "subject_id": "not a number"}, "subject_id"),
        ({"subject_type": "testapp.document", "subject_id": "not a uuid"}, "subject_id"),
        ({"subject": {"model": "testapp.ticket", "id": 1}}, "subject"),
        ({"flow": 1}, "flow"),
        ({"now": "tomorrow"}, "now"),
        ({"now": 1767225600}, "now"),
        ({"now": "2030-02-30T09:00"}, "now"),
        ({"now": "2030-01-01T09:00Z", "explore": True}, "now"),
        ({"stop_after_choices": "yes"}, "stop_after_choices"),
        ({"stop_after_choices": 1}, "stop_after_choices"),
    ],
)
def test_bad_input_is_a_400_and_changes_nothing(client_for: Any, flow: Flow, body: Any, field: str) -> None:
    before = snapshot()
    answer = post(client_for("admin"), flow, body)
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["errors"]
    assert snapshot() == before


@pytest.mark.parametrize("body", [[], "x", 3])
def test_a_body_that_is_not_an_object_is_a_400(client_for: Any, flow: Flow, body: Any) -> None:
    assert post(client_for("admin"), flow, body).status_code == 400


def test_an_unknown_flow_is_a_404(client_for: Any, flow: Flow) -> None:
    assert post(client_for("admin"), flow.pk + 1000, {}).status_code == 404
    assert post(client_for("admin"), "x", {}).status_code == 404


def test_unknown_choices_are_reported_not_refused(client_for: Any, flow: Flow) -> None:
    body = post(client_for("admin"), flow, {"choices": ["Nowhere"]}).json()
    assert body["paths"][0]["outcome"] == "error"
    assert body["paths"][0]["steps"][0]["error"]["code"] == "choice_not_in_flow"


def test_a_frozen_flow_is_simulated(client_for: Any, flow: Flow) -> None:
    from flowr.models import State

    State.start(flow)
    answer = post(client_for("admin"), flow, {})
    assert answer.status_code == 200
    assert answer.json()["paths"][0]["outcome"] == "end"
    assert State.objects.count() == 1


def test_fast_forward_fires_the_timers_due_by_now(client_for: Any, db: Any) -> None:
    flow, nudged = reminder_flow()
    nudged.set_settings({"remind_after": 3600, "timeout_after": 7200})
    before = snapshot()
    admin = client_for("admin")

    def walk(after: datetime.timedelta) -> list[dict[str, Any]]:
        answer = post(admin, flow, {"now": (timezone.now() + after).isoformat()})
        assert answer.status_code == 200, answer.content
        (path,) = answer.json()["paths"]
        return path["steps"]

    later = walk(datetime.timedelta(hours=3))
    assert [s["node"]["rule_label"].rsplit(".", 1)[1] for s in later] == [
        "TimerNudgeStart",
        "TimerNudged",
        "TimerEscalated",
        "TimerClosed",
    ]
    assert later[1]["timers"] == ["reminder", "timeout"]
    sooner = walk(datetime.timedelta(minutes=90))
    assert sooner[1]["timers"] == ["reminder"]  # the timeout is not due yet
    assert sooner[2]["node"]["rule_label"].endswith("TimerAnswered")
    # the editor's way: stop once the choices are taken, after the timers due there
    when = (timezone.now() + datetime.timedelta(hours=3)).isoformat()
    answer = post(admin, flow, {"choices": [nudged.node_id], "stop_after_choices": True, "now": when})
    (path,) = answer.json()["paths"]
    assert path["outcome"] == "choices"
    assert [s["node"]["rule_label"].rsplit(".", 1)[1] for s in path["steps"]] == [
        "TimerNudgeStart",
        "TimerNudged",
        "TimerEscalated",
    ]
    assert snapshot() == before
