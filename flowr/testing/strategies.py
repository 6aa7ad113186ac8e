"""hypothesis strategies: every flow a rule set allows, and walks through a flow.

Needs hypothesis (``pip install django-flowr[testing]``).  Both strategies
touch the database: use them in a test with database access, e.g. a
pytest-django test with ``@settings(deadline=None,
suppress_health_check=[HealthCheck.function_scoped_fixture])`` (the flows of
all examples then live in the test's transaction) or a
``hypothesis.extra.django.TestCase``.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from flowr import policy
from flowr.models import Edge, Flow, FlowNodeData, RuleSet
from flowr.rules import Rule
from flowr.testing.kit import RuleSetLike, _rule_set


@dataclass(frozen=True)
class _Add:
    parent: int  # index in the nodes built
    rule: type[Rule]


@dataclass(frozen=True)
class _Connect:
    source: int
    target: int


def _options(
    nodes: list[FlowNodeData], children: list[list[str]], edges: set[tuple[int, int]], room: bool, connects: bool
) -> list[_Add | _Connect]:
    """Every edit the policy allows now (adds while there is room)."""
    options: list[_Add | _Connect] = []
    for i, node in enumerate(nodes):
        allowed = policy.child_options(node.rule_label, children[i]).allowed
        if room:
            options.extend(_Add(i, rule) for rule in allowed)
        if connects and allowed:
            for j, target in enumerate(nodes):
                if (i, j) in edges:
                    continue
                refusal = policy.child_refusal(node.rule_label, target.rule_label, len(children[i]), set(children[i]))
                if refusal is None:
                    options.append(_Connect(i, j))
    return options


def flows(
    rule_set: RuleSetLike, *, max_nodes: int = 8, connects: bool = True, name: str = "generated"
) -> st.SearchStrategy[Flow]:
    """Flows of ``rule_set`` (a RuleSet, or a root Rule: a rule set is then
    made for each flow), of at most ``max_nodes`` nodes.

    Each flow starts as the root and grows by edits the policy allows
    (:func:`flowr.policy.child_options` / :func:`flowr.policy.child_refusal`):
    adding a child of an allowed rule, or, with ``connects``, connecting a
    node to an existing node of an allowed rule (loops and joins).  The
    edits go through the edit service (``add_child_rule``,
    ``connect_child``), so every flow a user could build by adding and
    connecting can come out; shrinking gives smaller flows.
    """

    @st.composite
    def build(draw: st.DrawFn) -> Flow:
        rules = rule_set if isinstance(rule_set, RuleSet) else _rule_set(rule_set, name)
        flow = Flow.factory(name, rules)
        nodes = [flow.root_data]
        children: list[list[str]] = [[]]
        edges: set[tuple[int, int]] = set()
        while True:
            options = _options(nodes, children, edges, len(nodes) < max_nodes, connects)
            if not options or draw(st.integers(min_value=0, max_value=4)) == 0:
                return flow
            edit = draw(st.sampled_from(options))
            if isinstance(edit, _Add):
                nodes.append(nodes[edit.parent].add_child_rule(edit.rule))
                children.append([])
                children[edit.parent].append(edit.rule.class_label)
                edges.add((edit.parent, len(nodes) - 1))
            else:
                nodes[edit.source].connect_child(nodes[edit.target])
                children[edit.source].append(nodes[edit.target].rule_label)
                edges.add((edit.source, edit.target))

    return build()


def walks(flow: Flow, *, max_steps: int = 10) -> st.SearchStrategy[list[str]]:
    """Paths through ``flow`` from its root: lists of the rule labels to
    pass to ``next_state`` (or :func:`flowr.testing.run_path`) one after the
    other, at most ``max_steps`` long, stopping anywhere (at an end node at
    the latest).

    Guards aside: a walk follows the flow's edges, so ``next_state``
    accepts every step unless a guard (``can_leave``/``can_enter``) vetoes
    it -- which is what a test of guards wants to see.  The flow's shape is
    read once, when the strategy is made.
    """
    data = {d.node_id: d for d in flow.nodes_data()}
    out: dict[int, list[int]] = {node_id: [] for node_id in data}
    for source, target in (
        Edge.objects.filter(graph_id=flow.state_graph_id).order_by("target_id").values_list("source_id", "target_id")
    ):
        out[source].append(target)
    root = flow.root_data.node_id

    @st.composite
    def walk(draw: st.DrawFn) -> list[str]:
        steps: list[str] = []
        at = root
        while len(steps) < max_steps and out[at] and draw(st.integers(min_value=0, max_value=4)) != 0:
            at = draw(st.sampled_from(out[at]))
            steps.append(data[at].rule_label)
        return steps

    return walk()
