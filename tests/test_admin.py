"""flowr's admin: every page, missing rules, query counts, links, permissions."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from flowr import sample_rules as S
from flowr.models import Edge, Flow, FlowNodeData, Node, RuleSet, State, StateHistory
from flowr.readmodel import FlowGraph
from tests.testapp.models import Ticket

pytestmark = pytest.mark.django_db

GONE = "tests.gone.VanishedRule"


# -- fixtures ------------------------------------------------------------------------
def build_ae(name: str = "AE") -> tuple[Flow, dict[str, FlowNodeData]]:
    """0.2's sample: A -> C, C -> D and E, E -> A (a loop)."""
    rule_set = RuleSet.objects.filter(root_rule_label=S.A.class_label).first() or RuleSet.factory("AE rules", S.A)
    flow = Flow.factory(name, rule_set)
    a = flow.root_data
    c = a.add_child_rule(S.C)
    d = c.add_child_rule(S.D)
    e = c.add_child_rule(S.E)
    e.connect_child(a)
    return flow, {"A": a, "C": c, "D": d, "E": e}


def build_running() -> State:
    """A second A-E flow with a State at C (where it branches)."""
    flow, _ = build_ae("AE running")
    state = State.start(flow)
    state.next_state()
    return state


@pytest.fixture
def ae() -> tuple[Flow, dict[str, FlowNodeData]]:
    return build_ae()


@pytest.fixture
def running(ae: tuple[Flow, dict[str, FlowNodeData]]) -> State:
    return build_running()


def snapshot(flow: Flow) -> tuple[Any, ...]:
    """Everything an edit of ``flow`` could change."""
    graph = flow.state_graph_id
    return (
        sorted(Node.objects.filter(graph_id=graph).values_list("pk", "graph_id")),
        sorted(Edge.objects.filter(graph_id=graph).values_list("source_id", "target_id", "backbone")),
        sorted(FlowNodeData.objects.filter(node__graph_id=graph).values_list("pk", "rule_label")),
        sorted(State.objects.values_list("pk", "current_node_id", "version")),
        Flow.objects.count(),
    )


def admin(name: str, *args: Any) -> str:
    return reverse(f"admin:{name}", args=args)


# -- every page is there -----------------------------------------------------------------
def page_urls(flow: Flow, nodes: dict[str, FlowNodeData], state: State) -> list[str]:
    node = nodes["D"]
    history = StateHistory.objects.filter(state=state).first()
    assert history is not None
    return [
        reverse("admin:index"),
        reverse("admin:app_list", args=["flowr"]),
        admin("flowr_ruleset_changelist"),
        admin("flowr_ruleset_add"),
        admin("flowr_ruleset_change", flow.rule_set_id),
        admin("flowr_flow_changelist"),
        admin("flowr_flow_changelist") + f"?rule_set__id__exact={flow.rule_set_id}&q=AE",
        admin("flowr_flow_add"),
        admin("flowr_flow_add") + f"?rule_set={flow.rule_set_id}",
        admin("flowr_flow_change", flow.pk),
        admin("flowr_flow_change", state.flow_id),
        admin("flowr_flow_remove", flow.pk, nodes["D"].node_id),
        admin("flowr_flow_remove", flow.pk, nodes["C"].node_id),
        admin("flowr_flow_remove", flow.pk, nodes["A"].node_id),
        admin("flowr_flow_prune", flow.pk, nodes["C"].node_id),
        admin("flowr_flow_prune", flow.pk, nodes["A"].node_id),
        admin("flowr_flow_export", flow.pk),
        admin("flowr_state_changelist"),
        admin("flowr_state_changelist") + f"?flow__id__exact={state.flow_id}",
        admin("flowr_state_changelist") + f"?flow__rule_set__id__exact={flow.rule_set_id}",
        admin("flowr_state_add"),
        admin("flowr_state_add") + f"?flow={flow.pk}",
        admin("flowr_state_change", state.pk),
        admin("flowr_state_advance", state.pk),
        admin("flowr_statehistory_changelist"),
        admin("flowr_statehistory_change", history.pk),
        admin("flowr_flownodedata_changelist"),
        admin("flowr_flownodedata_changelist") + f"?flow={flow.state_graph_id}",
        admin("flowr_flownodedata_change", node.pk),
        admin("flowr_node_changelist"),
        admin("flowr_node_changelist") + f"?flow={flow.state_graph_id}",
        admin("flowr_node_change", node.node_id),
        admin("flowr_dccgraph_changelist"),
        admin("flowr_dccgraph_change", flow.state_graph_id),
    ]


def test_every_admin_page_is_200_for_a_superuser(
    admin_client: Client, ae: tuple[Flow, dict[str, FlowNodeData]], running: State
) -> None:
    flow, nodes = ae
    for url in page_urls(flow, nodes, running):
        response = admin_client.get(url)
        assert response.status_code == 200, url


def test_the_state_page_offers_its_moves_not_save_buttons(admin_client: Client, running: State) -> None:
    page = admin_client.get(admin("flowr_state_change", running.pk)).content.decode()
    for tool in ("flowr_state_advance", "flowr_state_jump", "flowr_state_cancel", "flowr_state_delete"):
        assert f'href="{admin(tool, running.pk)}"' in page, tool
    for button in ('name="_save"', 'name="_continue"', 'name="_addanother"'):
        assert button not in page
    assert '<div class="readonly"><a class="button"' not in page  # no empty-labelled advance row


def test_a_missing_rule_shows_as_missing_everywhere(
    admin_client: Client, ae: tuple[Flow, dict[str, FlowNodeData]], running: State
) -> None:
    flow, nodes = ae
    FlowNodeData.objects.filter(pk__in=[nodes["D"].pk, running.current_node_id]).update(rule_label=GONE)
    RuleSet.objects.filter(pk=flow.rule_set_id).update(root_rule_label=GONE)
    for url in page_urls(flow, nodes, running):
        response = admin_client.get(url)
        assert response.status_code == 200, url
    for url in [
        admin("flowr_flow_change", flow.pk),
        admin("flowr_ruleset_changelist"),
        admin("flowr_state_changelist"),
        admin("flowr_state_advance", running.pk),
        admin("flowr_flownodedata_changelist"),
        admin("flowr_node_changelist"),
    ]:
        assert f"missing: {GONE}" in admin_client.get(url).content.decode(), url


def test_the_flow_page_shows_the_tree_links_and_unused_rules(
    admin_client: Client, ae: tuple[Flow, dict[str, FlowNodeData]]
) -> None:
    flow, nodes = ae
    html = admin_client.get(admin("flowr_flow_change", flow.pk)).content.decode()
    order = [html.index(f"#{nodes[name].node_id} {name}</span>") for name in "ACDE"]
    assert order == sorted(order), "nodes in tree order"
    assert 'style="padding-left: 4em"' in html  # D and E are indented under C
    assert f"↪ #{nodes['A'].node_id} A" in html and "(loop)" in html
    assert "Rule A allows only one child; this node is full." in html  # B is allowed but unused
    assert "remove…" in html and "prune…" in html


def test_new_flow_forms_offer_only_allowed_rules(admin_client: Client) -> None:
    flow = Flow.factory("fresh", RuleSet.factory("AE", S.A))
    html = admin_client.get(admin("flowr_flow_change", flow.pk)).content.decode()
    add = html[html.index('name="rule"') : html.index("</select>", html.index('name="rule"'))]
    assert S.B.class_label in add and S.C.class_label in add
    assert S.D.class_label not in add


# -- links to the other surfaces ------------------------------------------------------------
def test_links_to_the_editor_rule_graph_and_new_flow(
    admin_client: Client, ae: tuple[Flow, dict[str, FlowNodeData]]
) -> None:
    flow, _ = ae
    graph = reverse("flowr:rule_set_graph", kwargs={"pk": flow.rule_set_id})
    editor = reverse("flowr:flow_editor", kwargs={"pk": flow.pk})
    rule_sets = admin_client.get(admin("flowr_ruleset_changelist")).content.decode()
    assert graph in rule_sets and "view rule graph" in rule_sets
    assert f"{admin('flowr_flow_add')}?rule_set={flow.rule_set_id}" in rule_sets
    assert graph in admin_client.get(admin("flowr_ruleset_change", flow.rule_set_id)).content.decode()
    flows = admin_client.get(admin("flowr_flow_changelist")).content.decode()
    assert editor in flows and "open editor" in flows
    page = admin_client.get(admin("flowr_flow_change", flow.pk)).content.decode()
    assert editor in page and admin("flowr_flow_export", flow.pk) in page


def test_family_versions_are_listed(admin_client: Client, running: State) -> None:
    flow = running.flow
    copy = flow.clone()
    html = admin_client.get(admin("flowr_flow_change", copy.pk)).content.decode()
    assert "Versions of this flow" in html and admin("flowr_flow_change", flow.pk) in html
    assert "v2 (this one)" in html


def test_rule_set_is_created_from_a_select_never_a_typed_path(admin_client: Client) -> None:
    html = admin_client.get(admin("flowr_ruleset_add")).content.decode()
    assert '<select name="root_rule_label"' in html and f'value="{S.A.class_label}"' in html
    response = admin_client.post(admin("flowr_ruleset_add"), {"name": "evil", "root_rule_label": "os.system"})
    assert response.status_code == 200 and not RuleSet.objects.exists()
    response = admin_client.post(admin("flowr_ruleset_add"), {"name": "AE", "root_rule_label": S.A.class_label})
    assert response.status_code == 302
    assert RuleSet.objects.get().root_rule is S.A


def test_root_rule_is_fixed_once_flows_use_the_rule_set(
    admin_client: Client, ae: tuple[Flow, dict[str, FlowNodeData]]
) -> None:
    flow, _ = ae
    url = admin("flowr_ruleset_change", flow.rule_set_id)
    response = admin_client.post(url, {"name": "renamed", "root_rule_label": S.C.class_label})
    assert response.status_code == 302
    rule_set = RuleSet.objects.get(pk=flow.rule_set_id)
    assert rule_set.name == "renamed" and rule_set.root_rule is S.A


def test_adding_a_flow_creates_its_root_node(admin_client: Client) -> None:
    rule_set = RuleSet.factory("AE", S.A)
    response = admin_client.post(admin("flowr_flow_add"), {"name": "new", "rule_set": rule_set.pk})
    assert response.status_code == 302
    flow = Flow.objects.get()
    assert flow.root_data.rule is S.A and flow.name == "new"


def test_adding_a_flow_on_a_rule_set_whose_root_is_missing_is_a_form_error(admin_client: Client) -> None:
    rule_set = RuleSet.factory("AE", S.A)
    RuleSet.objects.filter(pk=rule_set.pk).update(root_rule_label=GONE)
    response = admin_client.post(admin("flowr_flow_add"), {"name": "new", "rule_set": rule_set.pk})
    assert response.status_code == 200 and "is missing" in response.content.decode()
    assert not Flow.objects.exists()


# -- constant queries on changelists ---------------------------------------------------------
def make_rows(count: int) -> None:
    """``count`` rule sets, flows (two nodes each), States and history rows."""
    for i in range(count):
        flow = Flow.factory(f"flow {i}", RuleSet.factory(f"rules {i}", S.A))
        flow.root_data.add_child_rule(S.C)
        state = State.start(flow, subject=Ticket.objects.create(title=f"ticket {i}") if i % 2 else None)
        state.next_state()


# changelist -> most queries it may make, for 5 rows as for 50: session, user,
# the count(s), the rows (related rows joined or prefetched), the filters
CHANGELISTS = {
    "flowr_ruleset_changelist": 5,
    "flowr_flow_changelist": 6,
    "flowr_state_changelist": 8,  # + one query per subject model (prefetched)
    "flowr_statehistory_changelist": 5,
    "flowr_flownodedata_changelist": 6,
    "flowr_node_changelist": 6,
    "flowr_dccgraph_changelist": 5,
}


@pytest.mark.parametrize("rows", [5, 50])
@pytest.mark.parametrize("name", CHANGELISTS)
def test_changelists_use_constant_queries(
    admin_client: Client, django_assert_max_num_queries: Callable[..., Any], name: str, rows: int
) -> None:
    make_rows(rows)
    url = admin(name) + "?all="  # one page: every row rendered
    with django_assert_max_num_queries(CHANGELISTS[name]):
        response = admin_client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count >= rows


# -- permissions ------------------------------------------------------------------------------
def post_urls(flow: Flow, nodes: dict[str, FlowNodeData], state: State) -> list[tuple[str, dict[str, Any]]]:
    return [
        (admin("flowr_flow_add_child", flow.pk, nodes["A"].node_id), {"rule": S.B.class_label}),
        (admin("flowr_flow_connect", flow.pk, nodes["D"].node_id), {"target": nodes["A"].node_id}),
        (admin("flowr_flow_remove", flow.pk, nodes["D"].node_id), {}),
        (admin("flowr_flow_prune", flow.pk, nodes["C"].node_id), {}),
        (admin("flowr_flow_clone", flow.pk), {}),
        (
            admin("flowr_state_advance", state.pk),
            {"expected_node": state.current_node.node_id, "expected_version": state.version, "rule": S.E.class_label},
        ),
        (admin("flowr_state_add"), {"flow": flow.pk}),
        (admin("flowr_flow_changelist"), {"action": "clone_flows", "_selected_action": [flow.pk]}),
        (admin("flowr_ruleset_add"), {"name": "x", "root_rule_label": S.A.class_label}),
    ]


def staff(perms: list[str] | None = None) -> Client:
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    for codename in perms or []:
        user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label="flowr"))
    client = Client()
    client.force_login(user)
    return client


def assert_sees_and_changes_nothing(
    client: Client, flow: Flow, nodes: dict[str, FlowNodeData], state: State, ok_statuses: set[int]
) -> None:
    before = (snapshot(flow), RuleSet.objects.count())
    for url in page_urls(flow, nodes, state)[1:]:
        response = client.get(url)
        assert response.status_code in ok_statuses, (url, response.status_code)
    for url, data in post_urls(flow, nodes, state):
        response = client.post(url, data)
        assert response.status_code in ok_statuses, (url, response.status_code)
    assert (snapshot(flow), RuleSet.objects.count()) == before


def test_anonymous_users_see_and_change_nothing(ae: tuple[Flow, dict[str, FlowNodeData]], running: State) -> None:
    flow, nodes = ae
    client = Client()
    assert_sees_and_changes_nothing(client, flow, nodes, running, {302})
    assert client.get(admin("flowr_flow_changelist"))["Location"].startswith(reverse("admin:login"))


def test_non_staff_users_see_and_change_nothing(ae: tuple[Flow, dict[str, FlowNodeData]], running: State) -> None:
    flow, nodes = ae
    client = Client()
    client.force_login(User.objects.create_user("user", password="pw"))
    assert_sees_and_changes_nothing(client, flow, nodes, running, {302})


def test_staff_without_flowr_permissions_see_and_change_nothing(
    ae: tuple[Flow, dict[str, FlowNodeData]], running: State
) -> None:
    flow, nodes = ae
    client = staff()
    assert_sees_and_changes_nothing(client, flow, nodes, running, {403, 404})
    assert "Flowr" not in client.get(reverse("admin:index")).content.decode()


def test_staff_with_view_permissions_see_but_change_nothing(
    ae: tuple[Flow, dict[str, FlowNodeData]], running: State
) -> None:
    flow, nodes = ae
    client = staff(["view_flow", "view_state", "view_ruleset"])
    assert client.get(admin("flowr_flow_change", flow.pk)).status_code == 200
    html = client.get(admin("flowr_flow_change", flow.pk)).content.decode()
    assert "add child" not in html and "prune…" not in html
    before = snapshot(flow)
    for url, data in post_urls(flow, nodes, running)[:7]:
        assert client.post(url, data).status_code == 403, url
    assert snapshot(flow) == before


def test_mutations_need_the_csrf_token(ae: tuple[Flow, dict[str, FlowNodeData]], admin_user: User) -> None:
    flow, nodes = ae
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    before = snapshot(flow)
    response = client.post(admin("flowr_flow_prune", flow.pk, nodes["C"].node_id))
    assert response.status_code == 403
    assert snapshot(flow) == before


# -- nodes as a tree ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["flowr_node_changelist", "flowr_flownodedata_changelist"])
def test_node_changelists_filtered_by_a_flow_show_its_tree_indented(
    admin_client: Client, django_assert_max_num_queries: Callable[..., Any], monkeypatch: Any, name: str
) -> None:
    """One flow's nodes in tree order (preorder, children in creation order),
    indented by backbone depth, a page at a time, in constant queries."""
    from django.contrib import admin as django_admin

    flow = Flow.factory("tree", RuleSet.factory("tree", S.A))
    root = flow.root_data
    c = root.add_child_rule(S.C)
    e = c.add_child_rule(S.E)
    d = c.add_child_rule(S.D)
    a2 = e.add_child_rule(S.A)  # made last, yet before D in tree order
    a2.connect_child(c)  # a loop changes nothing of the tree
    other = Flow.factory("other", RuleSet.factory("other", S.A))
    other.root_data.add_child_rule(S.C)
    expected = [(root.node_id, 1), (c.node_id, 2), (e.node_id, 3), (a2.node_id, 4), (d.node_id, 3)]
    node = (lambda obj: obj.pk) if name == "flowr_node_changelist" else (lambda obj: obj.node_id)
    url = admin(name) + f"?flow={flow.state_graph_id}"
    with django_assert_max_num_queries(CHANGELISTS[name]):
        response = admin_client.get(url)
    assert response.status_code == 200
    assert [(node(obj), obj._depth) for obj in response.context["cl"].result_list] == expected
    assert "padding-left: 6em" in response.content.decode()  # depth 4
    model = Node if name == "flowr_node_changelist" else FlowNodeData
    monkeypatch.setattr(django_admin.site._registry[model], "list_per_page", 2)
    with django_assert_max_num_queries(CHANGELISTS[name]):
        page = admin_client.get(url + "&p=2")
    assert page.status_code == 200
    assert [(node(obj), obj._depth) for obj in page.context["cl"].result_list] == expected[2:4]
    assert page.context["cl"].result_count == 5


# -- big flows --------------------------------------------------------------------------------
def big_flow(size: int) -> Flow:
    """``size`` nodes: a Wide -> Leaf -> Wide ... chain, every 10th Wide with a
    Chain child too; each Wide has room for a Leaf2 and (most) a Chain, and
    hundreds of Chain nodes to connect to."""
    from flowr import edits
    from tests.testapp.rules import Chain, Leaf, Wide

    parents: list[int | None] = [None]
    labels = [Wide.class_label]
    spine = wides = 0
    while len(labels) < size:
        if labels[spine] == Wide.class_label:
            wides += 1
            if wides % 10 == 1 and len(labels) + 1 < size:
                parents.append(spine)
                labels.append(Chain.class_label)
        parents.append(spine)
        labels.append(Leaf.class_label if labels[spine] == Wide.class_label else Wide.class_label)
        spine = len(labels) - 1
    graph, _ = edits.bulk_create_graph(FlowNodeData, parents, [{"rule_label": label} for label in labels])
    return Flow.objects.create(name="big", rule_set=RuleSet.factory("wide", Wide), state_graph=graph)


def test_the_flow_page_of_10k_nodes_is_paged_and_small(
    admin_client: Client, django_assert_max_num_queries: Any
) -> None:
    flow = big_flow(10_000)
    url = admin("flowr_flow_change", flow.pk)
    admin_client.get(url)  # warm caches (content types, sessions)
    with django_assert_max_num_queries(16):
        response = admin_client.get(url)
    html = response.content.decode()
    assert len(response.content) < 2_000_000, len(response.content)
    assert html.count('class="flowr-node"') == 200  # one page of the tree
    assert "Nodes 1–200 of 10000" in html
    assert "connect…" in html  # hundreds of targets: the node's own page offers them
    assert html.count("<option") < 200 * 4  # add-child selects only: a few rules each
    with django_assert_max_num_queries(16):
        last = admin_client.get(url, {"tree_page": 50}).content.decode()
    assert last.count('class="flowr-node"') == 200 and "Nodes 9801–10000 of 10000" in last
    assert admin_client.get(url, {"tree_page": "²"}).status_code == 200  # a bad page number is page 1


def test_a_rows_connect_page_lists_what_the_policy_allows(admin_client: Client) -> None:
    from tests.testapp.rules import Chain

    flow = big_flow(2000)
    graph = FlowGraph.load(flow)
    node = next(
        pk for pk in graph.labels if len(graph.children(pk)) == 1 and graph.rule(graph.labels[pk]).multiple_paths
    )
    targets = graph.connect_targets(node)
    assert len(targets) > 25 and {graph.labels[t] for t in targets} == {Chain.class_label}
    html = admin_client.get(admin("flowr_flow_connect_choose", flow.pk, node)).content.decode()
    offered = [int(v) for v in re.findall(r'<option value="(\d+)"', html)]
    assert offered == targets
    assert f'action="{admin("flowr_flow_connect", flow.pk, node)}"' in html


def test_a_connect_page_says_why_nothing_can_be_connected(admin_client: Client, running: State) -> None:
    flow = running.flow
    data = running.current_node
    html = admin_client.get(admin("flowr_flow_connect_choose", flow.pk, data.node_id)).content.decode()
    assert "is frozen" in html and "<select" not in html
    fresh = Flow.factory("fresh", RuleSet.factory("leaf", S.B))  # B has no child rules
    root = fresh.root_data
    html = admin_client.get(admin("flowr_flow_connect_choose", fresh.pk, root.node_id)).content.decode()
    assert "has no child rules" in html and "<select" not in html


def test_a_connect_page_needs_the_change_permission(client: Client, ae: tuple[Flow, dict[str, FlowNodeData]]) -> None:
    flow, nodes = ae
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_flow"))
    client.force_login(viewer)
    response = client.get(admin("flowr_flow_connect_choose", flow.pk, nodes["D"].node_id))
    assert response.status_code == 403


def test_a_view_only_user_is_not_offered_the_editor(client: Client, ae: tuple[Flow, dict[str, FlowNodeData]]) -> None:
    flow, _ = ae
    viewer = User.objects.create_user("viewer2", password="pw", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_flow"))
    client.force_login(viewer)
    html = client.get(admin("flowr_flow_change", flow.pk)).content.decode()
    assert "open editor" not in html
