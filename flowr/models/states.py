"""Running instances of flows, and their history.

A transition is atomic: the lock, the re-check, the guards, ``on_leave``,
``on_enter``, the state change and the history row commit together or not at
all.  Race safety works in layers:

* where the database can, the State's row is locked with ``SELECT ... FOR
  UPDATE NOWAIT`` and re-checked: a transition applies only from the node
  (and version) the caller's object saw.  ``NOWAIT`` means a second worker
  fails at once instead of queueing behind the first;
* always, the ``UPDATE`` is a compare-and-set on ``version``, and the history
  row's ``(state, seq)`` is unique, which covers SQLite (no row locks);
* lock errors of the database (SQLite's "database is locked", a lock or
  deadlock timeout) become :class:`~flowr.exceptions.ConcurrentTransition`
  or its subclass :class:`~flowr.exceptions.TransitionLockTimeout`.

The loser of a race gets ``ConcurrentTransition`` and changes nothing; call
``refresh_from_db()`` and retry.  A transition that raises also restores the
in-memory object, so the caller's ``State`` still matches the database.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, OperationalError, connections, models, router, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from flowr import callbacks, edits, governance, guards, nodesettings, signals
from flowr import rules as rule_registry
from flowr.db import transitions, tricks
from flowr.db.history import FIRST_SEQ, HistoryWriter, next_seq
from flowr.db.locks import lock_error_kind
from flowr.db.locks import lock_errors_as_flowr as _lock_errors_as_flowr

# apps.ready() connects it from here
from flowr.exceptions import (
    AmbiguousRule,
    ChoiceNotInFlow,
    ChoiceRequired,
    ConcurrentTransition,
    NoNextState,
    ReentrantTransition,
    StateCancelled,
)
from flowr.indexes import SetOnlyIndex
from flowr.models import moves
from flowr.models.flows import Flow, FlowNodeData
from flowr.models.graph import Edge, Node, _rows_as_instances

_DATA_NODE = FlowNodeData._meta.get_field("node")

if TYPE_CHECKING:
    from flowr.rules import Rule

logger = logging.getLogger("flowr")

# -- re-entrancy ---------------------------------------------------------------

_moving = threading.local()


class _guard_reentry:  # noqa: N801 -- used like a function; a class is the cheaper context manager
    """Refuse a transition of a State this thread is already moving."""

    __slots__ = ("active", "pk")

    def __init__(self, pk: Any) -> None:
        self.pk = pk

    def __enter__(self) -> None:
        active: set[Any] | None = getattr(_moving, "pks", None)
        if active is None:
            active = _moving.pks = set()
        if self.pk in active:
            raise ReentrantTransition(
                gettext("State %(id)s is already in a transition: a callback or receiver cannot move its own State")
                % {"id": self.pk},
                state_pk=self.pk,
            )
        active.add(self.pk)
        self.active = active

    def __exit__(self, *exc: object) -> None:
        self.active.discard(self.pk)


# -- signals after commit -----------------------------------------------------------


def _send_committed(**kwargs: Any) -> None:
    """Send ``transition_committed``; a receiver that raises is logged, not fatal."""
    for receiver, result in signals.transition_committed.send_robust(sender=State, **kwargs):
        if isinstance(result, Exception):
            logger.error(
                "transition_committed receiver %r raised (the transition is committed)",
                receiver,
                exc_info=(type(result), result, result.__traceback__),
            )


def _on_commit(db: str, **kwargs: Any) -> None:
    if signals.transition_committed.has_listeners(State):
        transaction.on_commit(partial(_send_committed, **kwargs), using=db)


def _send_cancelled(**kwargs: Any) -> None:
    """Send ``state_cancelled``; a receiver that raises is logged, not fatal."""
    for receiver, result in signals.state_cancelled.send_robust(sender=State, **kwargs):
        if isinstance(result, Exception):
            logger.error(
                "state_cancelled receiver %r raised (the cancel is committed)",
                receiver,
                exc_info=(type(result), result, result.__traceback__),
            )


# -- the transition's rows -----------------------------------------------------------


def _node_data(db: str, sql: transitions.Statements, row: tuple[Any, ...]) -> FlowNodeData:
    """A FlowNodeData with its Node, from the data columns then the node columns."""
    split = len(sql.data_names)
    data = _rows_as_instances(FlowNodeData, db, sql.data_names, [row[:split]])[0]
    if isinstance(data.settings, str):  # the driver's JSON text (Django's converters are not run)
        data.settings = json.loads(data.settings)
    _DATA_NODE.set_cached_value(data, _rows_as_instances(Node, db, sql.node_names, [row[split:]])[0])
    return data


def timer_of(data: FlowNodeData, now: Any, reminded: bool = False, state: State | None = None) -> tuple[Any, str]:
    """The ``(due_at, due_rule)`` a State entering ``data`` at ``now`` takes
    (no query: the settings came with the node): its reminder when the node
    sets one that comes before the timeout (``due_rule`` empty: a reminder
    does not move the State), else its timeout, else ``(None, "")``.  With
    ``reminded`` (the reminder has fired) the timeout alone.  A rule's
    ``timeout_from`` takes the timeout's time from ``state``'s subject
    (loading the subject if it is not loaded yet)."""
    if not data.settings:
        return None, ""
    rule = rule_registry.get_rule(data.rule_label)
    timeout = nodesettings.timer_of(data.settings) if getattr(rule, "timeout_targets", None) else None
    remind = None if reminded or not getattr(rule, "reminders", False) else nodesettings.reminder_of(data.settings)
    timeout_at = None if timeout is None else nodesettings.due_time(now, timeout[0])
    method = _subject_due(state, getattr(rule, "timeout_from", None)) if timeout is not None else None
    if method is not None:
        timeout_at = method()
        if timeout_at is None:  # the subject says: no timeout
            timeout = None
        elif timezone.is_naive(timeout_at):
            timeout_at = timezone.make_aware(timeout_at)
    remind_at = None if remind is None else nodesettings.due_time(now, remind)
    if remind_at is not None and (timeout_at is None or remind_at < timeout_at):
        return remind_at, ""
    if timeout is None:
        return None, ""
    return timeout_at, timeout[1]


def _subject_due(state: State | None, name: Any) -> Callable[[], Any] | None:
    """The method ``name`` of ``state``'s subject, or None (no name, no
    subject, no such method)."""
    if not name or not isinstance(name, str) or state is None or not state.subject_id:
        return None
    method = getattr(state.subject, name, None)
    return method if callable(method) else None


# -- models ------------------------------------------------------------------------


class StateQuerySet(models.QuerySet["State"]):
    """Look-ups on States."""

    def for_subject(self, subject: models.Model) -> StateQuerySet:
        """States whose subject is ``subject`` (any model, int or UUID pk).

        :param subject: a saved model instance
        """
        content_type = ContentType.objects.db_manager(self.db).get_for_model(subject)
        return self.filter(subject_content_type=content_type, subject_id=str(subject.pk))

    def running(self) -> StateQuerySet:
        """States not cancelled: the ones that freeze their flow (the one
        definition of "running" every freezing check uses)."""
        return self.filter(cancelled__isnull=True)

    def advance_many(
        self,
        states: Iterable[State | Any],
        rule: type[Rule] | str | None = None,
        *,
        actor: Any = None,
        note: str = "",
        data: Any = None,
        atomic: bool = False,
        per_transaction: int = 1,
    ) -> list[moves.MoveResult]:
        """Advance many States; one result each (:func:`flowr.models.moves.advance_many`)."""
        return moves.advance_many(
            self, states, rule, actor=actor, note=note, data=data, atomic=atomic, per_transaction=per_transaction
        )


class State(models.Model):
    """One running instance of a :class:`Flow`.

    ``current_node`` is the :class:`FlowNodeData` the State is at;
    ``version`` counts its transitions (the compare-and-set token);
    ``subject`` optionally points at any model instance.
    """

    flow = models.ForeignKey(Flow, on_delete=models.PROTECT, related_name="states", verbose_name=_("flow"))
    current_node = models.ForeignKey(
        FlowNodeData, on_delete=models.PROTECT, related_name="states", verbose_name=_("current node")
    )
    version = models.PositiveIntegerField(_("version"), default=0, editable=False)
    # No index of its own: ``flowr_state_subject`` starts with it (on
    # PostgreSQL every transition writes every index of the State table).
    subject_content_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    subject_id = models.CharField(max_length=255, blank=True, default="")
    subject = GenericForeignKey("subject_content_type", "subject_id")
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)
    # set once by cancel(): the State then takes no more moves and no longer
    # freezes its flow
    cancelled = models.DateTimeField(_("cancelled"), null=True, blank=True, editable=False)
    # the current node's timer (issue 17): when the timeout is due and the
    # rule it takes; set by the move that enters the node, in its own
    # compare-and-set, cleared by the move that leaves it
    due_at = models.DateTimeField(_("due"), null=True, blank=True, editable=False)
    due_rule = models.CharField(_("due rule"), max_length=255, blank=True, default="", editable=False)

    objects = StateQuerySet.as_manager()

    class Meta:
        verbose_name = _("state")
        verbose_name_plural = _("states")
        ordering = ["-updated", "-pk"]
        indexes = [
            models.Index(fields=["subject_content_type", "subject_id"], name="flowr_state_subject"),
            # "due before now": only the States with a timer are in it
            SetOnlyIndex(fields=["due_at"], name="flowr_state_due"),
        ]
        permissions = [("jump_state", "Can move a state to any node"), ("cancel_state", "Can cancel a state")]

    def __str__(self) -> str:
        """``<flow> #<id> at <rule verbose name>`` (reads the flow and the
        current node: select them with the State in lists)."""
        return gettext("%(flow)s #%(id)s at %(rule)s") % {
            "flow": self.flow,
            "id": self.pk,
            "rule": self.current_node.rule_verbose_name,
        }

    # -- reading -----------------------------------------------------------
    @property
    def history(self) -> models.QuerySet[StateHistory]:
        """Every start, transition and migration of this State, oldest first."""
        return self.history_rows.order_by("seq")

    @property
    def settings(self) -> dict[str, Any]:
        """The node settings guards and callbacks read: the cleaned, typed
        values of the rule's ``Settings`` form stored on the node whose rule
        is asked or called (the entered node in ``permission``,
        ``can_enter`` and ``on_enter``; the current node otherwise).  No
        query: the transition loads them with its lock-and-load statement
        (model choices load when first used).

        :raises InvalidSettings: the stored values are refused by the form now
        """
        return guards.settings_node(self).typed_settings

    @property
    def is_cancelled(self) -> bool:
        """True once :meth:`cancel` has run (no query)."""
        return self.cancelled is not None

    @property
    def is_finished(self) -> bool:
        """True when the current node has no children (one query)."""
        return not Edge.objects.filter(source__flownodedata__pk=self.current_node_id).exists()

    def next_nodes(self) -> list[FlowNodeData]:
        """The data of the current node's children (one query)."""
        return self.current_node.children_data()

    def allowed_next_rules(self, actor: Any = None) -> list[type[Rule]]:
        """The rules :meth:`next_state` would accept now from ``actor``,
        permissions and guards consulted (``actor=None``: trusted code, the
        permissions are not checked).

        Empty when the flow ends here, when the current rule refuses to be
        left, when the current rule no longer resolves, or when the State
        was cancelled.
        """
        return [option.rule for option in self.transition_options(actor) if option.allowed]

    def transition_options(self, actor: Any = None) -> list[guards.TransitionOption]:
        """Every child of the current node as a
        :class:`~flowr.guards.TransitionOption`: its rule and node, whether
        ``actor`` may take it now and, if not, why (the permission's or the
        guard's reason and code).  What every surface shows.

        Children whose rule no longer resolves are left out (they cannot be
        taken); empty when the current rule no longer resolves or the State
        was cancelled.  One query (two when ``current_node`` is not loaded),
        plus whatever the guards and ``actor.has_perm()`` ask.
        """
        if self.cancelled is not None:
            return []
        current = rule_registry.get_rule(self.current_node.rule_label)
        if current is None:
            return []
        children = []
        for data in self.next_nodes():
            rule = rule_registry.get_rule(data.rule_label)
            if rule is not None:
                children.append((rule, data))
        return guards.options(self, current, children, actor)

    # -- starting ------------------------------------------------------------
    @classmethod
    def start(
        cls,
        flow: Flow,
        *,
        subject: models.Model | None = None,
        actor: Any = None,
        note: str = "",
        data: Any = None,
    ) -> State:
        """Create a State at the flow's root and call the root's ``on_enter``.

        Atomic: if the root rule's ``permission`` or ``can_enter`` refuses,
        or ``on_enter`` or a ``pre_transition``/``post_transition`` receiver
        raises, no State exists afterwards and the exception propagates.

        :param flow: the flow to run
        :param subject: any saved model instance the State is about
        :param actor: who started it (a user is stored as a foreign key;
            anything else by its ``str()``); None is trusted code: the root
            rule's ``permission`` is not checked
        :param note: text stored on the start's history row
        :param data: JSON-serialisable data stored on the start's history row
        :raises TransitionForbidden: the root rule's ``permission`` refused ``actor``
        :raises TransitionRefused: the root rule's ``can_enter`` vetoed
        :raises InvalidTransitionData: ``note`` is not a string or ``data`` not JSON
        :raises MissingRule: the root's rule no longer resolves
        :raises FlowNotPublished: ``FLOWR["ONLY_PUBLISHED_START"]`` is on and
            the flow is not published
        """
        guards.check_note_and_data(note, data, _DATA_ENCODER)
        db = router.db_for_write(cls)
        with _lock_errors_as_flowr(None), transaction.atomic(using=db):
            # a start and an edit of the flow serialize: a prune running now
            # finishes first, one that comes later sees this State (frozen)
            root = edits.root_for_start(flow, using=db)
            governance.check_start(flow, db)
            rule = root.rule
            state = cls(flow=flow, current_node=root)
            if subject is not None:
                state.subject = subject
            state.due_at, state.due_rule = timer_of(root, timezone.now(), state=state)
            state.save(force_insert=True, using=db)
            with _guard_reentry(state.pk):
                state._enter_root(rule, actor, db, note, data)
        return state

    def _enter_root(self, rule: type[Rule], actor: Any, db: str, note: str = "", data: Any = None) -> None:
        root = self.current_node
        refusal = guards.refusal(self, None, rule, actor, node=root)
        if refusal is not None:
            raise refusal
        event = {"state": self, "from_node": None, "to_node": root, "rule": rule, "actor": actor}
        signals.pre_transition.send(sender=State, **event)
        callbacks.call(rule, "on_enter", self)
        row = StateHistory.record(
            self,
            FIRST_SEQ,
            None,
            root,
            actor,
            kind=StateHistory.START,
            note=note,
            using=db,
            created=self.created,
            data=data,
        )
        signals.post_transition.send(sender=State, history=row, **event)
        _on_commit(db, history=row, **event)

    # -- moving --------------------------------------------------------------
    def next_state(
        self, rule: type[Rule] | str | None = None, *, actor: Any = None, note: str = "", data: Any = None
    ) -> State:
        """Move to the next node; return ``self``, moved.

        One child: take it.  Several: ``rule`` (a Rule class, its label, or
        its class name when no other child has that class name) picks one.
        None: refused.  Atomic, and applied only from the node and version
        this object holds.  The target rule's ``permission`` (for a given
        actor) and the guards are checked inside the transition, under its
        lock, before any callback.  Callbacks see ``current_node`` still at
        the node being left.  On any error the database and this object are
        left as they were.

        :param rule: the rule to move to, when the current rule branches
        :param actor: who moved it (a user, or anything with a ``str()``);
            None is trusted code: the ``permission`` is not checked
        :param note: text stored on the history row
        :param data: JSON-serialisable data stored on the history row
        :raises NoNextState: the current node has no children
        :raises ChoiceRequired: several children and no ``rule``
        :raises ChoiceNotInFlow: ``rule`` is not one of the children
            (``AmbiguousRule``: a class name several children share)
        :raises StateCancelled: the State was cancelled
        :raises TransitionForbidden: the rule's ``permission`` refused ``actor``
        :raises TransitionRefused: a guard vetoed
        :raises InvalidTransitionData: ``note`` is not a string or ``data``
            not JSON (checked before anything is read or written)
        :raises ConcurrentTransition: the State moved since it was loaded,
            or another transaction is moving it (``TransitionLockTimeout``
            when a lock wait timed out); refresh and retry
        :raises ReentrantTransition: a callback tried to move this State
        """
        self._next(rule, actor, note, data)
        return self

    def _next(self, rule: type[Rule] | str | None, actor: Any, note: str, data: Any = None) -> StateHistory:
        """:meth:`next_state`, returning the history row; what
        ``advance_many`` runs for each State (one code path: permission,
        guards, note and data alike)."""
        guards.check_note_and_data(note, data, _DATA_ENCODER)
        return self._apply(partial(self._transition, rule, actor, note, data), "next_state")

    def jump_to(
        self, node: FlowNodeData | Node, *, actor: Any = None, note: str = "", callbacks: bool = False
    ) -> State:
        """Move to any node of the flow, edges and guards ignored; return ``self``
        (:func:`flowr.models.moves.jump_to`)."""
        moves.jump_to(self, node, actor=actor, note=note, callbacks=callbacks)
        return self

    def cancel(self, *, actor: Any = None, note: str = "") -> State:
        """Cancel the State for good; return ``self`` (:func:`flowr.models.moves.cancel`)."""
        moves.cancel(self, actor=actor, note=note)
        return self

    def _apply(self, move: Callable[[str], StateHistory], what: str) -> StateHistory:
        """Run ``move(db)`` as one move of this State: refused for a
        cancelled State, atomic, re-entry guarded, lock errors as flowr
        errors, the in-memory object put back on any error."""
        if self.pk is None:
            raise ValueError(f"{what}() needs a saved State; use State.start()")
        if self.cancelled is not None:
            raise StateCancelled(
                gettext("State %(id)s was cancelled: it takes no more moves") % {"id": self.pk}, state=self
            )
        db = router.db_for_write(type(self), instance=self)
        saved = self._snapshot()
        try:
            with _guard_reentry(self.pk), _lock_errors_as_flowr(self), transaction.atomic(using=db):
                return move(db)
        except BaseException:
            self._restore(*saved)
            raise

    def _snapshot(self) -> tuple[Any, ...]:
        """What :meth:`_restore` puts back."""
        node = self._state.fields_cache.get("current_node")
        return (self.current_node_id, self.version, self.updated, node, self.cancelled, self.due_at, self.due_rule)

    def _restore(
        self,
        node_id: int,
        version: int,
        updated: Any,
        node: FlowNodeData | None,
        cancelled: Any = None,
        due_at: Any = None,
        due_rule: str = "",
    ) -> None:
        """Put the in-memory fields back after a failed (or rolled back) move."""
        if node is not None and node.pk == node_id:
            self.current_node = node
        else:
            self.current_node_id = node_id
        self.version, self.updated, self.cancelled = version, updated, cancelled
        self.due_at, self.due_rule = due_at, due_rule

    def _transition(self, choice: type[Rule] | str | None, actor: Any, note: str, data: Any, db: str) -> StateHistory:
        seen = (self.current_node_id, self.version)
        current = self.current_node
        with connections[db].cursor() as cursor:  # one cursor for the transition's statements
            target = self._choose(current, self._lock_and_load(cursor, seen, current, db), choice)
            leaving, entering = current.rule, target.rule
            refusal = guards.refusal(self, leaving, entering, actor, node=target)
            if refusal is not None:
                raise refusal
            event = {"state": self, "from_node": current, "to_node": target, "rule": entering, "actor": actor}
            signals.pre_transition.send(sender=State, **event)
            callbacks.call(leaving, "on_leave", self)
            with guards.at_node(self, target):
                callbacks.call(entering, "on_enter", self)
            row = self._move(cursor, seen, current, target, actor, db, note=note, data=data)
        signals.post_transition.send(sender=State, history=row, **event)
        _on_commit(db, history=row, **event)
        return row

    def _jump(self, target: FlowNodeData, actor: Any, note: str, run_callbacks: bool, db: str) -> StateHistory:
        """A jump's lock, re-check, callbacks (when asked), signals and rows."""
        seen = (self.current_node_id, self.version)
        current = self.current_node
        with connections[db].cursor() as cursor:
            self._lock_and_load(cursor, seen, current, db)
            entering = target.rule
            event = {"state": self, "from_node": current, "to_node": target, "rule": entering, "actor": actor}
            signals.pre_transition.send(sender=State, **event)
            if run_callbacks:
                callbacks.call(current.rule, "on_leave", self)
                with guards.at_node(self, target):
                    callbacks.call(entering, "on_enter", self)
            row = self._move(cursor, seen, current, target, actor, db, kind=StateHistory.JUMP, note=note)
        signals.post_transition.send(sender=State, history=row, **event)
        _on_commit(db, history=row, **event)
        return row

    def _cancel(self, actor: Any, note: str, db: str) -> StateHistory:
        """A cancel's lock, re-check, compare-and-set and row (not a hot path: the ORM's update)."""
        seen = (self.current_node_id, self.version)
        current = self.current_node
        with connections[db].cursor() as cursor:
            self._lock_and_load(cursor, seen, current, db)
        now = timezone.now()
        changed = (
            type(self)
            ._default_manager.using(db)
            .filter(pk=self.pk, current_node_id=seen[0], version=seen[1], cancelled__isnull=True)
            .update(cancelled=now, version=F("version") + 1, updated=now, due_at=None, due_rule="")
        )
        if changed != 1:
            raise ConcurrentTransition(
                gettext("State %(id)s moved during the cancel; try again") % {"id": self.pk}, state=self
            )
        self.version, self.updated, self.cancelled = seen[1] + 1, now, now
        self.due_at, self.due_rule = None, ""
        try:
            row = StateHistory.record(
                self,
                next_seq(seen[1]),
                current,
                current,
                actor,
                kind=StateHistory.CANCEL,
                note=note,
                using=db,
                created=now,
            )
        except IntegrityError as exc:
            raise ConcurrentTransition(
                f"State {self.pk}: history row {next_seq(seen[1])} already exists; try again", state=self
            ) from exc
        if signals.state_cancelled.has_listeners(State):
            transaction.on_commit(partial(_send_cancelled, state=self, actor=actor, history=row), using=db)
        return row

    def _lock_and_load(
        self, cursor: CursorWrapper, seen: tuple[int, int], current: FlowNodeData, db: str
    ) -> list[FlowNodeData]:
        """Lock the row where the database can, check it did not move, and
        return the children of ``current`` (one statement; two on MariaDB)."""
        sql = _statements(db)
        try:
            if tricks.on.hand_statements:
                found, rows = transitions.load(cursor, sql, current.node_id, self.pk)
            else:
                found, rows = transitions.orm_load(_TABLES, db, sql, current.node_id, self.pk)
        except OperationalError as exc:
            if lock_error_kind(exc) is None:
                raise
            raise ConcurrentTransition(
                gettext("State %(id)s is being moved by another transaction; refresh it and try again")
                % {"id": self.pk},
                state=self,
            ) from exc
        if found != seen:
            if found is None:
                text = gettext("State %(id)s moved since it was loaded (it was deleted); refresh it and try again")
            else:
                text = gettext(
                    "State %(id)s moved since it was loaded (it is now at node data %(data)s, version %(version)s); "
                    "refresh it and try again"
                )
            where = {"id": self.pk, "data": found[0] if found else None, "version": found[1] if found else None}
            raise ConcurrentTransition(text % where, state=self)
        return [_node_data(db, sql, row) for row in rows]

    def _move(
        self,
        cursor: CursorWrapper,
        seen: tuple[int, int],
        current: FlowNodeData,
        target: FlowNodeData,
        actor: Any,
        db: str,
        kind: str = "transition",
        note: str = "",
        data: Any = None,
    ) -> StateHistory:
        """The compare-and-set and the history row (:mod:`flowr.db.history`).

        The unique ``(state, seq)`` backs the compare-and-set up; no savepoint
        is needed: an error aborts the whole transition anyway.
        """
        now = timezone.now()  # the State's ``updated`` and the row's ``created``
        stamp = _UPDATED.get_db_prep_value(now, cursor.db)
        seq = next_seq(seen[1])
        row = _HISTORY.build(self, seq, current, target, actor, kind, note, now, data)
        due_at, due_rule = timer_of(target, now, state=self)
        due = _DUE_AT.get_db_prep_value(due_at, cursor.db)
        # moved before the write: save() receivers see it so; next_state()
        # puts it back if the write fails
        self.current_node, self.version, self.updated = target, seen[1] + 1, now
        self.due_at, self.due_rule = due_at, due_rule
        update = [target.pk, stamp, due, due_rule, self.pk, *seen]
        try:
            if _HISTORY.write(cursor, _statements(db), row, update, timer=(due_at, due_rule), created=stamp):
                return row
        except IntegrityError as exc:
            raise ConcurrentTransition(
                gettext("State %(id)s: history row %(seq)s already exists; try again") % {"id": self.pk, "seq": seq},
                state=self,
            ) from exc
        raise ConcurrentTransition(
            gettext("State %(id)s moved during the transition; try again") % {"id": self.pk}, state=self
        )

    def _choose(
        self, current: FlowNodeData, children: list[FlowNodeData], choice: type[Rule] | str | None
    ) -> FlowNodeData:
        """The child to move to (0.2's rules: one child, or ``choice``)."""
        if not children:
            raise NoNextState(
                gettext("No next state: node %(node)s (%(rule)s) of flow %(flow)s has no children")
                % {"node": current.node_id, "rule": current.rule_verbose_name, "flow": self.flow_id},
                state=self,
                node=current,
            )
        if choice is None:
            if len(children) == 1:
                return children[0]
            raise ChoiceRequired(
                gettext("Rule %(rule)s branches here (%(count)s children): choose the next rule")
                % {"rule": current.rule_verbose_name, "count": len(children)},
                state=self,
                node=current,
            )
        label = choice if isinstance(choice, str) else rule_registry.label_of(choice)
        for child in children:
            if child.rule_label == label:
                return child
        if isinstance(choice, str):  # a class name: taken when one child alone has it
            named = [child for child in children if rule_registry.short_name(child.rule_label) == choice]
            if len(named) == 1:
                return named[0]
            if named:
                labels = ", ".join(child.rule_label for child in named)
                raise AmbiguousRule(
                    gettext("Several children of node %(node)s are called %(name)s: give the label, one of %(labels)s")
                    % {"node": current.node_id, "name": choice, "labels": labels},
                    state=self,
                    node=current,
                    rule=choice,
                    problems=[child.rule_label for child in named],
                )
        raise ChoiceNotInFlow(
            gettext("Rule %(rule)s is not a child of node %(node)s (%(current)s) in this flow")
            % {"rule": rule_registry.short_name(label), "node": current.node_id, "current": current.rule_verbose_name},
            state=self,
            node=current,
            rule=choice,
        )


class StateHistory(models.Model):
    """One start, transition, migration, jump or cancel of a State.

    ``seq`` counts from 1 per State (unique with the State).  Rule labels and
    names are copied as they were, so history stays readable after rules are
    renamed or nodes deleted (the node foreign keys then become null).
    """

    START, TRANSITION, MIGRATION, JUMP, CANCEL = "start", "transition", "migration", "jump", "cancel"
    KINDS = [
        (START, _("start")),
        (TRANSITION, _("transition")),
        (MIGRATION, _("migration")),
        (JUMP, _("jump")),
        (CANCEL, _("cancel")),
    ]

    # db_index=False: the unique (state, seq) index serves look-ups by state
    state = models.ForeignKey(State, on_delete=models.CASCADE, related_name="history_rows", db_index=False)
    seq = models.PositiveIntegerField(_("step"))
    kind = models.CharField(_("kind"), max_length=16, choices=KINDS, default=TRANSITION)
    from_node = models.ForeignKey(FlowNodeData, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    to_node = models.ForeignKey(FlowNodeData, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    from_rule_label = models.CharField(_("from rule label"), max_length=255, blank=True, default="")
    from_rule_name = models.CharField(_("from rule"), max_length=255, blank=True, default="")
    to_rule_label = models.CharField(_("to rule label"), max_length=255)
    to_rule_name = models.CharField(_("to rule"), max_length=255)
    # db_index=False: SetOnlyIndex below (most transitions have no actor)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    actor_repr = models.CharField(_("actor"), max_length=255, blank=True, default="")
    note = models.TextField(_("note"), blank=True, default="")
    # what the actor gave with the transition (JSON); null: nothing given
    data = models.JSONField(_("data"), null=True, blank=True, default=None)
    created = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("state history row")
        verbose_name_plural = _("state history")
        ordering = ["state", "seq"]
        constraints = [models.UniqueConstraint(fields=["state", "seq"], name="flowr_history_state_seq")]
        # Every index is written by every transition.  Kept: the unique
        # (state, seq); from_node and to_node's (deleting an old flow version
        # sets them to null); the actor's, for the rows that have one
        # (deleting a user sets it to null).
        indexes = [SetOnlyIndex(fields=["actor"], name="flowr_history_actor")]

    def __str__(self) -> str:
        # "#2 transition: Opened → Triaged", "#1 start: Opened"
        moved = f"{self.from_rule_verbose_name} → " if self.from_rule_label or self.from_rule_name else ""
        return f"#{self.seq} {self.get_kind_display()}: {moved}{self.to_rule_verbose_name}"

    @property
    def from_rule_verbose_name(self) -> str:
        """The left rule as people see it: its current verbose name while the
        stored label resolves, else the stored name (history is never rewritten)."""
        return _shown_rule(self.from_rule_label, self.from_rule_name)

    @property
    def to_rule_verbose_name(self) -> str:
        """The entered rule as people see it (see :attr:`from_rule_verbose_name`)."""
        return _shown_rule(self.to_rule_label, self.to_rule_name)

    @classmethod
    def record(
        cls,
        state: State,
        seq: int,
        from_node: FlowNodeData | None,
        to_node: FlowNodeData,
        actor: Any,
        kind: str = TRANSITION,
        note: str = "",
        using: str | None = None,
        created: Any = None,
        data: Any = None,
    ) -> StateHistory:
        """Insert one history row, copying the rules' labels and names."""
        row = _HISTORY.build(state, seq, from_node, to_node, actor, kind, note, created, data)
        db = using or router.db_for_write(cls, instance=row)
        with connections[db].cursor() as cursor:
            _HISTORY.write(cursor, _statements(db), row)
        return row

    @classmethod
    def build(
        cls,
        state: State,
        seq: int,
        from_node: FlowNodeData | None,
        to_node: FlowNodeData,
        actor: Any,
        kind: str = TRANSITION,
        note: str = "",
        created: Any = None,
        data: Any = None,
    ) -> StateHistory:
        """An unsaved history row, with the rules' labels and names copied
        (:meth:`flowr.db.history.HistoryWriter.build`)."""
        return _HISTORY.build(state, seq, from_node, to_node, actor, kind, note, created, data)


def _shown_rule(label: str, stored_name: str) -> str:
    found = rule_registry.get_rule(label) if label else None
    return str(found.verbose_name) if found is not None else stored_name


_UPDATED = State._meta.get_field("updated")
_DUE_AT = State._meta.get_field("due_at")
_DATA_ENCODER = StateHistory._meta.get_field("data").encoder
_HISTORY: HistoryWriter[StateHistory] = HistoryWriter(StateHistory)
_TABLES = transitions.TransitionModels(State, Edge, Node, FlowNodeData, StateHistory)
_statements = transitions.cached(_TABLES)
