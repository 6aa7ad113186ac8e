"""Moves of States beyond one transition: many at once, a jump, a cancel.

* :func:`advance_many` advances many States in one call: they are loaded
  in bulk (with their current nodes: no query per State to read them),
  then each goes through the very path of
  :meth:`State.next_state <flowr.models.State.next_state>` (lock,
  compare-and-set, guards, callbacks, signals), each in its own transaction
  or, with ``atomic=True``, all in one (all or nothing).
* :func:`jump_to` moves a State to any node of its flow, edges and guards
  ignored (``flowr.jump_state`` when the actor is a user).
* :func:`cancel` ends a State for good (``flowr.cancel_state`` when the
  actor is a user): it takes no more moves and no longer freezes its flow.

A jump and a cancel take the same lock and compare-and-set as a transition
and write a history row of kind ``"jump"`` / ``"cancel"``.  This module does
not import :mod:`flowr.models.states` (which delegates to it): it is given
the State class or objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import models, router, transaction
from django.db.models import prefetch_related_objects
from django.utils.translation import gettext

from flowr import guards
from flowr.exceptions import FlowrError, MoveNotPermitted, NodeNotInFlow
from flowr.models.flows import FlowNodeData
from flowr.models.graph import Node

if TYPE_CHECKING:
    from flowr.models.states import State, StateHistory, StateQuerySet
    from flowr.rules import Rule

#: How many States :func:`advance_many` loads per query when given pks.
LOAD_CHUNK = 500

#: The most States the admin's and the API's "advance many" take at once
#: (``advance_many`` itself has no limit).
BATCH_MAX = 1000

JUMP_PERMISSION = "flowr.jump_state"
CANCEL_PERMISSION = "flowr.cancel_state"


@dataclass(frozen=True)
class MoveResult:
    """What happened to one State of :func:`advance_many`.

    ``ok``: it moved (and, with ``atomic=True``, the batch committed);
    ``history`` is then its new row.  Otherwise ``code`` and ``message`` say
    why: a :class:`~flowr.exceptions.FlowrError`'s code (``no_next_state``,
    ``transition_refused``, ``concurrent_transition``, ``state_cancelled``...),
    ``not_found`` for a pk without a State, or ``rolled_back`` for a State
    that moved but whose atomic batch was rolled back because others failed.
    """

    state_pk: Any
    ok: bool
    history: StateHistory | None = None
    code: str = ""
    message: str = ""
    error: FlowrError | None = field(default=None, compare=False, repr=False)


def _load(queryset: StateQuerySet, states: Iterable[Any]) -> list[tuple[Any, State | None]]:
    """The distinct States to advance, in the order given, as ``(pk, State
    or None)``: a queryset in one query, pks in chunks of :data:`LOAD_CHUNK`
    (their current nodes joined), State objects as they are (their current
    nodes loaded in one query if not cached)."""
    model = queryset.model
    if isinstance(states, models.QuerySet):
        return [(s.pk, s) for s in states.select_related("current_node")]
    order: list[Any] = []
    given: dict[Any, State] = {}
    invalid: set[Any] = set()
    for item in states:
        if isinstance(item, model):
            if item.pk is None:
                raise ValueError("advance_many() needs saved States; use State.start()")
            pk = item.pk
            given.setdefault(pk, item)
        else:
            try:  # "5" and 5 name the same State
                pk = model._meta.pk.to_python(item)
            except (ValidationError, TypeError, ValueError):
                pk = item  # no such State: reported as not_found
                invalid.add(pk)
        order.append(pk)
    order = list(dict.fromkeys(order))  # each State once
    uncached = [s for s in given.values() if not model._meta.get_field("current_node").is_cached(s)]
    if uncached:
        prefetch_related_objects(uncached, "current_node")
    wanted = [pk for pk in order if pk not in given and pk not in invalid]
    found: dict[Any, State] = {}
    rows = queryset.select_related("current_node").order_by()
    for start in range(0, len(wanted), LOAD_CHUNK):
        found.update(rows.in_bulk(wanted[start : start + LOAD_CHUNK]))
    return [(pk, given.get(pk) or found.get(pk)) for pk in order]


def _advance_each(
    loaded: list[tuple[Any, State | None]], rule: type[Rule] | str | None, actor: Any, note: str, data: Any = None
) -> list[MoveResult]:
    """Advance each State (its own transaction, or a savepoint inside the caller's)."""
    results: list[MoveResult] = []
    for pk, state in loaded:
        if state is None:
            results.append(MoveResult(pk, False, code="not_found", message=gettext("No State %(id)s") % {"id": pk}))
            continue
        try:
            row = state._next(rule, actor, note, data)  # next_state's own path: permission, guards, note, data
        except FlowrError as exc:
            results.append(MoveResult(pk, False, code=exc.code, message=str(exc), error=exc))
        else:
            results.append(MoveResult(pk, True, history=row))
    return results


def _advance_group(
    group: list[tuple[Any, State | None]],
    rule: type[Rule] | str | None,
    actor: Any,
    note: str,
    data: Any,
    db: str,
) -> list[MoveResult]:
    """Advance the States of ``group`` in one transaction, each in its own
    savepoint.  An exception that is not a refusal propagates after the
    moves before it have committed (as if each had its own transaction)."""
    error: Exception | None = None
    saved = [(s, s._snapshot()) for _, s in group if s is not None]
    try:
        with transaction.atomic(using=db):
            try:
                return _advance_each(group, rule, actor, note, data)
            except Exception as exc:  # the failed State's savepoint is rolled back already
                error = exc
    except BaseException:
        for state, snapshot in saved:  # the group was rolled back
            state._restore(*snapshot)
        raise
    assert error is not None
    raise error


def advance_many(
    queryset: StateQuerySet,
    states: Iterable[Any],
    rule: type[Rule] | str | None = None,
    *,
    actor: Any = None,
    note: str = "",
    data: Any = None,
    atomic: bool = False,
    per_transaction: int = 1,
) -> list[MoveResult]:
    """Advance each of ``states`` as :meth:`State.next_state` would; one
    :class:`MoveResult` per distinct State, in the order given.

    :param queryset: where pks are looked up (``State.objects``)
    :param states: a queryset of States, or States and/or their pks (each
        State once; a State object is moved from the node and version it
        holds, and is updated in place)
    :param rule: the rule to move to where a State's current rule branches
    :param actor: who moved them (stored on each history row); a rule's
        ``permission`` is checked for it as by ``next_state`` (None: trusted
        code, not checked)
    :param note: stored on each history row
    :param data: JSON-serialisable data stored on each history row
    :raises InvalidTransitionData: ``note`` is not a string or ``data`` not
        JSON (before any State is loaded)
    :param atomic: False (default): each State in its own transaction, a
        refusal or a concurrent move of one does not stop the others; True:
        all in one transaction, rolled back (and the objects put back) if any
        State fails -- the results then say which failed (their error) and
        which were rolled back (``rolled_back``)
    :param per_transaction: without ``atomic``: how many States share one
        transaction (default 1: each its own).  Each State still moves in its
        own savepoint, so a refusal undoes only its own move; fewer commits
        are much faster (SQLite syncs the disk at each), but the rows stay
        locked, and ``transition_committed`` waits, until their group commits

    An exception that is not a flowr refusal (a bug in a callback, a
    database error) propagates: without ``atomic`` the States before it
    stay moved (their group is committed first).
    """
    if per_transaction < 1:
        raise ValueError(f"per_transaction must be at least 1, not {per_transaction}")
    guards.check_note_and_data(note, data)
    loaded = _load(queryset, states)
    db = router.db_for_write(queryset.model)
    if not atomic:
        if per_transaction == 1:
            return _advance_each(loaded, rule, actor, note, data)
        results: list[MoveResult] = []
        for start in range(0, len(loaded), per_transaction):
            group = loaded[start : start + per_transaction]
            results.extend(_advance_group(group, rule, actor, note, data, db))
        return results
    saved = [(s, s._snapshot()) for _, s in loaded if s is not None]
    try:
        with transaction.atomic(using=db):
            results = _advance_each(loaded, rule, actor, note, data)
            failed = sum(1 for r in results if not r.ok)
            if failed:
                transaction.set_rollback(True, using=db)
    except BaseException:
        for state, snapshot in saved:
            state._restore(*snapshot)
        raise
    if not failed:
        return results
    for state, snapshot in saved:
        state._restore(*snapshot)
    message = gettext("rolled back: %(count)s State(s) of the batch failed") % {"count": failed}
    return [r if not r.ok else MoveResult(r.state_pk, False, code="rolled_back", message=message) for r in results]


def next_rule_labels(state_pks: Iterable[Any]) -> list[str]:
    """The rule labels the current nodes of these States lead to (one
    query): the choices of a batch advance where some branch."""
    labels = (
        FlowNodeData.objects.filter(node__in_edges__source__flownodedata__states__pk__in=list(state_pks))
        .order_by("rule_label")
        .values_list("rule_label", flat=True)
        .distinct()
    )
    return list(labels)


# -- jump and cancel ------------------------------------------------------------


def require(actor: Any, perm: str, state: State, what: str) -> None:
    """Refuse a user ``actor`` without ``perm``; no actor, or one that is not
    a user (a name given by trusted code), passes."""
    has_perm = getattr(actor, "has_perm", None)
    if actor is None or has_perm is None:
        return
    if not has_perm(perm):
        text = gettext("%(actor)s may not %(what)s State %(id)s: it needs the %(perm)s permission")
        raise MoveNotPermitted(text % {"actor": actor, "what": what, "id": state.pk, "perm": perm}, state=state)


def jump_target(state: State, node: Any, using: str | None = None) -> FlowNodeData:
    """The FlowNodeData (its Node loaded) of ``node`` -- a FlowNodeData or a
    Node of the State's flow -- in one query; anything else is refused."""
    if isinstance(node, FlowNodeData):
        node_pk = node.node_id
    elif isinstance(node, Node):
        node_pk = node.pk
    else:
        raise NodeNotInFlow(
            f"A jump needs a FlowNodeData or a Node of the State's flow, not {type(node).__name__}",
            state=state,
            value=node,
        )
    found = (
        FlowNodeData.objects.using(using)
        .select_related("node")
        .filter(node_id=node_pk, node__graph__flow__pk=state.flow_id)
        .first()
        if node_pk is not None
        else None
    )
    if found is None:
        raise NodeNotInFlow(
            gettext("Node %(node)s is not a node of flow %(flow)s") % {"node": node_pk, "flow": state.flow_id},
            state=state,
            node=node,
        )
    return found


def jump_to(state: State, node: Any, *, actor: Any = None, note: str = "", callbacks: bool = False) -> StateHistory:
    """Move ``state`` to ``node`` (a FlowNodeData or Node of its flow), edges
    and guards ignored; its history row (kind ``"jump"``).

    Atomic, and applied only from the node and version ``state`` holds (the
    transition's lock and compare-and-set).  ``on_leave``/``on_enter`` run
    only with ``callbacks=True``; ``pre_transition``, ``post_transition`` and
    ``transition_committed`` are sent as for a transition.

    :raises MoveNotPermitted: ``actor`` is a user without ``flowr.jump_state``
    :raises StateCancelled: the State was cancelled
    :raises NodeNotInFlow: ``node`` is not a node of the State's flow
    :raises ConcurrentTransition: the State moved since it was loaded
    """
    require(actor, JUMP_PERMISSION, state, "jump")
    if state.cancelled is None and state.pk is not None:
        target = jump_target(state, node, router.db_for_write(type(state), instance=state))
    else:
        target = None  # _apply refuses it first
    return state._apply(lambda db: state._jump(_given(target), actor, note, callbacks, db), "jump_to")


def _given(target: FlowNodeData | None) -> FlowNodeData:
    assert target is not None
    return target


def cancel(state: State, *, actor: Any = None, note: str = "") -> StateHistory:
    """Cancel ``state`` for good; its history row (kind ``"cancel"``, from
    and to its current node).

    The State keeps its node; it takes no more transitions, jumps or cancels
    (:class:`~flowr.exceptions.StateCancelled`) and no longer counts as
    running: it does not freeze its flow.  The same lock and compare-and-set
    as a transition; no callbacks; ``state_cancelled`` is sent after commit.

    :raises MoveNotPermitted: ``actor`` is a user without ``flowr.cancel_state``
    :raises StateCancelled: the State was already cancelled
    :raises ConcurrentTransition: the State moved since it was loaded
    """
    require(actor, CANCEL_PERMISSION, state, "cancel")
    return state._apply(partial(state._cancel, actor, note), "cancel")
