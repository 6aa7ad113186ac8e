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

import logging
import threading
from dataclasses import dataclass
from functools import cache, partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, OperationalError, connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models.base import ModelState
from django.db.models.signals import post_init, post_save, pre_init, pre_save
from django.utils import timezone

from flowr import rules as rule_registry
from flowr import signals
from flowr.exceptions import (
    ChoiceNotInFlow,
    ChoiceRequired,
    ConcurrentTransition,
    NoNextState,
    ReentrantTransition,
    TransitionLockTimeout,
    TransitionRefused,
)
from flowr.indexes import SetOnlyIndex
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
                f"State {self.pk} is already in a transition: a callback or receiver cannot move its own State",
                state_pk=self.pk,
            )
        active.add(self.pk)
        self.active = active

    def __exit__(self, *exc: object) -> None:
        self.active.discard(self.pk)


# -- database lock errors --------------------------------------------------------

# PostgreSQL SQLSTATEs and MySQL/MariaDB error numbers.
_PG_LOCK_TIMEOUT = {"55P03"}
_PG_CONFLICT = {"40P01", "40001"}
_MYSQL_LOCK_TIMEOUT = {1205}
_MYSQL_CONFLICT = {1213}


def lock_error_kind(exc: BaseException) -> str | None:
    """Classify a database error: ``"timeout"``, ``"conflict"`` or None.

    ``"timeout"``: a lock wait ended (SQLite "database is locked",
    PostgreSQL ``lock_timeout``/``NOWAIT``, MariaDB lock wait timeout).
    ``"conflict"``: a deadlock or serialization failure.
    """
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    errno = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    if sqlstate in _PG_LOCK_TIMEOUT or errno in _MYSQL_LOCK_TIMEOUT:
        return "timeout"
    if sqlstate in _PG_CONFLICT or errno in _MYSQL_CONFLICT:
        return "conflict"
    text = str(exc).lower()
    if "database is locked" in text or "database table is locked" in text:
        return "timeout"
    return None


class _lock_errors_as_flowr:  # noqa: N801 -- used like a function; a class is the cheaper context manager
    """Turn the database's lock errors into flowr errors (cause chained)."""

    __slots__ = ("state",)

    def __init__(self, state: State | None) -> None:
        self.state = state

    def __enter__(self) -> None:
        pass

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if not isinstance(exc, OperationalError):
            return
        state = self.state
        state_pk = None if state is None else state.pk
        problem = lock_error_kind(exc)
        if problem == "timeout":
            raise TransitionLockTimeout(
                f"State {state_pk}: a database lock was held by another transaction too long ({exc}); try again",
                state=state,
            ) from exc
        if problem == "conflict":
            raise ConcurrentTransition(
                f"State {state_pk}: the database aborted the transition because of a conflicting transaction "
                f"({exc}); refresh it and try again",
                state=state,
            ) from exc


# -- guards ----------------------------------------------------------------------


def _veto(result: bool | str | None, default: str) -> str | None:
    """The reason a guard's result vetoes, or None when it allows.

    ``True``/``None``/truthy objects allow; ``False`` vetoes with ``default``;
    a string vetoes with itself as the reason (an empty one with ``default``).
    """
    if isinstance(result, str):
        return result or default
    if result is None or result:
        return None
    return default


def _refusal(state: State, leaving: type[Rule], entering: type[Rule]) -> TransitionRefused | None:
    """Run ``leaving.can_leave`` then ``entering.can_enter``; the first veto."""
    reason = _veto(leaving.can_leave(state), f"Rule {leaving.name} refused to be left")
    if reason is not None:
        return TransitionRefused(reason, state=state, rule=leaving, guard="can_leave", reason=reason)
    reason = _veto(entering.can_enter(state), f"Rule {entering.name} refused entry")
    if reason is not None:
        return TransitionRefused(reason, state=state, rule=entering, guard="can_enter", reason=reason)
    return None


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


# -- the transition's statements -----------------------------------------------------
#
# A transition is on its users' hot path: built through the ORM, its four
# statements cost five times what the database spends on them.  They are
# written once per database from the models' metadata and run on a cursor.


@dataclass(frozen=True)
class _Statements:
    load: str  # lock + re-check + the current node's children, in one
    lock: str | None  # the lock + re-check alone (MariaDB: no FOR UPDATE OF)
    children: str
    update: str
    insert: str
    data_names: list[str]
    node_names: list[str]
    insert_fields: list[models.Field[Any, Any]]
    insert_adapt: list[bool]  # whether the database needs the field's adaptation (dates)
    returning: bool
    # update + insert in one statement, where the database can (PostgreSQL:
    # a data-modifying WITH); its parameters are update's then insert's
    move: str | None
    # PostgreSQL: ``load`` and ``move`` as calls of migration 0002's functions
    # (same parameters, same rows), used where the functions exist
    load_call: str | None = None
    move_call: str | None = None


def _plain(field: models.Field[Any, Any]) -> bool:
    """Whether the database takes the field's Python value as it is (text,
    integers, foreign keys to integer keys): no adaptation to call."""
    if isinstance(field, models.ForeignKey):
        return _plain(field.target_field)
    return isinstance(field, (models.CharField, models.TextField, models.IntegerField))


@cache
def _statements(db: str) -> _Statements:
    connection = connections[db]
    q = connection.ops.quote_name
    features = connection.features
    data_fields, node_fields = FlowNodeData._meta.concrete_fields, Node._meta.concrete_fields
    columns = ", ".join([f"D.{q(f.column)}" for f in data_fields] + [f"N.{q(f.column)}" for f in node_fields])
    state, edge, node, data = (q(m._meta.db_table) for m in (State, Edge, Node, FlowNodeData))
    nowait = " NOWAIT" if features.has_select_for_update_nowait else ""
    to_data = f"{node} N ON N.{q('id')} = E.{q('target_id')} {{join}} {data} D ON D.{q('node_id')} = N.{q('id')}"
    # The lock must take the State's row only: where FOR UPDATE cannot say
    # "OF S" (MariaDB), the lock and the children are two statements.
    combined = not features.has_select_for_update or features.has_select_for_update_of
    lock_clause = f" FOR UPDATE OF S{nowait}" if features.has_select_for_update else ""
    history = StateHistory
    insert_fields = [f for f in history._meta.concrete_fields if not f.primary_key]
    insert = "INSERT INTO {} ({}) VALUES ({})".format(
        q(history._meta.db_table), ", ".join(q(f.column) for f in insert_fields), ", ".join(["%s"] * len(insert_fields))
    )
    returning = features.can_return_columns_from_insert
    if returning:
        insert += f" RETURNING {q(history._meta.pk.column)}"
    check = f"SELECT {q('current_node_id')}, {q('version')} FROM {state} WHERE {q('id')} = %s"
    update = (
        f"UPDATE {state} SET {q('current_node_id')} = %s, {q('version')} = {q('version')} + 1, "
        f"{q('updated')} = %s WHERE {q('id')} = %s AND {q('current_node_id')} = %s AND {q('version')} = %s"
    )
    move = load_call = move_call = None
    if connection.vendor == "postgresql":
        # The history row is inserted only if the compare-and-set matched
        # (no row: the caller sees ConcurrentTransition); one round trip
        # fewer on the hot path.
        values = ", ".join(f"CAST(%s AS {f.cast_db_type(connection)})" for f in insert_fields)
        move = (
            f"WITH moved AS ({update} RETURNING {q('id')}) "
            f"INSERT INTO {q(history._meta.db_table)} ({', '.join(q(f.column) for f in insert_fields)}) "
            f"SELECT {values} FROM moved RETURNING {q(history._meta.pk.column)}"
        )
        if _function_layout(data_fields, node_fields, insert_fields):
            load_call = f"SELECT * FROM {_PG_LOAD}(%s, %s)"
            actor = history._meta.get_field("actor")
            placeholders = ["%s"] * 5 + [  # the actor's type decides the function's polymorphic parameter
                f"CAST(%s AS {f.cast_db_type(connection)})" if f is actor else "%s" for f in insert_fields
            ]
            move_call = f"SELECT * FROM {_PG_MOVE}({', '.join(placeholders)})"
    return _Statements(
        load=(
            f"SELECT S.{q('current_node_id')}, S.{q('version')}, {columns} FROM {state} S "
            f"LEFT JOIN {edge} E ON E.{q('source_id')} = %s LEFT JOIN {to_data.format(join='LEFT JOIN')} "
            f"WHERE S.{q('id')} = %s ORDER BY N.{q('id')}{lock_clause}"
        ),
        lock=None if combined else f"{check} FOR UPDATE{nowait}",
        children=(
            f"SELECT {columns} FROM {edge} E INNER JOIN {to_data.format(join='INNER JOIN')} "
            f"WHERE E.{q('source_id')} = %s ORDER BY N.{q('id')}"
        ),
        update=update,
        insert=insert,
        data_names=[f.attname for f in data_fields],
        node_names=[f.attname for f in node_fields],
        insert_fields=insert_fields,
        insert_adapt=[not _plain(f) for f in insert_fields],
        returning=returning,
        move=move,
        load_call=load_call,
        move_call=move_call,
    )


# The functions of migrations 0002 and 0003 (PostgreSQL) and the rows they take and give.
_PG_LOAD, _PG_MOVE = "flowr_load_v2", "flowr_move_v1"
_PG_SIGNATURES = (
    f"{_PG_LOAD}(bigint,bigint)",
    f"{_PG_MOVE}(bigint,timestamptz,bigint,bigint,integer,bigint,integer,varchar,bigint,bigint,"
    "varchar,varchar,varchar,varchar,anyelement,varchar,text,timestamptz)",
)
_PG_TABLES = ("flowr_state", "flowr_edge", "flowr_node", "flowr_flownodedata", "flowr_statehistory")
_PG_LAYOUT = (
    ["id", "node_id", "rule_label"],
    ["id", "graph_id"],
    [
        *("state_id", "seq", "kind", "from_node_id", "to_node_id", "from_rule_label", "from_rule_name"),
        *("to_rule_label", "to_rule_name", "actor_id", "actor_repr", "note", "created"),
    ],
)


def _function_layout(*fields: list[models.Field[Any, Any]]) -> bool:
    """Whether the tables and columns are the ones the functions were written for."""
    tables = tuple(m._meta.db_table for m in (State, Edge, Node, FlowNodeData, StateHistory))
    return tables == _PG_TABLES and [[f.column for f in group] for group in fields] == list(_PG_LAYOUT)


def _has_functions(connection: BaseDatabaseWrapper) -> bool:
    """Whether migration 0002's functions exist: looked up once per
    connection (``forget_functions`` runs when one opens), on the driver's
    own cursor -- a probe like the database backend's own set-up statements,
    kept out of the query log and the query counts."""
    found = connection.__dict__.get("_flowr_functions")
    if found is None:
        with connection.connection.cursor() as cursor:
            cursor.execute("SELECT to_regprocedure(%s) IS NOT NULL AND to_regprocedure(%s) IS NOT NULL", _PG_SIGNATURES)
            found = connection._flowr_functions = bool(cursor.fetchone()[0])
    return found


def _call_or(cursor: CursorWrapper, call: str | None, statement: str) -> str:
    """The function call where there is one and the functions exist, else the statement."""
    return call if call is not None and _has_functions(cursor.db) else statement


def forget_functions(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """``connection_created`` receiver: a new connection looks again."""
    connection.__dict__.pop("_flowr_functions", None)


def _node_data(db: str, sql: _Statements, row: tuple[Any, ...]) -> FlowNodeData:
    """A FlowNodeData with its Node, from the data columns then the node columns."""
    split = len(sql.data_names)
    data = _rows_as_instances(FlowNodeData, db, sql.data_names, [row[:split]])[0]
    _DATA_NODE.set_cached_value(data, _rows_as_instances(Node, db, sql.node_names, [row[split:]])[0])
    return data


def _insert(cursor: CursorWrapper, sql: _Statements, values: list[Any]) -> Any:
    """Run the precompiled history INSERT; the new row's pk."""
    cursor.execute(sql.insert, values)
    return cursor.fetchone()[0] if sql.returning else cursor.lastrowid


# -- models ------------------------------------------------------------------------


class StateQuerySet(models.QuerySet["State"]):
    """Look-ups on States."""

    def for_subject(self, subject: models.Model) -> StateQuerySet:
        """States whose subject is ``subject`` (any model, int or UUID pk).

        :param subject: a saved model instance
        """
        content_type = ContentType.objects.db_manager(self.db).get_for_model(subject)
        return self.filter(subject_content_type=content_type, subject_id=str(subject.pk))


class State(models.Model):
    """One running instance of a :class:`Flow`.

    ``current_node`` is the :class:`FlowNodeData` the State is at;
    ``version`` counts its transitions (the compare-and-set token);
    ``subject`` optionally points at any model instance.
    """

    flow = models.ForeignKey(Flow, on_delete=models.PROTECT, related_name="states")
    current_node = models.ForeignKey(FlowNodeData, on_delete=models.PROTECT, related_name="states")
    version = models.PositiveIntegerField(default=0, editable=False)
    # No index of its own: ``flowr_state_subject`` starts with it (on
    # PostgreSQL every transition writes every index of the State table).
    subject_content_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    subject_id = models.CharField(max_length=255, blank=True, default="")
    subject = GenericForeignKey("subject_content_type", "subject_id")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = StateQuerySet.as_manager()

    class Meta:
        ordering = ["-updated", "-pk"]
        indexes = [models.Index(fields=["subject_content_type", "subject_id"], name="flowr_state_subject")]

    def __str__(self) -> str:
        return f"State(id={self.pk} flow={self.flow_id} node={self.current_node_id})"

    # -- reading -----------------------------------------------------------
    @property
    def history(self) -> models.QuerySet[StateHistory]:
        """Every start, transition and migration of this State, oldest first."""
        return self.history_rows.order_by("seq")

    @property
    def is_finished(self) -> bool:
        """True when the current node has no children (one query)."""
        return not Edge.objects.filter(source__flownodedata__pk=self.current_node_id).exists()

    def next_nodes(self) -> list[FlowNodeData]:
        """The data of the current node's children (one query)."""
        return self.current_node.children_data()

    def allowed_next_rules(self) -> list[type[Rule]]:
        """The rules :meth:`next_state` would accept now, guards consulted.

        Empty when the flow ends here, when the current rule refuses to be
        left, or when the current rule no longer resolves.
        """
        current = rule_registry.get_rule(self.current_node.rule_label)
        if current is None:
            return []
        found = [rule_registry.get_rule(data.rule_label) for data in self.next_nodes()]
        return [rule for rule in found if rule is not None and _refusal(self, current, rule) is None]

    # -- starting ------------------------------------------------------------
    @classmethod
    def start(cls, flow: Flow, *, subject: models.Model | None = None, actor: Any = None) -> State:
        """Create a State at the flow's root and call the root's ``on_enter``.

        Atomic: if the root's ``can_enter`` vetoes, or ``on_enter`` or a
        ``pre_transition``/``post_transition`` receiver raises, no State
        exists afterwards and the exception propagates.

        :param flow: the flow to run
        :param subject: any saved model instance the State is about
        :param actor: who started it (a user is stored as a foreign key;
            anything else by its ``str()``)
        :raises TransitionRefused: the root rule's ``can_enter`` vetoed
        :raises MissingRule: the root's rule no longer resolves
        """
        root = flow.root_data
        rule = root.rule
        db = router.db_for_write(cls)
        with _lock_errors_as_flowr(None), transaction.atomic(using=db):
            state = cls(flow=flow, current_node=root)
            if subject is not None:
                state.subject = subject
            state.save(force_insert=True, using=db)
            with _guard_reentry(state.pk):
                state._enter_root(rule, actor, db)
        return state

    def _enter_root(self, rule: type[Rule], actor: Any, db: str) -> None:
        root = self.current_node
        reason = _veto(rule.can_enter(self), f"Rule {rule.name} refused entry")
        if reason is not None:
            raise TransitionRefused(reason, state=self, rule=rule, guard="can_enter", reason=reason)
        event = {"state": self, "from_node": None, "to_node": root, "rule": rule, "actor": actor}
        signals.pre_transition.send(sender=State, **event)
        rule.on_enter(self)
        row = StateHistory.record(self, 1, None, root, actor, kind=StateHistory.START, using=db, created=self.created)
        signals.post_transition.send(sender=State, history=row, **event)
        _on_commit(db, history=row, **event)

    # -- moving --------------------------------------------------------------
    def next_state(self, rule: type[Rule] | str | None = None, *, actor: Any = None) -> State:
        """Move to the next node; return ``self``, moved.

        One child: take it.  Several: ``rule`` (a Rule class or label) picks
        one.  None: refused.  Atomic, and applied only from the node and
        version this object holds.  Callbacks see ``current_node`` still at
        the node being left.  On any error the database and this object are
        left as they were.

        :param rule: the rule to move to, when the current rule branches
        :param actor: who moved it (a user, or anything with a ``str()``)
        :raises NoNextState, ChoiceRequired, ChoiceNotInFlow: no such move
        :raises TransitionRefused: a guard vetoed
        :raises ConcurrentTransition: the State moved since it was loaded,
            or another transaction is moving it (``TransitionLockTimeout``
            when a lock wait timed out); refresh and retry
        :raises ReentrantTransition: a callback tried to move this State
        """
        if self.pk is None:
            raise ValueError("next_state() needs a saved State; use State.start()")
        db = router.db_for_write(type(self), instance=self)
        saved = (self.current_node_id, self.version, self.updated, self._state.fields_cache.get("current_node"))
        try:
            with _guard_reentry(self.pk), _lock_errors_as_flowr(self), transaction.atomic(using=db):
                return self._transition(rule, actor, db)
        except BaseException:
            self._restore(*saved)
            raise

    def _restore(self, node_id: int, version: int, updated: Any, node: FlowNodeData | None) -> None:
        """Put the in-memory fields back after a failed transition."""
        if node is not None and node.pk == node_id:
            self.current_node = node
        else:
            self.current_node_id = node_id
        self.version, self.updated = version, updated

    def _transition(self, choice: type[Rule] | str | None, actor: Any, db: str) -> State:
        seen = (self.current_node_id, self.version)
        current = self.current_node
        with connections[db].cursor() as cursor:  # one cursor for the transition's statements
            target = self._choose(current, self._lock_and_load(cursor, seen, current, db), choice)
            leaving, entering = current.rule, target.rule
            refusal = _refusal(self, leaving, entering)
            if refusal is not None:
                raise refusal
            event = {"state": self, "from_node": current, "to_node": target, "rule": entering, "actor": actor}
            signals.pre_transition.send(sender=State, **event)
            leaving.on_leave(self)
            entering.on_enter(self)
            row = self._move(cursor, seen, current, target, actor, db)
        signals.post_transition.send(sender=State, history=row, **event)
        _on_commit(db, history=row, **event)
        return self

    def _lock_and_load(
        self, cursor: CursorWrapper, seen: tuple[int, int], current: FlowNodeData, db: str
    ) -> list[FlowNodeData]:
        """Lock the row where the database can, check it did not move, and
        return the children of ``current`` (one statement; two on MariaDB)."""
        sql = _statements(db)
        try:
            if sql.lock is None:
                cursor.execute(_call_or(cursor, sql.load_call, sql.load), [current.node_id, self.pk])
                rows = cursor.fetchall()
                found = tuple(rows[0][:2]) if rows else None
                rows = [row[2:] for row in rows if row[2] is not None]  # no row: the flow ends here
            else:
                cursor.execute(sql.lock, [self.pk])
                found = cursor.fetchone()
                found = None if found is None else tuple(found)
                cursor.execute(sql.children, [current.node_id])
                rows = cursor.fetchall()
        except OperationalError as exc:
            if lock_error_kind(exc) is None:
                raise
            raise ConcurrentTransition(
                f"State {self.pk} is being moved by another transaction; refresh it and try again", state=self
            ) from exc
        if found != seen:
            where = "was deleted" if found is None else f"is now at node data {found[0]}, version {found[1]}"
            raise ConcurrentTransition(
                f"State {self.pk} moved since it was loaded (it {where}); refresh it and try again", state=self
            )
        return [_node_data(db, sql, row) for row in rows]

    def _move(
        self,
        cursor: CursorWrapper,
        seen: tuple[int, int],
        current: FlowNodeData,
        target: FlowNodeData,
        actor: Any,
        db: str,
    ) -> StateHistory:
        """The compare-and-set and the history row: one statement where the
        database can (PostgreSQL), else two; through ``save()`` when a
        receiver expects the row's.

        The unique ``(state, seq)`` backs the compare-and-set up; no savepoint
        is needed: an error aborts the whole transition anyway.
        """
        sql = _statements(db)
        now = timezone.now()  # the State's ``updated`` and the row's ``created``
        stamp = _UPDATED.get_db_prep_value(now, cursor.db)
        update = [target.pk, stamp, self.pk, *seen]
        seq = seen[1] + 2
        try:
            if StateHistory.has_save_receivers():
                cursor.execute(sql.update, update)
                if cursor.rowcount == 1:  # the receivers see the State moved
                    self.current_node, self.version, self.updated = target, seen[1] + 1, now
                    return StateHistory.record(self, seq, current, target, actor, using=db, created=now)
            else:
                row = StateHistory.build(self, seq, current, target, actor, created=now)
                values = row.insert_values(db, created=stamp)
                if sql.move is not None:
                    cursor.execute(_call_or(cursor, sql.move_call, sql.move), [*update, *values])
                    found = cursor.fetchone()
                    pk = None if found is None else found[0]
                else:
                    cursor.execute(sql.update, update)
                    pk = _insert(cursor, sql, values) if cursor.rowcount == 1 else None
                if pk is not None:
                    row.pk = pk
                    row._state.adding, row._state.db = False, db
                    self.current_node, self.version, self.updated = target, seen[1] + 1, now
                    return row
        except IntegrityError as exc:
            raise ConcurrentTransition(
                f"State {self.pk}: history row {seq} already exists; try again", state=self
            ) from exc
        raise ConcurrentTransition(f"State {self.pk} moved during the transition; try again", state=self)

    def _choose(
        self, current: FlowNodeData, children: list[FlowNodeData], choice: type[Rule] | str | None
    ) -> FlowNodeData:
        """The child to move to (0.2's rules: one child, or ``choice``)."""
        if not children:
            raise NoNextState(
                f"No next state: node {current.node_id} ({current.rule_name}) of flow {self.flow_id} has no children",
                state=self,
                node=current,
            )
        if choice is None:
            if len(children) == 1:
                return children[0]
            raise ChoiceRequired(
                f"Rule {current.rule_name} branches here ({len(children)} children): choose the next rule",
                state=self,
                node=current,
            )
        label = choice if isinstance(choice, str) else rule_registry.label_of(choice)
        for child in children:
            if child.rule_label == label:
                return child
        raise ChoiceNotInFlow(
            f"Rule {rule_registry.short_name(label)} is not a child of node {current.node_id} "
            f"({current.rule_name}) in this flow",
            state=self,
            node=current,
            rule=choice,
        )


def _user_or_none(actor: Any) -> models.Model | None:
    """``actor`` when it is a saved user of the user model, else None."""
    if actor is None:
        return None
    if isinstance(actor, get_user_model()) and actor.pk is not None:
        return actor
    return None


class StateHistory(models.Model):
    """One start, transition or migration of a State.

    ``seq`` counts from 1 per State (unique with the State).  Rule labels and
    names are copied as they were, so history stays readable after rules are
    renamed or nodes deleted (the node foreign keys then become null).
    """

    START, TRANSITION, MIGRATION = "start", "transition", "migration"
    KINDS = [(START, "start"), (TRANSITION, "transition"), (MIGRATION, "migration")]

    # db_index=False: the unique (state, seq) index serves look-ups by state
    state = models.ForeignKey(State, on_delete=models.CASCADE, related_name="history_rows", db_index=False)
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=KINDS, default=TRANSITION)
    from_node = models.ForeignKey(FlowNodeData, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    to_node = models.ForeignKey(FlowNodeData, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    from_rule_label = models.CharField(max_length=255, blank=True, default="")
    from_rule_name = models.CharField(max_length=255, blank=True, default="")
    to_rule_label = models.CharField(max_length=255)
    to_rule_name = models.CharField(max_length=255)
    # db_index=False: SetOnlyIndex below (most transitions have no actor)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    actor_repr = models.CharField(max_length=255, blank=True, default="")
    note = models.TextField(blank=True, default="")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "state history"
        ordering = ["state", "seq"]
        constraints = [models.UniqueConstraint(fields=["state", "seq"], name="flowr_history_state_seq")]
        # Every index is written by every transition.  Kept: the unique
        # (state, seq); from_node and to_node's (deleting an old flow version
        # sets them to null); the actor's, for the rows that have one
        # (deleting a user sets it to null).
        indexes = [SetOnlyIndex(fields=["actor"], name="flowr_history_actor")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.from_rule_name or '-'} -> {self.to_rule_name}"

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
    ) -> StateHistory:
        """Insert one history row, copying the rules' labels and names."""
        row = cls.build(state, seq, from_node, to_node, actor, kind=kind, note=note, created=created)
        db = using or router.db_for_write(cls, instance=row)
        if cls.has_save_receivers():
            row.save(force_insert=True, using=db)  # the receivers expect a save()
            return row
        # One precompiled INSERT: what save() does, without its overhead.
        with connections[db].cursor() as cursor:
            row.pk = _insert(cursor, _statements(db), row.insert_values(db))
        row._state.adding, row._state.db = False, db
        return row

    @classmethod
    def has_save_receivers(cls) -> bool:
        return pre_save.has_listeners(cls) or post_save.has_listeners(cls)

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
    ) -> StateHistory:
        """An unsaved history row, with the rules' labels and names copied.

        Built the way :func:`flowr.models.graph._rows_as_instances` makes rows (the
        field values set directly, the related objects cached) unless a
        ``pre_init``/``post_init`` receiver listens: a transition's hot path.
        """
        user = _user_or_none(actor)
        related = {"state": state, "from_node": from_node, "to_node": to_node, "actor": user}
        values = {
            "id": None,
            "state_id": state.pk,
            "seq": seq,
            "kind": kind,
            "from_node_id": from_node.pk if from_node else None,
            "to_node_id": to_node.pk,
            # cut to the columns' 255 characters here, alike on every database
            "from_rule_label": from_node.rule_label[:255] if from_node else "",
            "from_rule_name": from_node.rule_name[:255] if from_node else "",
            "to_rule_label": to_node.rule_label[:255],
            "to_rule_name": to_node.rule_name[:255],
            "actor_id": user.pk if user is not None else None,
            "actor_repr": "" if actor is None else str(actor)[:255],
            "note": note,
            "created": created or timezone.now(),
        }
        if pre_init.has_listeners(cls) or post_init.has_listeners(cls):
            return cls(**{k: v for k, v in values.items() if not k.endswith("_id")}, **related)
        row = cls.__new__(cls)
        row.__dict__.update(values)
        row._state = ModelState()
        for name, obj in related.items():
            if obj is not None:
                _HISTORY_RELATED[name].set_cached_value(row, obj)
        return row

    def insert_values(self, db: str, **prepared: Any) -> list[Any]:
        """The values of the precompiled INSERT, as ``save()`` would send them;
        ``prepared`` gives some already made ready for the database."""
        connection = connections[db]
        values = []
        sql = _statements(db)
        for f, adapt in zip(sql.insert_fields, sql.insert_adapt, strict=True):
            if f.attname in prepared:
                values.append(prepared[f.attname])
            elif adapt:
                values.append(f.get_db_prep_save(f.pre_save(self, True), connection))
            else:
                values.append(getattr(self, f.attname))
        return values


_UPDATED = State._meta.get_field("updated")
# StateHistory.build caches these related objects on the rows it makes
_HISTORY_RELATED = {name: StateHistory._meta.get_field(name) for name in ("state", "from_node", "to_node", "actor")}
