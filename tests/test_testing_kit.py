"""flowr.testing: the flow text, the builder, run_path / assert_history, the
signal capture and lint_rule_set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowr import policy, testing
from flowr import sample_rules as sr
from flowr.exceptions import (
    ChoiceNotInFlow,
    DuplicateChildRule,
    RuleNotAllowed,
    TooManyChildren,
    TransitionRefused,
)
from flowr.models import Edge, Flow, FlowNodeData, RuleSet, State
from flowr.testing import FlowSpecError, assert_history, build_flow, flow_nodes, lint_rule_set, parse, run_path
from flowr.testing.spec import GroupSpec, LinkSpec, NodeSpec
from tests import kit_lint_rules as lr
from tests import kit_rules as kr
from tests.testapp.models import Ticket
from tests.testapp.rules import Chain, Wide

ROOT = Path(__file__).resolve().parent.parent
TEXT = "Submitted > Review > (Approved | Rejected > @Submitted)"


# -- the text ---------------------------------------------------------------------


def test_parse_a_chain_with_branches_and_a_link():
    assert parse(TEXT) == (
        NodeSpec("Submitted", 0),
        NodeSpec("Review", 12),
        GroupSpec(
            (
                (NodeSpec("Approved", 22),),
                (NodeSpec("Rejected", 33), LinkSpec("Submitted", 44)),
            ),
            21,
        ),
    )


def test_parse_dotted_labels_and_free_whitespace():
    assert parse("  tests.kit_rules.Submitted>Review  ") == (
        NodeSpec("tests.kit_rules.Submitted", 2),
        NodeSpec("Review", 28),
    )


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("", 0, "must start with the root rule's name"),
        ("(A | B)", 0, "must start with the root rule's name"),
        ("A >", 3, "Expected a rule name, '@' or '(', found the end of the text"),
        ("A > > B", 4, "Expected a rule name, '@' or '(', found '>'"),
        ("A > (B | C", 10, "Expected '|' or ')' to close the group opened at position 4"),
        ("A > B)", 5, "Unexpected ')'"),
        ("A B", 2, "Unexpected 'B'"),
        ("A > @B > C", 7, "Nothing can follow a link (@...)"),
        ("A > (B | C) > D", 12, "Nothing can follow a group (...)"),
        ("A > @ > B", 6, "Expected a rule name after '@', found '>'"),
        ("A > B$", 5, "Unexpected character '$'"),
    ],
)
def test_parse_errors_give_the_position(text, position, message):
    with pytest.raises(FlowSpecError) as caught:
        parse(text)
    assert caught.value.position == position
    assert message in caught.value.message
    assert str(caught.value).endswith(f"    {text}\n    {' ' * position}^")


# -- building -----------------------------------------------------------------------


def edges_by_name(flow: Flow) -> set[tuple[str, str]]:
    names = {d.node_id: d.rule_name for d in flow.nodes_data()}
    rows = Edge.objects.filter(graph_id=flow.state_graph_id).values_list("source_id", "target_id")
    return {(names[s], names[t]) for s, t in rows}


@pytest.mark.django_db
def test_build_flow_from_a_root_rule():
    flow = build_flow(kr.Submitted, TEXT, name="claims")
    assert flow.name == "claims" and flow.rule_set.root_rule is kr.Submitted
    assert edges_by_name(flow) == {
        ("Submitted", "Review"),
        ("Review", "Approved"),
        ("Review", "Rejected"),
        ("Rejected", "Submitted"),
    }
    nodes = flow_nodes(flow)
    assert len(nodes) == 4
    assert nodes["Review"].rule is kr.Review
    assert nodes["tests.kit_rules.Approved"] == nodes["Approved"]
    assert flow.root_data == nodes["Submitted"]


@pytest.mark.django_db
def test_build_flow_on_a_rule_set():
    rule_set = RuleSet.factory("sample", sr.A)
    flow = build_flow(rule_set, "A > C > (E > @A | D)")
    assert flow.rule_set == rule_set
    assert edges_by_name(flow) == {("A", "C"), ("C", "E"), ("C", "D"), ("E", "A")}


@pytest.mark.django_db
def test_a_link_may_point_forward_and_names_may_be_labels():
    flow = build_flow(Wide, "Wide > (Leaf2 > @tests.testapp.rules.Chain | Chain)")
    assert edges_by_name(flow) == {("Wide", "Leaf2"), ("Wide", "Chain"), ("Leaf2", "Chain")}
    # two Chain nodes now: a link to "Chain" would be ambiguous
    with pytest.raises(FlowSpecError) as caught:
        build_flow(Wide, "Wide > (Leaf2 > @Chain | Chain > Chain)")
    assert caught.value.position == 16
    assert caught.value.message == "2 nodes of rule Chain to link to"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("Review > Approved", 0, "The flow must start with the root rule Submitted, not 'Review'"),
        (
            "Submitted > Revue",
            12,
            "No rule 'Revue' in this rule set (its rules: Approved, Rejected, Review, Submitted)",
        ),
        ("Submitted > Review > (Approved | @Rejected)", 33, "No node of rule Rejected to link to"),
        ("Submitted > flowr.sample_rules.Nope", 12, "No rule is registered under 'flowr.sample_rules.Nope'"),
    ],
)
def test_build_errors_give_the_position_and_keep_nothing(text, position, message):
    with pytest.raises(FlowSpecError) as caught:
        build_flow(kr.Submitted, text)
    assert (caught.value.position, caught.value.message) == (position, message)
    assert not Flow.objects.exists() and not FlowNodeData.objects.exists() and not RuleSet.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "exception", "position"),
    [
        ("Submitted > Approved", RuleNotAllowed, 12),  # not a child rule of Submitted
        ("Submitted > Review > (Approved | Approved)", DuplicateChildRule, 33),
        ("Submitted > (Review | Review)", TooManyChildren, 22),  # Submitted allows one child
        ("Submitted > flowr.sample_rules.A", RuleNotAllowed, 12),  # a label outside the rule set
        ("Submitted > Review > (Approved > @Review)", RuleNotAllowed, 33),  # Approved has no child rules
    ],
)
def test_refusals_are_the_edit_services_exceptions(text, exception, position):
    with pytest.raises(exception) as caught:
        build_flow(kr.Submitted, text)
    assert caught.value.__notes__ == [f"flowr.testing: building {text!r}, at position {position}"]
    assert not Flow.objects.exists() and not FlowNodeData.objects.exists()


@pytest.mark.django_db
def test_flow_nodes_refuses_missing_and_ambiguous_names():
    nodes = flow_nodes(build_flow(Chain, "Chain > Chain"))
    assert [d.rule_name for d in nodes] == ["Chain", "Chain"]
    assert len(nodes.all("Chain")) == 2
    with pytest.raises(KeyError, match="2 nodes of rule 'Chain'"):
        nodes["Chain"]
    with pytest.raises(KeyError, match="0 nodes of rule 'Wide'"):
        nodes["Wide"]


# -- running a path ---------------------------------------------------------------------


@pytest.mark.django_db
def test_run_path_returns_the_state_history_and_signals():
    flow = build_flow(kr.Submitted, TEXT)
    ticket = Ticket.objects.create(title="t")
    run = run_path(
        flow, ["Review", "Rejected", kr.Submitted, "tests.kit_rules.Review", "Approved"], subject=ticket, actor="alice"
    )
    assert isinstance(run.state, State) and run.state.subject == ticket
    assert run.state.current_node.rule is kr.Approved
    assert run.rule_names == ["Submitted", "Review", "Rejected", "Submitted", "Review", "Approved"]
    assert [row.actor_repr for row in run.history] == ["alice"] * 6
    assert_history(run, ["Submitted", "Review", "Rejected", "Submitted", "Review", "Approved"])
    assert_history(run.state, ["Submitted", "Review", "tests.kit_rules.Rejected", "Submitted", "Review", "Approved"])
    # each step sends its three signals, transition_committed after the step (captured on-commit callbacks)
    assert run.signals.summary()[:6] == [
        "pre_transition: - -> Submitted",
        "post_transition: - -> Submitted",
        "transition_committed: - -> Submitted",
        "pre_transition: Submitted -> Review",
        "post_transition: Submitted -> Review",
        "transition_committed: Submitted -> Review",
    ]
    assert len(run.signals) == 18
    committed = run.signals.of("transition_committed")
    assert [e.history.seq for e in committed] == [1, 2, 3, 4, 5, 6]
    assert all(e.state is run.state and e.kwargs["actor"] == "alice" for e in run.signals)


@pytest.mark.django_db
def test_run_path_without_running_on_commit_callbacks():
    run = run_path(build_flow(kr.Submitted, TEXT), ["Review"], committed=False)
    assert [e.signal for e in run.signals] == ["pre_transition", "post_transition"] * 2


@pytest.mark.django_db
def test_run_path_raises_the_usual_exception_with_the_step():
    flow = build_flow(kr.Submitted, TEXT)
    with pytest.raises(ChoiceNotInFlow) as caught:
        run_path(flow, ["Review", "Submitted"])
    assert caught.value.__notes__ == ["flowr.testing: run_path step 2 (Submitted) of ['Review', 'Submitted']"]
    with pytest.raises(TransitionRefused, match="no rejections today") as refused:
        run_path(flow, ["Review", kr.Rejected], subject=Ticket.objects.create(title="perfect"))
    assert refused.value.__notes__ == ["flowr.testing: run_path step 2 (Rejected) of ['Review', 'Rejected']"]
    with pytest.raises(FlowSpecError) as unknown:
        run_path(flow, ["Review", "Nope"])
    assert str(unknown.value) == (
        "No rule 'Nope' in this rule set (its rules: Approved, Rejected, Review, Submitted) (position 0)\n"
        "    Nope\n"
        "    ^"
    )
    assert unknown.value.__notes__ == ["flowr.testing: run_path step 2 (Nope) of ['Review', 'Nope']"]


@pytest.mark.django_db
def test_assert_history_shows_a_readable_diff():
    run = run_path(build_flow(kr.Submitted, TEXT), ["Review", "Rejected", "Submitted"])
    with pytest.raises(AssertionError) as caught:
        assert_history(run.state, ["Submitted", "Review", "Approved"])
    assert str(caught.value) == "\n".join(
        [
            f"History of State {run.state.pk} differs from the expected path:",
            "    step  expected   actual",
            "    1     Submitted  Submitted",
            "    2     Review     Review",
            "  ! 3     Approved   Rejected",
            "  ! 4     -          Submitted",
        ]
    )
    with pytest.raises(AssertionError, match=r"! 2     Review     -"):
        assert_history(run_path(build_flow(kr.Submitted, TEXT), []), ["Submitted", "Review"])


@pytest.mark.django_db
def test_capture_signals_records_only_inside_the_block():
    flow = build_flow(kr.Submitted, TEXT)
    with testing.capture_signals() as captured:
        state = State.start(flow)
    state.next_state()
    assert captured.summary() == ["pre_transition: - -> Submitted", "post_transition: - -> Submitted"]
    captured.clear()
    assert len(captured) == 0


# -- lint ---------------------------------------------------------------------------------


def test_lint_finds_every_problem():
    problems = lint_rule_set(lr.LintRoot)
    assert [(p.kind, p.rule.name) for p in problems] == [
        ("no_end", "LintLoopA"),
        ("single_branch", "LintLoopA"),
        ("no_end", "LintLoopB"),
        ("unreachable", "LintOrphan"),
    ]
    messages = {str(p) for p in problems}
    assert "Rule LintOrphan is not reachable from the root rule LintRoot" in messages
    assert "Rule LintLoopB has no way to an end: every path from it loops" in messages
    assert "Rule LintLoopA has multiple_paths but allows 1 child rule(s): it never branches" in messages
    assert problems == policy.rule_set_problems("tests.kit_lint_rules.LintRoot")


@pytest.mark.django_db
def test_lint_takes_a_rule_set_a_label_and_the_rules_to_expect():
    assert lint_rule_set(kr.Submitted) == []  # every rule reachable, Approved ends, Review branches in two
    assert lint_rule_set(RuleSet.factory("s", "tests.kit_rules.Submitted")) == []
    # the sample rules' module: every rule is reachable from A, E loops back but D ends
    assert lint_rule_set(sr.A) == []
    # rules expected from another module (or a list of rules)
    assert [(p.kind, p.rule) for p in lint_rule_set(sr.A, rules=kr)] == [
        ("unreachable", r) for r in (kr.Approved, kr.Rejected, kr.Review, kr.Submitted)
    ]
    assert [p.kind for p in lint_rule_set(lr.LintEnd, rules=[lr.LintEnd])] == []
    # a cycle without any end
    from tests.testapp import rules as tr

    assert [(p.kind, p.rule.name) for p in lint_rule_set(tr.Cycle1, rules=[])] == [
        ("no_end", "Cycle1"),
        ("no_end", "Cycle2"),
        ("no_end", "Cycle3"),
    ]
    assert policy.rule_set_problems("tests.nowhere.Nothing") == []


def test_flowr_testing_imports_without_hypothesis():
    """hypothesis is optional: only flowr.testing.strategies needs it."""
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "import django; django.setup()\n"
        "import flowr.testing, flowr.testing.plugin\n"
        "try:\n"
        "    import flowr.testing.strategies\n"
        "except ImportError:\n"
        "    print('strategies need hypothesis')\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "strategies need hypothesis\n", "")
