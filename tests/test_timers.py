"""Timers (issue 17): ``Rule.timeout_targets`` adds ``timeout_after`` and
``timeout_rule`` to a node's settings, checked on every surface; entering a
node with a timer sets the State's ``due_at``/``due_rule`` in the
transition's own compare-and-set; :func:`flowr.timers.fire_due` moves the
due States once."""

from __future__ import annotations

import contextlib
import datetime

import pytest
from django.core import checks as django_checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from flowr import checks, nodesettings, readmodel, timers
from flowr.db import tricks
from flowr.exceptions import ConcurrentTransition, InvalidSettings
from flowr.export import ImportErrors, export_flow, import_flow, validate_document
from flowr.models import FlowNodeData, State
from flowr.readmodel import FlowGraph
from flowr.signals import timer_fired
from tests.api_fixtures import (  # noqa: F401  (fixtures)
    API,
    api_fixture,
    client_for_fixture,
    users_fixture,
)
from tests.graph_document import graph_nodes
from tests.testapp.timer_rules import (
    TimerAnswered,
    TimerClosed,
    TimerEscalated,
    TimerNudged,
    TimerOpened,
    TimerReminded,
    TimerWaiting,
    reminder_flow,
    timer_flow,
)

pytestmark = pytest.mark.django_db

THREE_DAYS = 259200


def stored(data: FlowNodeData) -> dict[str, object]:
    return FlowNodeData.objects.get(pk=data.pk).settings


# -- 1. the settings --------------------------------------------------------------------------


def test_timeout_targets_add_the_two_fields_to_the_form_and_schema():
    form = nodesettings.form_of(TimerWaiting)
    assert form is not None and list(form.base_fields) == ["timeout_after", "timeout_rule"]
    schema = nodesettings.schema(form)
    assert schema is not None and schema["required"] == []
    labels = [c["value"] for c in schema["properties"]["timeout_rule"]["x-choices"]]
    assert labels == [TimerEscalated.class_label, TimerAnswered.class_label]
    assert schema["properties"]["timeout_after"]["format"] == "duration"
    reminded = nodesettings.form_of(TimerReminded)
    assert reminded is not None and list(reminded.base_fields) == ["mail", "timeout_after", "timeout_rule"]
    assert issubclass(reminded, TimerReminded.Settings)  # the rule's own form, extended
    assert nodesettings.form_of(TimerClosed) is None  # no targets, no settings


def test_set_settings_stores_seconds_or_iso_and_refuses_bad_timers():
    _flow, waiting = timer_flow()
    waiting.set_settings({"timeout_after": THREE_DAYS, "timeout_rule": TimerEscalated.class_label})
    assert stored(waiting) == {"timeout_after": "P3DT00H00M00S", "timeout_rule": TimerEscalated.class_label}
    waiting.set_settings({"timeout_after": "PT1H"}, partial=True)
    assert stored(waiting)["timeout_after"] == "P0DT01H00M00S"
    bad = [
        ({"timeout_after": 0, "timeout_rule": TimerEscalated.class_label}, {"timeout_after"}),
        ({"timeout_after": "soon"}, {"timeout_after"}),
        # past what a datetime holds once added to now (was an OverflowError)
        ({"timeout_after": "P999999999D", "timeout_rule": TimerEscalated.class_label}, {"timeout_after"}),
        ({"timeout_after": 36526 * 86400, "timeout_rule": TimerEscalated.class_label}, {"timeout_after"}),
        ({"timeout_after": 60, "timeout_rule": TimerClosed.class_label}, {"timeout_rule"}),  # not a target
        ({"timeout_after": 60, "timeout_rule": ""}, {"timeout_rule"}),  # a delay needs a target
    ]
    before = stored(waiting)
    for values, fields in bad:
        with pytest.raises(InvalidSettings) as caught:
            waiting.set_settings(values)
        assert set(caught.value.problems) == fields, values
    assert stored(waiting) == before
    waiting.set_settings({})  # no timer at all is fine
    assert stored(waiting) == {"timeout_after": None, "timeout_rule": ""}


def test_one_target_is_chosen_by_default():
    _flow, waiting = timer_flow()
    reminded = waiting.flow.root_data.add_child_rule(TimerReminded)
    reminded.set_settings({"timeout_after": 60})
    assert stored(reminded)["timeout_rule"] == TimerClosed.class_label
    assert nodesettings.timer_of(stored(reminded)) == (datetime.timedelta(minutes=1), TimerClosed.class_label)
    assert nodesettings.timer_of({"timeout_after": None, "timeout_rule": "x"}) is None


def test_api_patch_takes_and_refuses_timer_settings(api):
    _flow, waiting = timer_flow()
    url = f"{API}/nodes/{waiting.node_id}/settings/"
    body = {"settings": {"timeout_after": THREE_DAYS, "timeout_rule": TimerEscalated.class_label}}
    response = api.patch(url, body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["settings"]["timeout_after"] == "P3DT00H00M00S"
    response = api.patch(url, {"settings": {"timeout_rule": "tests.nowhere.Ghost"}}, format="json")
    assert response.status_code == 400
    assert (response.json()["code"], list(response.json()["problems"])) == ("invalid_settings", ["timeout_rule"])
    response = api.patch(url, {"settings": {"timeout_after": "P999999999D"}}, format="json")
    assert response.status_code == 400  # was a 500: the due time overflowed
    assert (response.json()["code"], list(response.json()["problems"])) == ("invalid_settings", ["timeout_after"])
    assert stored(waiting)["timeout_rule"] == TimerEscalated.class_label
    assert stored(waiting)["timeout_after"] == "P3DT00H00M00S"


def test_import_refuses_a_bad_timer_at_its_path_and_export_clone_carry_it():
    flow, waiting = timer_flow()
    waiting.set_settings({"timeout_after": "P3D", "timeout_rule": TimerEscalated.class_label})
    copy = flow.clone()
    assert {d.rule_label: d.settings for d in copy.nodes_data()}[TimerWaiting.class_label] == stored(waiting)
    document = export_flow(flow)
    imported = import_flow(document, name="imported")
    assert {d.rule_label: d.settings for d in imported.nodes_data()}[TimerWaiting.class_label] == stored(waiting)
    at = next(i for i, n in enumerate(document["nodes"]) if n["rule"] == TimerWaiting.class_label)
    document["nodes"][at]["settings"]["timeout_rule"] = TimerClosed.class_label
    assert [p["path"] for p in validate_document(document)] == [f"$.nodes[{at}].settings.timeout_rule"]
    with pytest.raises(ImportErrors):
        import_flow(document, name="refused")


def test_check_e011_a_timeout_target_that_is_not_a_child(monkeypatch):
    assert checks.check_timeout_targets() == []
    monkeypatch.setattr(TimerOpened, "timeout_targets", [TimerWaiting, TimerClosed, "tests.nowhere.Ghost"])
    messages = checks.check_timeout_targets()
    assert [m.id for m in messages] == ["flowr.E011", "flowr.E011"]
    assert all(isinstance(m, django_checks.Error) for m in messages)
    assert "timeout_targets[1]" in messages[0].msg and "'tests.nowhere.Ghost'" in messages[1].msg
    choices = nodesettings.schema(nodesettings.form_of(TimerOpened))["properties"]["timeout_rule"]["x-choices"]
    assert [c["value"] for c in choices] == [TimerWaiting.class_label]  # only the valid one is offered


# -- 2. the State's due time ------------------------------------------------------------------


def set_timer(waiting: FlowNodeData, seconds: int = THREE_DAYS, rule: type = TimerEscalated) -> None:
    waiting.set_settings({"timeout_after": seconds, "timeout_rule": rule.class_label})


def test_entering_a_node_with_a_timer_sets_due_and_leaving_clears_it():
    flow, waiting = timer_flow()
    set_timer(waiting)
    state = State.start(flow)
    assert (state.due_at, state.due_rule) == (None, "")
    state.next_state()
    row = State.objects.get(pk=state.pk)
    assert row.due_rule == state.due_rule == TimerEscalated.class_label
    assert row.due_at == state.due_at
    assert row.due_at - row.updated == datetime.timedelta(seconds=THREE_DAYS)
    state.next_state(TimerAnswered)
    row = State.objects.get(pk=state.pk)
    assert (row.due_at, row.due_rule, state.due_at, state.due_rule) == (None, "", None, "")


def test_start_at_a_root_with_a_timer_sets_it_and_cancel_clears_it():
    flow, _waiting = timer_flow()
    flow.root_data.set_settings({"timeout_after": 60})
    state = State.start(flow)
    row = State.objects.get(pk=state.pk)
    assert row.due_rule == TimerWaiting.class_label
    assert abs(row.due_at - row.created - datetime.timedelta(seconds=60)) < datetime.timedelta(seconds=1)
    state.cancel()
    assert State.objects.filter(pk=state.pk, due_at__isnull=True, due_rule="").exists()


def test_a_refused_move_leaves_the_object_and_row_as_they_were():
    flow, waiting = timer_flow()
    set_timer(waiting)
    state = State.start(flow)
    state.next_state()
    before = (state.due_at, state.due_rule)
    State.objects.filter(pk=state.pk).update(version=F("version") + 10)  # someone moved it
    with pytest.raises(ConcurrentTransition):
        state.next_state(TimerAnswered)
    assert (state.due_at, state.due_rule) == before


@pytest.mark.parametrize("hand", [True, False])
def test_the_timer_costs_no_statement(django_assert_num_queries, hand):
    """The same statements as a move without a timer: the timer rides in the
    compare-and-set (and on the ORM's way in its update())."""
    flow, waiting = timer_flow()
    set_timer(waiting)
    plain_flow, _plain = timer_flow("plain")
    with contextlib.ExitStack() as stack:
        if not hand:
            stack.enter_context(tricks.disabled("hand_statements"))
        timed, untimed = State.start(flow), State.start(plain_flow)
        with CaptureQueriesContext(connection) as baseline:
            untimed.next_state()
        with django_assert_num_queries(len(baseline.captured_queries)):
            timed.next_state()
    assert State.objects.get(pk=timed.pk).due_rule == TimerEscalated.class_label
    assert State.objects.get(pk=untimed.pk).due_at is None


# -- 3. firing --------------------------------------------------------------------------------


def waiting_states(count: int, seconds: int = 60) -> tuple[list[State], FlowNodeData]:
    """``count`` States at a Waiting node whose 60 s timer escalates them."""
    flow, waiting = timer_flow()
    set_timer(waiting, seconds)
    states = [State.start(flow).next_state() for _ in range(count)]
    return states, waiting


def later(seconds: int = 61) -> datetime.datetime:
    return timezone.now() + datetime.timedelta(seconds=seconds)


def test_fire_due_moves_due_states_once_and_records_a_timeout():
    states, _waiting = waiting_states(3)
    nothing = {"fired": 0, "dropped": 0, "refused": 0, "failed": 0, "reminded": 0}
    assert timers.fire_due().as_dict() == nothing  # not due yet
    assert list(timers.due(later())) == sorted(states, key=lambda s: (s.due_at, s.pk))
    report = timers.fire_due(now=later(), batch=2)
    assert (report.fired, report.claimed) == (2, 2)
    assert timers.fire_all(now=later()).fired == 1
    assert timers.fire_all(now=later()).claimed == 0  # nothing fires twice
    for state in State.objects.filter(pk__in=[s.pk for s in states]):
        assert state.current_node.rule is TimerEscalated and (state.due_at, state.due_rule) == (None, "")
        last = state.history.last()
        assert (last.data, last.actor, last.kind, last.seq) == ({"timeout": True}, None, "transition", 3)


def test_a_person_who_moved_first_wins_and_the_timer_is_dropped():
    states, _waiting = waiting_states(2)
    stale = State.objects.get(pk=states[0].pk)
    states[0].next_state(TimerAnswered)  # the person: the timer is cleared by the move
    fired = timers.fire_due(now=later()).as_dict()
    assert fired == {"fired": 1, "dropped": 0, "refused": 0, "failed": 0, "reminded": 0}
    stale.due_at = timezone.now()  # a worker that read the State before the person moved it
    report = timers.FireReport()
    timers._fire(stale, "default", report)
    assert report.dropped == 1
    assert State.objects.get(pk=states[0].pk).current_node.rule is TimerAnswered
    assert State.objects.get(pk=states[0].pk).history.count() == 3


def test_a_refused_timeout_is_counted_and_its_timer_cleared(monkeypatch):
    states, _waiting = waiting_states(1)
    monkeypatch.setattr(TimerEscalated, "can_enter", classmethod(lambda cls, state: "not today"))
    assert timers.fire_due(now=later()).refused == 1
    row = State.objects.get(pk=states[0].pk)
    assert (row.current_node.rule, row.due_at, row.version) == (TimerWaiting, None, states[0].version)
    assert timers.fire_due(now=later()).claimed == 0


def test_fire_due_refuses_a_bad_batch():
    with pytest.raises(ValueError, match="batch"):
        timers.fire_due(batch=0)


def test_the_command_fires_and_reports(capsys):
    states, _waiting = waiting_states(2, seconds=1)
    State.objects.filter(pk__in=[s.pk for s in states]).update(due_at=timezone.now() - datetime.timedelta(hours=1))
    call_command("flowr_fire_timers", "--batch", "1")
    assert capsys.readouterr().out.strip() == "fired 2, dropped 0 (moved first), refused 0, failed 0, reminded 0"
    with pytest.raises(CommandError):
        call_command("flowr_fire_timers", "--batch", "0")


def test_the_task_fires_the_due_timers(settings):
    pytest.importorskip("django_tasks")
    from flowr import tasks

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    states, _waiting = waiting_states(1)
    State.objects.filter(pk=states[0].pk).update(due_at=timezone.now())
    result = tasks.fire_timers.enqueue(batch=10)
    assert result.return_value == {"fired": 1, "dropped": 0, "refused": 0, "failed": 0, "reminded": 0}


# -- surfaces: the overdue filter -------------------------------------------------------------


def test_api_and_admin_filter_states_by_overdue(api, admin_client):
    states, _waiting = waiting_states(2)
    State.objects.filter(pk=states[0].pk).update(due_at=timezone.now() - datetime.timedelta(seconds=1))
    listed = api.get(f"{API}/states/", {"overdue": "true"}).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [row["id"] for row in rows] == [states[0].pk]
    assert rows[0]["due_rule"] == TimerEscalated.class_label and rows[0]["due_at"]
    others = api.get(f"{API}/states/", {"overdue": "false"}).json()
    other_ids = {row["id"] for row in (others["results"] if isinstance(others, dict) else others)}
    assert states[1].pk in other_ids and states[0].pk not in other_ids
    assert api.get(f"{API}/states/", {"overdue": "maybe"}).status_code == 400
    page = admin_client.get("/admin/flowr/state/", {"overdue": "yes"})
    assert page.status_code == 200
    assert list(page.context["cl"].queryset) == [State.objects.get(pk=states[0].pk)]


def test_fire_all_retries_a_batch_a_deadlock_rolled_back(monkeypatch):
    states, _waiting = waiting_states(1)
    State.objects.filter(pk=states[0].pk).update(due_at=timezone.now())
    real, calls = timers.fire_due, []

    def deadlock_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError(1213, "Deadlock found when trying to get lock")
        return real(*args, **kwargs)

    monkeypatch.setattr(timers, "fire_due", deadlock_once)
    assert timers.fire_all().fired == 1 and len(calls) == 2
    monkeypatch.setattr(timers, "fire_due", lambda *a, **k: (_ for _ in ()).throw(OperationalError("disk I/O error")))
    with pytest.raises(OperationalError):
        timers.fire_all()  # not a lock error: raised


# -- 5. surfaces: the graph document and the node detail carry the timer ------------------------


def test_the_graph_document_and_node_detail_carry_each_timer(api, django_assert_num_queries):
    flow, waiting = timer_flow()
    set_timer(waiting)
    reminded = flow.root_data.add_child_rule(TimerReminded)
    reminded.set_settings({"timeout_after": 90})
    flow = type(flow).objects.select_related("state_graph", "rule_set").get(pk=flow.pk)
    with django_assert_num_queries(2):  # the timers come in the nodes' query
        graph = FlowGraph.load(flow)
    document = graph.as_json()
    assert document["timers"] == [
        {
            "after": "P3DT00H00M00S",
            "seconds": THREE_DAYS,
            "rule": TimerEscalated.class_label,
            "rule_name": str(TimerEscalated.verbose_name),
            "text": f"times out after 3 days to {TimerEscalated.verbose_name}",
        },
        {
            "after": "P0DT00H01M30S",
            "seconds": 90,
            "rule": TimerClosed.class_label,
            "rule_name": str(TimerClosed.verbose_name),
            "text": f"times out after 1 minute, 30 seconds to {TimerClosed.verbose_name}",
        },
    ]
    nodes = graph_nodes(api.get(f"{API}/flows/{flow.pk}/graph/").json())
    with_timer = {pk: node["timer"]["text"] for pk, node in nodes.items() if node["timer"]}
    assert with_timer == {
        waiting.node_id: document["timers"][0]["text"],
        reminded.node_id: document["timers"][1]["text"],
    }
    detail = api.get(f"{API}/nodes/{waiting.node_id}/").json()
    assert detail["timer"] == document["timers"][0] and nodes[waiting.node_id]["timer"] == detail["timer"]
    assert api.get(f"{API}/nodes/{flow.root_data.node_id}/").json()["timer"] is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(1, "1 second"), (3600, "1 hour"), (90061, "1 day, 1 hour, 1 minute, 1 second"), (172800, "2 days")],
)
def test_delay_text(seconds, text):
    assert readmodel.delay_text(datetime.timedelta(seconds=seconds)) == text


# -- 6. reminders: on_timer and timer_fired, once per entry, the State does not move -------------


@pytest.fixture
def nudges():
    TimerNudged.timers.clear()
    TimerNudged.fail = False
    signals: list[tuple[int, object, str]] = []

    def receive(sender, state, rule, timer, **kwargs):
        signals.append((state.pk, rule, timer.kind))

    timer_fired.connect(receive)
    yield signals
    timer_fired.disconnect(receive)
    TimerNudged.fail = False


def test_reminders_add_remind_after_to_the_settings():
    _flow, nudged = reminder_flow()
    form = nodesettings.form_of(TimerNudged)
    assert form is not None and {"remind_after", "timeout_after", "timeout_rule"} <= set(form.base_fields)
    assert "remind_after" not in nodesettings.form_of(TimerWaiting).base_fields
    for bad in ("soon", 0, "P999999999D"):
        with pytest.raises(InvalidSettings) as refused:
            nudged.set_settings({"remind_after": bad})
        assert set(refused.value.problems) == {"remind_after"}
    assert stored(nudged) == {}
    nudged.set_settings({"remind_after": 3600})
    assert stored(nudged)["remind_after"] == "P0DT01H00M00S"


def test_a_reminder_fires_once_per_entry_without_moving_then_the_timeout(nudges):
    flow, nudged = reminder_flow()
    nudged.set_settings({"remind_after": 60, "timeout_after": 120})
    state = State.start(flow).next_state()
    assert (state.due_rule, state.due_at - state.updated) == ("", datetime.timedelta(seconds=60))
    version = state.version
    report = timers.fire_all(now=later(61))
    assert report.as_dict() == {"fired": 0, "dropped": 0, "refused": 0, "failed": 0, "reminded": 1}
    assert TimerNudged.timers == [(state.pk, "reminder", TimerNudged.class_label)]
    assert nudges == [(state.pk, TimerNudged, "reminder")]
    state.refresh_from_db()
    assert state.version == version and state.current_node.rule is TimerNudged  # not moved, no history row
    assert state.history.count() == 2
    assert state.due_rule == TimerEscalated.class_label
    assert state.due_at - state.updated == datetime.timedelta(seconds=120)
    assert timers.fire_all(now=later(61)).claimed == 0  # once per entry
    assert timers.fire_all(now=later(121)).fired == 1
    state.refresh_from_db()
    assert state.current_node.rule is TimerEscalated and len(TimerNudged.timers) == 1


def test_a_reminder_alone_clears_the_timer_and_one_after_the_timeout_never_fires(nudges):
    flow, nudged = reminder_flow()
    nudged.set_settings({"remind_after": 60})
    state = State.start(flow).next_state()
    assert timers.fire_all(now=later(61)).reminded == 1
    state.refresh_from_db()
    assert (state.due_at, state.due_rule) == (None, "")
    late_flow, late = reminder_flow("Late")
    late.set_settings({"remind_after": 600, "timeout_after": 60})
    other = State.start(late_flow).next_state()
    assert other.due_rule == TimerEscalated.class_label  # the timeout comes first: no reminder
    assert timers.fire_all(now=later(601)).as_dict()["fired"] == 1 and len(nudges) == 1


def test_a_failing_reminder_fires_again_and_a_moved_state_drops_it(nudges):
    flow, nudged = reminder_flow()
    nudged.set_settings({"remind_after": 60})
    state = State.start(flow).next_state()
    TimerNudged.fail = True
    assert timers.fire_due(now=later(61)).failed == 1
    state.refresh_from_db()
    assert state.due_at is not None and state.due_rule == "" and nudges == []
    TimerNudged.fail = False
    stale = list(timers.due(later(61)))[0]
    state.next_state(TimerAnswered)  # a person moves first
    report = timers.FireReport()
    timers._remind(stale, "default", report)
    assert (report.dropped, report.reminded, nudges) == (1, 0, [])
