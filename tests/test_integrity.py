"""flowr.integrity.check_integrity and ``manage.py flowr_check_integrity``."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F

from flowr.integrity import Problem, check_integrity
from flowr.models import State, StateHistory
from tests.testapp.rules import Probe1, Probe3, cycle_flow, probe_flow

pytestmark = pytest.mark.django_db


@pytest.fixture
def moved() -> State:
    """A State with four history rows: start + 3 transitions."""
    flow, _ = probe_flow()
    state = State.start(flow)
    state.next_state().next_state(Probe1).next_state()
    return state


def codes(states: object = None) -> set[tuple[int, str]]:
    return {(p.state_id, p.code) for p in check_integrity(states)}


def test_a_healthy_database_has_no_problems(moved):
    flow, _ = cycle_flow()
    State.start(flow).next_state()
    State.start(flow)
    assert check_integrity() == []


def test_a_missing_history_row_is_a_gap(moved):
    StateHistory.objects.filter(state=moved, seq=2).delete()
    [problem] = check_integrity()
    assert (problem.state_id, problem.code) == (moved.pk, "seq_gap")
    assert "3 rows numbered 1..4" in str(problem)


def test_a_sequence_not_starting_at_one_is_a_gap(moved):
    StateHistory.objects.filter(state=moved).update(seq=F("seq") + 10)
    assert codes() == {(moved.pk, "seq_gap"), (moved.pk, "version_mismatch")}


def test_a_current_node_that_is_not_the_last_target(moved):
    other = moved.history.first().to_node
    State.objects.filter(pk=moved.pk).update(current_node=other)
    [problem] = check_integrity()
    assert (problem.state_id, problem.code) == (moved.pk, "node_mismatch")
    assert str(problem).startswith(f"State {moved.pk}: current node data {other.pk} is not the last history target")


def test_a_version_that_does_not_count_the_transitions(moved):
    State.objects.filter(pk=moved.pk).update(version=7)
    assert codes() == {(moved.pk, "version_mismatch")}


def test_a_state_without_history(moved):
    moved.history_rows.all().delete()
    assert codes() == {(moved.pk, "no_history")}


def test_a_current_node_of_another_flow(moved):
    other_flow, _ = cycle_flow()
    foreign = other_flow.root_data
    State.objects.filter(pk=moved.pk).update(current_node=foreign)
    StateHistory.objects.filter(state=moved, seq=4).update(to_node=foreign)
    assert codes() == {(moved.pk, "foreign_node")}


def test_a_row_that_does_not_start_where_the_previous_ended(moved):
    StateHistory.objects.filter(state=moved, seq=3).update(from_node=F("to_node"))
    [problem] = check_integrity()
    assert (problem.state_id, problem.code) == (moved.pk, "broken_chain")
    assert "history row 3" in problem.message


def test_rows_of_deleted_nodes_are_skipped_by_the_chain_check(moved):
    StateHistory.objects.filter(state=moved, seq=2).update(from_node=None, to_node=None)
    assert check_integrity() == []


def test_only_the_given_states_are_checked(moved):
    flow, _ = cycle_flow()
    healthy = State.start(flow)
    StateHistory.objects.filter(state=moved, seq=2).delete()
    assert codes([healthy]) == set()
    assert codes([healthy.pk]) == set()
    assert codes(State.objects.filter(flow=flow)) == set()
    assert codes([moved]) == codes(State.objects.filter(pk=moved.pk)) == {(moved.pk, "seq_gap")}


def test_the_checker_runs_a_constant_number_of_queries(moved, django_assert_max_num_queries):
    flow, _ = cycle_flow()
    with django_assert_max_num_queries(2):
        assert check_integrity() == []
    for _ in range(30):
        State.start(flow).next_state().next_state().next_state()
    StateHistory.objects.filter(state=moved, seq=2).delete()
    with django_assert_max_num_queries(2):
        assert len(check_integrity()) == 1
    with django_assert_max_num_queries(2):
        check_integrity(State.objects.filter(flow=flow))


def test_a_problem_names_its_state():
    assert str(Problem(12, "seq_gap", "history sequence is not contiguous")) == (
        "State 12: history sequence is not contiguous"
    )


# -- the management command -----------------------------------------------------


def test_the_command_reports_a_healthy_database(moved):
    out = StringIO()
    call_command("flowr_check_integrity", stdout=out)
    assert "No integrity problems found." in out.getvalue()


def test_the_command_exits_1_and_lists_the_problems(moved):
    flow, _ = probe_flow("second")
    healthy = State.start(flow)
    healthy.next_state().next_state(Probe3)
    State.objects.filter(pk=moved.pk).update(version=0)
    err = StringIO()
    with pytest.raises(CommandError, match="1 integrity problem") as caught:
        call_command("flowr_check_integrity", stderr=err)
    assert caught.value.returncode == 1
    assert err.getvalue().startswith(f"State {moved.pk}: version 0 does not match the last history seq 4")
    out = StringIO()
    call_command("flowr_check_integrity", "--state", str(healthy.pk), stdout=out)
    assert "No integrity problems found." in out.getvalue()
    # several States after one --state (as documented), or --state repeated
    for args in (["--state", str(healthy.pk), str(moved.pk)], ["--state", str(healthy.pk), "--state", str(moved.pk)]):
        with pytest.raises(CommandError, match="1 integrity problem"):
            call_command("flowr_check_integrity", *args, stderr=StringIO())
    with pytest.raises(CommandError, match="invalid int value"):
        call_command("flowr_check_integrity", "--state", "seven")
