"""The admin of issue 14: delete a link, insert a node, change a rule (each
with its choice page), the edit log with undo / redo on the flow's page,
prune's confirmation naming the nodes above, internal tables hidden."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.urls import reverse

from flowr import sample_rules as S
from flowr.models import Edge, Flow, FlowEdit, FlowNodeData, RuleSet, State
from tests.helpers import check_invariants
from tests.test_admin import admin, build_ae, snapshot
from tests.test_admin_edits import post, refused
from tests.testapp import rules as T

pytestmark = pytest.mark.django_db


def test_disconnect_page_and_post(admin_client: Client) -> None:
    flow, n = build_ae()
    page = admin_client.get(admin("flowr_flow_disconnect", flow.pk, n["C"].node_id)).content.decode()
    assert "Deleting this link would cut D (node" in page  # the refused links say why
    page = admin_client.get(admin("flowr_flow_disconnect", flow.pk, n["E"].node_id)).content.decode()
    assert f'value="{n["A"].node_id}"' in page
    found = post(admin_client, admin("flowr_flow_disconnect", flow.pk, n["E"].node_id), {"choice": n["A"].node_id})
    assert found[0][0] == "success"
    assert not Edge.objects.filter(source=n["E"].node, target=n["A"].node).exists()
    edit = FlowEdit.objects.filter(flow=flow).latest("seq")
    assert edit.operation == "disconnect" and edit.actor_repr == "admin"
    check_invariants(flow.state_graph)


def test_disconnect_refused_changes_nothing(admin_client: Client) -> None:
    flow, n = build_ae()
    before = snapshot(flow)
    found = post(admin_client, admin("flowr_flow_disconnect", flow.pk, n["C"].node_id), {"choice": n["D"].node_id})
    assert refused(found, "would cut D")
    found = post(admin_client, admin("flowr_flow_disconnect", flow.pk, n["C"].node_id), {"choice": "x"})
    assert refused(found, "Choose one of the links offered")
    assert snapshot(flow) == before


def test_insert_page_and_post(admin_client: Client) -> None:
    flow = Flow.factory("chain", RuleSet.factory("chains", T.Chain))
    one = flow.root_data.add_child_rule(T.Chain)
    root = flow.root_data
    page = admin_client.get(admin("flowr_flow_insert", flow.pk, root.node_id)).content.decode()
    choice = f"{one.node_id}:{T.Chain.class_label}"
    assert f'value="{choice}"' in page
    found = post(admin_client, admin("flowr_flow_insert", flow.pk, root.node_id), {"choice": choice})
    assert found[0][0] == "success" and "Inserted" in found[0][1]
    assert FlowNodeData.objects.filter(node__graph_id=flow.state_graph_id).count() == 3
    check_invariants(flow.state_graph)


def test_insert_refused(admin_client: Client) -> None:
    flow, n = build_ae()
    before = snapshot(flow)
    page = admin_client.get(admin("flowr_flow_insert", flow.pk, n["A"].node_id)).content.decode()
    assert "No rule may go between this node and any of its children." in page
    found = post(
        admin_client,
        admin("flowr_flow_insert", flow.pk, n["A"].node_id),
        {"choice": f"{n['C'].node_id}:{S.B.class_label}"},
    )
    assert refused(found, "is not a valid child of rule B")
    assert snapshot(flow) == before


def test_change_rule_page_and_post(admin_client: Client) -> None:
    flow = Flow.factory("f", RuleSet.factory("AE rules", S.A))
    d = flow.root_data.add_child_rule(S.C).add_child_rule(S.D)
    page = admin_client.get(admin("flowr_flow_change_rule", flow.pk, d.node_id)).content.decode()
    assert f'value="{S.E.class_label}"' in page
    found = post(admin_client, admin("flowr_flow_change_rule", flow.pk, d.node_id), {"choice": S.E.class_label})
    assert found[0][0] == "success"
    assert FlowNodeData.objects.get(pk=d.pk).rule_label == S.E.class_label


def test_change_rule_refused(admin_client: Client) -> None:
    flow, n = build_ae()
    before = snapshot(flow)
    page = admin_client.get(admin("flowr_flow_change_rule", flow.pk, n["A"].node_id)).content.decode()
    assert "cannot be changed" in page
    found = post(admin_client, admin("flowr_flow_change_rule", flow.pk, n["C"].node_id), {"choice": S.B.class_label})
    assert refused(found, "does not allow the child rule")
    assert snapshot(flow) == before


def test_edit_log_and_undo_redo_on_the_flow_page(admin_client: Client) -> None:
    flow, n = build_ae()
    page = admin_client.get(admin("flowr_flow_change", flow.pk)).content.decode()
    assert "Edit log" in page and "connect E to A" in page and "Undo: connect E to A" in page
    found = post(admin_client, admin("flowr_flow_undo", flow.pk))
    assert found == [("success", "Undid: connect E to A.")]
    assert not Edge.objects.filter(source=n["E"].node, target=n["A"].node).exists()
    page = admin_client.get(admin("flowr_flow_change", flow.pk)).content.decode()
    assert "Redo: connect E to A" in page and "(undone)" in page
    found = post(admin_client, admin("flowr_flow_redo", flow.pk))
    assert found == [("success", "Redid: connect E to A.")]
    assert Edge.objects.filter(source=n["E"].node, target=n["A"].node).exists()
    found = post(admin_client, admin("flowr_flow_redo", flow.pk))
    assert refused(found, "Nothing to redo")
    assert admin_client.get(admin("flowr_flow_undo", flow.pk)).status_code == 405  # POST only
    assert [e.actor_repr for e in FlowEdit.objects.filter(flow=flow, operation__in=["undo", "redo"])] == ["admin"] * 2


def test_edit_log_is_paged(admin_client: Client) -> None:
    flow, n = build_ae()
    for _ in range(30):
        post(admin_client, admin("flowr_flow_undo", flow.pk))
        post(admin_client, admin("flowr_flow_redo", flow.pk))
    page = admin_client.get(admin("flowr_flow_change", flow.pk)).content.decode()
    assert "page 1 of 2" in page and "edits_page=2" in page
    assert admin_client.get(admin("flowr_flow_change", flow.pk) + "?edits_page=2").status_code == 200


def test_undo_needs_the_change_permission(client: Client) -> None:
    flow, _ = build_ae()
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    from django.contrib.auth.models import Permission

    user.user_permissions.set(Permission.objects.filter(codename="view_flow"))
    client.force_login(user)
    before = snapshot(flow)
    assert client.post(admin("flowr_flow_undo", flow.pk)).status_code == 403
    assert snapshot(flow) == before


def test_undo_on_a_frozen_flow_is_refused(admin_client: Client) -> None:
    flow, _ = build_ae()
    State.start(flow)
    before = snapshot(flow)
    assert refused(post(admin_client, admin("flowr_flow_undo", flow.pk)), "frozen")
    assert snapshot(flow) == before


def test_prune_confirmation_marks_the_nodes_above(admin_client: Client) -> None:
    flow = Flow.factory("chain", RuleSet.factory("chains", T.Chain))
    one = flow.root_data.add_child_rule(T.Chain)
    two = one.add_child_rule(T.Chain)
    two.add_child_rule(T.Chain).connect_child(one)
    page = admin_client.get(admin("flowr_flow_prune", flow.pk, two.node_id)).content.decode()
    assert f"#{one.node_id} Chain (above #{two.node_id} Chain: also removed because Chain loops back to it)" in page


def test_internal_tables_are_hidden_from_the_index(admin_client: Client) -> None:
    page = admin_client.get(reverse("admin:index")).content.decode()
    for hidden in ("flowr/dccgraph/", "flowr/node/", "flowr/flownodedata/"):
        assert hidden not in page
    assert "flowr/flow/" in page
    with override_settings(FLOWR={"ADMIN_SHOW_INTERNALS": True}):
        page = admin_client.get(reverse("admin:index")).content.decode()
    for shown in ("flowr/dccgraph/", "flowr/node/", "flowr/flownodedata/"):
        assert shown in page


def test_internal_tables_name_graphs_and_roots_readably(admin_client: Client) -> None:
    flow, n = build_ae()
    graph = flow.state_graph_id
    nodes = admin_client.get(reverse("admin:flowr_node_changelist")).content.decode()
    graphs = admin_client.get(reverse("admin:flowr_dccgraph_changelist")).content.decode()
    assert f"graph {graph} (flow AE)" in nodes and "DCCGraph(id=" not in nodes
    assert f"#{n['A'].node_id} A" in graphs and "Node(id=" not in graphs


def test_issue14_pages_and_messages_in_french(admin_client: Client) -> None:
    flow, n = build_ae()
    with override_settings(LANGUAGE_CODE="fr"):
        page = admin_client.get(admin("flowr_flow_change", flow.pk)).content.decode()
        assert "Journal des modifications" in page and "Annuler : connect E to A" in page
        assert "supprimer un lien…" in page and "insérer après…" in page and "changer la règle…" in page
        assert "Edit log" not in page and "delete a link…" not in page
        page = admin_client.get(admin("flowr_flow_disconnect", flow.pk, n["C"].node_id)).content.decode()
        assert "Rien ne peut être fait ici." in page and "Rien n'a été modifié." in page
        assert f"Supprimer ce lien couperait D (nœud {n['D'].node_id}) de la racine" in page
        page = admin_client.get(admin("flowr_flow_disconnect", flow.pk, n["E"].node_id)).content.decode()
        assert "Supprimer un lien de #" in page and "Oui, supprimer le lien" in page
        assert f"vers #{n['A'].node_id} A (lien)" in page and "Non, revenir" in page
        found = post(admin_client, admin("flowr_flow_disconnect", flow.pk, n["C"].node_id), {"choice": "x"})
        assert refused(found, "Choisissez un des liens proposés.")
        found = post(admin_client, admin("flowr_flow_undo", flow.pk))
        assert found == [("success", "Annulé : connect E to A.")]
        page = admin_client.get(admin("flowr_flow_change", flow.pk)).content.decode()
        assert "Rétablir : connect E to A" in page and "(annulée)" in page
