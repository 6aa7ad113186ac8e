"""Every surface gives the policy's answer: for generated rule sets (children
that do not resolve and entries that are not Rules included) and generated
flows, the model, the admin tree, the editor's graph document, the REST API
and the import checker agree at every node on what may be added there.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowr import rules as registry
from flowr.admin.tree import build_tree
from flowr.exceptions import FlowrError
from flowr.export import _load as export_order
from flowr.export import export_flow, validate_document
from flowr.models import Flow, FlowNodeData, RuleSet
from flowr.readmodel import FlowGraph
from flowr.rules import Rule

pytestmark = pytest.mark.django_db(transaction=False)

GONE = "tests.nowhere.Gone"
_counter = itertools.count()

# a rule universe: per rule, its children as indexes (int), "label:i" (the
# same rule by label), "gone" (a label that does not resolve) or "object"
# (not a Rule at all), and multiple_paths
CHILD = st.one_of(
    st.integers(0, 3),
    st.integers(0, 3).map(lambda i: f"label:{i}"),
    st.just("gone"),
    st.just("object"),
)
UNIVERSE = st.lists(st.tuples(st.lists(CHILD, max_size=4), st.booleans()), min_size=2, max_size=4)
# edits: (kind, node position, rule index or node position)
EDITS = st.lists(
    st.tuples(st.sampled_from(["add", "add", "add", "connect"]), st.integers(0, 9), st.integers(0, 9)), max_size=12
)


def make_rules(spec: list[tuple[list[Any], bool]]) -> list[type[Rule]]:
    batch = next(_counter)
    made: list[type[Rule]] = []
    for i, (_, multiple) in enumerate(spec):
        name = f"Gen{batch}x{i}"
        made.append(type(name, (Rule,), {"__module__": __name__, "__qualname__": name, "multiple_paths": multiple}))
    for rule, (children, _) in zip(made, spec, strict=True):
        entries: list[Any] = []
        for child in children:
            if isinstance(child, int):
                entries.append(made[child % len(made)])
            elif child.startswith("label:"):
                entries.append(made[int(child[6:]) % len(made)].class_label)
            elif child == "gone":
                entries.append(GONE)
            else:
                entries.append(object)
        rule.children = entries
    return made


def build_flow(rules: list[type[Rule]], edits: list[tuple[str, int, int]]) -> Flow:
    flow = Flow.factory(f"agree{next(_counter)}", RuleSet.factory("gen", rules[0]))
    nodes = [flow.root_data]
    for kind, at, other in edits:
        data = nodes[at % len(nodes)]
        try:
            if kind == "add":
                nodes.append(data.add_child_rule(rules[other % len(rules)]))
            else:
                data.connect_child(nodes[other % len(nodes)])
        except FlowrError:
            pass  # a refusal: what is compared below is what the surfaces say about the result
    return flow


def candidates(rules: list[type[Rule]]) -> list[str]:
    return [r.class_label for r in rules] + [GONE]


def model_answer(data: FlowNodeData, labels: list[str]) -> dict[str, str | None]:
    answers: dict[str, str | None] = {}
    for label in labels:
        refusal = data.child_refusal(label)
        answers[label] = None if refusal is None else type(refusal).__name__
    return answers


def import_accepts(document: dict[str, Any], node_index: int, label: str) -> bool:
    doc = copy.deepcopy(document)
    doc["nodes"].append({"id": "extra", "rule": label, "data": {}})
    doc["edges"].append({"source": doc["nodes"][node_index]["id"], "target": "extra", "kind": "backbone"})
    return validate_document(doc) == []


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(spec=UNIVERSE, edits=EDITS)
def test_every_surface_gives_the_policys_answer(spec: list[tuple[list[Any], bool]], edits: list[Any]) -> None:
    rules = make_rules(spec)
    client = Client()
    client.force_login(
        User.objects.get_or_create(username="agree", defaults={"is_staff": True, "is_superuser": True})[0]
    )
    try:
        flow = build_flow(rules, edits)
        labels = candidates(rules)
        graph = FlowGraph.load(flow)
        document = graph.as_json()
        columns = document["node_columns"]
        rows = {row[columns.index("node")]: row for row in document["nodes"]}
        tree = {row.node_id: row for row in build_tree(flow, editable=True).rows}
        exported = export_flow(flow)
        assert validate_document(exported) == [], "a flow built through the model imports again"
        position = {data.node_id: i for i, data in enumerate(export_order(flow)[0])}  # the document's node order
        for data in flow.nodes_data():
            pk = data.node_id
            model = model_answer(data, labels)
            allowed = sorted(label for label, why in model.items() if why is None)
            assert sorted(r.class_label for r in data.allowed_child_rules()) == allowed
            # the editor's document and the read model
            option = document["child_options"][rows[pk][columns.index("child_options")]]
            assert sorted(r["label"] for r in option["allowed_child_rules"]) == allowed
            assert (option["full_reason"] is None) == bool(allowed)
            # the admin tree
            form = tree[pk].add_form
            offered = sorted(value for value, _ in form.fields["rule"].choices) if form is not None else []
            assert offered == allowed
            # the API
            body = client.get(f"/flowr/api/nodes/{pk}/").json()
            assert sorted(r["label"] for r in body["allowed_child_rules"]) == allowed
            # the import checker: one more child of each rule under this node
            for label in labels:
                assert import_accepts(exported, position[pk], label) == (model[label] is None), (label, model[label])
    finally:
        for rule in rules:
            registry._registry.pop(rule.class_label, None)
