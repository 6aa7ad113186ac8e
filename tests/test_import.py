"""Importing flow documents: every bad document is refused, nothing written."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from flowr import sample_rules as sr
from flowr.exceptions import FlowrError
from flowr.export import ImportErrors, import_flow, validate_document
from flowr.models import DCCGraph, Edge, Flow, FlowNodeData, Node, RuleSet
from flowr.rules import Rule
from tests.testapp.rules import Chain, Wide

pytestmark = pytest.mark.django_db

A, B, C, D, E = (r.class_label for r in (sr.A, sr.B, sr.C, sr.D, sr.E))


def good() -> dict[str, Any]:
    """A valid document: A -> C -> D, E; E -> A."""
    return {
        "format": 1,
        "flow": {"name": "Imported", "version": 3, "family": "anything"},
        "rule_set": {"name": "Sample", "root_rule": A},
        "nodes": [
            {"id": "a", "rule": A, "data": {}},
            {"id": "c", "rule": C},
            {"id": "d", "rule": D},
            {"id": "e", "rule": E},
        ],
        "edges": [
            {"source": "a", "target": "c", "kind": "backbone"},
            {"source": "c", "target": "d", "kind": "backbone"},
            {"source": "c", "target": "e", "kind": "backbone"},
            {"source": "e", "target": "a", "kind": "link"},
        ],
    }


def counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (RuleSet, Flow, DCCGraph, Node, Edge, FlowNodeData))


def edit(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    doc = copy.deepcopy(good())
    change(doc)
    return doc


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _delete(path: list[Any]) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


def _append(key: str, item: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc[key].append(item)


def _many(*changes: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        for c in changes:
            c(doc)

    return change


# (id, the document, JSON paths that must be reported)
BAD: list[tuple[str, Any, set[str]]] = [
    # -- schema ---------------------------------------------------------------
    ("not-an-object", [1, 2], {"$"}),
    ("empty-object", {}, {"$"}),
    ("format-missing", edit(_delete(["format"])), {"$"}),
    ("format-2", edit(_set(["format"], 2)), {"$.format"}),
    ("format-string", edit(_set(["format"], "1")), {"$.format"}),
    ("unknown-top-level-key", edit(_set(["extra"], True)), {"$"}),
    ("flow-name-missing", edit(_delete(["flow", "name"])), {"$.flow"}),
    ("flow-name-empty", edit(_set(["flow", "name"], "")), {"$.flow.name"}),
    ("flow-name-too-long", edit(_set(["flow", "name"], "x" * 101)), {"$.flow.name"}),
    ("rule-set-missing", edit(_delete(["rule_set"])), {"$"}),
    ("root-rule-not-a-label", edit(_set(["rule_set", "root_rule"], "not a label")), {"$.rule_set.root_rule"}),
    ("nodes-empty", edit(_set(["nodes"], [])), {"$.nodes"}),
    ("nodes-not-a-list", edit(_set(["nodes"], {"a": A})), {"$.nodes"}),
    ("node-without-rule", edit(_delete(["nodes", 2, "rule"])), {"$.nodes[2]"}),
    ("node-id-integer", edit(_set(["nodes", 1, "id"], 7)), {"$.nodes[1].id"}),
    ("node-extra-key", edit(_set(["nodes", 1, "colour"], "red")), {"$.nodes[1]"}),
    ("edge-kind-unknown", edit(_set(["edges", 0, "kind"], "tree")), {"$.edges[0].kind"}),
    ("edge-without-target", edit(_delete(["edges", 1, "target"])), {"$.edges[1]"}),
    (
        "several-schema-errors-all-reported",
        edit(_many(_set(["format"], 9), _set(["edges", 0, "kind"], "x"), _delete(["nodes", 3, "id"]))),
        {"$.format", "$.edges[0].kind", "$.nodes[3]"},
    ),
    # -- rules ------------------------------------------------------------------
    ("unknown-node-rule", edit(_set(["nodes", 2, "rule"], "flowr.sample_rules.Nope")), {"$.nodes[2].rule"}),
    (
        "rule-outside-installed-apps",
        edit(_set(["nodes", 2, "rule"], "os.path.join")),
        {"$.nodes[2].rule"},
    ),
    (
        "unknown-root-rule",
        edit(_set(["rule_set", "root_rule"], "flowr.sample_rules.Zed")),
        {"$.rule_set.root_rule", "$.nodes[0].rule"},
    ),
    ("root-node-not-root-rule", edit(_set(["nodes", 0, "rule"], C)), {"$.nodes[0].rule", "$.edges[3]"}),
    ("child-rule-not-allowed", edit(_set(["nodes", 2, "rule"], B)), {"$.edges[1]"}),
    ("link-rule-not-allowed", edit(_set(["edges", 3, "source"], "d")), {"$.edges[3]"}),
    (
        "too-many-children",
        edit(
            _many(
                _append("nodes", {"id": "b", "rule": B}),
                _append("edges", {"source": "a", "target": "b", "kind": "backbone"}),
            )
        ),
        {"$.nodes[0]"},
    ),
    (
        "duplicate-child-rule",
        edit(_set(["nodes", 3, "rule"], D)),
        {"$.edges[2]"},
    ),
    ("unknown-data-field", edit(_set(["nodes", 0, "data"], {"colour": "red"})), {"$.nodes[0].data.colour"}),
    # -- structure ------------------------------------------------------------------
    ("duplicate-node-id", edit(_set(["nodes", 3, "id"], "d")), {"$.nodes[3].id"}),
    ("edge-to-unknown-node", edit(_set(["edges", 3, "target"], "zz")), {"$.edges[3].target"}),
    ("edge-from-unknown-node", edit(_set(["edges", 3, "source"], "zz")), {"$.edges[3].source"}),
    ("duplicate-edge", edit(_append("edges", {"source": "e", "target": "a", "kind": "link"})), {"$.edges[4]"}),
    (
        "unreachable-node",
        edit(_many(_delete(["edges", 2]), _set(["edges", 2, "source"], "d"), _set(["edges", 2, "target"], "a"))),
        {"$.nodes[3]"},
    ),
    ("node-without-backbone-parent", edit(_set(["edges", 2, "kind"], "link")), {"$.nodes[3]"}),
    ("root-with-backbone-parent", edit(_set(["edges", 3, "kind"], "backbone")), {"$.edges[3]"}),
    (
        "two-backbone-parents",
        edit(
            _many(
                _set(["rule_set", "root_rule"], Wide.class_label),
                _set(["nodes"], [{"id": "w", "rule": Wide.class_label}, {"id": "x", "rule": Chain.class_label}]),
                _set(
                    ["edges"],
                    [
                        {"source": "w", "target": "x", "kind": "backbone"},
                        {"source": "x", "target": "x", "kind": "backbone"},
                    ],
                ),
            )
        ),
        {"$.edges[1]"},
    ),
    (
        "backbone-cycle-off-the-root",
        edit(
            _many(
                _set(["rule_set", "root_rule"], Chain.class_label),
                _set(
                    ["nodes"],
                    [
                        {"id": "r", "rule": Chain.class_label},
                        {"id": "x", "rule": Chain.class_label},
                        {"id": "y", "rule": Chain.class_label},
                    ],
                ),
                _set(
                    ["edges"],
                    [
                        {"source": "x", "target": "y", "kind": "backbone"},
                        {"source": "y", "target": "x", "kind": "backbone"},
                        {"source": "r", "target": "x", "kind": "link"},
                    ],
                ),
            )
        ),
        {"$.nodes[1]", "$.nodes[2]"},
    ),
    (
        "edges-empty-but-several-nodes",
        edit(_set(["edges"], [])),
        {"$.nodes[1]", "$.nodes[2]", "$.nodes[3]"},
    ),
]


@pytest.fixture(autouse=True)
def _existing_data():
    """Something already stored, so that 'nothing written' is meaningful."""
    Flow.factory("existing", RuleSet.factory("Sample", sr.A))


@pytest.mark.parametrize(("document", "paths"), [(doc, paths) for _, doc, paths in BAD], ids=[b[0] for b in BAD])
def test_bad_document_is_refused_and_nothing_written(document, paths):
    before = counts()
    with pytest.raises(ImportErrors) as info:
        import_flow(document)
    assert counts() == before
    problems = info.value.problems
    assert problems and all(set(p) == {"path", "message"} and p["message"] for p in problems)
    reported = {p["path"] for p in problems}
    assert paths <= reported, problems
    assert info.value.code == "invalid_import"
    assert isinstance(info.value, FlowrError) and isinstance(info.value, AttributeError)
    assert validate_document(document) == problems


def test_at_least_25_bad_documents():
    assert len(BAD) >= 25


def test_good_document_imports():
    before = counts()
    flow = import_flow(good())
    assert (flow.name, flow.version) == ("Imported", 1)
    assert Node.objects.count() == before[3] + 4
    assert validate_document(good()) == []


def test_every_problem_is_reported_at_once():
    doc = edit(
        _many(
            _set(["nodes", 2, "rule"], "flowr.sample_rules.Nope"),
            _set(["edges", 3, "target"], "zz"),
            _set(["nodes", 3, "id"], "a"),
        )
    )
    with pytest.raises(ImportErrors) as info:
        import_flow(doc)
    paths = [p["path"] for p in info.value.problems]
    assert {"$.nodes[2].rule", "$.edges[3].target", "$.nodes[3].id"} <= set(paths)
    assert "$.nodes[2].rule" in str(info.value)


def test_name_override_is_validated():
    before = counts()
    with pytest.raises(ImportErrors) as info:
        import_flow(good(), name="x" * 101)
    assert [p["path"] for p in info.value.problems] == ["$.flow.name"]
    assert counts() == before


def test_rule_set_argument_must_match_root_rule():
    other = RuleSet.factory("Chains", Chain)
    before = counts()
    with pytest.raises(ImportErrors) as info:
        import_flow(good(), rule_set=other)
    assert [p["path"] for p in info.value.problems] == ["$.rule_set.root_rule"]
    with pytest.raises(ImportErrors) as info:
        import_flow(good(), rule_set=987654)
    assert [p["path"] for p in info.value.problems] == ["$.rule_set"]
    assert counts() == before


def test_rule_with_broken_children_in_code_is_reported():
    # a module-level name (a label without "<locals>"), removed afterwards
    Broken = type(
        "BrokenForImport",
        (Rule,),
        {"children": ["tests.nowhere.Missing"], "__qualname__": "BrokenForImport", "__module__": __name__},
    )

    try:
        doc = edit(
            _many(
                _set(["rule_set", "root_rule"], Broken.class_label),
                _set(["nodes"], [{"id": "r", "rule": Broken.class_label}, {"id": "x", "rule": Chain.class_label}]),
                _set(["edges"], [{"source": "r", "target": "x", "kind": "backbone"}]),
            )
        )
        before = counts()
        with pytest.raises(ImportErrors) as info:
            import_flow(doc)
        # the label that does not resolve is not an allowed child (flowr.policy): Chain is refused there
        assert [p["path"] for p in info.value.problems] == ["$.edges[0]"]
        assert "may not follow rule Broken for import" in info.value.problems[0]["message"]
        assert counts() == before
    finally:
        from flowr import rules

        rules._registry.pop(Broken.class_label, None)
