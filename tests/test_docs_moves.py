"""The python blocks of docs/runtime.md's "Many States at once, jumps and cancels" run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User

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
    user = User.objects.create_user("clerk")
    supervisor = User.objects.create_user("supervisor")
    supervisor.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="flowr", codename__in=["jump_state", "cancel_state"])
    )
    supervisor = User.objects.get(pk=supervisor.pk)
    first, state = State.start(flow), State.start(flow)
    namespace = {"State": State, "flow": flow, "user": user, "supervisor": supervisor, "state": state}
    exec(found[0], namespace)
    assert sorted(namespace["moved"]) == sorted([first.pk, state.pk]) and namespace["refused"] == {}
    exec(found[1], namespace)
    other = namespace["other"]
    assert all(r.ok for r in namespace["results"]) and at_node(other) == nodes[1].pk
    assert at_node(state) == nodes[2].pk
    exec(found[2], namespace)
    assert state.current_node == nodes[0] and state.history.last().kind == "jump"
    exec(found[3], namespace)
    assert State.objects.get(pk=state.pk).cancelled is not None
    assert sorted(s.pk for s in State.objects.running()) == sorted([first.pk, other.pk])


def at_node(state: State) -> int:
    return State.objects.get(pk=state.pk).current_node_id


def test_the_api_example_has_the_shape_of_a_real_answer(client):
    """docs/api.md's ``states/advance/`` answer: the same keys, codes and
    messages as a real one for a moved, a cancelled and an unknown State."""
    import json

    from tests.api_fixtures import API

    text = (DOCS / "api.md").read_text(encoding="utf-8")
    example = json.loads(re.findall(r"```json\n(.*?)```", text.split("`states/advance/` advances", 1)[1], re.S)[0])
    flow, _ = cycle_flow()
    moved, cancelled = State.start(flow), State.start(flow)
    moved.next_state()  # its next row is seq 3, as in the example
    cancelled.cancel()
    client.force_login(User.objects.create_superuser("boss"))
    answer = client.post(
        f"{API}/states/advance/", {"states": [moved.pk, cancelled.pk, 99]}, content_type="application/json"
    ).json()
    assert set(answer) == set(example) and (answer["advanced"], answer["failed"]) == (
        example["advanced"],
        example["failed"],
    )
    for real, shown in zip(answer["results"], example["results"], strict=True):
        assert set(real) == set(shown)
        assert (real["ok"], real["code"]) == (shown["ok"], shown["code"])
        shown_detail = shown["detail"].replace(f"State {shown['state']}", f"State {real['state']}")
        assert real["detail"].startswith(shown_detail.removesuffix("..."))
    history = answer["results"][0]["history"]
    assert (history["seq"], history["kind"]) == (3, "transition")
    assert {k for k in example["results"][0]["history"] if k != "..."} <= set(history)
