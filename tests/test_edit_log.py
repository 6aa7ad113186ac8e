"""The edit service's new operations (disconnect, insert, change rule), the
edit log every edit writes, the flow's revision, and undo / redo."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from flowr import edits
from flowr import sample_rules as S
from flowr.exceptions import (
    CannotDisconnect,
    ConcurrentEdit,
    FlowFrozen,
    NotAChild,
    NothingToRedo,
    NothingToUndo,
    RuleNotAllowed,
)
from flowr.models import Edge, Flow, FlowEdit, FlowNodeData, Node, RuleSet, State
from tests.helpers import check_invariants
from tests.testapp import rules as T

pytestmark = pytest.mark.django_db


def rows(flow: Flow) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the flow's graph: nodes, edges (with pks and backbone flags), data."""
    graph = flow.state_graph_id
    return {
        "nodes": sorted(Node.objects.filter(graph_id=graph).values_list("pk", flat=True)),
        "edges": sorted(Edge.objects.filter(graph_id=graph).values_list("pk", "source_id", "target_id", "backbone")),
        "data": sorted(FlowNodeData.objects.filter(node__graph_id=graph).values_list("pk", "node_id", "rule_label")),
    }


def everything(flow: Flow) -> dict[str, Any]:
    flow.refresh_from_db()
    return {**rows(flow), "log": list(FlowEdit.objects.values_list("pk", "undone", "redoable")), "rev": flow.revision}


def log(flow: Flow) -> list[tuple[int, str]]:
    return list(FlowEdit.objects.filter(flow=flow).order_by("seq").values_list("seq", "operation"))


@pytest.fixture(name="rule_set")
def rule_set_fixture() -> RuleSet:
    return RuleSet.factory("sample", S.A)


@pytest.fixture(name="flow")
def flow_fixture(rule_set: RuleSet) -> Flow:
    """A -> C; C -> D, E; E -> A (a loop back to the root)."""
    flow = Flow.factory("flow", rule_set)
    c = flow.root_data.add_child_rule(S.C)
    c.add_child_rule(S.D)
    c.add_child_rule(S.E).connect_child(flow.root_data)
    flow.refresh_from_db()
    return flow


def data_of(flow: Flow, rule: Any) -> FlowNodeData:
    return FlowNodeData.objects.select_related("node").get(
        node__graph_id=flow.state_graph_id, rule_label=rule.class_label
    )


def test_every_edit_writes_one_row_and_moves_the_revision(rule_set: RuleSet) -> None:
    flow = Flow.factory("f", rule_set)
    assert log(flow) == [(1, "create")] and flow.revision == 1
    updated = flow.updated
    c = flow.root_data.add_child_rule(S.C)
    e = c.add_child_rule(S.E)
    e.connect_child(flow.root_data)
    d = c.add_child_rule(S.D)
    edits.disconnect(e.node, flow.root_data.node)
    edits.prune(d.node)
    edits.rename_flow(flow, "g")
    flow.refresh_from_db()
    assert log(flow) == [
        (1, "create"),
        (2, "add"),
        (3, "add"),
        (4, "connect"),
        (5, "add"),
        (6, "disconnect"),
        (7, "prune"),
        (8, "rename_flow"),
    ]
    assert flow.revision == 8 and flow.updated > updated
    descriptions = list(FlowEdit.objects.filter(flow=flow).order_by("seq").values_list("description", flat=True))
    assert descriptions[1:4] == ["add C under A", "add E under C", "connect E to A"]
    assert descriptions[5] == "disconnect A from E" and descriptions[7] == "rename flow 'f' to 'g'"


def test_the_actor_is_recorded(flow: Flow) -> None:
    user = User.objects.create_user("ann")
    with edits.acting(user):
        edits.remove(data_of(flow, S.D).node)
    edit = FlowEdit.objects.get(flow=flow, operation="remove")
    assert edit.actor == user and edit.actor_name == "ann" and edit.as_dict()["actor"] == "ann"
    assert FlowEdit.objects.get(flow=flow, seq=2).as_dict()["actor"] is None  # no actor: None, not "None"


def test_clone_build_and_import_write_one_create_row(flow: Flow, rule_set: RuleSet) -> None:
    from flowr.export import export_flow, import_flow

    copy = flow.clone()
    assert log(copy) == [(1, "create")]
    built = Flow.factory_from_rules("built", rule_set, [({"rule": S.C}, [({"rule": S.D}, [])])])
    assert log(built) == [(1, "create")]
    imported = import_flow(export_flow(flow), name="imported")
    assert log(imported) == [(1, "create")] and imported.revision == 1


# -- disconnect ----------------------------------------------------------------------------


def test_disconnect_a_link(flow: Flow) -> None:
    e, a = data_of(flow, S.E), flow.root_data
    e.disconnect_child(a)
    assert not Edge.objects.filter(source=e.node, target=a.node).exists()
    check_invariants(flow.state_graph)


def test_disconnect_refused_when_it_cuts_a_node_off(flow: Flow) -> None:
    c, d = data_of(flow, S.C), data_of(flow, S.D)
    before = everything(flow)
    with pytest.raises(CannotDisconnect) as caught:
        c.disconnect_child(d)
    assert "would cut D (node" in str(caught.value) and "None" not in str(caught.value)
    assert everything(flow) == before
    with pytest.raises(NotAChild):
        d.disconnect_child(c)
    assert everything(flow) == before


def test_disconnect_a_backbone_edge_rehomes_the_child(rule_set: RuleSet) -> None:
    """A -> C -> E, E -> A and A -> ... : the creation-tree edge C -> E may go
    when E stays reachable (here through a second parent)."""
    wide = RuleSet.factory("wide", T.Wide)
    flow = Flow.factory("wide", wide)
    leaf = flow.root_data.add_child_rule(T.Leaf)
    leaf2 = flow.root_data.add_child_rule(T.Leaf2)
    under = leaf.add_child_rule(T.Wide)  # backbone leaf -> under
    below = under.add_child_rule(T.Chain)
    leaf2.connect_child(under)  # a second way to ``under``
    before = rows(flow)
    leaf.disconnect_child(under)
    backbone = dict(
        Edge.objects.filter(graph_id=flow.state_graph_id, backbone=True).values_list("target_id", "source_id")
    )
    assert backbone[under.node_id] == leaf2.node_id and backbone[below.node_id] == under.node_id
    check_invariants(flow.state_graph)
    edits.undo(flow)
    assert rows(flow) == before


# -- insert and change rule ------------------------------------------------------------------


def test_insert_between(rule_set: RuleSet) -> None:
    chains = RuleSet.factory("chains", T.Chain)
    flow = Flow.factory("chain", chains)
    one = flow.root_data.add_child_rule(T.Chain)
    new = flow.root_data.insert_between(one, T.Chain)
    assert list(Edge.objects.filter(source=flow.root_data.node).values_list("target_id", "backbone")) == [
        (new.node_id, True)
    ]
    assert list(Edge.objects.filter(source=new.node).values_list("target_id", "backbone")) == [(one.node_id, True)]
    check_invariants(flow.state_graph)


def test_insert_refused_by_the_rules(flow: Flow) -> None:
    a, c = flow.root_data, data_of(flow, S.C)
    before = everything(flow)
    with pytest.raises(RuleNotAllowed) as caught:
        a.insert_between(c, S.B)  # B may follow A, but C may not follow B
    assert "C is not a valid child of rule B" in str(caught.value)
    with pytest.raises(NotAChild):
        a.insert_between(data_of(flow, S.D), S.C)
    assert everything(flow) == before


def test_change_rule(rule_set: RuleSet) -> None:
    flow = Flow.factory("f", rule_set)
    c = flow.root_data.add_child_rule(S.C)
    d = c.add_child_rule(S.D)
    d.change_rule(S.E)
    assert FlowNodeData.objects.get(pk=d.pk).rule_label == S.E.class_label
    assert log(flow)[-1] == (4, "change_rule")
    edits.undo(flow)
    assert FlowNodeData.objects.get(pk=d.pk).rule_label == S.D.class_label
    edits.redo(flow)
    assert FlowNodeData.objects.get(pk=d.pk).rule_label == S.E.class_label


def test_change_rule_refusals(flow: Flow) -> None:
    before = everything(flow)
    with pytest.raises(RuleNotAllowed, match="root's rule"):
        flow.root_data.change_rule(S.B)
    with pytest.raises(RuleNotAllowed, match="already has a child with rule E"):
        data_of(flow, S.D).change_rule(S.E)  # C already has an E
    with pytest.raises(RuleNotAllowed, match="does not allow the child rule"):
        data_of(flow, S.C).change_rule(S.B)  # B allows no child, C has two
    assert everything(flow) == before


# -- undo and redo ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "operation",
    ["add", "connect", "disconnect", "remove", "prune", "prune_with_loop", "rename_flow"],
)
def test_undo_restores_everything_and_redo_reapplies(rule_set: RuleSet, operation: str) -> None:
    flow = Flow.factory("f", rule_set)
    a = flow.root_data
    c = a.add_child_rule(S.C)
    e = c.add_child_rule(S.E)
    if operation != "connect":
        e.connect_child(a)
    if operation in ("remove", "prune", "prune_with_loop", "disconnect"):
        c.add_child_rule(S.D)
    before = everything(flow)
    shape_before = rows(flow)
    do = {
        "add": lambda: c.add_child_rule(S.D),
        "connect": lambda: e.connect_child(a),
        "disconnect": lambda: e.disconnect_child(a),
        "remove": lambda: edits.remove(data_of(flow, S.D).node),
        "prune": lambda: edits.prune(c.node),
        "prune_with_loop": lambda: edits.prune(e.node),
        "rename_flow": lambda: edits.rename_flow(flow, "renamed"),
    }[operation]
    do()
    after = rows(flow)
    assert after != shape_before or operation == "rename_flow"
    done = edits.undo(flow)
    assert rows(flow) == shape_before
    assert done.edit.undone and done.revision == before["rev"] + 2
    flow.refresh_from_db()
    assert flow.name == "f"
    edits.redo(flow)
    assert rows(flow) == after
    edits.undo(flow)
    assert rows(flow) == shape_before
    check_invariants(flow.state_graph)
    assert [op for _, op in log(flow)][-3:] == ["undo", "redo", "undo"]


def test_undo_insert() -> None:
    chains = RuleSet.factory("chains", T.Chain)
    flow = Flow.factory("chain", chains)
    one = flow.root_data.add_child_rule(T.Chain)
    one.add_child_rule(T.Chain)
    before = rows(flow)
    flow.root_data.insert_between(one, T.Chain)
    after = rows(flow)
    edits.undo(flow)
    assert rows(flow) == before
    edits.redo(flow)
    assert rows(flow) == after
    edits.undo(flow)
    assert rows(flow) == before


def test_undo_several_then_redo_in_order(flow: Flow) -> None:
    start = rows(flow)
    edits.remove(data_of(flow, S.D).node)
    middle = rows(flow)
    edits.prune(data_of(flow, S.C).node)
    end = rows(flow)
    edits.undo(flow)
    edits.undo(flow)
    assert rows(flow) == start
    edits.redo(flow)
    assert rows(flow) == middle
    edits.redo(flow)
    assert rows(flow) == end
    with pytest.raises(NothingToRedo):
        edits.redo(flow)


def test_a_new_edit_clears_the_redo_chain(flow: Flow) -> None:
    edits.remove(data_of(flow, S.D).node)
    edits.undo(flow)
    assert FlowEdit.objects.filter(flow=flow, redoable=True).count() == 1
    data_of(flow, S.E).disconnect_child(flow.root_data)
    before = everything(flow)
    with pytest.raises(NothingToRedo, match="Nothing to redo"):
        edits.redo(flow)
    assert everything(flow) == before


def test_nothing_to_undo(rule_set: RuleSet) -> None:
    flow = Flow.factory("f", rule_set)
    with pytest.raises(NothingToUndo, match="Nothing to undo in flow 'f'"):
        edits.undo(flow)


def test_undo_refused_by_the_rules_with_the_reason(rule_set: RuleSet, monkeypatch: pytest.MonkeyPatch) -> None:
    flow = Flow.factory("f", rule_set)
    c = flow.root_data.add_child_rule(S.C)
    c.add_child_rule(S.D)
    edits.undo(flow)
    monkeypatch.setattr(S.C, "children", [S.E])  # the rules in code changed since
    before = everything(flow)
    with pytest.raises(RuleNotAllowed) as caught:
        edits.redo(flow)
    assert str(caught.value).startswith("Cannot redo add D under C: ") and "may not follow rule C" in str(caught.value)
    assert everything(flow) == before


def test_undo_of_a_frozen_flow_is_refused(flow: Flow) -> None:
    State.start(flow)
    before = everything(flow)
    with pytest.raises(FlowFrozen):
        edits.undo(flow)
    assert everything(flow) == before


# -- two editors ---------------------------------------------------------------------------


def test_a_stale_revision_that_conflicts_is_refused(flow: Flow) -> None:
    seen = flow.revision
    d = data_of(flow, S.D)
    with edits.acting(User.objects.create_user("ann")):
        edits.remove(d.node)
    before = everything(flow)
    with edits.acting(None, revision=seen), pytest.raises(ConcurrentEdit) as caught:
        data_of(flow, S.C).add_child_rule(S.D)  # C was touched by the removal of D
    message = str(caught.value)
    assert f"Node {data_of(flow, S.C).node_id} was changed by another edit (remove D" in message
    assert "ann" in message and "None" not in message and "null" not in message
    assert everything(flow) == before
    conflict = edits.removed_by_edit(d.node_id, seen)
    assert conflict is not None and str(conflict).startswith(f"Node {d.node_id} (D) was removed by another edit (ann, ")


def test_a_stale_revision_that_does_not_conflict_is_applied(flow: Flow) -> None:
    seen = flow.revision
    data_of(flow, S.E).disconnect_child(flow.root_data)
    with edits.acting(None, revision=seen):
        edits.remove(data_of(flow, S.D).node)  # D, C: not touched by the disconnect
    assert not FlowNodeData.objects.filter(rule_label=S.D.class_label, node__graph_id=flow.state_graph_id).exists()


def test_insert_and_rule_change_refusals_are_rule_not_allowed() -> None:
    """Whatever the child check finds (a second child of the rule, too many
    children), the contract's code is ``rule_not_allowed``, the reason kept."""
    from flowr import policy

    refusal = policy.insert_refusal(T.Wide.class_label, T.Leaf, T.Chain.class_label, [T.Leaf.class_label])
    assert isinstance(refusal, RuleNotAllowed) and refusal.code == "rule_not_allowed"
    assert "already has a child with rule Leaf" in str(refusal)
    refusal = policy.rule_change_refusal(
        T.Leaf2.class_label, T.Leaf, [], [T.Wide.class_label, T.Chain.class_label], node_id=1
    )
    assert isinstance(refusal, RuleNotAllowed) and "does not allow the child rule Chain" in str(refusal)
    assert policy.insert_options(T.Chain.class_label, T.Chain.class_label, []) == (T.Chain,)
