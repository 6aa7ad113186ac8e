"""Who may take which transition: a rule's permission and its guards, asked once.

A transition into a rule is refused, in this order, by:

1. the rule's ``permission`` (when an actor is given): ``None`` (no extra
   check), a permission string ``"app_label.codename"`` checked with
   ``actor.has_perm()``, or a callable ``(state, actor) -> bool | str``
   (``False`` or a string refuses, the string being the reason);
2. the rule being left's ``can_leave(state[, actor])``;
3. the rule being entered's ``can_enter(state[, actor])``.

``actor=None`` means trusted code (a management command, a task): the
permission is not checked; guards are still asked (with ``None`` as the
actor when they take one).  The surfaces (admin, API) always pass
``request.user``.

A guard may take the actor as a second argument; a 0.2-style guard taking
only the State keeps working.  Which one it is is worked out once per rule
class and guard (:func:`takes_actor`, cached), never per call.

:meth:`State.next_state() <flowr.models.State.next_state>`,
:meth:`State.start() <flowr.models.State.start>`,
:meth:`State.transition_options() <flowr.models.State.transition_options>`
and :meth:`State.allowed_next_rules() <flowr.models.State.allowed_next_rules>`
all ask :func:`refusal` here, so every surface gives the same answer.

``state.settings`` is the settings of the node whose rule is asked or
called: the entered node's in ``permission``, ``can_enter`` and
``on_enter``, the current node's otherwise (:func:`at_node`).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext

from flowr.exceptions import InvalidRule, InvalidTransitionData, TransitionForbidden, TransitionRefused

if TYPE_CHECKING:
    from flowr.models import FlowNodeData, State
    from flowr.rules import Rule

#: ``TransitionRefused.code`` of a guard's refusal (``TransitionForbidden``: ``permission_denied``)
GUARD_CODE = TransitionRefused.code
PERMISSION_CODE = TransitionForbidden.code


# (id of the State, the node whose rule runs): what ``state.settings`` reads
_settings_node: ContextVar[tuple[int, FlowNodeData] | None] = ContextVar("flowr_settings_node", default=None)


class at_node:  # noqa: N801 -- used like a function; a class is the cheaper context manager (hot path)
    """Inside, ``state.settings`` reads ``node``'s settings (None: the current node's)."""

    __slots__ = ("token", "value")

    def __init__(self, state: State, node: FlowNodeData | None) -> None:
        self.value = None if node is None else (id(state), node)

    def __enter__(self) -> None:
        self.token = _settings_node.set(self.value)

    def __exit__(self, *exc: object) -> None:
        _settings_node.reset(self.token)


def settings_node(state: State) -> FlowNodeData:
    """The node whose settings ``state.settings`` reads now."""
    found = _settings_node.get()
    if found is not None and found[0] == id(state):
        return found[1]
    return state.current_node


@dataclass(frozen=True)
class TransitionOption:
    """One child of a State's current node, as a given actor sees it.

    ``allowed`` is what :meth:`~flowr.models.State.next_state` would do now
    for that actor; a refused option carries the ``reason`` (the guard's or
    the permission's) and its ``code`` (``"permission_denied"`` or
    ``"transition_refused"``); an allowed one has both None.
    """

    rule: type[Rule]
    node: FlowNodeData
    allowed: bool
    reason: str | None = None
    code: str | None = None


def veto(result: bool | str | None, default: str) -> str | None:
    """The reason a guard's result vetoes, or None when it allows.

    ``True``/``None``/truthy objects allow; ``False`` vetoes with ``default``;
    a string vetoes with itself as the reason (an empty one with ``default``).
    """
    if isinstance(result, str):
        return result or default
    if result is None or result:
        return None
    return default


@cache
def takes_actor(rule: type[Rule], guard: str) -> bool:
    """Whether ``rule``'s ``guard`` (``"can_enter"``/``"can_leave"``) takes
    the actor as a second argument.  Cached per rule class and guard.

    A guard whose signature cannot be read is called the 0.2 way (the State alone).
    """
    try:
        parameters = list(inspect.signature(getattr(rule, guard)).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return True
    return sum(p.kind in positional for p in parameters) >= 2


def ask(rule: type[Rule], guard: str, state: State, actor: Any) -> bool | str | None:
    """Call ``rule``'s ``guard`` with the actor when it takes one."""
    method: Callable[..., bool | str | None] = getattr(rule, guard)
    return method(state, actor) if takes_actor(rule, guard) else method(state)


def permission_reason(rule: type[Rule], state: State, actor: Any) -> str | None:
    """Why ``actor`` may not take ``rule`` by its ``permission``, or None.

    ``actor=None`` (trusted code) and ``permission = None`` are never refused.
    An actor without ``has_perm`` (not a user) has no permission string.
    """
    permission = getattr(rule, "permission", None)
    if permission is None or actor is None:
        return None
    problem = permission_problem(rule)
    if problem is not None:
        raise InvalidRule(
            gettext("Rule %(rule)s: %(problem)s") % {"rule": rule.class_label, "problem": problem}, rule=rule
        )
    if isinstance(permission, str):
        has_perm = getattr(actor, "has_perm", None)
        if has_perm is not None and has_perm(permission):
            return None
        return gettext("%(rule)s needs the permission %(permission)s") % {
            "rule": rule.verbose_name,
            "permission": permission,
        }
    return veto(permission(state, actor), gettext("You may not take %(rule)s") % {"rule": rule.verbose_name})


def permission_problem(rule: type[Rule]) -> str | None:
    """What is wrong with ``rule.permission`` (system check flowr.E010), or None."""
    permission = getattr(rule, "permission", None)
    if permission is None or callable(permission):
        return None
    if isinstance(permission, str):
        app_label, dot, codename = permission.partition(".")
        if dot and app_label and codename:
            return None
        return gettext('permission %(permission)r is not "app_label.codename"') % {"permission": permission}
    return gettext("permission %(permission)r is neither a permission string nor a callable") % {
        "permission": permission
    }


def refusal(
    state: State,
    leaving: type[Rule] | None,
    entering: type[Rule],
    actor: Any,
    *,
    skip_permission: bool = False,
    node: FlowNodeData | None = None,
) -> TransitionRefused | None:
    """The first refusal of moving ``state`` from ``leaving`` (None: a start,
    or ``can_leave`` already asked) into ``entering`` (at ``node``, whose
    settings ``permission`` and ``can_enter`` read) for ``actor``:
    permission, ``can_leave``, ``can_enter``."""
    with at_node(state, node):
        reason = None if skip_permission else permission_reason(entering, state, actor)
    if reason is not None:
        return TransitionForbidden(reason, state=state, rule=entering, guard="permission", reason=reason)
    if leaving is not None:
        left = refusal_to_leave(state, leaving, actor)
        if left is not None:
            return left
    with at_node(state, node):
        asked = ask(entering, "can_enter", state, actor)
    reason = veto(asked, gettext("Rule %(rule)s refused entry") % {"rule": entering.verbose_name})
    if reason is not None:
        return TransitionRefused(reason, state=state, rule=entering, guard="can_enter", reason=reason)
    return None


def options(
    state: State, current: type[Rule], children: list[tuple[type[Rule], FlowNodeData]], actor: Any
) -> list[TransitionOption]:
    """Every child as a :class:`TransitionOption` for ``actor``, refused in
    :func:`refusal`'s order; ``can_leave`` is asked once (at most), its veto
    applies to every child the actor has the permission for."""
    found = []
    left: TransitionRefused | None = None
    asked = False
    for rule, node in children:
        with at_node(state, node):
            reason = permission_reason(rule, state, actor)
        refused: TransitionRefused | None = None
        if reason is not None:
            refused = TransitionForbidden(reason, state=state, rule=rule, guard="permission", reason=reason)
        else:
            if not asked:
                left, asked = refusal_to_leave(state, current, actor), True
            refused = left or refusal(state, None, rule, actor, skip_permission=True, node=node)
        if refused is None:
            found.append(TransitionOption(rule, node, True))
        else:
            found.append(TransitionOption(rule, node, False, refused.reason, refused.code))
    return found


def refusal_to_leave(state: State, current: type[Rule], actor: Any) -> TransitionRefused | None:
    """``current.can_leave``'s veto, or None."""
    with at_node(state, None):
        asked = ask(current, "can_leave", state, actor)
    reason = veto(
        asked,
        gettext("Rule %(rule)s refused to be left") % {"rule": current.verbose_name},
    )
    if reason is None:
        return None
    return TransitionRefused(reason, state=state, rule=current, guard="can_leave", reason=reason)


# -- a transition's note and data ------------------------------------------------


def check_note_and_data(note: Any, data: Any, encoder: type[json.JSONEncoder] | None = None) -> None:
    """Refuse a note that is not a string, or data that is not JSON
    (``InvalidTransitionData``) before anything is written."""
    if not isinstance(note, str):
        raise InvalidTransitionData(
            gettext("note must be a string, not %(type)s") % {"type": type(note).__name__}, value=note
        )
    if data is None:
        return
    try:
        json.dumps(data, cls=encoder, allow_nan=False)
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise InvalidTransitionData(
            gettext("data must be JSON-serialisable: %(error)s") % {"error": exc}, value=data
        ) from None
