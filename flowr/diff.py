"""What changed between two flows (two versions of one flow, usually).

:func:`diff_flows` pairs the nodes of the two flows the way
:func:`~flowr.versions.migrate_states` does (the rule path from the root,
:func:`~flowr.versions.auto_mapping`; one to one here: two nodes of ``a``
never pair with one node of ``b``), then pairs what is left where a
matched node has exactly one unmatched child on each side: that node was
*changed* (its rule) rather than removed and added, and the rule-path
matching goes on below it.  A node of one flow only is added or removed; a
link is added or removed when its two ends are not linked on the other side.

Each node item names the node (its ``Node`` pk in the flow it belongs to:
``a`` for removed, ``b`` for added; changed items give both as ``node`` and
``other``).  Each link item gives ``source`` and ``target`` in its own flow
and ``other_source`` / ``other_target``: the paired node in the other flow,
None when there is none, so the lists are enough to turn ``a`` into ``b``.
"""

from __future__ import annotations

import json
from collections import deque
from typing import TYPE_CHECKING, Any

from django.db import router

from flowr.rules import short_name
from flowr.versions import graph_rows

if TYPE_CHECKING:
    from flowr.models import Flow

Rows = tuple[int, dict[int, str], dict[int, list[int]]]
KEYS = ("added_nodes", "removed_nodes", "changed_nodes", "added_links", "removed_links")


def node_facts(graph_id: int, db: str) -> dict[int, dict[str, Any]]:
    """What :func:`node_changes` compares, per node of a graph (one query)."""
    from flowr.models import FlowNodeData

    rows = (
        FlowNodeData.objects.using(db).filter(node__graph_id=graph_id).values_list("node_id", "rule_label", "settings")
    )
    return {node: {"rule": label, "settings": settings or {}} for node, label, settings in rows}


def node_changes(a: dict[str, Any], b: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """How node ``b`` differs from node ``a`` (their :func:`node_facts`):
    ``{fact: {"old": ..., "new": ...}}``, empty when they are the same."""
    return {
        key: {"old": a.get(key), "new": b.get(key)} for key in sorted(a.keys() | b.keys()) if a.get(key) != b.get(key)
    }


def diff_mapping(src: Rows, tgt: Rows) -> dict[int, int]:
    """Source node -> target node, one to one: :func:`~flowr.versions.auto_mapping`'s
    rule-path matching, extended through nodes whose rule changed (a lone
    unmatched child on each side)."""
    s_root, s_labels, s_children = src
    t_root, t_labels, t_children = tgt
    # auto_mapping's walk, kept one-to-one: a loop back to the root (E -> A)
    # and a second node of the root's rule (E -> A') are two different nodes
    mapping = {s_root: t_root} if s_labels[s_root] == t_labels[t_root] else {}
    used = set(mapping.values())
    queue, seen = deque(mapping), {s_root}
    while queue:
        node = queue.popleft()
        s_kids = [c for c in s_children.get(node, ()) if c not in mapping]
        t_kids = [c for c in t_children.get(mapping[node], ()) if c not in used]
        by_rule = {t_labels[c]: c for c in t_kids}
        for child in s_kids:
            match = by_rule.get(s_labels[child])
            if match is not None and match not in used:
                mapping[child] = match
                used.add(match)
        s_left = [c for c in s_kids if c not in mapping]
        t_left = [c for c in t_kids if c not in used]
        if len(s_left) == 1 and len(t_left) == 1:
            mapping[s_left[0]] = t_left[0]
            used.add(t_left[0])
        for child in s_children.get(node, ()):
            if child in mapping and child not in seen:
                seen.add(child)
                queue.append(child)
    return mapping


def _node(node: int, label: str) -> dict[str, Any]:
    return {"node": node, "rule": label, "rule_name": short_name(label)}


def _links(rows: Rows) -> set[tuple[int, int]]:
    return {(source, target) for source, kids in rows[2].items() for target in kids}


def _link(link: tuple[int, int], other: dict[int, int]) -> dict[str, Any]:
    source, target = link
    return {"source": source, "target": target, "other_source": other.get(source), "other_target": other.get(target)}


def diff_flows(a: Flow, b: Flow) -> dict[str, list[dict[str, Any]]]:
    """What changed from flow ``a`` to flow ``b``, as JSON:
    ``{"added_nodes", "removed_nodes", "changed_nodes", "added_links",
    "removed_links"}`` (lists, sorted by node pk; all empty for a flow and
    its unchanged clone).  Six queries, whatever the flows' sizes."""
    db = router.db_for_read(type(a))
    src, tgt = graph_rows(a.state_graph_id, db), graph_rows(b.state_graph_id, db)
    s_facts, t_facts = node_facts(a.state_graph_id, db), node_facts(b.state_graph_id, db)
    mapping = diff_mapping(src, tgt)
    back = {t: s for s, t in mapping.items()}
    changed = []
    for s, t in sorted(mapping.items()):
        changes = node_changes(s_facts[s], t_facts[t])
        if changes:
            changed.append({**_node(s, src[1][s]), "other": t, "other_rule": tgt[1][t], "changes": changes})
    s_links, t_links = _links(src), _links(tgt)
    return {
        "added_nodes": [_node(n, tgt[1][n]) for n in sorted(tgt[1]) if n not in back],
        "removed_nodes": [_node(n, src[1][n]) for n in sorted(src[1]) if n not in mapping],
        "changed_nodes": changed,
        "added_links": [_link(x, back) for x in sorted(t_links) if (back.get(x[0]), back.get(x[1])) not in s_links],
        "removed_links": [
            _link(x, mapping) for x in sorted(s_links) if (mapping.get(x[0]), mapping.get(x[1])) not in t_links
        ],
    }


def is_empty(diff: dict[str, list[dict[str, Any]]]) -> bool:
    return not any(diff[key] for key in KEYS)


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value)


def diff_text(diff: dict[str, list[dict[str, Any]]]) -> str:
    """The diff as lines of text (``manage.py flowr_diff --format text``)."""
    lines = [f"+ node {n['node']} {n['rule_name']}" for n in diff["added_nodes"]]
    lines += [f"- node {n['node']} {n['rule_name']}" for n in diff["removed_nodes"]]
    for n in diff["changed_nodes"]:
        facts = "; ".join(f"{key} {_text(c['old'])} -> {_text(c['new'])}" for key, c in n["changes"].items())
        lines.append(f"~ node {n['node']} -> {n['other']}: {facts}")
    lines += [f"+ link {x['source']} -> {x['target']}" for x in diff["added_links"]]
    lines += [f"- link {x['source']} -> {x['target']}" for x in diff["removed_links"]]
    return "\n".join(lines) if lines else "no differences"
