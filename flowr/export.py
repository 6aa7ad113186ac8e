"""Flows as JSON documents (export and import) and as diagrams.

The JSON format (``"format": 1``, schema in
``flowr/schemas/flow-export.schema.json``)::

    {"format": 1,
     "flow": {"name": "Orders", "version": 2, "family": "<uuid>"},
     "rule_set": {"name": "Sample", "root_rule": "flowr.sample_rules.A"},
     "nodes": [{"id": "n1", "rule": "flowr.sample_rules.A", "data": {},
                "settings": {"due_in": "P1D"}}, ...],
     "edges": [{"source": "n1", "target": "n2", "kind": "backbone"}, ...]}

Node ids are local to the document (``n1``, ``n2``... in tree order on
export); the first node is the root.  ``settings`` (only when a node has
some) are the values of the rule's ``Settings`` form, validated by the form
on import.  ``backbone`` edges are the creation
tree, ``link`` edges the others (loops, joins).  :func:`import_flow` checks
the whole document -- schema, then rules and graph structure -- before it
writes anything, and writes the flow in a constant number of queries.

Diagrams (:func:`flow_to_dot`, :func:`flow_to_mermaid`,
:func:`rule_set_to_dot`, :func:`rule_set_to_mermaid`) number nodes in tree
order, so the same flow always gives the same text.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ValidationError
from django.db import router, transaction

from flowr import edits, nodesettings, policy
from flowr import rules as rule_registry
from flowr.exceptions import FlowrError
from flowr.graphwalk import backbone_root, tree_order

if TYPE_CHECKING:
    from flowr.models import Flow, FlowNodeData, RuleSet, State
    from flowr.readmodel import FlowGraph

FORMAT = 1
Problem = dict[str, str]


class ImportErrors(FlowrError):
    """The document cannot be imported; ``problems`` lists every reason."""

    code: ClassVar[str] = "invalid_import"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "; ".join(f"{p['path']}: {p['message']}" for p in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(f"Invalid flow document: {lines}{more}", problems=problems)


# -- reading JSON text ------------------------------------------------------------

#: Deepest nesting of arrays and objects accepted (a flow document needs 4).
MAX_DEPTH = 100


class JSONInputError(ValueError):
    """Text that is not JSON flowr reads: bad bytes, bad JSON, nesting deeper
    than :data:`MAX_DEPTH`, or a string with NUL or a lone surrogate."""


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored (NUL, a lone surrogate), or None.

    PostgreSQL refuses NUL in text and no database stores a lone surrogate;
    flowr refuses both on every database, so that they all agree.
    """
    if "\x00" in text:
        return "contains a NUL character"
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not UTF-8)"
    return None


# a NUL or a lone surrogate can only come from a \u escape in valid UTF-8 JSON text
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _structure_problem(value: Any, strings: bool) -> str | None:
    """Nesting deeper than :data:`MAX_DEPTH` or (with ``strings``) a string
    with NUL or a lone surrogate, as a message; None when there is neither.

    One pass, a level of the tree at a time; the path of a bad string is
    looked for only once one is known to be there.
    """
    level, depth = [value], 0
    while level:
        if strings and any(text_problem(t) for t in _texts(level)):
            return _bad_string(value)
        below: list[Any] = []
        for item in level:
            if isinstance(item, dict):
                below += [c for c in item.values() if isinstance(c, (dict, list))]
            elif isinstance(item, list):
                below += [c for c in item if isinstance(c, (dict, list))]
        depth += 1
        if below and depth >= MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels"
        level = below
    return None


def _texts(level: list[Any]) -> Iterable[str]:
    """The strings of a level: keys and values of its containers."""
    for item in level:
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            yield from item
            yield from (c for c in item.values() if isinstance(c, str))
        elif isinstance(item, list):
            yield from (c for c in item if isinstance(c, str))


def _bad_string(value: Any) -> str:
    """Where the first string with NUL or a lone surrogate is, and why."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str) and (problem := text_problem(item)):
            return f"the string at {_json_path(path)} {problem}"
        if isinstance(item, dict):
            for key, child in item.items():
                if problem := text_problem(key):
                    return f"a key at {_json_path(path)} {problem}"
                stack.append((child, (*path, key)))
        elif isinstance(item, list):
            stack += [(child, (*path, i)) for i, child in enumerate(item)]
    return "a string contains NUL or a lone surrogate"


def parse_json(raw: bytes | str) -> Any:
    """The JSON value of ``raw`` (UTF-8 bytes, a UTF-8 BOM allowed, or text).

    Refuses what no flowr surface can store or walk, the same way on every
    database: invalid UTF-8 (and UTF-16), invalid JSON, ``NaN``/``Infinity``,
    nesting deeper than :data:`MAX_DEPTH` and strings (keys included) with
    NUL or a lone surrogate.  Linear in the size of ``raw``.

    :raises JSONInputError: with a message saying what and where
    """
    if isinstance(raw, bytes):
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or raw[:4].count(0) >= 2:
            raise JSONInputError("the text is UTF-16; only UTF-8 is supported")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise JSONInputError(f"the text is not UTF-8: byte {raw[exc.start]:#04x} at position {exc.start}") from None
    else:
        text = raw[1:] if raw.startswith("\ufeff") else raw
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise JSONInputError(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise JSONInputError(str(exc)) from None
    problem = _structure_problem(value, strings=_SUSPECT_ESCAPE.search(text) is not None)
    if problem:
        raise JSONInputError(problem)
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of the export format (shipped in the package)."""
    text = resources.files("flowr").joinpath("schemas/flow-export.schema.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def _data_fields() -> list[Any]:
    from flowr.models import FlowNodeData

    skipped = ("node", "rule_label", "settings")
    return [f for f in FlowNodeData._meta.concrete_fields if not f.primary_key and f.name not in skipped]


# -- export -------------------------------------------------------------------


def _load(flow: Flow) -> tuple[list[FlowNodeData], list[tuple[int, int, bool]]]:
    """The flow's node data in tree order and its edges (two queries)."""
    from flowr.models import Edge, FlowNodeData

    found = {
        d.node_id: d
        for d in FlowNodeData.objects.filter(node__graph_id=flow.state_graph_id).select_related("node").order_by()
    }
    rows = Edge.objects.filter(graph_id=flow.state_graph_id).order_by("pk")
    edges = list(rows.values_list("source_id", "target_id", "backbone"))
    backbone = [(s, t) for s, t, b in edges if b]
    tree = tree_order(backbone_root(found, backbone) or 0, backbone)  # the root: no backbone edge points at it
    data = [found[pk] for pk in tree.order if pk in found]
    order = {d.node_id: i for i, d in enumerate(data)}
    edges.sort(key=lambda e: (order.get(e[0], 0), order.get(e[1], 0)))
    return data, edges


def export_flow(flow: Flow) -> dict[str, Any]:
    """The flow as a JSON-ready document (format 1); three queries."""
    data, edges = _load(flow)
    ids = {d.node_id: f"n{i}" for i, d in enumerate(data, start=1)}
    fields = _data_fields()
    rule_set = flow.rule_set
    return {
        "format": FORMAT,
        "flow": {"name": flow.name, "version": flow.version, "family": str(flow.family)},
        "rule_set": {"name": rule_set.name, "root_rule": rule_set.root_rule_label},
        "nodes": [
            {
                "id": ids[d.node_id],
                "rule": d.rule_label,
                "data": {f.name: f.value_to_string(d) for f in fields},
            }
            | ({"settings": d.settings} if d.settings else {})
            for d in data
        ],
        "edges": [
            {"source": ids[s], "target": ids[t], "kind": "backbone" if backbone else "link"} for s, t, backbone in edges
        ],
    }


# -- import -------------------------------------------------------------------


def _shown(key: str) -> str:
    """``key`` as written, or escaped when no database could store it."""
    return ascii(key) if text_problem(key) else key


def _json_path(parts: Iterable[Any]) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{_shown(str(part))}"
    return path


_NODE_KEYS = {"id", "rule", "data", "settings"}
_EDGE_KEYS = {"source", "target", "kind"}


@cache
def _label_pattern() -> re.Pattern[str]:
    return re.compile(schema()["$defs"]["label"]["pattern"])


def _local_id_ok(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 100


def _plain_node(node: Any, labels: set[str]) -> bool:
    """True when ``node`` is certainly valid under the schema (a fast path:
    False sends it to the JSON Schema validator for the messages)."""
    if not isinstance(node, dict) or not node.keys() <= _NODE_KEYS or not _local_id_ok(node.get("id")):
        return False
    rule = node.get("rule")
    if not isinstance(rule, str):
        return False
    if rule not in labels:
        if not (len(rule) <= 255 and _label_pattern().search(rule)):
            return False
        labels.add(rule)
    return isinstance(node.get("data", {}), dict) and isinstance(node.get("settings", {}), dict)


def _plain_edge(edge: Any) -> bool:
    """As :func:`_plain_node`, for an edge."""
    return (
        isinstance(edge, dict)
        and edge.keys() == _EDGE_KEYS
        and _local_id_ok(edge["source"])
        and _local_id_ok(edge["target"])
        and edge["kind"] in ("backbone", "link")
        and isinstance(edge["kind"], str)
    )


def _schema_problems(document: Any) -> list[Problem]:
    """The JSON Schema's findings, in one linear pass.

    The validator sees the document with only the nodes and edges that the
    fast checks above cannot vouch for (it takes about 0.3 ms per node), and
    the positions of its findings are mapped back to the document's.
    """
    from jsonschema import Draft202012Validator

    shell, positions = document, {}
    if isinstance(document, dict):
        shell = dict(document)
        labels: set[str] = set()
        for key, plain in (("nodes", lambda n: _plain_node(n, labels)), ("edges", _plain_edge)):
            items = document.get(key)
            if isinstance(items, list) and items:
                kept = [i for i, item in enumerate(items) if not plain(item)] or [0]
                shell[key] = [items[i] for i in kept]
                positions[key] = kept
    found = []
    for error in Draft202012Validator(schema()).iter_errors(shell):
        path = list(error.absolute_path)
        if len(path) > 1 and path[0] in positions and isinstance(path[1], int):
            path[1] = positions[path[0]][path[1]]
        found.append((path, error.message))
    found.sort(key=lambda item: (list(map(str, item[0])), item[1]))
    return [{"path": _json_path(path), "message": message} for path, message in found]


def validate_schema(document: Any) -> list[Problem]:
    """The document's problems under the JSON Schema of the format (only)."""
    return _schema_problems(document)


class _Checker:
    """The rule and structure checks of a schema-valid document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.doc = document
        self.problems: list[Problem] = []
        self.index: dict[str, int] = {}  # local id -> node position
        self.parents: dict[int, int] = {}  # node position -> backbone parent position
        self.kids: dict[int, list[int]] = {}  # backbone children, in document order
        self.links: list[tuple[int, int]] = []
        self.edge_at: dict[tuple[int, int], int] = {}  # (source, target) -> edge position
        self.settings: dict[int, dict[str, Any]] = {}  # node position -> its cleaned settings

    def add(self, path: str, message: str) -> None:
        self.problems.append({"path": path, "message": message})

    def run(self, rule_set: RuleSet | None) -> list[Problem]:
        self.check_rule_set(rule_set)
        self.check_texts()
        self.check_nodes()
        self.check_edges()
        self.check_tree()
        self.check_rules()
        return self.problems

    def check_rule_set(self, rule_set: RuleSet | None) -> None:
        root_label = self.doc["rule_set"]["root_rule"]
        if rule_registry.get_rule(root_label) is None:
            self.add("$.rule_set.root_rule", f"rule {root_label!r} does not resolve to a Rule of an installed app")
        if self.doc["nodes"][0]["rule"] != root_label:
            self.add(
                "$.nodes[0].rule",
                f"the root node's rule {self.doc['nodes'][0]['rule']!r} is not the rule set's root rule {root_label!r}",
            )
        if rule_set is not None and rule_set.root_rule_label != root_label:
            self.add(
                "$.rule_set.root_rule",
                f"rule set {rule_set.pk} ({rule_set.name}) starts with {rule_set.root_rule_label!r}, "
                f"not {root_label!r}",
            )

    def check_texts(self) -> None:
        """Names and ids no database can store (NUL, lone surrogates)."""
        for path, text in (
            ("$.flow.name", self.doc["flow"]["name"]),
            ("$.flow.family", self.doc["flow"].get("family", "")),
            ("$.rule_set.name", self.doc["rule_set"]["name"]),
        ):
            if problem := text_problem(text):
                self.add(path, f"the text {problem}")
        for i, node in enumerate(self.doc["nodes"]):
            if problem := text_problem(node["id"]):
                self.add(f"$.nodes[{i}].id", f"the id {problem}")
            for key, value in node.get("data", {}).items():
                for text in (key, value) if isinstance(value, str) else (key,):
                    if problem := text_problem(text):
                        self.add(f"$.nodes[{i}].data.{_shown(key)}", f"the text {problem}")

    def check_nodes(self) -> None:
        fields = {f.name: f for f in _data_fields()}
        for i, node in enumerate(self.doc["nodes"]):
            if node["id"] in self.index:
                self.add(f"$.nodes[{i}].id", f"duplicate node id {node['id']!r}")
            else:
                self.index[node["id"]] = i
            if rule_registry.get_rule(node["rule"]) is None:
                self.add(f"$.nodes[{i}].rule", f"rule {node['rule']!r} does not resolve to a Rule of an installed app")
            for key, value in node.get("data", {}).items():
                field = fields.get(key)
                if field is None:
                    self.add(f"$.nodes[{i}].data.{_shown(key)}", f"unknown node data field {key!r}")
                    continue
                try:
                    field.clean(field.to_python(value), None)
                except ValidationError as exc:
                    self.add(f"$.nodes[{i}].data.{key}", "; ".join(exc.messages))
            self.check_settings(i, node)

    def check_settings(self, i: int, node: dict[str, Any]) -> None:
        """The node's settings, cleaned by its rule's form (the values imported)."""
        given = node.get("settings")
        rule = rule_registry.get_rule(node["rule"])
        if given is None or rule is None:  # a missing rule is reported above
            return
        form = nodesettings.form_of(rule)
        if form is None:
            if given:
                self.add(f"$.nodes[{i}].settings", f"rule {node['rule']!r} has no settings")
            return
        values, problems = nodesettings.clean(form, given)
        for key, messages in problems.items():
            where = f"$.nodes[{i}].settings" if key == "__all__" else f"$.nodes[{i}].settings.{_shown(key)}"
            self.add(where, "; ".join(messages))
        if not problems:
            self.settings[i] = values

    def check_edges(self) -> None:
        seen: dict[tuple[int, int], int] = {}
        for i, edge in enumerate(self.doc["edges"]):
            ends = []
            for end in ("source", "target"):
                if edge[end] not in self.index:
                    self.add(f"$.edges[{i}].{end}", f"no node has id {edge[end]!r}")
                else:
                    ends.append(self.index[edge[end]])
            if len(ends) != 2:
                continue
            source, target = ends
            if (source, target) in seen:
                self.add(f"$.edges[{i}]", f"duplicate edge (same as $.edges[{seen[source, target]}])")
                continue
            seen[source, target] = i
            if edge["kind"] == "link":
                self.links.append((source, target))
            elif target == 0:
                self.add(f"$.edges[{i}]", "the root cannot have a backbone parent (use a link)")
            elif target in self.parents:
                self.add(f"$.edges[{i}]", f"node {edge['target']!r} already has a backbone parent")
            else:
                self.parents[target] = source
                self.kids.setdefault(source, []).append(target)
        self.edge_at = seen

    def check_tree(self) -> None:
        reached = set(self.tree_order())
        everything = {0}
        stack = [0]
        children: dict[int, list[int]] = {}
        for source, target in self.edge_at:
            children.setdefault(source, []).append(target)
        while stack:
            for nxt in children.get(stack.pop(), ()):
                if nxt not in everything:
                    everything.add(nxt)
                    stack.append(nxt)
        for local_id, i in self.index.items():
            if i == 0:
                continue
            if i not in everything:
                self.add(f"$.nodes[{i}]", f"node {local_id!r} is not reachable from the root")
            elif i not in self.parents:
                self.add(f"$.nodes[{i}]", f"node {local_id!r} has no backbone parent")
            elif i not in reached:
                self.add(f"$.nodes[{i}]", f"node {local_id!r} is on a backbone cycle, not under the root")

    def tree_order(self) -> list[int]:
        """Backbone preorder from the root (parents before children)."""
        order, stack = [], [0]
        while stack:
            current = stack.pop()
            order.append(current)
            stack.extend(reversed(self.kids.get(current, [])))
        return order

    def check_rules(self) -> None:
        """Each node's children against its rule: the policy's answer for
        stored children (:func:`flowr.policy.stored_children_problems`)."""
        nodes = self.doc["nodes"]
        by_source: dict[int, list[tuple[int, int]]] = {}
        for (source, target), i in self.edge_at.items():  # in edge order (insertion order)
            by_source.setdefault(source, []).append((target, i))
        for source in sorted(by_source):  # n log n, once
            targets = by_source[source]
            labels = [nodes[target]["rule"] for target, _ in targets]
            for problem in policy.stored_children_problems(nodes[source]["rule"], labels):
                where = f"$.nodes[{source}]" if problem.child < 0 else f"$.edges[{targets[problem.child][1]}]"
                self.add(where, f"node {nodes[source]['id']!r}: {problem.message}")


def _resolve_rule_set(rule_set: RuleSet | int | str | None) -> tuple[RuleSet | None, list[Problem]]:
    from flowr.models import RuleSet

    if rule_set is None or isinstance(rule_set, RuleSet):
        return rule_set, []
    text = str(rule_set)
    is_pk = text.isascii() and text.isdigit() and len(text) <= 18  # "²".isdigit() is True
    found = RuleSet.objects.filter(pk=int(text)).first() if is_pk else None
    if found is None:
        return None, [{"path": "$.rule_set", "message": f"rule set {rule_set!r} does not exist"}]
    return found, []


def validate_document(document: Any, name: str | None = None, rule_set: RuleSet | None = None) -> list[Problem]:
    """Every problem of ``document`` (empty when it can be imported).

    The JSON Schema is checked first; when it holds, the rules and the graph
    structure are checked: rules that do not resolve, allowed children,
    child counts, duplicate child rules, edge ends, the backbone tree and
    reachability from the root.  Each problem has a JSON ``path``.
    """
    return _validate(document, name, rule_set)[0]


def _validate(document: Any, name: str | None, rule_set: RuleSet | None) -> tuple[list[Problem], _Checker | None]:
    """:func:`validate_document`'s problems, and the checker that found them
    (None when the schema does not hold): the import reuses its index."""
    problems = _schema_problems(document)
    if name is not None and not (0 < len(name) <= 100):
        problems.append({"path": "$.flow.name", "message": "the name must be 1 to 100 characters long"})
    elif name is not None and (problem := text_problem(name)):
        problems.append({"path": "$.flow.name", "message": f"the name {problem}"})
    if problems:
        return problems, None
    checker = _Checker(document)
    return checker.run(rule_set), checker


def import_flow(document: Any, name: str | None = None, rule_set: RuleSet | int | None = None) -> Flow:
    """Create a new flow (version 1 of a new family) from a document.

    :param name: the flow's name (default: the document's)
    :param rule_set: the rule set to attach the flow to (a RuleSet or its
        pk); by default the first rule set with the document's name and root
        rule, created when there is none
    :raises ImportErrors: listing every problem; nothing is written then
    """
    from flowr.models import Flow, FlowNodeData, RuleSet

    found, problems = _resolve_rule_set(rule_set)
    found_problems, checker = _validate(document, name, found)
    problems += found_problems
    if problems or checker is None:
        raise ImportErrors(problems)
    order = checker.tree_order()
    position = {old: new for new, old in enumerate(order)}
    nodes = document["nodes"]
    parents: list[int | None] = [None if i == 0 else position[checker.parents[i]] for i in order]
    fields = {f.name: f for f in _data_fields()}
    data = [
        {"rule_label": nodes[i]["rule"], "settings": checker.settings.get(i, {})}
        | {key: fields[key].to_python(value) for key, value in nodes[i].get("data", {}).items()}
        for i in order
    ]
    links = [(position[s], position[t]) for s, t in checker.links]
    with transaction.atomic(using=router.db_for_write(Flow)):
        if found is None:
            info = document["rule_set"]
            found = RuleSet.objects.filter(name=info["name"], root_rule_label=info["root_rule"]).order_by("pk").first()
            if found is None:
                found = RuleSet.objects.create(name=info["name"], root_rule_label=info["root_rule"])
        graph, _ = edits.bulk_create_graph(FlowNodeData, parents, data, links)
        flow = Flow.objects.create(name=name or document["flow"]["name"], rule_set=found, state_graph=graph)
        edits.log_created(flow, f"import flow {flow.name!r}")
        return flow


# -- diagrams -----------------------------------------------------------------

CURRENT_FILL = "#ffd54f"
VISITED_FILL = "#e3f2fd"
PATH_COLOR = "#1565c0"


def dot_escape(text: str) -> str:
    """``text`` for a double-quoted DOT string."""
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


_MERMAID_SPECIAL = set('"#&<>[](){}|`;\\')


def mermaid_escape(text: str) -> str:
    """``text`` for a quoted Mermaid label: specials as ``#<code>;``."""
    out = []
    for ch in text.replace("\r\n", "\n").replace("\r", "\n"):
        if ch == "\n":
            out.append("<br/>")
        elif ch in _MERMAID_SPECIAL:
            out.append(f"#{ord(ch)};")
        else:
            out.append(ch)
    return "".join(out)


def _diagram(flow: Flow) -> tuple[FlowGraph, dict[int, str], list[tuple[int, int, bool]]]:
    """The flow's read model, each node's local id (``n1``... in tree order)
    and the edges in that order (two or three queries)."""
    from flowr.readmodel import FlowGraph

    graph = FlowGraph.load(flow)
    ids = {pk: f"n{i}" for i, pk in enumerate(graph.labels, start=1)}
    order = {pk: i for i, pk in enumerate(graph.labels)}
    edges = sorted(((s, t, bool(b)) for s, t, b in graph.edges), key=lambda e: (order.get(e[0], 0), order.get(e[1], 0)))
    return graph, ids, edges


def _node_label(graph: FlowGraph, label: str) -> str:
    found = graph.rule(label)
    return str(found.verbose_name) if found else f"{rule_registry.short_name(label)} (missing rule)"


def _branches(graph: FlowGraph, label: str) -> bool:
    found = graph.rule(label)
    return bool(found and found.multiple_paths)


def _state_marks(
    flow: Flow, state: State | None, ids: dict[int, str]
) -> tuple[str | None, set[str], set[tuple[str, str]]]:
    """The current node, the visited nodes and the traversed edges (local ids)."""
    if state is None:
        return None, set(), set()
    from flowr.models import FlowNodeData, StateHistory

    rows = StateHistory.objects.filter(state_id=state.pk).order_by("seq")
    visited: set[str] = set()
    walked: set[tuple[str, str]] = set()
    for source, target in rows.values_list("from_node__node_id", "to_node__node_id"):
        if target in ids:
            visited.add(ids[target])
            if source in ids:
                walked.add((ids[source], ids[target]))
    current_node = FlowNodeData.objects.filter(pk=state.current_node_id).values_list("node_id", flat=True).first()
    return ids.get(current_node) if current_node is not None else None, visited, walked


def _flow_title(flow: Flow) -> str:
    return f"{flow.name} (v{flow.version})"


def flow_to_dot(flow: Flow, state: State | None = None) -> str:
    """The flow as Graphviz DOT; ``state`` highlights its node and path."""
    graph, ids, edges = _diagram(flow)
    current, visited, walked = _state_marks(flow, state, ids)
    title = dot_escape(_flow_title(flow))
    lines = [
        f'digraph "{title}" {{',
        f'  graph [label="{title}", labelloc=t];',
        '  node [shape=box, style=rounded, fontname="Helvetica"];',
    ]
    for pk, label in graph.labels.items():
        local = ids[pk]
        attrs = [f'label="{dot_escape(_node_label(graph, label))}"']
        if _branches(graph, label):
            attrs.append("shape=diamond")
        if pk == graph.root:
            attrs.append("peripheries=2")
        if local == current:
            attrs.append(f'style="rounded,filled,bold", fillcolor="{CURRENT_FILL}"')
        elif local in visited:
            attrs.append(f'style="rounded,filled", fillcolor="{VISITED_FILL}"')
        lines.append(f"  {local} [{', '.join(attrs)}];")
    for source, target, backbone in edges:
        pair = (ids[source], ids[target])
        attrs = [] if backbone else ["style=dashed"]
        if pair in walked:
            attrs.append(f'color="{PATH_COLOR}", penwidth=2')
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {pair[0]} -> {pair[1]}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def flow_to_mermaid(flow: Flow, state: State | None = None) -> str:
    """The flow as a Mermaid flowchart; ``state`` highlights its node and path."""
    graph, ids, edges = _diagram(flow)
    current, visited, walked = _state_marks(flow, state, ids)
    lines = ["---", f"title: {json.dumps(_flow_title(flow))}", "---", "flowchart TD"]
    for pk, rule_label in graph.labels.items():
        label = mermaid_escape(_node_label(graph, rule_label))
        if pk == graph.root:
            shape = f'(["{label}"])'
        elif _branches(graph, rule_label):
            shape = f'{{"{label}"}}'
        else:
            shape = f'("{label}")'
        lines.append(f"  {ids[pk]}{shape}")
    on_path = []
    for number, (source, target, backbone) in enumerate(edges):
        pair = (ids[source], ids[target])
        lines.append(f"  {pair[0]} {'-->' if backbone else '-.->'} {pair[1]}")
        if pair in walked:
            on_path.append(str(number))
    if state is not None:
        lines.append(f"  classDef current fill:{CURRENT_FILL},stroke:#333,stroke-width:3px")
        lines.append(f"  classDef visited fill:{VISITED_FILL}")
        if visited - {current}:
            lines.append(f"  class {','.join(sorted(visited - {current}, key=_local_key))} visited")
        if current:
            lines.append(f"  class {current} current")
        if on_path:
            lines.append(f"  linkStyle {','.join(on_path)} stroke:{PATH_COLOR},stroke-width:3px")
    return "\n".join(lines) + "\n"


def _local_key(local: str) -> int:
    return int(local[1:])


def _rule_graph(rule_set: RuleSet) -> tuple[list[tuple[str, str, bool]], list[tuple[str, str]]]:
    """Rules as (local id, name, multiple_paths) and rule edges."""
    graph = policy.rule_graph(rule_set.root_rule_label)
    if graph.root_missing:
        return [("r1", f"{rule_registry.short_name(rule_set.root_rule_label)} (missing rule)", False)], []
    ids = {r.class_label: f"r{i}" for i, r in enumerate(graph.rules, start=1)}
    nodes = [(ids[r.class_label], str(r.verbose_name), r.multiple_paths) for r in graph.rules]
    edges = [(ids[s.class_label], ids[t.class_label]) for s, t in graph.edges]
    return nodes, edges


def rule_set_to_dot(rule_set: RuleSet) -> str:
    """The rule graph of ``rule_set`` as Graphviz DOT (diamond: a choice)."""
    nodes, edges = _rule_graph(rule_set)
    title = dot_escape(rule_set.name)
    lines = [
        f'digraph "{title}" {{',
        f'  graph [label="{title}", labelloc=t];',
        '  node [shape=box, style=rounded, fontname="Helvetica"];',
    ]
    for local, name, multiple in nodes:
        attrs = [f'label="{dot_escape(name)}"']
        if multiple:
            attrs.append("shape=diamond")
        if local == "r1":
            attrs.append("peripheries=2")
        lines.append(f"  {local} [{', '.join(attrs)}];")
    lines += [f"  {s} -> {t};" for s, t in edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


def rule_set_to_mermaid(rule_set: RuleSet) -> str:
    """The rule graph of ``rule_set`` as a Mermaid flowchart."""
    nodes, edges = _rule_graph(rule_set)
    lines = ["---", f"title: {json.dumps(rule_set.name)}", "---", "flowchart TD"]
    for local, name, multiple in nodes:
        label = mermaid_escape(name)
        if multiple:
            shape = f'{{"{label}"}}'
        elif local == "r1":
            shape = f'(["{label}"])'
        else:
            shape = f'("{label}")'
        lines.append(f"  {local}{shape}")
    lines += [f"  {s} --> {t}" for s, t in edges]
    return "\n".join(lines) + "\n"
