"""Governed change: a flow's status (draft, in review, published, retired).

Every status change goes through :func:`change_status`: in one transaction
it locks the flow's graph row (so it serializes with the flow's edits and
with :meth:`State.start <flowr.models.State.start>`), asks the policy
(:func:`flowr.policy.status_refusal`, and with ``FLOWR["FOUR_EYES_PUBLISH"]``
:func:`flowr.policy.publish_refusal`), writes the status and one edit-log
row with the actor.  Publishing a version retires the family's version that
was published before (logged on that flow too), so a family has at most one
published version: ``Flow.objects.current(family)``.

The status does not freeze a flow: editing is refused while States use it,
whatever its status (see docs/governance.md).  Like :mod:`flowr.edits` this
module imports no model at run time; the models import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.db import router, transaction

from flowr import edits, policy
from flowr.conf import settings

if TYPE_CHECKING:
    from flowr.models import Flow, FlowEdit

#: the edit-log operations of status changes and migrations (not edits of the
#: graph: four-eyes looks past them for the flow's last editor)
STATUS_OPERATIONS = tuple(policy.STATUS_TRANSITIONS)
GOVERNANCE_OPERATIONS = (*STATUS_OPERATIONS, "migrate")


@dataclass(frozen=True)
class StatusChanged:
    """A status change: the flow's old and new status, its log row, and
    the versions of the family that publishing retired (their pks)."""

    old: str
    new: str
    edit: FlowEdit
    retired: tuple[int, ...] = ()


def _flow_model() -> type[Flow]:
    return apps.get_model("flowr", "Flow")


def _last_editor_id(flow_id: int) -> int | None:
    """The user who made the flow's last edit of its graph or name (None: nobody known)."""
    edit_model = apps.get_model("flowr", "FlowEdit")
    row = (
        edit_model.objects.filter(flow_id=flow_id)
        .exclude(operation__in=GOVERNANCE_OPERATIONS)
        .order_by("-seq")
        .values_list("actor_id", flat=True)
        .first()
    )
    return int(row) if row is not None else None


def _four_eyes(flow: Flow, actor: Any) -> None:
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    may = user is not None and bool(user.has_perm("flowr.publish_flow"))
    last = _last_editor_id(flow.pk)
    refusal = policy.publish_refusal(flow, may_publish=may, is_last_editor=user is not None and last == user.pk)
    if refusal is not None:
        raise refusal


def change_status(flow: Flow, transition: str, actor: Any = None) -> StatusChanged:
    """Take the status ``transition`` (``"submit_for_review"``, ``"publish"``,
    ``"retire"`` or ``"back_to_draft"``) on ``flow``, logged with ``actor``.

    :raises StatusChangeNotAllowed: the transition is unknown, or the flow's
        status does not allow it (nothing changed)
    :raises PublishNotPermitted: four-eyes publishing is on and ``actor``
        lacks ``flowr.publish_flow`` or made the flow's last edit
    """
    model = _flow_model()
    db = router.db_for_write(model)
    with edits.acting(actor), transaction.atomic(using=db):
        locked = edits.lock(flow.state_graph_id)
        status, family, version = (
            model.objects.using(db).filter(pk=flow.pk).values_list("status", "family", "version").get()
        )
        refusal = policy.status_refusal(flow, transition, status)
        if refusal is not None:
            raise refusal
        new = policy.STATUS_TRANSITIONS[transition][1]
        if transition == "publish" and settings.FOUR_EYES_PUBLISH:
            _four_eyes(flow, actor)
        retired = _retire_published(model, db, family, flow.pk, version) if new == policy.PUBLISHED else ()
        edit = _set_status(model, db, flow.pk, locked, transition, (status, new))
    flow.status, flow.revision = new, edit.seq
    return StatusChanged(status, new, edit, retired)


def _set_status(
    model: type[Flow], db: str, pk: int, locked: edits.Locked, transition: str, change: tuple[str, str]
) -> FlowEdit:
    old, new = change
    model.objects.using(db).filter(pk=pk).update(status=new)
    text = f"{transition.replace('_', ' ')}: {old} -> {new}"
    edit = edits.log_operation(locked, transition, text, {"old": old, "new": new})
    assert edit is not None  # a flow's graph
    return edit


def _retire_published(model: type[Flow], db: str, family: Any, keep: int, version: int) -> tuple[int, ...]:
    """Retire the family's published versions other than ``keep`` (each
    under its graph's lock, logged on it)."""
    seen: list[int] = []
    retired: list[int] = []
    while True:  # read again after the locks: another publish may have committed while this one waited
        siblings = model.objects.using(db).filter(family=family, status=policy.PUBLISHED).exclude(pk__in=[keep, *seen])
        pending = list(siblings.order_by("state_graph_id").values_list("pk", "state_graph_id"))
        if not pending:
            return tuple(retired)
        for pk, graph_id in pending:
            locked = edits.lock(graph_id)
            seen.append(pk)
            if not model.objects.using(db).filter(pk=pk, status=policy.PUBLISHED).update(status=policy.RETIRED):
                continue  # changed while this waited for the lock
            retired.append(pk)
            text = f"retire: published -> retired (version {version} was published)"
            change = {"old": policy.PUBLISHED, "new": policy.RETIRED, "by": keep}
            edits.log_operation(locked, "retire", text, change)


def check_start(flow: Flow, using: str) -> None:
    """Refuse (:class:`~flowr.exceptions.FlowNotPublished`) a State's start
    on a flow that is not published while ``FLOWR["ONLY_PUBLISHED_START"]``
    is on; no query when it is off.  Called by ``State.start`` under the
    graph lock, so a start and a status change serialize."""
    if not settings.ONLY_PUBLISHED_START:
        return
    status = _flow_model().objects.using(using).filter(pk=flow.pk).values_list("status", flat=True).get()
    refusal = policy.start_refusal(flow, status, True)
    if refusal is not None:
        raise refusal
