"""Node settings (issue 16.1): a rule's ``Settings`` form, the JSON stored per
node, the edit service that writes it (validated, logged, undoable, refused
when frozen), ``state.settings`` at no query cost, clone, export/import, the
system check and ``upgrade()``."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import pytest
from django import forms
from django.contrib.auth.models import Group
from django.db import connection

import flowr
from flowr import edits, nodesettings
from flowr.checks import check_stored_flows
from flowr.exceptions import ConcurrentEdit, FlowFrozen, InvalidSettings, MissingRule
from flowr.export import ImportErrors, export_flow, import_flow, validate_document
from flowr.models import Flow, FlowEdit, FlowNodeData, RuleSet, State
from tests.testapp import settings_rules
from tests.testapp.settings_rules import SEEN, Closed, Escalated, ticket_flow

pytestmark = pytest.mark.django_db


@pytest.fixture(name="group")
def group_fixture() -> Group:
    return Group.objects.create(name="ops")


def good(g: Group, **more: Any) -> dict[str, Any]:
    return {"group": g.pk, "due_in": "P2D", "level": "high", **more}


def settings_of(data: FlowNodeData) -> dict[str, Any]:
    return FlowNodeData.objects.get(pk=data.pk).settings


# -- the form, its schema and its JSON ---------------------------------------------------


def test_flowr_exports_node_settings() -> None:
    assert flowr.NodeSettings is nodesettings.NodeSettings
    assert nodesettings.form_of(Escalated) is Escalated.Settings
    assert nodesettings.form_of(settings_rules.Ticket) is None


def test_the_json_schema_of_a_form(group: Group) -> None:
    schema = nodesettings.schema(Escalated.Settings)
    assert schema is not None
    props = schema["properties"]
    assert schema["required"] == ["group", "due_in", "level"]
    assert schema["additionalProperties"] is False
    assert props["group"]["enum"] == [group.pk] and props["group"]["title"] == "Assignee group"
    assert props["group"]["x-choices"] == [{"value": group.pk, "label": "ops"}]
    assert props["due_in"] == {
        "type": ["string", "number"],
        "format": "duration",
        "title": "Due in",
        "description": "How long it may wait.",
        "default": "P1DT00H00M00S",
    }
    assert props["level"]["enum"] == ["low", "high"] and props["level"]["default"] == "low"
    assert props["notify"]["type"] == ["boolean", "null"]
    assert props["email"]["format"] == "email"
    assert props["budget"]["format"] == "decimal"
    assert props["retries"] == {"type": ["integer", "null"], "minimum": 0, "maximum": 5, "title": "Retries"}
    assert props["watchers"]["type"] == ["array", "null"] and props["watchers"]["uniqueItems"] is True
    assert props["note"]["maxLength"] == 20 and props["note"]["x-widget"] == "textarea"
    assert nodesettings.schema(None) is None


def test_clean_stores_json_and_reads_typed_values(group: Group) -> None:
    given = good(group, budget="12.5", watchers=[group.pk], email="a@example.com", retries=3)
    stored, problems = nodesettings.clean(Escalated.Settings, given)
    assert problems == {}
    assert stored == {
        "group": group.pk,
        "due_in": "P2DT00H00M00S",
        "level": "high",
        "notify": False,
        "email": "a@example.com",
        "budget": "12.5",
        "retries": 3,
        "watchers": [group.pk],
        "note": "",
    }
    values = nodesettings.typed(Escalated.Settings, stored)
    assert values["due_in"] == datetime.timedelta(days=2)
    assert values["budget"] == decimal.Decimal("12.5")
    assert values["group"] == group and values["group"].name == "ops"
    assert list(values["watchers"]) == [group]


def test_a_duration_in_seconds_or_iso_8601(group: Group) -> None:
    for given, stored in ((3600, "P0DT01H00M00S"), ("PT30M", "P0DT00H30M00S"), ("1 02:00:00", "P1DT02H00M00S")):
        values, problems = nodesettings.clean(Escalated.Settings, good(group, due_in=given))
        assert (values.get("due_in"), problems) == (stored, {})


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"group": 10**9}, "group"),
        ({"group": None}, "group"),
        ({"due_in": "soon"}, "due_in"),
        ({"level": "urgent"}, "level"),
        ({"email": "not an e-mail"}, "email"),
        ({"retries": 9}, "retries"),
        ({"retries": "two"}, "retries"),
        ({"budget": "1e999"}, "budget"),
        ({"notify": "yes"}, "notify"),
        ({"note": ["a", "list"]}, "note"),
        ({"note": "x" * 21}, "note"),
        ({"watchers": 1}, "watchers"),
        ({"level": {"an": "object"}}, "level"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_every_bad_value_is_refused_at_its_field(group: Group, changes: dict[str, Any], field: str) -> None:
    values, problems = nodesettings.clean(Escalated.Settings, good(group, **changes))
    assert values == {}
    assert list(problems) == [field] and problems[field][0]


def test_settings_must_be_an_object() -> None:
    assert nodesettings.clean(Closed.Settings, ["reason"])[1] == {"__all__": ["Settings must be a JSON object."]}


# -- writing them: the edit service ----------------------------------------------------------


def test_set_settings_writes_and_logs_before_and_after(group: Group) -> None:
    flow, _root, escalated, _closed = ticket_flow()
    revision = Flow.objects.get(pk=flow.pk).revision
    escalated.set_settings(good(group))
    assert settings_of(escalated)["due_in"] == "P2DT00H00M00S"
    edit = FlowEdit.objects.filter(flow=flow).latest("seq")
    assert (edit.operation, edit.seq, edit.nodes) == ("settings", revision + 1, [escalated.node_id])
    assert edit.change["old"] == {} and edit.change["new"] == settings_of(escalated)
    assert "due_in" in edit.description and "group" in edit.description
    escalated.set_settings({"level": "low"}, partial=True)  # merged into the stored ones
    assert settings_of(escalated)["level"] == "low" and settings_of(escalated)["group"] == group.pk
    count = FlowEdit.objects.count()
    escalated.set_settings({"level": "low"}, partial=True)  # nothing changes: nothing logged
    assert FlowEdit.objects.count() == count


def test_bad_values_write_nothing(group: Group) -> None:
    flow, _root, escalated, closed = ticket_flow()
    escalated.set_settings(good(group))
    before, count = settings_of(escalated), FlowEdit.objects.count()
    with pytest.raises(InvalidSettings) as caught:
        escalated.set_settings({"due_in": "soon", "retries": 7}, partial=True)
    assert set(caught.value.problems) == {"due_in", "retries"}
    assert caught.value.code == "invalid_settings" and isinstance(caught.value, AttributeError)
    assert settings_of(escalated) == before and FlowEdit.objects.count() == count
    with pytest.raises(InvalidSettings):
        flow.root_data.set_settings({"anything": 1})  # Ticket has no settings form
    with pytest.raises(InvalidSettings):
        closed.set_settings({"reason": "x" * 51})


def test_settings_of_a_missing_rule_are_refused() -> None:
    _flow, _root, _escalated, closed = ticket_flow()
    FlowNodeData.objects.filter(pk=closed.pk).update(rule_label="tests.testapp.settings_rules.Gone")
    closed.refresh_from_db()
    with pytest.raises(MissingRule):
        closed.set_settings({"reason": "x"})


def test_a_frozen_flow_refuses_settings(group: Group) -> None:
    flow, _root, escalated, _closed = ticket_flow()
    State.start(flow)
    with pytest.raises(FlowFrozen):
        escalated.set_settings(good(group))
    assert settings_of(escalated) == {}


def test_a_stale_revision_is_refused(group: Group) -> None:
    flow, _root, escalated, _closed = ticket_flow()
    seen = Flow.objects.get(pk=flow.pk).revision
    escalated.set_settings(good(group))
    with edits.acting(None, revision=seen), pytest.raises(ConcurrentEdit):
        escalated.set_settings({"level": "low"}, partial=True)
    assert settings_of(escalated)["level"] == "high"


def test_undo_and_redo_a_settings_change(group: Group) -> None:
    flow, _root, escalated, _closed = ticket_flow()
    escalated.set_settings(good(group))
    first = settings_of(escalated)
    escalated.set_settings({"level": "low"}, partial=True)
    second = settings_of(escalated)
    edits.undo(flow)
    assert settings_of(escalated) == first
    edits.undo(flow)
    assert settings_of(escalated) == {}
    edits.redo(flow)
    edits.redo(flow)
    assert settings_of(escalated) == second
    assert [e.operation for e in FlowEdit.objects.filter(flow=flow).order_by("seq")][-4:] == [
        "undo",
        "undo",
        "redo",
        "redo",
    ]


def test_settings_survive_remove_and_its_undo(group: Group) -> None:
    _flow, _root, _escalated, closed = ticket_flow()
    closed.set_settings({"reason": "done"})
    flow = closed.flow
    removed = edits.remove(closed.node)
    assert removed.data.settings == {"reason": "done"}  # the deleted row, read back as JSON
    edits.undo(flow)
    assert FlowNodeData.objects.get(node_id=closed.node_id).settings == {"reason": "done"}


# -- clone, export and import ------------------------------------------------------------------


def test_settings_survive_clone_and_export_import(group: Group) -> None:
    flow, _root, escalated, closed = ticket_flow()
    escalated.set_settings(good(group))
    closed.set_settings({"reason": "done"})
    copy = flow.clone()
    by_rule = {d.rule_label: d.settings for d in copy.nodes_data()}
    assert by_rule[Escalated.class_label] == settings_of(escalated)
    assert by_rule[Closed.class_label] == {"reason": "done"}
    document = export_flow(flow)
    nodes = {n["rule"]: n for n in document["nodes"]}
    assert nodes[Escalated.class_label]["settings"] == settings_of(escalated)
    assert "settings" not in nodes[settings_rules.Ticket.class_label]  # none stored: none exported
    imported = import_flow(document, name="imported")
    assert {d.rule_label: d.settings for d in imported.nodes_data()} == {
        d.rule_label: d.settings for d in flow.nodes_data()
    }


def test_import_refuses_bad_settings_with_their_json_path(group: Group) -> None:
    flow, _root, escalated, _closed = ticket_flow()
    escalated.set_settings(good(group))
    document = export_flow(flow)
    at = next(i for i, n in enumerate(document["nodes"]) if n["rule"] == Escalated.class_label)
    document["nodes"][at]["settings"]["due_in"] = "soon"
    document["nodes"][at]["settings"]["colour"] = "red"
    document["nodes"][0]["settings"] = {"x": 1}  # Ticket has none
    problems = validate_document(document)
    paths = sorted(p["path"] for p in problems)
    assert paths == ["$.nodes[0].settings", f"$.nodes[{at}].settings.colour"]  # unknown keys first, then the form
    del document["nodes"][at]["settings"]["colour"]
    del document["nodes"][0]["settings"]
    flows = Flow.objects.count()
    with pytest.raises(ImportErrors) as caught:
        import_flow(document)
    assert [p["path"] for p in caught.value.problems] == [f"$.nodes[{at}].settings.due_in"]
    assert Flow.objects.count() == flows
    document["nodes"][at]["settings"] = "not an object"
    assert [p["path"] for p in validate_document(document)] == [f"$.nodes[{at}].settings"]


# -- running: state.settings ---------------------------------------------------------------------


def _baseline_transition_queries() -> int:
    """savepoint, lock + children, update, history insert, release (update
    and insert are one statement on PostgreSQL): what a transition whose
    callbacks write nothing costs (tests/test_states.py)."""
    return 5 - (connection.vendor == "postgresql")


def test_guards_and_callbacks_read_typed_settings_without_a_query(group: Group, django_assert_num_queries) -> None:
    flow, _root, escalated, closed = ticket_flow()
    escalated.set_settings(good(group))
    closed.set_settings({"reason": "fixed"})
    state = State.start(flow)
    SEEN.clear()
    with django_assert_num_queries(_baseline_transition_queries()):
        state.next_state(Escalated)
    assert [event for event, _ in SEEN] == ["can_enter", "on_enter"]
    for _, values in SEEN:  # the entered node's settings, cleaned and typed
        assert values["due_in"] == datetime.timedelta(days=2) and values["level"] == "high"
    SEEN.clear()
    with django_assert_num_queries(_baseline_transition_queries()):
        state.next_state()
    assert SEEN == [("closed", {"reason": "fixed"})]
    with django_assert_num_queries(1):  # a model choice loads when it is used
        assert state.history.count() == 3
    assert state.settings == {"reason": "fixed"}  # outside callbacks: the current node's


def test_on_leave_reads_the_node_being_left(group: Group) -> None:
    flow, _root, escalated, closed = ticket_flow()
    closed.set_settings({"reason": "fixed"})
    Closed.children = [Escalated]
    try:
        closed.connect_child(escalated)
        escalated.set_settings(good(group))
        state = State.start(flow)
        state.next_state(Escalated)
        state.next_state()
        SEEN.clear()
        state.next_state()
        # guards first (the entered node's settings), then on_leave (the left node's), then on_enter
        assert [(event, values.get("reason")) for event, values in SEEN] == [
            ("can_enter", None),
            ("left", "fixed"),
            ("on_enter", None),
        ]
        assert SEEN[2][1]["level"] == "high"
    finally:
        Closed.children = []


def test_a_node_without_stored_settings_reads_the_initials() -> None:
    _flow, _root, escalated, _closed = ticket_flow()
    values = escalated.typed_settings
    assert values["due_in"] == datetime.timedelta(days=1) and values["level"] == "low"
    assert values["group"] is None


def test_stored_values_the_form_refuses_raise_when_read() -> None:
    _flow, _root, escalated, _closed = ticket_flow()
    FlowNodeData.objects.filter(pk=escalated.pk).update(settings={"due_in": "soon"})
    escalated.refresh_from_db()
    with pytest.raises(InvalidSettings) as caught:
        escalated.typed_settings  # noqa: B018
    assert list(caught.value.problems) == ["due_in"]


# -- upgrade() and the system check ----------------------------------------------------------------


def test_upgrade_migrates_old_values_everywhere(group: Group) -> None:
    _flow, _root, escalated, _closed = ticket_flow()
    old = {"group": group.pk, "hours": 3, "level": "low"}  # what version 1 of the form stored
    FlowNodeData.objects.filter(pk=escalated.pk).update(settings=old)
    escalated.refresh_from_db()
    assert escalated.typed_settings["due_in"] == datetime.timedelta(hours=3)
    assert not [m for m in check_stored_flows() if m.id == "flowr.W004"]
    escalated.set_settings({"level": "high"}, partial=True)  # upgraded, then merged and cleaned
    assert settings_of(escalated)["due_in"] == "P0DT03H00M00S" and "hours" not in settings_of(escalated)


def test_the_check_warns_about_settings_the_form_refuses(group: Group, monkeypatch: pytest.MonkeyPatch) -> None:
    flow, _root, escalated, closed = ticket_flow()
    escalated.set_settings(good(group))
    closed.set_settings({"reason": "a long enough reason"})
    assert not [m for m in check_stored_flows() if m.id == "flowr.W004"]

    class Shorter(flowr.NodeSettings):  # the form changed after the values were stored
        reason = forms.CharField(max_length=5)

    monkeypatch.setattr(Closed, "Settings", Shorter)
    found = [m for m in check_stored_flows() if m.id == "flowr.W004"]
    assert len(found) == 1
    assert f"node(s) {closed.node_id}" in found[0].msg and "reason" in found[0].msg
    assert found[0].obj == f"flowr.Flow(graph={flow.state_graph_id})"


def test_a_rule_change_clears_settings_the_new_form_refuses_and_undo_restores_them() -> None:
    flow = Flow.factory("change", RuleSet.factory("tickets", settings_rules.Ticket))
    node = flow.root_data.add_child_rule(Closed)
    node.set_settings({"reason": "done"})
    node.change_rule(Escalated)
    assert settings_of(node) == {} and node.settings == {}
    edit = FlowEdit.objects.filter(flow=flow).latest("seq")
    assert (edit.operation, edit.change["settings"]) == ("change_rule", {"reason": "done"})
    edits.undo(flow)
    restored = FlowNodeData.objects.get(pk=node.pk)
    assert (restored.rule_label, restored.settings) == (Closed.class_label, {"reason": "done"})
    edits.redo(flow)
    assert settings_of(node) == {}


def test_an_upgrade_that_returns_no_dict_is_refused_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    _flow, _root, _escalated, closed = ticket_flow()
    closed.set_settings({"reason": "done"})
    monkeypatch.setattr(Closed.Settings, "upgrade", classmethod(lambda cls, data: None))
    with pytest.raises(InvalidSettings) as caught:
        closed.set_settings({"reason": "again"})
    assert list(caught.value.problems) == ["__all__"] and "upgrade()" in caught.value.problems["__all__"][0]
    with pytest.raises(InvalidSettings):
        FlowNodeData.objects.get(pk=closed.pk).typed_settings  # noqa: B018
    assert settings_of(closed) == {"reason": "done"}
    assert [m.id for m in check_stored_flows() if m.id == "flowr.W004"] == ["flowr.W004"]
