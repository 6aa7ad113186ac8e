"""flowr.simulate: the real rules run, nothing is kept (tests/sim_rules.py)."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.utils import timezone

import flowr
from flowr import signals
from flowr.models import Flow, State
from flowr.simulator import (
    BLOCKED,
    CHOICES,
    END,
    ERROR,
    LOOP,
    MAX_STEPS,
    RAISED,
    RAN,
    SKIPPED,
    CallbackCall,
    SimulationReport,
)
from flowr.testing import build_flow, flow_nodes
from tests import sim_rules as sr
from tests.testapp.models import Ticket
from tests.testapp.timer_rules import TimerNudged, reminder_flow

TEXT = "SimStart > SimReview > (SimApprove | SimReject > @SimReview | SimEscalate | SimMail | SimBoom)"
LABEL = "tests.sim_rules."


@pytest.fixture(autouse=True)
def _reset() -> None:
    sr.committed.clear()
    sr.mails.clear()


@pytest.fixture
def flow(db: Any) -> Flow:
    return build_flow(sr.SimStart, TEXT)


def counts() -> dict[str, int]:
    """Rows of every flowr and testapp table."""
    models = [*apps.get_app_config("flowr").get_models(), *apps.get_app_config("testapp").get_models()]
    return {model._meta.label: model._default_manager.count() for model in models}


def states() -> list[tuple[Any, ...]]:
    return list(State.objects.order_by("pk").values_list("pk", "current_node_id", "version", "updated", "cancelled"))


def names(report: SimulationReport, path: int = 0) -> list[str]:
    return [step.node.rule_label.removeprefix(LABEL) for step in report.paths[path].steps]


# -- one walk -------------------------------------------------------------------


def test_a_walk_takes_the_first_allowed_child_and_reports_every_verdict(flow: Flow) -> None:
    report = flowr.simulate(flow)
    assert names(report) == ["SimStart", "SimReview", "SimApprove"]
    assert report.outcome == END
    start, review, approve = report.steps
    assert [(c.rule_label.removeprefix(LABEL), c.hook, c.outcome) for c in start.callbacks] == [
        ("SimStart", "on_enter", RAN)
    ]
    assert [(c.rule_label.removeprefix(LABEL), c.hook) for c in review.callbacks] == [
        ("SimStart", "on_leave"),
        ("SimReview", "on_enter"),
    ]
    verdicts = {c.node.rule_label.removeprefix(LABEL): (c.allowed, c.reason, c.code) for c in review.children}
    assert verdicts == {
        "SimApprove": (True, None, None),
        "SimReject": (True, None, None),
        "SimEscalate": (False, "escalation is closed", "transition_refused"),
        "SimMail": (True, None, None),
        "SimBoom": (True, None, None),
    }
    nodes = flow_nodes(flow)
    assert (start.taken, review.taken, approve.taken) == (nodes["SimReview"].node_id, nodes["SimApprove"].node_id, None)
    assert review.node.rule_name == "Sim review"
    assert [n.id for n in report.ends_reached] == [nodes["SimApprove"].node_id]
    assert {n.rule_label.removeprefix(LABEL) for n in report.unreached} == {
        "SimReject",
        "SimEscalate",
        "SimMail",
        "SimBoom",
    }


def test_the_report_is_json(flow: Flow) -> None:
    data = json.loads(json.dumps(flowr.simulate(flow, explore=True).as_dict()))
    assert data["flow"] == flow.pk
    assert data["paths"][0]["steps"][0]["node"]["rule_label"] == LABEL + "SimStart"
    assert data["paths"][0]["steps"][1]["children"][2]["reason"] == "escalation is closed"


def test_choices_by_label_name_and_node_id(flow: Flow) -> None:
    nodes = flow_nodes(flow)
    report = flowr.simulate(flow, choices=[LABEL + "SimReview", "SimReject", nodes["SimReview"].node_id, "SimMail"])
    assert names(report) == ["SimStart", "SimReview", "SimReject", "SimReview", "SimMail"]
    assert report.outcome == END


def test_the_first_allowed_child_follows_the_choices(flow: Flow) -> None:
    report = flowr.simulate(flow, choices=["SimReview", "SimReject"])
    assert names(report) == ["SimStart", "SimReview", "SimReject", "SimReview", "SimApprove"]


def test_max_steps_stops_the_walk(flow: Flow) -> None:
    report = flowr.simulate(flow, choices=["SimReview", "SimReject", "SimReview", "SimReject"], max_steps=3)
    assert names(report) == ["SimStart", "SimReview", "SimReject", "SimReview"]
    assert report.outcome == MAX_STEPS
    assert report.steps[-1].taken is None
    assert flowr.simulate(flow, max_steps=0).outcome == MAX_STEPS


def test_a_choice_a_guard_refuses_is_reported_with_the_real_refusal(flow: Flow) -> None:
    report = flowr.simulate(flow, choices=["SimReview", "SimEscalate"])
    assert report.outcome == ERROR
    error = report.steps[-1].error
    assert error is not None
    assert (error.type, error.code, error.message) == (
        "TransitionRefused",
        "transition_refused",
        "escalation is closed",
    )
    assert report.steps[-1].taken == flow_nodes(flow)["SimEscalate"].node_id


@pytest.mark.parametrize("choice", ["SimNowhere", 999999])
def test_a_choice_that_is_no_child_is_reported(flow: Flow, choice: str | int) -> None:
    report = flowr.simulate(flow, choices=[choice])
    assert report.outcome == ERROR
    error = report.steps[0].error
    assert error is not None
    assert (error.type, error.code) == ("ChoiceNotInFlow", "choice_not_in_flow")
    assert report.steps[0].taken is None


def test_a_callback_that_raises_is_reported_not_propagated(flow: Flow) -> None:
    before = counts()
    report = flowr.simulate(flow, choices=["SimReview", "SimBoom"])
    assert report.outcome == ERROR
    review = report.steps[-1]
    assert review.node.rule_label == LABEL + "SimReview"
    assert review.error is not None
    assert (review.error.type, review.error.message) == ("RuntimeError", "the printer is on fire")
    assert [(c.rule_label.removeprefix(LABEL), c.hook, c.outcome) for c in review.error.callbacks] == [
        ("SimReview", "on_leave", RAN),
        ("SimBoom", "on_enter", RAISED),
    ]
    assert counts() == before


def test_a_guard_that_raises_is_reported(db: Any) -> None:
    shaky = build_flow(sr.SimSteady, "SimSteady > SimShaky > SimApprove")
    for report in (flowr.simulate(shaky), flowr.simulate(shaky, explore=True)):
        assert names(report) == ["SimSteady", "SimShaky"]
        assert report.paths[0].outcome == ERROR
        step = report.paths[0].steps[-1]
        assert step.children == [] and step.error is not None
        assert (step.error.type, step.error.message) == ("ValueError", "the guard's service is down")
        assert report.ends_reached == []
        assert [n.rule_label for n in report.unreached] == [LABEL + "SimApprove"]


def test_unsafe_rules_callbacks_are_skipped_and_reported(flow: Flow) -> None:
    report = flowr.simulate(flow, choices=["SimReview", "SimMail"])
    assert report.outcome == END
    assert [(c.rule_label.removeprefix(LABEL), c.hook, c.outcome) for c in report.steps[-1].callbacks] == [
        ("SimReview", "on_leave", RAN),
        ("SimMail", "on_enter", SKIPPED),
    ]
    assert sr.mails == []
    # outside a simulation the callback runs
    State.start(flow).next_state().next_state("SimMail")
    assert len(sr.mails) == 1


def test_a_start_the_root_refuses_is_reported(flow: Flow) -> None:
    ticket = Ticket.objects.create(title="t", status="closed")
    report = flowr.simulate(flow, subject=ticket)
    assert report.outcome == ERROR
    (step,) = report.steps
    assert step.reached is False
    assert step.error is not None
    assert (step.error.type, step.error.message) == ("TransitionRefused", "this ticket is closed")
    assert [n.rule_label for n in report.unreached][0] == LABEL + "SimStart"


def test_the_actor_is_asked_as_the_surfaces_ask(flow: Flow, django_user_model: Any) -> None:
    user = django_user_model.objects.create_user("sim")
    report = flowr.simulate(flow, actor=user)
    # the verdicts are State.transition_options(user): the same answer the admin and API show
    assert [c.allowed for c in report.steps[1].children] == [True, True, False, True, True]


# -- explore ------------------------------------------------------------------------


def test_explore_walks_every_branch_with_loops_bounded(flow: Flow) -> None:
    report = flowr.simulate(flow, explore=True)
    walked = sorted((" > ".join(names(report, i)), path.outcome) for i, path in enumerate(report.paths))
    assert walked == [
        ("SimStart > SimReview", ERROR),  # SimBoom raised
        ("SimStart > SimReview > SimApprove", END),
        ("SimStart > SimReview > SimMail", END),
        ("SimStart > SimReview > SimReject > SimReview", ERROR),
        ("SimStart > SimReview > SimReject > SimReview > SimApprove", END),
        ("SimStart > SimReview > SimReject > SimReview > SimMail", END),
    ]
    assert {n.rule_label.removeprefix(LABEL) for n in report.ends_reached} == {"SimApprove", "SimMail"}
    # refused by a guard, and past an error
    assert {n.rule_label.removeprefix(LABEL) for n in report.unreached} == {"SimEscalate", "SimBoom"}
    assert report.truncated is False


def test_explore_reports_a_loop_and_max_steps(db: Any) -> None:
    loop = build_flow("tests.testapp.rules.Cycle1", "Cycle1 > Cycle2 > Cycle3 > @Cycle1")
    report = flowr.simulate(loop, explore=True)
    assert [path.outcome for path in report.paths] == [LOOP]
    assert len(report.paths[0].steps) == 4  # back at Cycle1, its edge to Cycle2 already taken
    assert report.unreached == [] and report.ends_reached == []
    assert flowr.simulate(loop, explore=True, max_steps=2).paths[0].outcome == MAX_STEPS
    assert flowr.simulate(loop, max_steps=5).outcome == MAX_STEPS


def test_explore_stops_at_the_global_cap(flow: Flow, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("flowr.simulator.EXPLORE_LIMIT", 3)
    before = counts()
    report = flowr.simulate(flow, explore=True)
    assert report.truncated is True
    assert len(report.paths) == 1  # start > review > approve; then review > reject > review, then the cap
    assert counts() == before


def test_a_long_path_is_explored_to_max_steps(db: Any) -> None:
    from flowr.models import RuleSet
    from tests.api_fixtures import chain_flow
    from tests.testapp.rules import Chain

    chain = chain_flow(RuleSet.factory("chain", Chain), 400)
    report = flowr.simulate(chain, explore=True, max_steps=350)
    assert [(len(p.steps), p.outcome) for p in report.paths] == [(351, MAX_STEPS)]
    assert len(report.unreached) == 49


def test_explore_stops_when_the_report_is_big_enough(flow: Flow, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("flowr.simulator.REPORT_LIMIT", 4)
    report = flowr.simulate(flow, explore=True)
    assert report.truncated is True
    assert [len(path.steps) for path in report.paths] == [3, 5]  # the first path that reached the limit is kept


def test_blocked_when_no_child_is_allowed(db: Any) -> None:
    blocked = build_flow(sr.SimStart, "SimStart > SimReview > SimEscalate")
    assert flowr.simulate(blocked).outcome == BLOCKED
    assert flowr.simulate(blocked, explore=True).paths[0].outcome == BLOCKED


# -- nothing kept -----------------------------------------------------------------------


def test_nothing_is_kept(flow: Flow) -> None:
    ticket = Ticket.objects.create(title="t")
    running = State.start(build_flow(sr.SimStart, TEXT, name="other"), subject=ticket).next_state()
    other = Ticket.objects.create(title="other")
    sr.committed.clear()
    before, before_states = counts(), states()
    seen = dict(vars(flow))
    received: list[Any] = []

    def receiver(**kwargs: Any) -> None:
        received.append(kwargs)

    signals.transition_committed.connect(receiver, sender=State)
    try:
        with transaction.atomic():  # as the caller's own transaction would
            flowr.simulate(flow, subject=other, explore=True)
            flowr.simulate(flow, subject=ticket, choices=["SimReview", "SimReject"])
    finally:
        signals.transition_committed.disconnect(receiver, sender=State)
    assert counts() == before
    assert states() == before_states
    assert not flow.in_use()
    assert {k: v for k, v in vars(flow).items() if k != "_state"} == {k: v for k, v in seen.items() if k != "_state"}
    # the review's callback saved the subject: neither the caller's object nor its row changed
    assert other.status == "new"
    other.refresh_from_db()
    assert other.status == "new"
    running.refresh_from_db()
    assert running.version == 1
    assert received == [] and sr.committed == []


def test_the_flow_stays_editable(flow: Flow) -> None:
    flowr.simulate(flow)
    flow_nodes(flow)["SimApprove"].node.remove()  # refused on a frozen flow
    assert not flow.in_use()


def test_a_frozen_flow_can_be_simulated(flow: Flow) -> None:
    State.start(flow)
    assert flowr.simulate(flow).outcome == END
    assert State.objects.count() == 1


def test_the_content_type_cache_is_left_as_it_was(flow: Flow) -> None:
    ticket = Ticket.objects.create(title="t")
    ContentType.objects.clear_cache()
    flowr.simulate(flow, subject=ticket)
    cache = getattr(ContentType.objects, "_cache", {})
    assert all(not entries for entries in cache.values())


@pytest.mark.django_db(transaction=True)
def test_no_on_commit_callback_runs_when_the_simulation_is_the_outermost_transaction() -> None:
    flow = build_flow(sr.SimStart, TEXT)
    sr.committed.clear()
    before = counts()
    received: list[Any] = []

    def receiver(**kwargs: Any) -> None:
        received.append(kwargs)

    signals.transition_committed.connect(receiver, sender=State)
    try:
        flowr.simulate(flow, explore=True)
        with transaction.atomic():
            flowr.simulate(flow, choices=["SimReview", "SimReject"])
        assert received == [] and sr.committed == []
        assert counts() == before
        # the same walk for real does run them
        State.start(flow).next_state()
        assert sr.committed == ["start", "review"]
        assert len(received) == 2
    finally:
        signals.transition_committed.disconnect(receiver, sender=State)


# per vendor: the simulation's savepoint and rollback, the flow (with its
# graph), its nodes (2), the start (its savepoint and release, the root, the
# State, on_enter's row, the history row) and the root's options; per
# transition: its savepoint and release, the lock-and-load, on_enter's row,
# the compare-and-set and history row (one statement on PostgreSQL), the
# options.  MariaDB's start locks the graph row first.
BASE = {"sqlite": 13, "postgresql": 13, "mysql": 14}
PER_MOVE = {"sqlite": 7, "postgresql": 6, "mysql": 7}


def test_a_simulation_costs_a_constant_number_of_queries_per_step(db: Any, django_assert_num_queries: Any) -> None:
    loop = build_flow("tests.testapp.rules.Cycle1", "Cycle1 > Cycle2 > Cycle3 > @Cycle1")
    flowr.simulate(loop)  # warm the caches (content types)
    vendor = connection.vendor
    for steps in (0, 3, 6):
        with django_assert_num_queries(BASE[vendor] + steps * PER_MOVE[vendor]):
            flowr.simulate(loop, max_steps=steps)


@pytest.mark.parametrize("max_steps", [-1, 1.5, True, "3"])
def test_bad_max_steps(flow: Flow, max_steps: Any) -> None:
    with pytest.raises(ValueError, match="max_steps"):
        flowr.simulate(flow, max_steps=max_steps)


def test_bad_choices_and_unsaved_subject(flow: Flow) -> None:
    with pytest.raises(ValueError, match="choices"):
        flowr.simulate(flow, choices=[None])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="saved"):
        flowr.simulate(flow, subject=Ticket(title="unsaved"))


# -- fast-forward (issue 17): the timers due by ``now`` fire ------------------------------------


@pytest.fixture
def nudged_flow(db: Any) -> Flow:
    TimerNudged.timers.clear()
    flow, nudged = reminder_flow()
    nudged.set_settings({"remind_after": 3600, "timeout_after": 7200})
    return flow


def _rules(report: SimulationReport) -> list[str]:
    return [step.node.rule_label.rsplit(".", 1)[1] for step in report.steps]


def test_fast_forward_fires_the_timers_due_by_now_and_keeps_nothing(nudged_flow: Flow) -> None:
    plain = flowr.simulate(nudged_flow)
    assert _rules(plain) == ["TimerNudgeStart", "TimerNudged", "TimerAnswered", "TimerClosed"]
    assert all(step.timers == [] for step in plain.steps)
    later = flowr.simulate(nudged_flow, now=timezone.now() + datetime.timedelta(hours=3))
    assert _rules(later) == ["TimerNudgeStart", "TimerNudged", "TimerEscalated", "TimerClosed"]
    waited = later.steps[1]
    assert waited.timers == ["reminder", "timeout"] and waited.taken == later.steps[2].node.id
    assert CallbackCall(TimerNudged.class_label, "on_timer", RAN) in waited.callbacks
    assert len(TimerNudged.timers) == 1 and later.outcome == END
    sooner = flowr.simulate(nudged_flow, now=timezone.now() + datetime.timedelta(minutes=90))
    assert sooner.steps[1].timers == ["reminder"]  # the timeout is not due yet: the walk goes on
    assert _rules(sooner)[2] == "TimerAnswered"
    assert State.objects.count() == 0 and json.loads(json.dumps(later.as_dict()))["paths"][0]["steps"][1]["timers"]


def test_stop_after_choices_stops_where_the_choices_end_after_the_due_timers(nudged_flow: Flow) -> None:
    at_root = flowr.simulate(nudged_flow, stop_after_choices=True)
    assert (_rules(at_root), at_root.outcome) == (["TimerNudgeStart"], CHOICES)
    one = flowr.simulate(nudged_flow, choices=["TimerNudged"], stop_after_choices=True)
    assert (_rules(one), one.outcome, one.steps[-1].timers) == (["TimerNudgeStart", "TimerNudged"], CHOICES, [])
    # the timeout due at the last chosen node still fires: its move is a step, not a choice
    later = timezone.now() + datetime.timedelta(hours=3)
    moved = flowr.simulate(nudged_flow, choices=["TimerNudged"], stop_after_choices=True, now=later)
    assert _rules(moved) == ["TimerNudgeStart", "TimerNudged", "TimerEscalated"]
    assert (moved.steps[1].timers, moved.outcome) == (["reminder", "timeout"], CHOICES)
    on = flowr.simulate(nudged_flow, choices=["TimerNudged", "TimerClosed"], stop_after_choices=True, now=later)
    assert (_rules(on)[-1], on.outcome) == ("TimerClosed", END)
    # max_steps and the end still stop first; explore ignores it
    assert flowr.simulate(nudged_flow, choices=["TimerNudged"], stop_after_choices=True, max_steps=0).outcome == (
        MAX_STEPS
    )
    explored = flowr.simulate(nudged_flow, explore=True, stop_after_choices=True)
    assert {path.outcome for path in explored.paths} == {END}
    assert State.objects.count() == 0


def test_fast_forward_refuses_a_naive_time_and_explore(nudged_flow: Flow) -> None:
    with pytest.raises(ValueError, match="aware"):
        flowr.simulate(nudged_flow, now=datetime.datetime(2030, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="explore"):
        flowr.simulate(nudged_flow, explore=True, now=timezone.now())
