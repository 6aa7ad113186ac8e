"""Reading the graph document of ``flows/<id>/graph/`` the way the editor's
JavaScript does (``expandGraph`` in ``flowr/static/flowr/js/editor.js``)."""

from __future__ import annotations

from typing import Any


def graph_nodes(document: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Node pk -> every field of the node, as ``nodes/<id>/`` gives them
    (without its ``id``, ``flow``, ``parents`` and ``prune_list``), in the
    document's order."""
    columns = document["node_columns"]
    root = document["flow"]["root_node"]
    found = {}
    for row in document["nodes"]:
        node = dict(zip(columns, row, strict=True))
        rule = document["rules"][node["rule"]]
        options = document["child_options"][node["child_options"]]
        removal = document["removals"][node["removal"]]
        found[node["node"]] = {
            "node": node["node"],
            "rule_label": rule["label"],
            "rule_name": rule["name"],
            "rule_verbose_name": rule["verbose_name"],
            "missing_rule": rule["missing_rule"],
            "is_root": node["node"] == root,
            "can_remove": removal["can_remove"],
            "cannot_remove_reason": removal["reason"],
            "multiple_paths": rule["multiple_paths"],
            "has_edit_screen": rule["has_edit_screen"],
            "max_children": rule["max_children"],
            "allowed_child_rules": options["allowed_child_rules"],
            "full_reason": options["full_reason"],
            "children": node["children"],
            "state_count": node["state_count"],
            "timer": None if node["timer"] is None else document["timers"][node["timer"]],
        }
    return found


def graph_edges(document: dict[str, Any]) -> list[tuple[int, int, str]]:
    """``(source, target, "backbone" | "link")`` of every edge."""
    columns = document["node_columns"]
    rows = [dict(zip(columns, row, strict=True)) for row in document["nodes"]]
    parent = {row["node"]: row["backbone_parent"] for row in rows}
    return [
        (row["node"], child, "backbone" if parent[child] == row["node"] else "link")
        for row in rows
        for child in row["children"]
    ]
