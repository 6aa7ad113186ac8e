"""A State can be about any model instance (integer or UUID primary key)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType

from flowr.models import State
from tests.testapp.models import Document, Ticket
from tests.testapp.rules import probe_flow, probing

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", [Ticket, Document])
def test_a_subject_is_stored_and_found_again(model):
    flow, _ = probe_flow()
    subject = model.objects.create(title="one")
    other = model.objects.create(title="two")
    state = State.start(flow, subject=subject)
    State.start(flow, subject=other)
    State.start(flow)
    assert list(State.objects.for_subject(subject)) == [state]
    fresh = State.objects.get(pk=state.pk)
    assert fresh.subject == subject
    assert fresh.subject_content_type == ContentType.objects.get_for_model(model)
    assert fresh.subject_id == str(subject.pk)


def test_look_ups_do_not_mix_models_with_the_same_primary_key():
    flow, _ = probe_flow()
    ticket = Ticket.objects.create(title="t")
    state = State.start(flow, subject=ticket)
    group = Group.objects.create(pk=ticket.pk, name="same pk")
    assert list(State.objects.for_subject(group)) == []
    assert list(State.objects.for_subject(ticket)) == [state]
    assert State.objects.filter(flow=flow).for_subject(ticket).count() == 1


@pytest.mark.parametrize("model", [Ticket, Document])
def test_callbacks_see_the_subject(model):
    flow, _ = probe_flow()
    subject = model.objects.create(title="seen")
    seen = []
    remember = lambda s: seen.append(s.subject)  # noqa: E731
    with probing({"Probe1.on_enter": remember, "Probe2.on_enter": remember}):
        state = State.start(flow, subject=subject)
        State.objects.get(pk=state.pk).next_state()
    assert seen == [subject, subject]


def test_a_callback_can_update_its_subject_atomically():
    flow, _ = probe_flow()
    ticket = Ticket.objects.create(title="t")

    def close(state: State) -> None:
        state.subject.status = "closed"
        state.subject.save(update_fields=["status"])
        raise RuntimeError("and then fail")

    state = State.start(flow, subject=ticket)
    with probing({"Probe2.on_enter": close}), pytest.raises(RuntimeError):
        state.next_state()
    assert Ticket.objects.get(pk=ticket.pk).status == "new"


def test_a_state_without_subject_has_none():
    flow, _ = probe_flow()
    state = State.objects.get(pk=State.start(flow).pk)
    assert (state.subject, state.subject_content_type, state.subject_id) == (None, None, "")


def test_an_unsaved_subject_is_refused():
    flow, _ = probe_flow()
    with pytest.raises(ValueError):
        State.start(flow, subject=Ticket(title="unsaved"))
    assert State.objects.count() == 0
