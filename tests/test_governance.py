"""A flow's status (issue 18.1): transitions, refusals, four-eyes, current
version of a family, only-published starts, and the edit-log rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings

from flowr import edits
from flowr import sample_rules as S
from flowr.exceptions import FlowNotPublished, PublishNotPermitted, StatusChangeNotAllowed
from flowr.governance import change_status
from flowr.models import Flow, FlowEdit, RuleSet, State
from flowr.versions import migrate_states
from tests.api_fixtures import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def flow() -> Flow:
    rule_set = RuleSet.factory("Sample", S.A)
    return Flow.factory_from_rules("Sample", rule_set, [({"rule": S.C}, [({"rule": S.D}, [])])])


def log(flow: Flow) -> list[tuple[str, str | None]]:
    return list(FlowEdit.objects.filter(flow=flow).order_by("seq").values_list("operation", "actor_repr"))


def status_of(flow: Flow) -> str:
    return Flow.objects.values_list("status", flat=True).get(pk=flow.pk)


def test_a_new_flow_is_a_draft(flow: Flow) -> None:
    assert flow.status == "draft" and status_of(flow) == "draft"
    assert flow.clone().status == "draft"


def test_the_whole_cycle_is_logged_with_the_actor(flow: Flow) -> None:
    alice = make_user("alice")
    changed = flow.submit_for_review(actor=alice)
    assert (changed.old, changed.new) == ("draft", "in_review")
    flow.publish(actor=alice)
    flow.retire(actor=alice)
    flow.back_to_draft(actor=alice)
    assert status_of(flow) == "draft" == flow.status
    ops = log(flow)
    assert ops[-4:] == [
        ("submit_for_review", "alice"),
        ("publish", "alice"),
        ("retire", "alice"),
        ("back_to_draft", "alice"),
    ]
    last = FlowEdit.objects.filter(flow=flow).order_by("-seq").first()
    assert last is not None and last.change == {"old": "retired", "new": "draft"}
    assert Flow.objects.get(pk=flow.pk).revision == last.seq == flow.revision


@pytest.mark.parametrize(
    ("setup", "transition"),
    [
        ([], "retire"),
        ([], "back_to_draft"),
        (["submit_for_review"], "submit_for_review"),
        (["publish"], "publish"),
        (["publish"], "submit_for_review"),
        (["publish", "retire"], "retire"),
        ([], "launch"),
    ],
)
def test_illegal_changes_are_refused_and_change_nothing(flow: Flow, setup: list[str], transition: str) -> None:
    for step in setup:
        change_status(flow, step)
    before = (status_of(flow), len(log(flow)))
    with pytest.raises(StatusChangeNotAllowed) as caught:
        change_status(flow, transition)
    assert caught.value.code == "status_change_not_allowed"
    assert isinstance(caught.value, AttributeError)  # like every flowr refusal
    assert (status_of(flow), len(log(flow))) == before


def test_publishing_a_version_retires_the_one_published_before(flow: Flow) -> None:
    flow.publish()
    assert Flow.objects.current(flow.family) == flow
    v2 = flow.clone()
    assert Flow.objects.current(v2) == flow  # a flow stands for its family
    changed = v2.publish()
    assert changed.retired == (flow.pk,)
    assert status_of(flow) == "retired"
    assert Flow.objects.current(flow.family) == v2
    assert log(flow)[-1][0] == "retire"
    v2.retire()
    assert Flow.objects.current(flow.family) is None


def test_current_of_a_family_without_a_published_version_is_none(flow: Flow) -> None:
    assert Flow.objects.current(flow.family) is None
    assert Flow.objects.current(flow) is None


def test_retired_flows_keep_their_running_states(flow: Flow) -> None:
    flow.publish()
    state = State.start(flow)
    flow.retire()
    state.next_state()
    assert state.current_node.rule_name == "C"


@override_settings(FLOWR={"ONLY_PUBLISHED_START": True})
def test_only_published_flows_start_when_the_setting_is_on(flow: Flow) -> None:
    with pytest.raises(FlowNotPublished) as caught:
        State.start(flow)
    assert caught.value.code == "flow_not_published"
    assert State.objects.count() == 0
    flow.publish()
    state = State.start(flow)
    flow.retire()
    with pytest.raises(FlowNotPublished):
        State.start(flow)
    state.next_state()  # a retired flow's States run on
    assert State.objects.count() == 1


def test_drafts_start_by_default_as_in_0_2(flow: Flow) -> None:
    assert State.start(flow).flow == flow


def test_status_changes_are_allowed_on_a_frozen_flow(flow: Flow) -> None:
    State.start(flow)
    flow.publish()
    assert status_of(flow) == "published"


@override_settings(FLOWR={"FOUR_EYES_PUBLISH": True})
def test_four_eyes_publishing(flow: Flow) -> None:
    author = make_user("author", "flowr.publish_flow", "flowr.change_flow")
    reviewer = make_user("reviewer", "flowr.publish_flow")
    outsider = make_user("outsider", "flowr.change_flow")
    with edits.acting(author):
        flow.root_data.children_data()[0].add_child_rule(S.E)
    flow.submit_for_review(actor=author)  # a status change is not an edit: the author stays the last editor
    for user, reason in ((None, "permission"), (outsider, "permission"), (author, "last editor")):
        with pytest.raises(PublishNotPermitted) as caught:
            flow.publish(actor=user)
        assert reason in str(caught.value)
        assert status_of(flow) == "in_review"
    flow.publish(actor=reviewer)
    assert log(flow)[-1] == ("publish", "reviewer")


def test_migrations_are_logged_on_both_flows(flow: Flow) -> None:
    mover = make_user("mover")
    State.start(flow)
    v2 = flow.clone()
    migrate_states(flow, v2, dry_run=True, actor=mover)
    assert log(flow)[-1][0] != "migrate"
    migrate_states(flow, v2, actor=mover)
    assert log(flow)[-1] == ("migrate", "mover")
    assert log(v2)[-1] == ("migrate", "mover")
    assert FlowEdit.objects.filter(flow=v2).order_by("-seq").first().change == {  # type: ignore[union-attr]
        "source": flow.pk,
        "target": v2.pk,
        "states": 1,
    }


def test_status_change_query_count(flow: Flow, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    # savepoint, lock (+ its reads where the lock is a statement of its own), status read,
    # status write, revision write, log row, release
    lock = 1 if not connection.features.has_select_for_update else 2
    with django_assert_num_queries(6 + lock):
        flow.submit_for_review()
    with django_assert_num_queries(7 + lock):  # + the family's published versions to retire
        flow.publish()
