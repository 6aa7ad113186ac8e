"""State.start / next_state: moves, choices, guards, history, re-entrancy, PROTECT."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import ProtectedError

from flowr import sample_rules
from flowr.exceptions import (
    ChoiceNotInFlow,
    ChoiceRequired,
    ConcurrentTransition,
    FlowFrozen,
    FlowInUse,
    MissingRule,
    NoNextState,
    ReentrantTransition,
    TransitionRefused,
)
from flowr.integrity import check_integrity
from flowr.models import Flow, FlowNodeData, Node, RuleSet, State, StateHistory
from flowr.signals import post_transition
from flowr.testing import assert_history
from tests.helpers import backbone_tree
from tests.testapp.models import CallbackLog
from tests.testapp.rules import Cycle1, Cycle2, Probe1, Probe2, Probe3, cycle_flow, probe_flow, probing

pytestmark = pytest.mark.django_db


def log(state: State) -> list[str]:
    return list(CallbackLog.objects.filter(state_id=state.pk).order_by("pk").values_list("message", flat=True))


def history(state: State) -> list[tuple[int, str, str, str]]:
    return [(r.seq, r.kind, r.from_rule_name, r.to_rule_name) for r in state.history]


def assert_unchanged(state: State, node: FlowNodeData, rows: int) -> None:
    """The State (in memory and in the database) is still at ``node``."""
    assert state.current_node_id == node.pk and state.version == rows - 1
    fresh = State.objects.get(pk=state.pk)
    assert (fresh.current_node_id, fresh.version) == (node.pk, rows - 1)
    assert fresh.history_rows.count() == rows
    assert check_integrity([state]) == []


# -- start ---------------------------------------------------------------------


def test_start_creates_the_state_at_the_root_with_one_history_row():
    flow, (first, _, _) = probe_flow()
    state = State.start(flow, actor="cron")
    assert (state.flow, state.current_node, state.version) == (flow, first, 0)
    assert log(state) == ["enter Probe1"]
    row = state.history.get()
    assert (row.seq, row.kind, row.from_node, row.to_node) == (1, StateHistory.START, None, first)
    assert (row.from_rule_label, row.to_rule_label, row.to_rule_name) == ("", Probe1.class_label, "Probe1")
    assert (row.actor, row.actor_repr) == (None, "cron")
    assert check_integrity() == []


def test_a_user_actor_is_stored_as_a_foreign_key():
    user = User.objects.create_user("ann")
    flow, _ = probe_flow()
    state = State.start(flow, actor=user)
    state.next_state(actor=user)
    assert [(r.actor, r.actor_repr) for r in state.history] == [(user, "ann"), (user, "ann")]


def test_deleting_a_user_keeps_the_history_rows_without_the_actor():
    user = User.objects.create_user("ann")
    flow, _ = probe_flow()
    state = State.start(flow, actor=user)
    state.next_state(actor="cron")
    user.delete()
    rows = [(r.actor_id, r.actor_repr, r.to_rule_name) for r in state.history]
    assert rows == [(None, "ann", "Probe1"), (None, "cron", "Probe2")]


def test_the_actor_index_holds_only_rows_with_an_actor_where_the_database_can():
    """History rows without an actor (most transitions) cost no index write;
    deleting a user still finds its rows through the index."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, StateHistory._meta.db_table)
    assert found["flowr_history_actor"]["columns"] == ["actor_id"]
    assert found["flowr_history_actor"]["index"] is True
    indexed = {tuple(c["columns"]) for c in found.values() if c["index"] or c["unique"]}
    assert ("created",) not in indexed  # no transition pays for an index nothing reads
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'flowr_history_actor'")
            assert cursor.fetchone()[0].endswith('WHERE "actor_id" IS NOT NULL')
            table = StateHistory._meta.db_table
            cursor.execute(f'EXPLAIN QUERY PLAN SELECT id FROM "{table}" WHERE "actor_id" IN (1, 2)')
            assert "flowr_history_actor" in " ".join(str(row[-1]) for row in cursor.fetchall())
    elif connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'flowr_history_actor'")
            assert cursor.fetchone()[0].endswith("WHERE (actor_id IS NOT NULL)")


def test_no_index_is_a_prefix_of_another():
    """Every index is written by every insert (on PostgreSQL by every update
    that is not HOT, as each transition's): none is redundant.  Foreign keys
    that lead a composite index or unique constraint have none of their own,
    but for the node's graph (see ``Node.graph``)."""
    with connection.cursor() as cursor:
        for model in apps.get_app_config("flowr").get_models():
            found = connection.introspection.get_constraints(cursor, model._meta.db_table)
            indexes = [
                tuple(c["columns"]) for c in found.values() if (c["index"] or c["unique"]) and not c["primary_key"]
            ]
            for index in indexes:
                if model is Node and index == ("graph_id",):
                    continue  # kept on purpose: whole-graph loads read a graph's nodes faster through it
                assert not any(other != index and other[: len(index)] == index for other in indexes), (model, indexes)
            if model is State:
                assert {("flow_id",), ("current_node_id",), ("subject_content_type_id", "subject_id")} <= set(indexes)


def test_start_whose_root_guard_vetoes_creates_nothing():
    flow, _ = probe_flow()
    with probing({"Probe1.can_enter": lambda state: "closed today"}), pytest.raises(TransitionRefused) as caught:
        State.start(flow)
    assert (caught.value.reason, caught.value.rule, caught.value.guard) == ("closed today", Probe1, "can_enter")
    assert isinstance(caught.value, AttributeError)
    assert (State.objects.count(), StateHistory.objects.count(), CallbackLog.objects.count()) == (0, 0, 0)


def test_start_calls_0_2_sample_rules_on_enter():
    rule_set = RuleSet.factory("samples", sample_rules.A)
    flow = Flow.factory("samples", rule_set)
    flow.root_data.add_child_rule(sample_rules.B)
    state = State.start(flow)
    state.next_state()
    assert (sample_rules.done_enter, sample_rules.done_leave) == (["A", "B"], ["A"])
    assert state.is_finished


# -- next_state ---------------------------------------------------------------------


def test_next_state_takes_the_only_child_and_records_it():
    flow, (first, second, _) = probe_flow()
    state = State.start(flow)
    assert state.next_state(actor="bob") is state
    assert (state.current_node, state.version) == (second, 1)
    assert log(state) == ["enter Probe1", "leave Probe1", "enter Probe2"]
    assert history(state) == [(1, "start", "", "Probe1"), (2, "transition", "Probe1", "Probe2")]
    row = state.history.last()
    assert (row.from_node, row.to_node, row.actor_repr) == (first, second, "bob")
    fresh = State.objects.get(pk=state.pk)
    assert (fresh.current_node_id, fresh.version) == (second.pk, 1)


def test_a_branch_needs_a_choice_by_class_or_label():
    flow, (first, second, third) = probe_flow()
    state = State.start(flow)
    state.next_state()
    with pytest.raises(ChoiceRequired):
        state.next_state()
    assert_unchanged(state, second, 2)
    state.next_state(Probe1)
    state.next_state()
    state.next_state(Probe3.class_label)
    assert state.current_node == third
    assert_history(state, ["Probe1", "Probe2", "Probe1", "Probe2", "Probe3"])


def test_a_rule_that_is_not_a_child_is_refused():
    flow, (_, second, _) = probe_flow()
    state = State.start(flow)
    state.next_state()
    with pytest.raises(ChoiceNotInFlow, match="Cycle1 is not a child"):
        state.next_state(Cycle1)
    assert_unchanged(state, second, 2)


def test_the_end_of_a_flow_is_refused_and_is_finished():
    flow, (_, _, third) = probe_flow()
    state = State.start(flow)
    assert not state.is_finished
    state.next_state()
    state.next_state(Probe3)
    assert state.is_finished
    with pytest.raises(NoNextState) as caught:
        state.next_state()
    assert isinstance(caught.value, AttributeError) and caught.value.state is state
    assert_unchanged(state, third, 3)


def test_a_stale_object_loses_and_can_retry_after_refresh():
    flow, (first, second, third) = cycle_flow()
    state = State.start(flow)
    stale = State.objects.get(pk=state.pk)
    state.next_state()
    with pytest.raises(ConcurrentTransition, match="moved since it was loaded"):
        stale.next_state()
    assert (stale.current_node_id, stale.version) == (first.pk, 0)
    assert State.objects.get(pk=state.pk).current_node_id == second.pk
    stale.refresh_from_db()
    stale.next_state()
    assert (stale.current_node, stale.version) == (third, 2)
    assert check_integrity() == []


def test_a_deleted_state_cannot_move():
    flow, _ = cycle_flow()
    state = State.start(flow)
    State.objects.filter(pk=state.pk).delete()
    with pytest.raises(ConcurrentTransition, match="was deleted"):
        state.next_state()


def test_an_unsaved_state_cannot_move():
    flow, (first, _, _) = cycle_flow()
    with pytest.raises(ValueError, match="saved State"):
        State(flow=flow, current_node=first).next_state()


def test_a_failed_transition_restores_the_object():
    flow, (first, _, _) = probe_flow()
    state = State.start(flow)
    cached = state.current_node

    def boom(**kwargs: Any) -> None:
        raise RuntimeError("post")

    post_transition.connect(boom)
    try:
        with pytest.raises(RuntimeError):
            state.next_state()
    finally:
        post_transition.disconnect(boom)
    assert state.current_node is cached and (state.current_node_id, state.version) == (first.pk, 0)
    state.next_state()
    assert state.version == 1


# -- guards ------------------------------------------------------------------------


def test_can_leave_vetoes_with_its_reason():
    flow, (first, _, _) = probe_flow()
    state = State.start(flow)
    with probing({"Probe1.can_leave": lambda state: "paperwork missing"}):
        assert state.allowed_next_rules() == []
        with pytest.raises(TransitionRefused, match="paperwork missing") as caught:
            state.next_state()
    assert (caught.value.reason, caught.value.rule, caught.value.guard) == ("paperwork missing", Probe1, "can_leave")
    assert_unchanged(state, first, 1)
    assert log(state) == ["enter Probe1"]


def test_can_enter_false_vetoes_with_a_default_reason():
    flow, (_, second, _) = probe_flow()
    state = State.start(flow)
    state.next_state()
    assert state.allowed_next_rules() == [Probe1, Probe3]  # tree order
    with probing({"Probe3.can_enter": lambda state: False}):
        assert state.allowed_next_rules() == [Probe1]
        with pytest.raises(TransitionRefused, match="Rule Probe 3 refused entry"):
            state.next_state(Probe3)
        assert_unchanged(state, second, 2)
        state.next_state(Probe1)
    assert state.version == 2


def test_guards_see_the_state_and_may_read_the_database():
    flow, _ = probe_flow()
    state = State.start(flow)
    seen = []
    with probing({"Probe2.can_enter": lambda s: seen.append((s is state, CallbackLog.objects.count())) or True}):
        state.next_state()
    assert seen == [(True, 1)]


def test_allowed_next_rules_is_empty_at_the_end_and_for_a_missing_rule():
    flow, (first, _, _) = probe_flow()
    state = State.start(flow)
    assert state.allowed_next_rules() == [Probe2]
    FlowNodeData.objects.filter(pk=first.pk).update(rule_label="tests.testapp.rules.Gone")
    state.refresh_from_db()
    assert state.allowed_next_rules() == []


# -- history survives renamed rules -------------------------------------------------


def test_history_stays_readable_after_rules_are_renamed():
    flow, (first, second, _) = cycle_flow()
    state = State.start(flow)
    state.next_state()
    FlowNodeData.objects.filter(pk__in=[first.pk, second.pk]).update(rule_label="tests.testapp.rules.Renamed")
    state = State.objects.get(pk=state.pk)
    assert history(state) == [(1, "start", "", "Cycle1"), (2, "transition", "Cycle1", "Cycle2")]
    # stored names never change; people see the stored label's current verbose name while it resolves
    assert [str(r) for r in state.history] == ["#1 start: Cycle 1", "#2 transition: Cycle 1 → Cycle 2"]
    assert state.history.last().to_rule_label == Cycle2.class_label
    with pytest.raises(MissingRule):
        state.next_state()
    assert State.objects.get(pk=state.pk).version == 1


# -- re-entrancy --------------------------------------------------------------------


def test_a_callback_moving_its_own_state_is_refused_and_nothing_changes():
    flow, (first, _, _) = probe_flow()
    state = State.start(flow)
    with probing({"Probe2.on_enter": lambda s: s.next_state(Probe3)}), pytest.raises(ReentrantTransition):
        state.next_state()
    assert_unchanged(state, first, 1)


def test_a_fresh_copy_of_the_moving_state_is_refused_too():
    flow, _ = probe_flow()
    state = State.start(flow)
    errors = []

    def sneaky(s: State) -> None:
        try:
            State.objects.get(pk=s.pk).next_state(Probe3)
        except ReentrantTransition as exc:
            errors.append(exc)

    with probing({"Probe2.on_enter": sneaky}):
        state.next_state()
    assert len(errors) == 1 and state.version == 1
    assert_history(state, ["Probe1", "Probe2"])
    assert check_integrity() == []


def test_a_root_callback_cannot_move_the_state_being_started():
    flow, _ = probe_flow()
    with probing({"Probe1.on_enter": lambda s: s.next_state()}), pytest.raises(ReentrantTransition):
        State.start(flow)
    assert State.objects.count() == 0


def test_a_callback_may_move_another_state():
    flow, (_, second, _) = probe_flow()
    other = State.start(flow)
    state = State.start(flow)
    with probing({"Probe2.on_enter": lambda s: s is state and other.next_state()}):
        state.next_state()
    assert State.objects.get(pk=other.pk).current_node_id == second.pk
    assert check_integrity() == []


# -- deleting what States use ------------------------------------------------------


def test_deleting_a_flow_with_states_is_refused_naming_the_count():
    flow, _ = cycle_flow()
    State.start(flow)
    State.start(flow)
    with pytest.raises(FlowInUse, match="2 state"):
        flow.delete()
    with pytest.raises(ProtectedError):
        Flow.objects.filter(pk=flow.pk).delete()
    assert Flow.objects.filter(pk=flow.pk).exists()


def test_deleting_a_node_with_states_is_refused_naming_the_count():
    flow, (first, second, _) = cycle_flow()
    State.start(flow).next_state()
    with pytest.raises(FlowInUse, match=r"Node \d+ \(Cycle 2\) cannot be deleted: 1 state"):
        second.delete()
    with pytest.raises(FlowFrozen, match="1 state"):
        second.node.remove()
    with pytest.raises(ProtectedError):
        FlowNodeData.objects.filter(pk=second.pk).delete()
    assert FlowNodeData.objects.filter(pk=second.pk).exists()


# -- query counts ---------------------------------------------------------------------


def test_query_count_of_start(django_assert_num_queries):
    flow, _ = cycle_flow()
    # savepoint, root data (with the graph row locked: one more statement on
    # MariaDB, which cannot lock one table of a join), insert state,
    # callback's insert, insert history, release
    graph_lock = connection.features.has_select_for_update and not connection.features.has_select_for_update_of
    with django_assert_num_queries(6 + graph_lock) as captured:
        State.start(flow)
    if connection.vendor == "postgresql":
        assert any("FOR UPDATE OF" in q["sql"] and "flowr_dccgraph" in q["sql"] for q in captured.captured_queries)


def test_query_count_of_next_state(django_assert_num_queries):
    flow, _ = cycle_flow()
    state = State.start(flow)
    # savepoint, lock + children (one statement everywhere; on MariaDB, which
    # has no FOR UPDATE OF, a UNION ALL whose first part alone locks),
    # callback's insert, update, insert history (one statement with the
    # update on PostgreSQL), release
    one = -(connection.vendor == "postgresql")
    with django_assert_num_queries(6 + one) as captured:
        state.next_state()
    if connection.vendor == "postgresql":  # migration 0002's functions
        assert captured.captured_queries[1]["sql"].startswith("SELECT * FROM flowr_load_v3(")
        assert captured.captured_queries[3]["sql"].startswith("SELECT * FROM flowr_move_v3(")
    fresh = State.objects.get(pk=state.pk)
    with django_assert_num_queries(7 + one):  # + the current node, not cached yet
        fresh.next_state()


def test_note_data_and_an_actor_add_no_statement(django_assert_num_queries, django_user_model):
    """A transition with a note, data, an actor and permissions/guards that
    take it costs what a bare one does (the history row carries them)."""
    flow, _ = cycle_flow()
    state = State.start(flow)
    actor = django_user_model.objects.create_user("mover", is_superuser=True)
    one = -(connection.vendor == "postgresql")
    with django_assert_num_queries(6 + one) as captured:
        state.next_state(actor=actor, note="why not", data={"why": ["not"], "n": 1.5})
    if connection.vendor == "postgresql":
        assert captured.captured_queries[3]["sql"].startswith("SELECT * FROM flowr_move_v3(")
    row = state.history.last()
    assert (row.note, row.data, row.actor_id) == ("why not", {"why": ["not"], "n": 1.5}, actor.pk)
    with django_assert_num_queries(6 + one):
        state.next_state(note="", data=None)
    assert state.history.last().data is None


def test_the_lock_is_taken_with_nowait_where_the_database_can(django_assert_max_num_queries):
    flow, _ = cycle_flow()
    state = State.start(flow)
    with django_assert_max_num_queries(7) as captured:
        state.next_state(Cycle2)
    lock = captured.captured_queries[1]["sql"]
    if connection.vendor == "postgresql":  # the statement is migration 0002's function
        assert lock.startswith("SELECT * FROM flowr_load_v3(")
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_functiondef('flowr_load_v3(bigint,bigint)'::regprocedure)")
            lock = cursor.fetchone()[0].split("END", 1)[0].rstrip().rstrip(";")
    if connection.features.has_select_for_update_nowait:
        assert lock.endswith(("FOR UPDATE NOWAIT", "FOR UPDATE OF S NOWAIT"))
    else:
        assert "FOR UPDATE" not in lock


# -- history rows built on the hot path -------------------------------------------------


def _fields(row: StateHistory) -> dict[str, Any]:
    return {f.attname: getattr(row, f.attname) for f in StateHistory._meta.concrete_fields}


def test_history_row_built_fast_equals_one_built_by_init():
    """``StateHistory.build`` skips ``Model.__init__`` unless an init receiver
    listens; both ways must give the same row."""
    from django.db.models.signals import post_init
    from django.utils import timezone

    flow, (first, second, _) = cycle_flow()
    state = State.start(flow)
    user = User.objects.create_user("builder")
    now = timezone.now()
    fast = StateHistory.build(state, 2, first, second, user, note="n", created=now)

    def listener(**kwargs: Any) -> None:
        pass

    post_init.connect(listener, sender=StateHistory)
    try:
        slow = StateHistory.build(state, 2, first, second, user, note="n", created=now)
    finally:
        post_init.disconnect(listener, sender=StateHistory)
    assert _fields(fast) == _fields(slow)
    assert set(_fields(fast)) <= set(vars(fast))  # every column set, none left to a descriptor default
    assert fast._state.adding and slow._state.adding
    assert (fast.state, fast.from_node, fast.to_node, fast.actor) == (state, first, second, user)
    fast.save()
    stored = StateHistory.objects.get(pk=fast.pk)
    assert _fields(stored) | {"created": now} == _fields(fast) | {"created": now}
    assert (stored.actor, stored.actor_repr, stored.to_rule_label) == (user, "builder", second.rule_label)


def test_a_transition_by_a_user_records_the_user():
    flow, (first, second, _) = cycle_flow()
    state = State.start(flow)
    user = User.objects.create_user("mover")
    state.next_state(actor=user)
    row = state.history.last()
    assert (row.actor_id, row.actor_repr, row.from_node_id, row.to_node_id) == (user.pk, "mover", first.pk, second.pk)
    assert row.created == State.objects.get(pk=state.pk).updated


def test_history_save_receivers_see_every_row():
    """With a ``post_save`` receiver on StateHistory, rows go through
    ``save()`` (on every database, PostgreSQL's one-statement path included)."""
    from django.db.models.signals import post_save

    seen: list[tuple[int, str, bool]] = []

    def receiver(sender: Any, instance: StateHistory, created: bool, **kwargs: Any) -> None:
        seen.append((instance.seq, instance.to_rule_label, created))

    flow, (first, second, third) = cycle_flow()
    post_save.connect(receiver, sender=StateHistory)
    try:
        state = State.start(flow)
        state.next_state()
        state.next_state()
    finally:
        post_save.disconnect(receiver, sender=StateHistory)
    labels = [first.rule_label, second.rule_label, third.rule_label]
    assert seen == [(1, labels[0], True), (2, labels[1], True), (3, labels[2], True)]
    assert list(state.history.values_list("seq", "to_node")) == [(1, first.pk), (2, second.pk), (3, third.pk)]
    assert State.objects.filter(pk=state.pk, current_node=third, version=2).exists()
    assert check_integrity() == []


def test_a_rule_name_longer_than_the_column_is_cut_in_history():
    """History copies rule names into 255-character columns: a longer name
    (a rule's name is its class name, defined in code) is cut, alike on every
    database, and never fails the transition."""
    flow = Flow.factory("long names", RuleSet.factory("long names", sample_rules.A))
    b = flow.root_data.add_child_rule(sample_rules.B)
    state = State.start(flow)
    original = sample_rules.B.__name__
    sample_rules.B.__name__ = "N" * 300
    try:
        state.next_state()
    finally:
        sample_rules.B.__name__ = original
    row = state.history.get(seq=2)
    assert (row.to_rule_name, row.to_rule_label) == ("N" * 255, b.rule_label)
    assert State.objects.filter(pk=state.pk, current_node=b).exists()


def test_init_receivers_see_the_nodes_a_transition_loads():
    """The children a transition reads are made without ``Model.__init__``
    unless an init receiver listens; with one, it sees them."""
    from django.db.models.signals import post_init

    flow, (first, second, _) = cycle_flow()
    state = State.start(flow)
    made: list[int] = []

    def receiver(sender: Any, instance: FlowNodeData, **kwargs: Any) -> None:
        made.append(instance.pk)

    post_init.connect(receiver, sender=FlowNodeData)
    try:
        state.next_state()
    finally:
        post_init.disconnect(receiver, sender=FlowNodeData)
    assert second.pk in made
    assert state.current_node == second and state.current_node.node.pk == second.node_id
    state.next_state()  # without the receiver: the fast path, same result
    assert State.objects.get(pk=state.pk).version == 2
    assert (
        backbone_tree(state.flow.state_graph).depth[state.current_node.node_id] == 3
        and state.current_node.rule_label == "tests.testapp.rules.Cycle3"
    )


def test_the_0_2_spelling_of_the_current_nodes_rule_works(django_assert_num_queries):
    """In 0.2 ``current_node`` was a Node: code reads ``current_node.data.rule``."""
    flow, _ = cycle_flow("spelling")
    state = State.start(flow)
    with django_assert_num_queries(0):
        assert state.current_node.data.rule is Cycle1
        assert state.current_node.data.rule_name == "Cycle1"
    state.next_state()
    assert state.current_node.data.rule is Cycle2


def test_migrate_states_is_importable_from_flowr():
    import flowr
    from flowr import migrate_states
    from flowr.versions import migrate_states as in_versions

    assert migrate_states is in_versions
    assert "migrate_states" in dir(flowr)
    with pytest.raises(AttributeError):
        flowr.nothing_here  # noqa: B018
