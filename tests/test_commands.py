"""The lifecycle management commands: export, import, graph, migrate_states."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from flowr import sample_rules as sr
from flowr.export import export_flow, flow_to_dot, flow_to_mermaid, rule_set_to_dot, rule_set_to_mermaid
from flowr.models import Flow, FlowNodeData, Node, RuleSet, State, StateHistory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sample() -> Flow:
    rs = RuleSet.factory("Sample", sr.A)
    flow = Flow.factory_from_rules("Sample flow", rs, [({"rule": sr.C}, [({"rule": sr.D}, []), ({"rule": sr.E}, [])])])
    nodes = {d.rule_name: d for d in flow.nodes_data()}
    nodes["E"].connect_child(nodes["A"])
    return flow


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


# -- flowr_export / flowr_import ---------------------------------------------------


def test_export_to_stdout_and_file(sample, tmp_path):
    assert json.loads(run("flowr_export", str(sample.pk))) == export_flow(sample)
    target = tmp_path / "flow.json"
    assert run("flowr_export", str(sample.pk), "-o", str(target)) == ""
    assert json.loads(target.read_text(encoding="utf-8")) == export_flow(sample)


def test_export_unknown_flow():
    with pytest.raises(CommandError, match="Flow 999999 does not exist"):
        run("flowr_export", "999999")


def test_import_round_trip(sample, tmp_path):
    target = tmp_path / "flow.json"
    run("flowr_export", str(sample.pk), "-o", str(target))
    out = run("flowr_import", str(target), "--name", "Copied")
    flow = Flow.objects.get(name="Copied")
    assert f"Imported flow {flow.pk}" in out
    assert flow.rule_set_id == sample.rule_set_id
    assert export_flow(flow)["edges"] == export_flow(sample)["edges"]
    other = RuleSet.factory("Other", sr.A)
    run("flowr_import", str(target), "--rule-set", str(other.pk))
    assert Flow.objects.filter(rule_set=other).count() == 1


def test_import_bad_document_lists_problems_and_writes_nothing(sample, tmp_path):
    doc = export_flow(sample)
    doc["nodes"][2]["rule"] = "flowr.sample_rules.Nope"
    doc["edges"][0]["target"] = "zz"
    target = tmp_path / "bad.json"
    target.write_text(json.dumps(doc), encoding="utf-8")
    before = (Flow.objects.count(), Node.objects.count())
    with pytest.raises(CommandError) as info:
        run("flowr_import", str(target))
    assert "$.nodes[2].rule" in str(info.value) and "$.edges[0].target" in str(info.value)
    assert "Nothing imported" in str(info.value)
    assert (Flow.objects.count(), Node.objects.count()) == before


@pytest.mark.parametrize(("content", "message"), [(None, "Cannot read"), ("{not json", "is not JSON")])
def test_import_unreadable_file(tmp_path, content, message):
    target = tmp_path / "x.json"
    if content is not None:
        target.write_text(content, encoding="utf-8")
    with pytest.raises(CommandError, match=message):
        run("flowr_import", str(target))


def _bad_bytes(sample: Flow) -> dict[str, tuple[bytes, str]]:
    text = json.dumps(export_flow(sample))
    nul_name = text.replace(f'"name": "{sample.name}"', '"name": "a\\u0000b"', 1)
    surrogate_id = text.replace('"id": "n2"', '"id": "\\ud800"', 1)
    return {
        "utf16-bom": (text.encode("utf-16"), "UTF-16"),
        "utf16-no-bom": (text.encode("utf-16-le"), "UTF-16"),
        "latin1": (text.replace("}", ', "x": "\u00e9"}', 1).encode("latin-1"), "not UTF-8"),
        "deep": (b"[" * 3000 + b"]" * 3000, "nested deeper"),
        "deep-500": (b"[" * 500 + b"]" * 500, "nested deeper"),
        "nan": (b'{"format": NaN}', "NaN"),
        "nul-name": (nul_name.encode(), "NUL"),
        "surrogate-id": (surrogate_id.encode(), "surrogate"),
        "empty": (b"", "is not JSON"),
    }


@pytest.mark.parametrize(
    "case",
    ["utf16-bom", "utf16-no-bom", "latin1", "deep", "deep-500", "nan", "nul-name", "surrogate-id", "empty"],
)
def test_import_refuses_bad_text(sample, tmp_path, case):
    raw, message = _bad_bytes(sample)[case]
    target = tmp_path / "bad.json"
    target.write_bytes(raw)
    before = (Flow.objects.count(), Node.objects.count())
    with pytest.raises(CommandError, match=message):
        run("flowr_import", str(target))
    assert (Flow.objects.count(), Node.objects.count()) == before


def test_import_accepts_a_utf8_bom(sample, tmp_path):
    target = tmp_path / "bom.json"
    target.write_bytes(b"\xef\xbb\xbf" + json.dumps(export_flow(sample)).encode())
    run("flowr_import", str(target), "--name", "bom")
    assert Flow.objects.filter(name="bom").exists()


def test_import_from_stdin(sample, monkeypatch):
    monkeypatch.setattr("sys.stdin", StringIO(json.dumps(export_flow(sample))))
    run("flowr_import", "-", "--name", "stdin")
    assert Flow.objects.filter(name="stdin").exists()


# -- flowr_graph ----------------------------------------------------------------------


def test_graph_flow_and_rule_set(sample, tmp_path):
    assert run("flowr_graph", "--flow", str(sample.pk)) == flow_to_dot(sample)
    assert run("flowr_graph", "--flow", str(sample.pk), "--format", "mermaid") == flow_to_mermaid(sample)
    assert run("flowr_graph", "--rule-set", str(sample.rule_set_id), "--format", "dot") == rule_set_to_dot(
        sample.rule_set
    )
    assert run("flowr_graph", "--rule-set", str(sample.rule_set_id), "--format", "mermaid") == rule_set_to_mermaid(
        sample.rule_set
    )
    target = tmp_path / "g.mmd"
    run("flowr_graph", "--flow", str(sample.pk), "--format", "mermaid", "-o", str(target))
    assert target.read_text(encoding="utf-8") == flow_to_mermaid(sample)


def test_graph_with_state(sample):
    state = State.start(sample)
    state.next_state()
    text = run("flowr_graph", "--flow", str(sample.pk), "--format", "mermaid", "--state", str(state.pk))
    assert text == flow_to_mermaid(sample, state) and "class n2 current" in text
    assert "fillcolor" in run("flowr_graph", "--flow", str(sample.pk), "--state", str(state.pk))


def test_graph_errors(sample):
    with pytest.raises(CommandError):
        run("flowr_graph", "--format", "dot")
    with pytest.raises(CommandError):
        run("flowr_graph", "--flow", str(sample.pk), "--rule-set", str(sample.rule_set_id))
    with pytest.raises(CommandError, match="needs --flow"):
        run("flowr_graph", "--rule-set", str(sample.rule_set_id), "--state", "1")
    with pytest.raises(CommandError, match="does not exist"):
        run("flowr_graph", "--flow", "999999")
    with pytest.raises(CommandError, match="does not exist"):
        run("flowr_graph", "--flow", str(sample.pk), "--state", "999999")
    with pytest.raises(CommandError):
        run("flowr_graph", "--flow", str(sample.pk), "--format", "png")


def test_graph_refuses_a_state_of_another_flow(sample):
    other = Flow.factory_from_rules("Other", sample.rule_set, [({"rule": sr.C}, [])])
    state = State.start(other)
    with pytest.raises(CommandError, match=f"State {state.pk} runs flow {other.pk}, not flow {sample.pk}"):
        run("flowr_graph", "--flow", str(sample.pk), "--state", str(state.pk))


# -- flowr_migrate_states -------------------------------------------------------------------


def test_migrate_states_command(sample):
    states = [State.start(sample) for _ in range(2)]
    states[1].next_state()
    copy = sample.clone()
    out = run("flowr_migrate_states", str(sample.pk), str(copy.pk), "--dry-run")
    assert "would move 2 state(s)" in out
    assert State.objects.filter(flow=sample).count() == 2
    out = run("flowr_migrate_states", str(sample.pk), str(copy.pk))
    assert "moved 2 state(s)" in out
    assert State.objects.filter(flow=copy).count() == 2
    assert StateHistory.objects.filter(kind=StateHistory.MIGRATION).count() == 2


def test_migrate_states_command_with_map(sample):
    state = State.start(sample)
    state.next_state().next_state(sr.D)
    copy = sample.clone()
    d = FlowNodeData.objects.get(node__graph_id=copy.state_graph_id, rule_label=sr.D.class_label)
    d.node.remove()
    for extra in ([], ["--dry-run"]):
        with pytest.raises(CommandError) as info:
            run("flowr_migrate_states", str(sample.pk), str(copy.pk), *extra)
        assert "UNMAPPED" in str(info.value) and "A > C > D" in str(info.value)
    assert State.objects.get(pk=state.pk).flow_id == sample.pk
    source_d = FlowNodeData.objects.get(node__graph_id=sample.state_graph_id, rule_label=sr.D.class_label)
    target_c = FlowNodeData.objects.get(node__graph_id=copy.state_graph_id, rule_label=sr.C.class_label)
    run("flowr_migrate_states", str(sample.pk), str(copy.pk), "--map", f"{source_d.node_id}={target_c.node_id}")
    assert State.objects.get(pk=state.pk).current_node_id == target_c.pk


def test_migrate_states_command_errors(sample):
    other = Flow.factory("other", RuleSet.factory("Other", sr.A))
    with pytest.raises(CommandError, match="different rule sets"):
        run("flowr_migrate_states", str(sample.pk), str(other.pk))
    with pytest.raises(CommandError, match="Flow 999999 does not exist"):
        run("flowr_migrate_states", str(sample.pk), "999999")
    with pytest.raises(CommandError):
        run("flowr_migrate_states", str(sample.pk), str(other.pk), "--map", "nonsense")
    copy = sample.clone()
    with pytest.raises(CommandError, match="not a node of flow"):
        run("flowr_migrate_states", str(sample.pk), str(copy.pk), "--map", "999999=1")


def test_commands_are_documented():
    for name in ("flowr_export", "flowr_import", "flowr_graph", "flowr_migrate_states"):
        path = Path(__file__).parent.parent / "flowr" / "management" / "commands" / f"{name}.py"
        assert path.exists()


# -- flowr_diff ----------------------------------------------------------------------------


def test_flowr_diff_of_a_clone_is_empty(sample: Flow) -> None:
    copy = sample.clone()
    assert run("flowr_diff", str(sample.pk), str(copy.pk)).strip() == "no differences"
    body = json.loads(run("flowr_diff", str(sample.pk), str(copy.pk), "--format", "json"))
    assert body == {k: [] for k in ("added_nodes", "removed_nodes", "changed_nodes", "added_links", "removed_links")}


def test_flowr_diff_lists_the_changes_and_exits_1(sample: Flow) -> None:
    copy = sample.clone()
    nodes = {d.rule_name: d for d in copy.nodes_data()}
    nodes["E"].disconnect_child(nodes["A"])
    old = {d.rule_name: d.node_id for d in sample.nodes_data()}
    out = StringIO()
    with pytest.raises(SystemExit) as caught:
        call_command("flowr_diff", str(sample.pk), str(copy.pk), stdout=out)
    assert caught.value.code == 1
    assert out.getvalue().strip() == f"- link {old['E']} -> {old['A']}"


def test_flowr_diff_refuses_an_unknown_flow(sample: Flow) -> None:
    with pytest.raises(CommandError, match="Flow 999999 does not exist"):
        run("flowr_diff", str(sample.pk), "999999")
