"""The database seam (:mod:`flowr.db`): an oracle for every fast path, and its
promise to import no model.

The oracle is a plain-ORM transition (the reference below); every way flowr
writes a start or a transition on the database the suite runs on must leave
the same State and history rows as the reference, on generated flows and
generated runs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import F
from django.db.models.signals import post_init, pre_save
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flowr.db
from flowr.db import pgfunctions
from flowr.exceptions import NoNextState
from flowr.models import Edge, Flow, FlowNodeData, RuleSet, State, StateHistory
from flowr.sample_rules import A, B, C, D, E
from tests.testapp.models import Ticket

# -- the reference: a transition as the ORM writes it -------------------------------


def reference_start(flow: Flow, subject: Ticket | None, actor: Any) -> State:
    with transaction.atomic():
        root = flow.root_data
        state = State(flow=flow, current_node=root)
        if subject is not None:
            state.subject = subject
        state.save()
        write_history(state, 1, StateHistory.START, None, root, actor, state.created)
    return state


def reference_next(pk: int, label: str | None, actor: Any) -> None:
    with transaction.atomic():
        state = State.objects.select_for_update().get(pk=pk)
        current = state.current_node
        targets = Edge.objects.filter(source_id=current.node_id).values("target_id")
        children = list(FlowNodeData.objects.filter(node_id__in=targets).order_by("node_id"))
        if not children:
            return
        target = children[0] if label is None else next(c for c in children if c.rule_label == label)
        now = timezone.now()
        moved = State.objects.filter(pk=pk, current_node=current, version=state.version).update(
            current_node=target, version=F("version") + 1, updated=now
        )
        assert moved == 1
        write_history(state, state.version + 2, StateHistory.TRANSITION, current, target, actor, now)


def write_history(
    state: State, seq: int, kind: str, source: FlowNodeData | None, target: FlowNodeData, actor: Any, now: Any
) -> None:
    StateHistory.objects.create(
        state=state,
        seq=seq,
        kind=kind,
        from_node=source,
        to_node=target,
        from_rule_label="" if source is None else source.rule_label,
        from_rule_name="" if source is None else source.rule_name,
        to_rule_label=target.rule_label,
        to_rule_name=target.rule_name,
        actor=actor if isinstance(actor, User) else None,
        actor_repr="" if actor is None else str(actor),
        created=now,
    )


# -- the paths under test ------------------------------------------------------------


def _listener(**kwargs: Any) -> None:
    pass


@contextmanager
def taking(path: str) -> Iterator[None]:
    """Make flowr take ``path`` while the block runs."""
    if path == "save-receivers":  # StateHistory.save(): receivers expect it
        pre_save.connect(_listener, sender=StateHistory)
    elif path == "init-receivers":  # rows made through Model.__init__
        post_init.connect(_listener, sender=StateHistory)
    elif path == "pg-statements":  # migration 0002's functions missing: statements sent
        with connection.schema_editor(atomic=False) as editor:  # inside the test's transaction
            pgfunctions.drop(editor)
    try:
        yield
    finally:
        pre_save.disconnect(_listener, sender=StateHistory)
        post_init.disconnect(_listener, sender=StateHistory)
        if path == "pg-statements":
            with connection.schema_editor(atomic=False) as editor:
                pgfunctions.create(editor)


# -- generated flows and runs ----------------------------------------------------------

# A has one child (B or C); C branches (D and/or E); E loops back (L), goes on (N) or ends
FLOWS = st.fixed_dictionaries(
    {"first": st.sampled_from("-BC"), "d": st.booleans(), "e": st.booleans(), "tail": st.sampled_from("-LN")}
)
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["start", "next", "next", "next"]),
        st.integers(0, 7),  # which State
        st.integers(0, 7),  # which child
        st.sampled_from([None, "user", "text"]),  # the actor
        st.booleans(),  # a subject (start) / name the rule though there is one child (next)
    ),
    min_size=1,
    max_size=10,
)
counter = [0]


def make_flow(shape: dict[str, Any]) -> Flow:
    counter[0] += 1
    name = f"oracle{counter[0]}"
    flow = Flow.factory(name, RuleSet.factory(name, A))
    root = flow.root_data
    if shape["first"] == "B":
        root.add_child_rule(B)
    elif shape["first"] == "C":
        c = root.add_child_rule(C)
        if shape["d"]:
            c.add_child_rule(D)
        if shape["e"]:
            e = c.add_child_rule(E)
            if shape["tail"] == "L":  # back to the root: States go round loops
                e.connect_child(root)
            elif shape["tail"] == "N":
                e.add_child_rule(A)
    return flow


def state_row(state: State) -> dict[str, Any]:
    row = State.objects.filter(pk=state.pk).values().get()
    return {k: v for k, v in row.items() if k not in {"id", "created", "updated"}}


def history_rows(state: State) -> list[dict[str, Any]]:
    rows = StateHistory.objects.filter(state_id=state.pk).order_by("seq").values()
    return [{k: v for k, v in row.items() if k not in {"id", "state_id", "created"}} for row in rows]


def consistent_times(state: State) -> bool:
    """The start row has the State's ``created``, the last move's row its
    ``updated`` (a State that only started: ``updated`` is set by its own
    ``auto_now``, a moment after ``created``)."""
    fresh = State.objects.get(pk=state.pk)
    times = list(StateHistory.objects.filter(state_id=state.pk).order_by("seq").values_list("created", flat=True))
    last = fresh.updated if len(times) > 1 else fresh.created
    return times[0] == fresh.created and times[-1] == last and times == sorted(times)


PATHS = [
    "statements",
    "save-receivers",
    "init-receivers",
    pytest.param(
        "pg-statements",
        marks=pytest.mark.skipif(
            connection.vendor != "postgresql", reason="PostgreSQL only: the statements sent without the functions"
        ),
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=25, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=FLOWS, steps=STEPS)
def test_every_fast_path_writes_the_rows_the_orm_writes(path: str, shape: dict[str, Any], steps: list[Any]) -> None:
    user, _ = User.objects.get_or_create(username="oracle")
    ticket = Ticket.objects.create(title="t")
    flow = make_flow(shape)
    pairs: list[tuple[State, State]] = []
    with taking(path):
        if connection.vendor == "postgresql" and path in ("statements", "pg-statements"):
            wrapper = connections[DEFAULT_DB_ALIAS]  # the object transitions see, not the ``connection`` proxy
            assert pgfunctions.available(wrapper) == (path == "statements")  # the path is the one meant
        for kind, which, child, who, flag in steps:
            actor = {"user": user, "text": "robot", None: None}[who]
            if kind == "start" or not pairs:
                subject = ticket if flag else None
                pairs.append((reference_start(flow, subject, actor), State.start(flow, subject=subject, actor=actor)))
                continue
            reference, fast = pairs[which % len(pairs)]
            children = fast.next_nodes()
            if not children:
                with pytest.raises(NoNextState):
                    fast.next_state(actor=actor)
                continue
            label = children[child % len(children)].rule_label if flag or len(children) > 1 else None
            reference_next(reference.pk, label, actor)
            fast.next_state(label, actor=actor)
    for reference, fast in pairs:
        assert state_row(fast) == state_row(reference)
        assert history_rows(fast) == history_rows(reference)
        assert consistent_times(fast) and consistent_times(reference)
        expected = state_row(reference)
        assert (fast.current_node_id, fast.version) == (expected["current_node_id"], expected["version"])


# -- the seam imports no model -----------------------------------------------------------


def imported(source: Path) -> list[str]:
    """Every module an import names in ``source`` (any depth, relative ones
    resolved), and every string constant that looks like a module path."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = ["flowr", "db"][: 3 - node.level]
                base = ".".join([*package, *([node.module] if node.module else [])])
            names += [base, *(f"{base}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("flowr."):
            names.append(node.value)  # importlib.import_module("flowr.models...")
    return names


def test_the_seam_imports_no_model() -> None:
    """``flowr.models`` imports the seam; an import back would be a circle."""
    package = Path(flowr.db.__file__).parent
    sources = sorted(package.glob("*.py"))
    assert {p.name for p in sources} >= {"__init__.py", "locks.py", "pgfunctions.py", "history.py", "transitions.py"}
    found = [
        (source.name, name)
        for source in sources
        for name in imported(source)
        if name == "flowr.models" or name.startswith("flowr.models.")
    ]
    assert found == []


def test_the_import_finder_sees_model_imports(tmp_path: Path) -> None:
    """The check above can fail: each way of importing a model is seen."""
    source = tmp_path / "probe.py"
    source.write_text(
        "import flowr.models\n"
        "from ..models import State\n"
        "def f():\n"
        "    from flowr.models.states import State\n"
        "    importlib.import_module('flowr.models.graph')\n"
        "from django.db import models\n"
    )
    assert [n for n in imported(source) if n.startswith("flowr.models")] == [
        "flowr.models",
        "flowr.models",
        "flowr.models.State",
        "flowr.models.states",
        "flowr.models.states.State",
        "flowr.models.graph",
    ]
