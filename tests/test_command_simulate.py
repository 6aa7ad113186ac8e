"""``manage.py flowr_simulate``."""

from __future__ import annotations

import datetime
import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from flowr.models import Flow, State
from flowr.testing import build_flow, flow_nodes
from tests import sim_rules as sr
from tests.api_fixtures import snapshot
from tests.testapp.models import CallbackLog, Ticket
from tests.testapp.timer_rules import reminder_flow

pytestmark = pytest.mark.django_db

TEXT = "SimStart > SimReview > (SimApprove | SimReject > @SimReview | SimEscalate | SimMail | SimBoom)"


@pytest.fixture
def flow() -> Flow:
    return build_flow(sr.SimStart, TEXT)


def run(*args: str) -> str:
    out = StringIO()
    call_command("flowr_simulate", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_text_report(flow: Flow) -> None:
    before = snapshot(), CallbackLog.objects.count()
    text = run(str(flow.pk), "--choose", "SimReview", "--choose", "SimBoom")
    lines = text.splitlines()
    assert lines[0] == f"Simulation of flow 'flow' (#{flow.pk}); nothing was kept."
    assert "Path 1 (error):" in lines
    escalate = flow_nodes(flow)["SimEscalate"].node_id
    assert f"       -> #{escalate} Sim escalate: refused: escalation is closed" in lines
    assert "       on_enter tests.sim_rules.SimBoom: raised" in lines
    assert "       error: RuntimeError: the printer is on fire" in lines
    assert lines[-1].startswith("Not reached: ")
    assert (snapshot(), CallbackLog.objects.count()) == before


def test_json_report_explore_and_node_ids(flow: Flow) -> None:
    data = json.loads(run(str(flow.pk), "--explore", "--format", "json"))
    assert data["explore"] is True and len(data["paths"]) == 6
    review = flow_nodes(flow)["SimReview"].node_id
    one = json.loads(run(str(flow.pk), "--choose", str(review), "--max-steps", "1", "--format", "json"))
    assert [s["node"]["id"] for s in one["paths"][0]["steps"]][-1] == review
    assert one["paths"][0]["outcome"] == "max_steps"


def test_subject(flow: Flow) -> None:
    ticket = Ticket.objects.create(title="t", status="closed")
    text = run(str(flow.pk), "--subject", f"testapp.ticket:{ticket.pk}")
    assert f"Subject: {ticket}" in text
    assert "error: TransitionRefused: this ticket is closed" in text
    assert "(not reached)" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["999999"], "Flow 999999 does not exist"),
        (["{flow}", "--max-steps", "-1"], "--max-steps must be 0 or more"),
        (["{flow}", "--subject", "ticket"], "--subject must be app_label.model:pk"),
        (["{flow}", "--subject", "testapp.ticket:"], "--subject must be app_label.model:pk"),
        (["{flow}", "--subject", "nope.model:1"], "--subject: no model 'nope.model'"),
        (["{flow}", "--subject", "testapp.ticket:999999"], "--subject: no testapp.ticket with pk '999999'"),
        (["{flow}", "--subject", "testapp.ticket:abc"], "--subject: no testapp.ticket with pk 'abc'"),
        (["{flow}", "--subject", "testapp.document:abc"], "--subject: no testapp.document with pk 'abc'"),
    ],
)
def test_errors(flow: Flow, args: list[str], message: str) -> None:
    before = snapshot()
    with pytest.raises(CommandError, match=message):
        run(*[a.format(flow=flow.pk) for a in args])
    assert snapshot() == before


def test_bad_arguments_are_command_errors(flow: Flow, capsys: Any) -> None:
    with pytest.raises(CommandError):
        run(str(flow.pk), "--format", "xml")
    with pytest.raises(CommandError):
        run("abc")


def test_now_fast_forwards_the_timers() -> None:
    flow, nudged = reminder_flow()
    nudged.set_settings({"remind_after": 3600, "timeout_after": 7200})
    escalated = flow_nodes(flow)["TimerEscalated"].node_id
    when = (timezone.localtime() + datetime.timedelta(days=1)).replace(tzinfo=None).isoformat(timespec="minutes")
    lines = run(str(flow.pk), "--now", when).splitlines()
    assert "       on_timer tests.testapp.timer_rules.TimerNudged: ran" in lines
    assert ["       timer: reminder", "       timer: timeout"] == [line for line in lines if "timer: " in line]
    assert any(
        line.startswith(f"       -> #{escalated} ") and line.endswith("<- taken by the timeout") for line in lines
    )
    assert "timer: " not in run(str(flow.pk))  # without --now nothing fires
    stopped = run(str(flow.pk), "--choose", "TimerNudged", "--stop-after-choices").splitlines()
    assert "Path 1 (choices):" in stopped
    assert [line.split(" [")[0] for line in stopped if line.startswith("  ") and ". #" in line] == [
        f"  1. #{flow.root_data.node_id} Timer nudge start",
        f"  2. #{nudged.node_id} Timer nudged",
    ]
    for bad in ("tomorrow", "2026-13-45T10:00"):
        with pytest.raises(CommandError, match="--now must be an ISO 8601"):
            run(str(flow.pk), "--now", bad)
    with pytest.raises(CommandError, match="cannot be used with explore"):
        run(str(flow.pk), "--now", when, "--explore")
    assert State.objects.count() == 0
