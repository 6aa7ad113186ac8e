"""The python blocks of docs/runtime.md's "Many States at once, jumps and cancels" run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from flowr.models import State
from tests.testapp.rules import cycle_flow

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parent.parent / "docs"


def blocks(page: str, heading: str) -> list[str]:
    text = (DOCS / page).read_text(encoding="utf-8")
    section = text.split(f"### {heading}\n", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_runtime_snippets_run():
    found = blocks("runtime.md", "Many States at once, jumps and cancels")
    assert len(found) == 4
    flow, nodes = cycle_flow()
    user = User.objects.create_superuser("boss")
    state, other = State.start(flow), State.start(flow)
    namespace = {"State": State, "flow": flow, "user": user, "state": state, "other": other, "review_node": nodes[2]}
    exec(found[0], namespace)
    assert sorted(namespace["moved"]) == sorted([state.pk, other.pk]) and namespace["refused"] == {}
    exec(found[1], namespace)
    assert all(r.ok for r in namespace["results"])
    state.refresh_from_db()
    exec(found[2], namespace)
    assert state.current_node == nodes[2] and state.history.last().kind == "jump"
    exec(found[3], namespace)
    assert State.objects.get(pk=state.pk).cancelled is not None
    assert list(State.objects.running()) == [State.objects.get(pk=other.pk)]
