"""Who may take which transition (``Rule.permission``, guards that take the
actor), ``State.transition_options`` / ``allowed_next_rules``, rules chosen
by class name, and a transition's note and data -- the model API."""

from __future__ import annotations

import math
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from flowr import guards
from flowr.exceptions import (
    AmbiguousRule,
    ChoiceNotInFlow,
    InvalidTransitionData,
    TransitionForbidden,
    TransitionRefused,
)
from flowr.guards import TransitionOption
from flowr.models import Flow, FlowNodeData, RuleSet, State, StateHistory
from tests import permission_rules as P

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _forget_seen() -> None:
    P.seen.clear()


def desk_flow(*children: type, root: type = P.Desk) -> tuple[Flow, dict[str, FlowNodeData]]:
    """A ``root`` node with one child per rule in ``children`` (default: all
    four), each leading back to a Desk root."""
    flow = Flow.factory(f"desk {len(children)}", RuleSet.factory(f"desk {root.__name__}", root))
    nodes = {"root": flow.root_data}
    for rule in children or (P.Approve, P.Reject, P.Hold, P.Park):
        nodes[rule.__name__] = flow.root_data.add_child_rule(rule)
        if root is P.Desk and P.Desk in rule.child_rules():
            nodes[rule.__name__].connect_child(flow.root_data)
    return flow, nodes


def user(name: str, *perms: str, **flags: Any) -> User:
    made = User.objects.create_user(name, **flags)
    for perm in perms:
        app_label, codename = perm.split(".")
        made.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return User.objects.get(pk=made.pk)  # a fresh object: no permission cache


def rows(state: State) -> list[tuple[Any, ...]]:
    return list(StateHistory.objects.filter(state=state).order_by("seq").values_list("seq", "to_rule_label"))


# -- permission ------------------------------------------------------------------------


def test_a_permission_string_is_checked_with_has_perm():
    flow, nodes = desk_flow()
    state = State.start(flow)
    clerk, manager = user("clerk"), user("manager", P.APPROVE_PERMISSION)
    with pytest.raises(TransitionForbidden) as refused:
        state.next_state(P.Approve, actor=clerk)
    assert refused.value.code == "permission_denied" and refused.value.guard == "permission"
    assert isinstance(refused.value, TransitionRefused)  # code that catches guards' refusals still catches it
    assert "testapp.change_ticket" in str(refused.value)
    assert (state.version, rows(state)) == (0, [(1, P.Desk.class_label)])  # nothing written
    assert State.objects.get(pk=state.pk).current_node_id == nodes["root"].pk
    state.next_state(P.Approve, actor=manager)
    assert state.current_node_id == nodes["Approve"].pk and state.history.last().actor == manager


def test_anonymous_and_inactive_users_have_no_permission():
    flow, _ = desk_flow(P.Approve)
    state = State.start(flow)
    inactive = user("gone", P.APPROVE_PERMISSION, is_active=False)
    for actor in (AnonymousUser(), inactive, "a cron job"):  # a string has no has_perm: no permission
        with pytest.raises(TransitionForbidden):
            state.next_state(actor=actor)
    assert state.version == 0


def test_a_callable_permission_refuses_with_its_reason():
    flow, nodes = desk_flow()
    state = State.start(flow)
    clerk, reviewer = user("clerk"), user("reviewer")
    with pytest.raises(TransitionForbidden, match="Only reviewers may reject.") as refused:
        state.next_state("tests.permission_rules.Reject", actor=clerk)
    assert refused.value.reason == "Only reviewers may reject." and state.version == 0
    assert P.seen == [("Reject", "permission", clerk)]
    state.next_state(P.Reject, actor=reviewer)
    assert state.current_node_id == nodes["Reject"].pk


def test_actor_none_is_trusted_code_the_permission_is_not_checked():
    flow, nodes = desk_flow()
    state = State.start(flow)
    state.next_state(P.Approve)  # no actor: a management command, a task
    state.next_state()  # back to Desk
    state.next_state(P.Reject)
    assert state.current_node_id == nodes["Reject"].pk
    assert ("Reject", "permission", None) not in P.seen  # the callable was not even asked


def test_the_root_rules_permission_is_checked_by_start():
    flow, _ = desk_flow(P.Approve, root=P.Gate)
    with pytest.raises(TransitionForbidden):
        State.start(flow, actor=user("clerk"))
    assert not State.objects.exists() and not StateHistory.objects.exists()
    assert State.start(flow, actor=user("manager", P.APPROVE_PERMISSION)).version == 0
    assert State.start(flow).version == 0  # trusted code


# -- guards that take the actor ----------------------------------------------------------


def test_guards_taking_the_actor_receive_it_and_old_guards_keep_working():
    flow, nodes = desk_flow()
    state = State.start(flow)
    intern, clerk = user("intern"), user("clerk")
    with pytest.raises(TransitionRefused, match="Interns may not hold.") as refused:
        state.next_state(P.Hold, actor=intern)
    assert refused.value.code == "transition_refused" and refused.value.guard == "can_enter"
    state.next_state(P.Hold, actor=clerk)
    state.next_state(actor=clerk)  # leaving Hold: its can_leave takes the actor too
    state.next_state(P.Park, actor=clerk)  # a 0.2-style guard, called with the State alone
    assert state.current_node_id == nodes["Park"].pk
    assert P.seen == [
        ("Hold", "can_enter", intern),
        ("Hold", "can_enter", clerk),
        ("Hold", "can_leave", clerk),
        ("Park", "can_enter", None),
    ]


def test_the_guards_arity_is_worked_out_once_per_rule(monkeypatch):
    calls: list[Any] = []
    real = guards.inspect.signature

    def counting(obj: Any) -> Any:
        calls.append(obj)
        return real(obj)

    guards.takes_actor.cache_clear()
    monkeypatch.setattr(guards.inspect, "signature", counting)
    flow, _ = desk_flow()
    state = State.start(flow)
    clerk = user("clerk")
    for _ in range(3):
        state.next_state(P.Hold, actor=clerk)
        state.next_state(actor=clerk)
        state.transition_options(actor=clerk)
    asked = sorted((c.__self__.__name__, c.__name__) for c in calls)
    assert len(asked) == len(set(asked)), asked  # never twice for one rule's guard
    assert ("Hold", "can_enter") in asked and ("Desk", "can_leave") in asked
    assert guards.takes_actor(P.Hold, "can_enter") and not guards.takes_actor(P.Park, "can_enter")
    assert guards.takes_actor(P.Hold, "can_leave")  # an optional actor counts


# -- what may be taken -------------------------------------------------------------------


def test_transition_options_list_every_child_with_the_reason():
    flow, nodes = desk_flow()
    state = State.objects.select_related("current_node").get(pk=State.start(flow).pk)
    intern = user("intern")
    options = state.transition_options(actor=intern)
    assert options == [
        TransitionOption(
            P.Approve,
            nodes["Approve"],
            False,
            "Approve needs the permission testapp.change_ticket",
            "permission_denied",
        ),
        TransitionOption(P.Reject, nodes["Reject"], False, "Only reviewers may reject.", "permission_denied"),
        TransitionOption(P.Hold, nodes["Hold"], False, "Interns may not hold.", "transition_refused"),
        TransitionOption(P.Park, nodes["Park"], True, None, None),
    ]
    assert state.allowed_next_rules(actor=intern) == [P.Park]
    assert state.allowed_next_rules(actor=user("reviewer", P.APPROVE_PERMISSION)) == [
        P.Approve,
        P.Reject,
        P.Hold,
        P.Park,
    ]
    assert state.allowed_next_rules() == [P.Approve, P.Reject, P.Hold, P.Park]  # trusted: no permission checked
    with pytest.raises(AttributeError):
        options[0].allowed = True  # type: ignore[misc]  # frozen


def test_options_agree_with_next_state():
    """What the options allow, next_state takes; what they refuse, it refuses with the same code."""
    flow, _ = desk_flow()
    actors = [user("intern"), user("clerk"), user("reviewer", P.APPROVE_PERMISSION), None]
    for actor in actors:
        for option in State.start(flow).transition_options(actor=actor):
            state = State.start(flow)
            try:
                state.next_state(option.rule, actor=actor)
            except TransitionRefused as exc:
                assert (option.allowed, option.code, option.reason) == (False, exc.code, exc.reason)
            else:
                assert option.allowed


def test_a_can_leave_veto_refuses_every_child_the_actor_may_take():
    flow, _ = desk_flow()
    state = State.start(flow)

    def refuse(cls: Any, state: Any) -> str:
        return "Desk is closed."

    original = P.Desk.__dict__.get("can_leave")
    P.Desk.can_leave = classmethod(refuse)  # type: ignore[assignment,method-assign]
    guards.takes_actor.cache_clear()
    try:
        options = state.transition_options(actor=user("clerk"))
    finally:
        if original is None:
            del P.Desk.can_leave
        guards.takes_actor.cache_clear()
    assert [(o.allowed, o.reason) for o in options] == [
        (False, "Approve needs the permission testapp.change_ticket"),  # the permission first
        (False, "Only reviewers may reject."),
        (False, "Desk is closed."),
        (False, "Desk is closed."),
    ]


@pytest.mark.parametrize("children", [1, 4])
def test_transition_options_queries_are_constant(children, django_assert_num_queries):
    flow, _ = desk_flow(*(P.Approve, P.Reject, P.Hold, P.Park)[:children])
    state = State.objects.select_related("current_node").get(pk=State.start(flow).pk)
    admin = user("root", is_superuser=True)
    with django_assert_num_queries(1):  # the children
        state.transition_options(actor=admin)
    with django_assert_num_queries(1):
        state.transition_options()
    clerk = user("clerk", P.APPROVE_PERMISSION)
    with django_assert_num_queries(3):  # the children, the user's and the groups' permissions (once)
        state.transition_options(actor=clerk)
    with django_assert_num_queries(1):  # has_perm's cache
        state.transition_options(actor=clerk)


# -- a rule chosen by its class name ------------------------------------------------------


def test_a_rule_may_be_chosen_by_its_class_name_when_unambiguous():
    flow, nodes = desk_flow()
    state = State.start(flow)
    state.next_state("Park")
    assert state.current_node_id == nodes["Park"].pk
    with pytest.raises(ChoiceNotInFlow):
        State.start(flow).next_state("Nowhere")


def test_an_ambiguous_class_name_is_refused_with_the_labels():
    flow, nodes = desk_flow(P.Split)
    split = nodes["Split"]
    split.add_child_rule(P.Review)
    other = split.add_child_rule(P.Other.Review)
    state = State.start(flow)
    state.next_state()
    with pytest.raises(AmbiguousRule) as refused:
        state.next_state("Review")
    assert refused.value.code == "ambiguous_rule" and state.version == 1
    assert refused.value.problems == ["tests.permission_rules.Review", "tests.permission_rules.Other.Review"]
    assert "tests.permission_rules.Other.Review" in str(refused.value)
    state.next_state("tests.permission_rules.Other.Review")  # the label always works
    assert state.current_node_id == other.pk


# -- note and data --------------------------------------------------------------------------


def test_note_and_data_are_stored_on_the_history_row():
    flow, _ = desk_flow()
    state = State.start(flow, note="opened by phone", data={"channel": "phone"})
    state.next_state(P.Park, actor=user("clerk"), note="customer asked", data={"reason": ["wait", 3], "ok": True})
    first, second = state.history
    assert (first.note, first.data) == ("opened by phone", {"channel": "phone"})
    assert (second.note, second.data) == ("customer asked", {"reason": ["wait", 3], "ok": True})
    state.next_state()
    assert (state.history.last().note, state.history.last().data) == ("", None)  # none given: empty, null
    assert StateHistory.objects.filter(data__isnull=True).count() == 1


@pytest.mark.parametrize(
    ("note", "data"),
    [(5, None), (None, None), (b"bytes", None), ("", object()), ("", {"x": {1, 2}}), ("", math.nan), ("", [math.inf])],
)
def test_bad_note_or_data_is_refused_before_anything_is_read(note, data):
    flow, _ = desk_flow(P.Park)
    state = State.start(flow)
    with CaptureQueriesContext(connection) as ctx, pytest.raises(InvalidTransitionData) as refused:
        state.next_state(note=note, data=data)
    assert ctx.captured_queries == [] and refused.value.code == "invalid_transition_data"
    assert state.version == 0 and StateHistory.objects.count() == 1
    with pytest.raises(InvalidTransitionData):
        State.start(flow, note=note, data=data)
    assert State.objects.count() == 1


# -- a permission that is neither ---------------------------------------------------------


@pytest.mark.parametrize("permission", ["change_ticket", ".change_ticket", "testapp.", 42, ["testapp.change_ticket"]])
def test_a_bad_permission_is_a_check_error_and_refused_when_asked(permission: Any) -> None:
    from flowr import checks, rules
    from flowr.exceptions import InvalidRule
    from flowr.rules import Rule

    bad = type("BadPermission", (Rule,), {"__qualname__": "BadPermission", "__module__": __name__})
    bad.permission = permission  # type: ignore[misc]
    try:
        messages = checks.check_rule_permissions()
        assert [m.id for m in messages] == ["flowr.E010"] and messages[0].obj is bad
        assert repr(permission) in messages[0].msg and messages[0].hint
        flow = Flow.factory("bad", RuleSet.factory("bad", bad))
        with pytest.raises(InvalidRule, match="BadPermission"):
            State.start(flow, actor=user("clerk"))
        assert not State.objects.exists()
        assert State.start(flow).version == 0  # trusted code does not ask
    finally:
        rules._registry.pop(bad.class_label, None)
    assert checks.check_rule_permissions() == []


# -- many States, jumps and cancels: the same path ---------------------------------------


def test_advance_many_checks_the_permission_and_stores_note_and_data():
    flow, nodes = desk_flow(P.Approve)
    first, second = State.start(flow), State.start(flow)
    clerk, manager = user("clerk"), user("manager", P.APPROVE_PERMISSION)
    refused = State.objects.advance_many([first, second], actor=clerk, note="n", data={"k": 1})
    assert [(r.ok, r.code) for r in refused] == [(False, "permission_denied"), (False, "permission_denied")]
    assert isinstance(refused[0].error, TransitionForbidden)
    assert "testapp.change_ticket" in refused[0].message
    assert [rows(s) for s in (first, second)] == [[(1, P.Desk.class_label)]] * 2  # nothing written
    done = State.objects.advance_many([first.pk, second.pk], actor=manager, note="batch", data={"k": 1})
    assert [r.ok for r in done] == [True, True]
    for result in done:
        row = StateHistory.objects.get(pk=result.history.pk)
        assert (row.to_rule_label, row.note, row.data, row.actor) == (P.Approve.class_label, "batch", {"k": 1}, manager)
    # trusted code (no actor) is not asked for the permission
    third = State.start(flow)
    assert [r.ok for r in State.objects.advance_many([third])] == [True]


def test_advance_many_refuses_bad_data_before_loading_anything(django_assert_num_queries):
    flow, _ = desk_flow(P.Approve)
    state = State.start(flow)
    with django_assert_num_queries(0), pytest.raises(InvalidTransitionData):
        State.objects.advance_many([state.pk], data={1, 2})
    assert State.objects.get(pk=state.pk).version == 0


def test_a_cancelled_state_offers_no_transition():
    flow, _ = desk_flow()
    state = State.start(flow)
    state.cancel()
    assert state.transition_options(actor=user("manager", P.APPROVE_PERMISSION)) == []
    assert state.allowed_next_rules() == []
