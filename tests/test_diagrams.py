"""DOT and Mermaid diagrams of flows and rule sets (golden texts)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from flowr import rules
from flowr import sample_rules as sr
from flowr.export import (
    dot_escape,
    flow_to_dot,
    flow_to_mermaid,
    mermaid_escape,
    rule_set_to_dot,
    rule_set_to_mermaid,
)
from flowr.models import Flow, FlowNodeData, RuleSet, State
from flowr.rules import Rule

pytestmark = pytest.mark.django_db

GOLDEN = Path(__file__).parent / "golden"
# FLOWR_UPDATE_GOLDEN=1 rewrites the golden files (review the diff!)
UPDATE = os.environ.get("FLOWR_UPDATE_GOLDEN") == "1"


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.fixture
def sample() -> Flow:
    """A -> C -> D, E (C branches); E -> A loops."""
    rs = RuleSet.factory("Sample rules", sr.A)
    flow = Flow.factory_from_rules("Sample flow", rs, [({"rule": sr.C}, [({"rule": sr.D}, []), ({"rule": sr.E}, [])])])
    nodes = {d.rule_name: d for d in flow.nodes_data()}
    nodes["E"].connect_child(nodes["A"])
    return flow


@pytest.fixture
def walked(sample) -> State:
    """A state that went A, C, E, A, C: it sits on C."""
    state = State.start(sample)
    state.next_state().next_state(sr.E).next_state().next_state()
    return state


def test_flow_dot(sample):
    golden("flow_sample.dot", flow_to_dot(sample))


def test_flow_mermaid(sample):
    golden("flow_sample.mmd", flow_to_mermaid(sample))


def test_flow_dot_with_state(sample, walked):
    golden("flow_sample_state.dot", flow_to_dot(sample, state=walked))


def test_flow_mermaid_with_state(sample, walked):
    golden("flow_sample_state.mmd", flow_to_mermaid(sample, state=walked))


def test_state_that_just_started_marks_root_only(sample):
    state = State.start(sample)
    text = flow_to_mermaid(sample, state=state)
    assert "class n1 current" in text and "linkStyle" not in text and "visited" not in text.split("classDef visited")[1]
    assert 'n1 [label="A", peripheries=2, style="rounded,filled,bold"' in flow_to_dot(sample, state=state)


def test_rule_set_dot(sample):
    golden("rule_set_sample.dot", rule_set_to_dot(sample.rule_set))


def test_rule_set_mermaid(sample):
    golden("rule_set_sample.mmd", rule_set_to_mermaid(sample.rule_set))


def test_diagrams_are_identical_for_a_clone(sample):
    copy = sample.clone()
    assert flow_to_dot(copy) == flow_to_dot(sample).replace("(v1)", "(v2)")
    assert flow_to_mermaid(copy) == flow_to_mermaid(sample).replace("(v1)", "(v2)")


def test_flow_diagram_query_count_is_constant(sample, walked):
    rs = RuleSet.factory("Chains", sr.A)
    big = Flow.factory_from_rules("big", rs, [({"rule": sr.C}, [({"rule": sr.D}, []), ({"rule": sr.E}, [])])])
    for function in (flow_to_dot, flow_to_mermaid):
        with CaptureQueriesContext(connection) as small:
            function(sample, walked)
        with CaptureQueriesContext(connection) as large:
            function(big, walked)
        assert len(small.captured_queries) == len(large.captured_queries) <= 4


# -- escaping -----------------------------------------------------------------

ODD = 'Say "hi" [x] {y} (z) <b>a|b</b> & #1;\nnext\\line'


def test_dot_escape():
    assert dot_escape(ODD) == 'Say \\"hi\\" [x] {y} (z) <b>a|b</b> & #1;\\nnext\\\\line'
    assert dot_escape("a\r\nb\rc") == "a\\nb\\nc"


def test_mermaid_escape():
    assert mermaid_escape(ODD) == (
        "Say #34;hi#34; #91;x#93; #123;y#125; #40;z#41; #60;b#62;a#124;b#60;/b#62; #38; #35;1#59;<br/>next#92;line"
    )
    for special in '"[]<>{}()|\\\n':
        assert special not in mermaid_escape(ODD).replace("<br/>", "")


@pytest.fixture
def odd_rule():
    """A Rule whose class name holds every character that needs escaping."""
    name = 'Odd "rule" [1] <x>\nend'
    cls = type(name, (Rule,), {"__qualname__": name, "__module__": __name__, "children": []})
    yield cls
    rules._registry.pop(cls.class_label, None)


def test_odd_names_are_escaped(odd_rule):
    rs = RuleSet.factory('Set "odd" [1] <x>\nline', odd_rule)
    flow = Flow.factory('Flow "odd" [2] <y>\nline', rs)
    dot = flow_to_dot(flow)
    assert 'digraph "Flow \\"odd\\" [2] <y>\\nline (v1)" {' in dot
    assert 'n1 [label="Odd \\"rule\\" [1] <x>\\nend", peripheries=2];' in dot
    assert "\nline" not in dot and "\nend" not in dot
    mermaid = flow_to_mermaid(flow)
    assert 'title: "Flow \\"odd\\" [2] <y>\\nline (v1)"' in mermaid
    assert 'n1(["Odd #34;rule#34; #91;1#93; #60;x#62;<br/>end"])' in mermaid
    assert 'r1(["Odd #34;rule#34; #91;1#93; #60;x#62;<br/>end"])' in rule_set_to_mermaid(rs)
    assert 'r1 [label="Odd \\"rule\\" [1] <x>\\nend", peripheries=2];' in rule_set_to_dot(rs)
    assert 'digraph "Set \\"odd\\" [1] <x>\\nline" {' in rule_set_to_dot(rs)


def test_missing_rules_are_drawn_not_raised(sample):
    FlowNodeData.objects.filter(node__graph_id=sample.state_graph_id, rule_label=sr.D.class_label).update(
        rule_label="flowr.sample_rules.Gone"
    )
    assert 'label="Gone (missing rule)"' in flow_to_dot(sample)
    assert '("Gone #40;missing rule#41;")' in flow_to_mermaid(sample)
    rs = RuleSet.objects.create(name="broken", root_rule_label="nowhere.Root")
    assert 'r1 [label="Root (missing rule)", peripheries=2];' in rule_set_to_dot(rs)
    assert "Root #40;missing rule#41;" in rule_set_to_mermaid(rs)
