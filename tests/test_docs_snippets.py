"""The Python snippets of docs/runtime.md's "Who may take which transition"
and "Notes and data" sections run, in order, and print what the page says."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from flowr.models import Flow, RuleSet, State

pytestmark = pytest.mark.django_db

RUNTIME = Path(__file__).resolve().parent.parent / "docs" / "runtime.md"


def snippets() -> list[str]:
    text = RUNTIME.read_text(encoding="utf-8")
    section = text.split("### Who may take which transition", 1)[1].split("### Signals", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_permission_and_note_snippets_run(capsys: pytest.CaptureFixture[str]) -> None:
    rules, options, notes = snippets()
    # the rules are defined in a module of an installed app (the tests package)
    namespace: dict[str, Any] = {"__name__": "tests.docs_runtime"}
    exec(compile(rules, str(RUNTIME), "exec"), namespace)  # noqa: S102 -- the documentation's own code
    approve, reject, review = namespace["Approve"], namespace["Reject"], namespace["Review"]
    assert approve.class_label == "tests.docs_runtime.Approve"
    flow = Flow.factory("docs", RuleSet.factory("docs", review))
    flow.root_data.add_child_rule(approve)
    flow.root_data.add_child_rule(reject)
    user = User.objects.create_user("reviewer", is_staff=True)
    user.groups.add(Group.objects.create(name="reviewers"))
    namespace.update(state=State.start(flow, actor=user), request=SimpleNamespace(user=user))

    exec(compile(options, str(RUNTIME), "exec"), namespace)  # noqa: S102
    printed = capsys.readouterr().out.splitlines()
    documented = [line.removeprefix("# ") for line in options.splitlines() if line.startswith("# ")]
    assert printed == documented
    assert namespace["state"].allowed_next_rules(actor=user) == [reject]  # as the comment says

    exec(compile(notes, str(RUNTIME), "exec"), namespace)  # noqa: S102
    row = namespace["row"]
    assert (row.note, row.data) == ("Duplicate of #12", {"duplicate_of": 12})
    assert '("Duplicate of #12", {"duplicate_of": 12})' in notes

    stranger = User.objects.create_user("stranger", is_staff=True)
    fresh = State.start(flow)
    assert [(o.allowed, o.code) for o in fresh.transition_options(actor=stranger)] == [
        (False, "permission_denied"),
        (False, "permission_denied"),
    ]
    clerk = User.objects.create_user("clerk")
    clerk.groups.add(Group.objects.get(name="reviewers"))
    assert [o.reason for o in fresh.transition_options(actor=clerk)][1] == "Only staff may reject a new ticket."
