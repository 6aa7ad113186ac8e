"""System checks (``manage.py check``): rules in code versus flows stored.

========== ==================================================================
id         problem
========== ==================================================================
flowr.E001 a rule set's root rule label does not resolve to a Rule
flowr.E002 flow nodes store a rule label that does not resolve to a Rule
flowr.E003 a Rule's ``children`` holds something that is not a Rule
flowr.E004 a Rule's ``children`` names a label that does not resolve
flowr.E005 a Rule sets ``name`` in its body (ignored: use ``verbose_name``)
flowr.E006 a ``FLOWR["SUBJECT_MODELS"]`` entry is not an installed model
flowr.E010 a Rule's ``permission`` is not None, "app_label.codename" or a callable
flowr.E011 a Rule's ``timeout_targets`` names a rule that is not one of its children
flowr.W001 a stored flow has an edge its rules no longer allow
flowr.W002 a stored flow node has more children than its rule allows now
flowr.W003 a flow's root node does not have its rule set's root rule
flowr.W004 a flow node stores settings its rule's ``Settings`` form refuses now (after ``upgrade()``)
========== ==================================================================

The database checks read grouped rows (a few queries, plus one per
offending pair of rules), never one query per flow or node.  They are
skipped when the tables do not exist yet (before ``migrate``) or the
database cannot be reached: a check must never crash ``manage.py``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, Warning, register
from django.db import DatabaseError, router, transaction
from django.db.models import Count
from django.utils.module_loading import import_string

from flowr import guards, nodesettings, policy
from flowr import rules as rule_registry
from flowr.conf import settings as flowr_settings
from flowr.conf import subject_model_entries

MAX_LISTED = 10


def _listed(items: Sequence[Any]) -> str:
    shown = ", ".join(str(i) for i in items[:MAX_LISTED])
    return shown + (f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


def _wanted(app_configs: Iterable[AppConfig] | None, label: str = "flowr") -> bool:
    return app_configs is None or any(config.label == label for config in app_configs)


@register("flowr")
def check_rule_classes(app_configs: Iterable[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """flowr.E003 / E004: every Rule's ``children`` must name Rules."""
    configs = None if app_configs is None else list(app_configs)
    messages: list[CheckMessage] = []
    for rule in rule_registry.all_rules():
        if configs is not None and not any(rule.__module__.startswith(c.name) for c in configs):
            continue
        for broken in policy.broken_children(rule):
            if broken.missing:
                messages.append(
                    Error(
                        f"Rule {rule.class_label} names child rule {broken.entry!r}, which does not resolve.",
                        hint="Fix the label (module.ClassName of a Rule in an installed app) or define the rule. "
                        "Until then it is not offered; the rule's other children are.",
                        obj=rule,
                        id="flowr.E004",
                    )
                )
            else:
                messages.append(
                    Error(
                        f"Rule {rule.class_label}: children[{broken.position}] is {broken.entry!r}, "
                        "which is not a Rule class.",
                        hint="children may only hold Rule subclasses or their dotted labels.",
                        obj=rule,
                        id="flowr.E003",
                    )
                )
    return messages


@register("flowr")
def check_timeout_targets(app_configs: Iterable[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """flowr.E011: every entry of a Rule's ``timeout_targets`` must be one of its children."""
    configs = None if app_configs is None else list(app_configs)
    messages: list[CheckMessage] = []
    for rule in rule_registry.all_rules():
        if configs is not None and not any(rule.__module__.startswith(c.name) for c in configs):
            continue
        valid = {target.class_label for target in rule_registry.timeout_target_rules(rule)}
        for position, entry in enumerate(getattr(rule, "timeout_targets", ())):
            label = entry if isinstance(entry, str) else getattr(entry, "class_label", repr(entry))
            if label not in valid:
                messages.append(
                    Error(
                        f"Rule {rule.class_label}: timeout_targets[{position}] is {label!r}, "
                        "which is not one of its children.",
                        hint="A timeout moves the State along an edge: list only rules of children.",
                        obj=rule,
                        id="flowr.E011",
                    )
                )
    return messages


@register("flowr")
def check_rule_permissions(app_configs: Iterable[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """flowr.E010: every Rule's ``permission`` must be None, a permission
    string or a callable (:mod:`flowr.guards`)."""
    configs = None if app_configs is None else list(app_configs)
    messages: list[CheckMessage] = []
    for rule in rule_registry.all_rules():
        if configs is not None and not any(rule.__module__.startswith(c.name) for c in configs):
            continue
        problem = guards.permission_problem(rule)
        if problem is not None:
            messages.append(
                Error(
                    f"Rule {rule.class_label}: {problem}",
                    hint='Use None, a permission string "app_label.codename" '
                    "or a callable (state, actor) -> bool | str.",
                    obj=rule,
                    id="flowr.E010",
                )
            )
    return messages


@register("flowr")
def check_rule_names(app_configs: Iterable[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """flowr.E005: ``Rule.name`` is the class name (0.2's API, read-only), so
    a ``name`` set in a rule's body would be silently ignored: refuse it."""
    configs = None if app_configs is None else list(app_configs)
    return [
        Error(
            f"Rule {rule.class_label} sets name = {rule.__dict__['name']!r}, which is ignored: "
            "Rule.name is always the class name.",
            hint='Set verbose_name instead (e.g. verbose_name = gettext_lazy("In progress")): '
            "it is the name people see in the admin, the editor, the API and the diagrams.",
            obj=rule,
            id="flowr.E005",
        )
        for rule in rule_registry.rules_defining_name()
        if configs is None or any(rule.__module__.startswith(c.name) for c in configs)
    ]


@register("flowr")
def check_stored_flows(app_configs: Iterable[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """flowr.E001, E002, W001-W004: stored rule sets and flows against the code."""
    if not _wanted(app_configs):
        return []
    from flowr.models import FlowNodeData

    db = router.db_for_read(FlowNodeData)
    try:
        with transaction.atomic(using=db):  # a failed query must not poison an outer transaction
            return _stored_label_errors(db) + _flow_warnings(db) + _settings_warnings(db)
    except DatabaseError:
        return []  # no tables yet (before migrate) or no database: nothing stored to check


def _flow_names(db: str, graph_ids: Iterable[int]) -> dict[int, str]:
    from flowr.models import Flow

    rows = (
        Flow.objects.using(db)
        .filter(state_graph_id__in=set(graph_ids))
        .values_list("state_graph_id", "pk", "name", "version")
    )
    return {graph: f"flow {name!r} (id {pk}, v{version})" for graph, pk, name, version in rows}


def _stored_label_errors(db: str) -> list[CheckMessage]:
    from flowr.models import FlowNodeData, RuleSet

    messages: list[CheckMessage] = []
    for pk, name, label in RuleSet.objects.using(db).order_by("pk").values_list("pk", "name", "root_rule_label"):
        if rule_registry.get_rule(label) is None:
            messages.append(
                Error(
                    f"Rule set {name!r} (id {pk}): root rule {label!r} does not resolve to a Rule.",
                    hint="Restore or rename the Rule class, or point the rule set at an existing rule.",
                    obj=f"flowr.RuleSet(id={pk})",
                    id="flowr.E001",
                )
            )
    labels = FlowNodeData.objects.using(db).order_by().values_list("rule_label", flat=True).distinct()
    missing = sorted(label for label in labels if rule_registry.get_rule(label) is None)
    if not missing:
        return messages
    nodes: dict[tuple[int, str], list[int]] = defaultdict(list)
    for node, graph, label in (
        FlowNodeData.objects.using(db)
        .filter(rule_label__in=missing)
        .order_by("node_id")
        .values_list("node_id", "node__graph_id", "rule_label")
    ):
        nodes[graph, label].append(node)
    names = _flow_names(db, (graph for graph, _ in nodes))
    for (graph, label), ids in sorted(nodes.items()):
        messages.append(
            Error(
                f"{names.get(graph, f'graph {graph}')}: node(s) {_listed(ids)} use rule {label!r}, "
                "which does not resolve to a Rule.",
                hint="Restore or rename the Rule class; these nodes show as missing rules until then.",
                obj=f"flowr.Flow(graph={graph})",
                id="flowr.E002",
            )
        )
    return messages


def _allowed(label: str) -> tuple[set[str], int] | None:
    """The child labels and child count a rule allows (the policy's
    answer), None when the rule does not resolve (reported as E002)."""
    rule = rule_registry.get_rule(label)
    if rule is None:
        return None
    return {c.class_label for c in policy.child_rules(rule)}, policy.max_children(rule)


def _flow_warnings(db: str) -> list[CheckMessage]:
    from flowr.models import Edge, Flow

    messages: list[CheckMessage] = []
    pairs = (
        Edge.objects.using(db)
        .filter(source__flownodedata__isnull=False, target__flownodedata__isnull=False)
        .order_by()
        .values_list("source__flownodedata__rule_label", "target__flownodedata__rule_label")
        .distinct()
    )
    bad_pairs = [
        (s, t)
        for s, t in pairs
        if (a := _allowed(s)) is not None and t not in a[0] and rule_registry.get_rule(t) is not None
    ]
    found: dict[tuple[int, str, str], list[int]] = defaultdict(list)
    for source, target in bad_pairs:
        for node, graph in (
            Edge.objects.using(db)
            .filter(source__flownodedata__rule_label=source, target__flownodedata__rule_label=target)
            .order_by("source_id")
            .values_list("source_id", "graph_id")
        ):
            found[graph, source, target].append(node)
    crowded: dict[tuple[int, str, int], list[int]] = defaultdict(list)
    for node, graph, label, count in (
        Edge.objects.using(db)
        .filter(source__flownodedata__isnull=False)
        .order_by()
        .values("source_id", "graph_id", "source__flownodedata__rule_label")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .values_list("source_id", "graph_id", "source__flownodedata__rule_label", "n")
    ):
        allowed = _allowed(label)
        if allowed is not None and count > allowed[1]:
            crowded[graph, label, allowed[1]].append(node)
    roots = (
        Flow.objects.using(db)
        .filter(state_graph__root__flownodedata__isnull=False)
        .order_by()
        .values_list("state_graph_id", "rule_set__root_rule_label", "state_graph__root__flownodedata__rule_label")
    )
    wrong_roots = [(graph, want, have) for graph, want, have in roots if want != have]
    names = _flow_names(db, [g for g, _, _ in found] + [g for g, _, _ in crowded] + [g for g, _, _ in wrong_roots])
    for (graph, source, target), ids in sorted(found.items()):
        messages.append(
            Warning(
                f"{names.get(graph, f'graph {graph}')}: rule {rule_registry.short_name(target)} is no longer "
                f"allowed after rule {rule_registry.short_name(source)} (edge(s) from node(s) {_listed(ids)}).",
                hint=f"Add {target} to {source}.children again, or clone the flow and remove those nodes.",
                obj=f"flowr.Flow(graph={graph})",
                id="flowr.W001",
            )
        )
    for (graph, label, limit), ids in sorted(crowded.items()):
        messages.append(
            Warning(
                f"{names.get(graph, f'graph {graph}')}: node(s) {_listed(ids)} with rule "
                f"{rule_registry.short_name(label)} have more children than the {limit} the rule allows now.",
                hint="Set multiple_paths / children on the rule again, or clone the flow and remove children.",
                obj=f"flowr.Flow(graph={graph})",
                id="flowr.W002",
            )
        )
    for graph, want, have in sorted(wrong_roots):
        messages.append(
            Warning(
                f"{names.get(graph, f'graph {graph}')}: its root node has rule {have!r}, but its rule set starts "
                f"with {want!r}.",
                hint="Point the flow at a rule set with that root rule, or rebuild the flow.",
                obj=f"flowr.Flow(graph={graph})",
                id="flowr.W003",
            )
        )
    return messages


def _settings_warnings(db: str) -> list[CheckMessage]:
    """flowr.W004: stored settings the rule's form refuses now (one query,
    of the nodes that have settings; each distinct rule and value set is
    validated once)."""
    from flowr.models import FlowNodeData

    rows = (
        FlowNodeData.objects.using(db)
        .exclude(settings={})  # not configured yet: nothing to check (most nodes)
        .order_by("node_id")
        .values_list("node_id", "node__graph_id", "rule_label", "settings")
    )
    answers: dict[tuple[str, str], dict[str, list[str]]] = {}
    found: dict[tuple[int, str, str], list[int]] = defaultdict(list)
    for node, graph, label, stored in rows:
        rule = rule_registry.get_rule(label)
        if rule is None or not stored:  # a missing rule is E002; empty settings are not configured yet
            continue
        key = (label, json.dumps(stored, sort_keys=True))
        if key not in answers:
            answers[key] = nodesettings.stored_problems(nodesettings.form_of(rule), stored)
        problems = answers[key]
        if problems:
            field, messages = next(iter(problems.items()))
            found[graph, label, f"{field}: {messages[0]}"].append(node)
    names = _flow_names(db, (graph for graph, _, _ in found))
    return [
        Warning(
            f"{names.get(graph, f'graph {graph}')}: node(s) {_listed(ids)} with rule "
            f"{rule_registry.short_name(label)} store settings its Settings form refuses ({problem}).",
            hint="Migrate old values in Settings.upgrade(), or set the nodes' settings again (on a clone if frozen).",
            obj=f"flowr.Flow(graph={graph})",
            id="flowr.W004",
        )
        for (graph, label, problem), ids in sorted(found.items())
    ]


@register("flowr")
def check_timeout_from(app_configs: Iterable[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """flowr.E013: a Rule's ``timeout_from`` is None or the name (a str) of a subject's method."""
    configs = None if app_configs is None else list(app_configs)
    return [
        Error(
            f"Rule {rule.class_label}: timeout_from is {rule.timeout_from!r}, which is not a method name.",
            hint="Name (a str) the method of the State's subject that returns the timeout's due time.",
            obj=rule,
            id="flowr.E013",
        )
        for rule in rule_registry.all_rules()
        if (configs is None or any(rule.__module__.startswith(c.name) for c in configs))
        and getattr(rule, "timeout_from", None) is not None
        and (not isinstance(rule.timeout_from, str) or not rule.timeout_from.isidentifier())
    ]


@register("flowr")
def check_timer_calendar(app_configs: Iterable[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """flowr.E012: ``FLOWR["TIMER_CALENDAR"]`` imports and is callable."""
    if not _wanted(app_configs):
        return []
    path = flowr_settings.TIMER_CALENDAR
    if path is None:
        return []
    try:
        found = import_string(path) if isinstance(path, str) else None
    except ImportError as exc:
        problem = f"does not import ({exc})"
    else:
        problem = "" if callable(found) else "is not a callable"
    if not problem:
        return []
    return [
        Error(
            f'FLOWR["TIMER_CALENDAR"] is {path!r}, which {problem}.',
            hint='Name a callable (start, delay) -> datetime by its dotted path, e.g. "flowr.timers.working_days".',
            obj="settings.FLOWR",
            id="flowr.E012",
        )
    ]


@register("flowr")
def check_subject_models(app_configs: Iterable[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """flowr.E006: every ``FLOWR["SUBJECT_MODELS"]`` entry names an installed model."""
    if not _wanted(app_configs):
        return []
    return [
        Error(
            f'FLOWR["SUBJECT_MODELS"] names {entry!r}, which is not an installed model.',
            hint='Write "app_label.ModelName" of a model of an installed app (e.g. "helpdesk.Ticket").',
            obj="settings.FLOWR",
            id="flowr.E006",
        )
        for entry, model in zip(flowr_settings.SUBJECT_MODELS, (m for _, m in subject_model_entries()), strict=True)
        if model is None
    ]
