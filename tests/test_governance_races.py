"""Status changes racing each other and edits, one connection per thread:
a family keeps at most one published version, and nothing deadlocks."""

from __future__ import annotations

import pytest

from flowr import sample_rules as S
from flowr.models import Flow, FlowEdit, RuleSet
from tests.test_concurrency import run_workers, sqlite_wal  # noqa: F401  (fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.server_db]


def test_two_versions_published_at_once_leave_one_published() -> None:
    v1 = Flow.factory_from_rules("race", RuleSet.factory("sample", S.A), [({"rule": S.C}, [])])
    v1.publish()
    rivals = [v1.clone(), v1.clone()]
    run_workers(2, lambda i: Flow.objects.get(pk=rivals[i].pk).publish())
    statuses = dict(Flow.objects.filter(family=v1.family).values_list("pk", "status"))
    assert sorted(statuses.values()) == ["published", "retired", "retired"]
    current = Flow.objects.current(v1.family)
    assert current is not None and current.pk in {r.pk for r in rivals}
    for flow in Flow.objects.filter(family=v1.family):  # every row logged, seqs gap-free
        seqs = list(FlowEdit.objects.filter(flow=flow).order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, len(seqs) + 1))


def test_a_status_change_and_an_edit_of_one_flow_serialize() -> None:
    flow = Flow.factory_from_rules("race", RuleSet.factory("sample", S.A), [({"rule": S.C}, [])])

    def work(i: int) -> None:
        fresh = Flow.objects.get(pk=flow.pk)
        if i == 0:
            fresh.publish()
        else:
            next(d for d in fresh.nodes_data() if d.rule_name == "C").add_child_rule(S.D)

    run_workers(2, work)
    ops = sorted(FlowEdit.objects.filter(flow=flow).values_list("operation", flat=True))
    assert ops == ["add", "create", "publish"]
    assert Flow.objects.get(pk=flow.pk).revision == 3
