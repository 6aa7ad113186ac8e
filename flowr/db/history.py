"""The one writer of history rows (starts, transitions, flow migrations).

Every history row is made by :meth:`HistoryWriter.build` (what is copied
from the nodes and the actor, and how) and stored by
:meth:`HistoryWriter.write` (one row, after the State's compare-and-set when
there is one) or :meth:`HistoryWriter.write_many` (a flow migration's rows).
``save()`` is used when a ``pre_save``/``post_save`` receiver listens, the
precompiled statements of :mod:`flowr.db.transitions` otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar, cast

from django.contrib.auth import get_user_model
from django.db import models
from django.db.backends.utils import CursorWrapper
from django.db.models.base import ModelState
from django.db.models.signals import post_init, post_save, pre_init, pre_save
from django.utils import timezone

from flowr.db import pgfunctions, tricks
from flowr.db.transitions import Statements, insert

M = TypeVar("M", bound=models.Model)


class NodeData(Protocol):
    """What a history row copies from a node's data (FlowNodeData, not imported)."""

    @property
    def pk(self) -> Any: ...
    @property
    def rule_label(self) -> str: ...
    @property
    def rule_name(self) -> str: ...


FIRST_SEQ = 1  # a State's start; its version is then 0


def next_seq(version: int) -> int:
    """The ``seq`` of the row a State at ``version`` writes next: row
    ``version + 1`` is its last, each move adds one to both."""
    return version + 2


def user_or_none(actor: Any) -> models.Model | None:
    """``actor`` when it is a saved user of the user model, else None."""
    if actor is None:
        return None
    if isinstance(actor, get_user_model()) and actor.pk is not None:
        return actor
    return None


def has_save_receivers(model: type[models.Model]) -> bool:
    """Whether a ``pre_save``/``post_save`` receiver listens: it expects the row's ``save()``."""
    return pre_save.has_listeners(model) or post_save.has_listeners(model)


class HistoryWriter(Generic[M]):
    """Builds and writes the rows of one history model (given, not imported)."""

    __slots__ = ("model", "related")

    def __init__(self, model: type[M]) -> None:
        self.model = model
        # build() caches these related objects on the rows it makes
        self.related: dict[str, models.ForeignKey[Any, Any]] = {
            name: cast("models.ForeignKey[Any, Any]", model._meta.get_field(name))
            for name in ("state", "from_node", "to_node", "actor")
        }

    def build(
        self,
        state: models.Model | int,
        seq: int,
        from_node: NodeData | None,
        to_node: NodeData,
        actor: Any,
        kind: str,
        note: str = "",
        created: Any = None,
        data: Any = None,
    ) -> M:
        """An unsaved history row, with the rules' labels and names copied.

        Built the way graph loads make rows (the field values set directly,
        the related objects cached) unless a ``pre_init``/``post_init``
        receiver listens: a transition's hot path.  ``state`` may be a pk
        (a flow migration's rows: no State loaded, none cached).
        """
        model = self.model
        user = user_or_none(actor)
        if isinstance(state, int):
            state_id, state_obj = state, None
        else:
            state_id, state_obj = state.pk, state
        related = {"state": state_obj, "from_node": from_node, "to_node": to_node, "actor": user}
        values = {
            "id": None,
            "state_id": state_id,
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
            "data": data,
            "created": created or timezone.now(),
        }
        if not tricks.on.no_model_init or pre_init.has_listeners(model) or post_init.has_listeners(model):
            init = {k: v for k, v in values.items() if not k.endswith("_id")}
            init.update({k: v for k, v in related.items() if v is not None})
            if state_obj is None:
                init["state_id"] = state_id
            return model(**init)
        row = model.__new__(model)
        row.__dict__.update(values)
        row._state = ModelState()
        for name, obj in related.items():
            if obj is not None:
                self.related[name].set_cached_value(row, cast(models.Model, obj))
        return row

    def write(
        self,
        cursor: CursorWrapper,
        sql: Statements,
        row: M,
        update: list[Any] | None = None,
        timer: tuple[Any, str] = (None, ""),
        **prepared: Any,
    ) -> bool:
        """Store ``row``; with ``update`` (the compare-and-set's parameters)
        only if the State's compare-and-set matched.  False: it did not.

        One statement where the database can (PostgreSQL: a function or a
        data-modifying WITH), else two; through ``save()`` when a receiver
        expects the row's, or the ``hand_statements`` trick is off (then the
        compare-and-set is an ORM ``update()`` setting ``updated`` to the
        row's ``created``, as a transition passes them).  ``prepared`` gives
        values already made ready for the database; ``timer`` the State's new
        ``due_at`` and ``due_rule`` as Python values (the ORM's way).
        """
        db = cursor.db.alias
        if not tricks.on.hand_statements:  # the ORM's way: update(), save()
            if update is not None:
                target, _, _, _, state_pk, seen_node, seen_version = update
                due_at, due_rule = timer  # the Python values (``update`` holds them made ready)
                state_model = self.related["state"].related_model
                moved = (
                    state_model._default_manager.using(db)
                    .filter(pk=state_pk, current_node_id=seen_node, version=seen_version)
                    .update(
                        current_node_id=target,
                        version=models.F("version") + 1,
                        updated=row.serializable_value("created"),
                        due_at=due_at,
                        due_rule=due_rule,
                    )
                )
                if moved != 1:
                    return False
            row.save(force_insert=True, using=db)
            return True
        if has_save_receivers(self.model):
            if update is not None:
                cursor.execute(sql.update, update)
                if cursor.rowcount != 1:
                    return False
            row.save(force_insert=True, using=db)
            return True
        values = self.insert_values(cursor, sql, row, prepared)
        if update is None:
            pk = insert(cursor, sql, values)
        elif sql.move is not None:
            cursor.execute(pgfunctions.call_or(cursor, sql.move_call, sql.move), [*update, *values])
            found = cursor.fetchone()
            pk = None if found is None else found[0]
        else:
            cursor.execute(sql.update, update)
            pk = insert(cursor, sql, values) if cursor.rowcount == 1 else None
        if pk is None:
            return False
        row.pk = pk
        row._state.adding, row._state.db = False, db
        return True

    def write_many(self, db: str, rows: Sequence[M]) -> None:
        """Store a flow migration's rows: one INSERT, or ``save()`` each when
        a receiver expects it (as :meth:`write` does)."""
        if has_save_receivers(self.model):
            for row in rows:
                row.save(force_insert=True, using=db)
        else:
            self.model._default_manager.using(db).bulk_create(rows)

    @staticmethod
    def insert_values(cursor: CursorWrapper, sql: Statements, row: models.Model, prepared: dict[str, Any]) -> list[Any]:
        """The values of the precompiled INSERT, as ``save()`` would send them."""
        connection = cursor.db
        values = []
        for f, adapt in zip(sql.insert_fields, sql.insert_adapt, strict=True):
            if f.attname in prepared:
                values.append(prepared[f.attname])
            elif adapt:
                values.append(f.get_db_prep_save(f.pre_save(row, True), connection))
            else:
                values.append(getattr(row, f.attname))
        return values
