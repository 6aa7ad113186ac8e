"""Flows on the host's own admin pages (FlowrSubjectAdminMixin on the test app's
Ticket admin), the "Start a state" subject picker, who sees a subject's name,
and the SUBJECT_MODELS system check."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.checks import run_checks
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from flowr.checks import check_subject_models
from flowr.models import Flow, RuleSet, State
from flowr.rules import Rule
from tests.testapp.models import Document, Ticket

pytestmark = pytest.mark.django_db


# -- rules and flows -------------------------------------------------------------------
class Approved(Rule):
    children: list[Any] = []
    refusal: str | None = None

    @classmethod
    def can_enter(cls, state: Any) -> bool | str:
        return cls.refusal or True


class Rejected(Rule):
    children: list[Any] = []


class Submitted(Rule):
    children = [Approved, Rejected]
    multiple_paths = True


class Draft(Rule):
    children = [Submitted]


@pytest.fixture(autouse=True)
def _refusing() -> Any:
    Approved.refusal = "Approval needs a second reviewer."
    yield
    Approved.refusal = None


def review_flow(name: str = "Review") -> Flow:
    flow = Flow.factory(name, RuleSet.factory(f"{name} rules", Draft))
    at = flow.root_data.add_child_rule(Submitted)
    at.add_child_rule(Approved)
    at.add_child_rule(Rejected)
    return flow


@pytest.fixture
def flow() -> Flow:
    return review_flow()


@pytest.fixture
def ticket() -> Ticket:
    return Ticket.objects.create(title="Printer on fire")


@pytest.fixture
def submitted(flow: Flow, ticket: Ticket) -> State:
    state = State.start(flow, subject=ticket)
    state.next_state()
    return state


# -- users -----------------------------------------------------------------------------------
def staff(name: str, *perms: str) -> User:
    user = User.objects.create_user(name, password="pw", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


ALL = ("testapp.view_ticket", "testapp.change_ticket", "flowr.add_state", "flowr.change_state", "flowr.view_state")


def client_for(user: User | None, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def boss() -> Client:
    return client_for(staff("boss", *ALL))


def change_url(ticket: Ticket) -> str:
    return reverse("admin:testapp_ticket_change", args=[ticket.pk])


def advance_url(ticket: Ticket) -> str:
    return reverse("admin:testapp_ticket_flowr_advance", args=[ticket.pk])


def start_url(ticket: Ticket) -> str:
    return reverse("admin:testapp_ticket_flowr_start", args=[ticket.pk])


def post_advance(client: Client, ticket: Ticket, target: State, rule: str, note: str = "", **extra: Any) -> Any:
    state = target
    data = {"state": state.pk, "rule": rule, "expected_version": state.version, "note": note, **extra}
    return client.post(advance_url(ticket), data, follow=True)


def message_texts(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def buttons(html: str) -> dict[str, bool]:
    """rule label -> enabled, for the page's transition buttons."""
    found = {}
    for attrs in re.findall(r'<button type="submit" name="rule" ([^>]*)>', html):
        label = re.search(r'value="([^"]+)"', attrs)
        assert label is not None
        found[label.group(1)] = "disabled" not in attrs
    return found


# -- the change page --------------------------------------------------------------------------
def test_change_page_lists_states_with_buttons_refusals_and_history(
    boss: Client, ticket: Ticket, submitted: State
) -> None:
    html = boss.get(change_url(ticket)).content.decode()
    assert f'id="flowr-state-{submitted.pk}"' in html
    assert f"State {submitted.pk} of Review" in html and '<span class="flowr-current">Submitted</span>' in html
    assert buttons(html) == {Approved.class_label: False, Rejected.class_label: True}
    assert 'title="Approval needs a second reviewer."' in html
    assert "Approved: Approval needs a second reviewer." in html
    assert 'name="note"' in html and 'name="csrfmiddlewaretoken"' in html
    assert "Draft → Submitted" in html and "<td>start</td>" in html
    # the page's own form is still there and still works
    assert 'id="ticket_form"' in html
    assert boss.post(change_url(ticket), {"title": "Renamed", "status": "new", "_save": "1"}).status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).title == "Renamed"


def test_posting_a_button_advances_with_a_message(boss: Client, ticket: Ticket, submitted: State) -> None:
    response = post_advance(boss, ticket, submitted, Rejected.class_label, note="spam")
    assert response.redirect_chain == [(change_url(ticket), 302)]
    assert message_texts(response) == [f"State {submitted.pk} moved from Submitted to Rejected."]
    submitted.refresh_from_db()
    assert submitted.current_node.rule_label == Rejected.class_label
    last = submitted.history.last()
    assert last is not None and last.actor is not None and last.actor.username == "boss"
    assert "The end of its flow" in response.content.decode()


def test_the_note_is_stored_on_the_history_row(boss: Client, ticket: Ticket, submitted: State) -> None:
    response = post_advance(boss, ticket, submitted, Rejected.class_label, note="<b>spam</b> again")
    assert response.redirect_chain == [(change_url(ticket), 302)]
    last = submitted.history.last()
    assert last is not None and last.kind == "transition" and last.to_rule_label == Rejected.class_label
    assert (last.note, last.data) == ("<b>spam</b> again", None)
    html = response.content.decode()
    assert "<b>spam</b>" not in html  # shown escaped, if at all


def test_a_rule_permission_disables_its_button_and_refuses_the_post(ticket: Ticket, submitted: State) -> None:
    clerk = client_for(staff("clerk", *ALL))
    Rejected.permission = "testapp.delete_ticket"
    try:
        html = clerk.get(change_url(ticket)).content.decode()
        assert buttons(html) == {Approved.class_label: False, Rejected.class_label: False}
        assert "needs the permission testapp.delete_ticket" in html
        response = post_advance(clerk, ticket, submitted, Rejected.class_label, note="no")
        assert "needs the permission testapp.delete_ticket" in " ".join(message_texts(response))
        assert State.objects.get(pk=submitted.pk).version == submitted.version
    finally:
        del Rejected.permission


def test_a_refused_rule_is_a_message_and_changes_nothing(boss: Client, ticket: Ticket, submitted: State) -> None:
    response = post_advance(boss, ticket, submitted, Approved.class_label)
    assert response.status_code == 200
    assert message_texts(response) == [f"State {submitted.pk} was not moved: Approval needs a second reviewer."]
    assert State.objects.get(pk=submitted.pk).version == submitted.version


@pytest.mark.parametrize(
    ("rule", "extra", "expected"),
    [
        (Draft.class_label, {}, "is not a child of node"),
        ("no.such.Rule", {}, "is not a child of node"),
        ("", {}, "choose the next rule"),
        (Rejected.class_label, {"expected_version": 0}, "moved meanwhile"),
        (Rejected.class_label, {"state": 999999}, "No state 999999"),
        (Rejected.class_label, {"state": "x"}, "Nothing was done: state"),
        (Rejected.class_label, {"note": "x" * 2001}, "Nothing was done: note"),
    ],
)
def test_bad_advances_are_messages_never_errors(
    boss: Client, ticket: Ticket, submitted: State, rule: str, extra: dict[str, Any], expected: str
) -> None:
    response = post_advance(boss, ticket, submitted, rule, **extra)
    assert response.status_code == 200
    (text,) = message_texts(response)
    assert expected in text
    assert State.objects.get(pk=submitted.pk).version == submitted.version


def test_a_state_of_another_object_cannot_be_moved_from_this_page(boss: Client, flow: Flow, ticket: Ticket) -> None:
    other = State.start(flow, subject=Ticket.objects.create(title="Other"))
    response = post_advance(boss, ticket, other, "")
    assert message_texts(response) == [f"No state {other.pk} for this ticket; nothing was done."]
    assert State.objects.get(pk=other.pk).version == 0


def test_start_on_a_flow(boss: Client, flow: Flow, ticket: Ticket) -> None:
    html = boss.get(change_url(ticket)).content.decode()
    assert "No state: this ticket is on no flow." in html and "Start on a flow:" in html
    response = boss.post(start_url(ticket), {"flow": flow.pk}, follow=True)
    (state,) = State.objects.for_subject(ticket)
    assert message_texts(response) == [f"Started state {state.pk} on {flow} at Draft."]
    html = response.content.decode()
    assert buttons(html) == {Submitted.class_label: True}
    # a second flow may be started too (flowr_several_states = True)
    assert "Start on another flow:" in html


def test_start_refusals_are_messages(boss: Client, flow: Flow, ticket: Ticket) -> None:
    response = boss.post(start_url(ticket), {"flow": 999999}, follow=True)
    assert "Nothing was started: flow:" in message_texts(response)[0]
    Approved.refusal = None
    refused = review_flow("Refused")
    Draft.can_enter = classmethod(lambda cls, state: "Drafts are closed today.")  # type: ignore[method-assign,assignment]
    try:
        response = boss.post(start_url(ticket), {"flow": refused.pk}, follow=True)
    finally:
        del Draft.can_enter
    assert message_texts(response) == ["Nothing was started: Drafts are closed today."]
    assert not State.objects.for_subject(ticket).exists()


def test_one_state_only_when_the_admin_says_so(boss: Client, flow: Flow, ticket: Ticket, submitted: State) -> None:
    from django.contrib import admin

    ticket_admin = admin.site._registry[Ticket]
    ticket_admin.flowr_several_states = False  # type: ignore[attr-defined]
    try:
        html = boss.get(change_url(ticket)).content.decode()
        assert "Start on" not in html
        response = boss.post(start_url(ticket), {"flow": flow.pk}, follow=True)
    finally:
        del ticket_admin.flowr_several_states  # type: ignore[attr-defined]
    assert message_texts(response) == ["This ticket already has a state; nothing was started."]
    assert State.objects.for_subject(ticket).count() == 1


def test_get_never_mutates(boss: Client, flow: Flow, ticket: Ticket, submitted: State) -> None:
    assert boss.get(advance_url(ticket), {"state": submitted.pk, "rule": Rejected.class_label}).status_code == 405
    assert boss.get(start_url(ticket), {"flow": flow.pk}).status_code == 405
    assert State.objects.count() == 1 and State.objects.get().version == submitted.version


def test_csrf_is_enforced(ticket: Ticket, flow: Flow, submitted: State) -> None:
    client = client_for(staff("careful", *ALL), csrf=True)
    assert post_advance(client, ticket, submitted, Rejected.class_label).status_code == 403
    assert client.post(start_url(ticket), {"flow": flow.pk}).status_code == 403
    assert State.objects.get().version == submitted.version and State.objects.count() == 1
    # with the page's token it works
    html = client.get(change_url(ticket)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert token is not None
    response = post_advance(client, ticket, submitted, Rejected.class_label, csrfmiddlewaretoken=token.group(1))
    assert response.status_code == 200 and State.objects.get().version == submitted.version + 1


@pytest.mark.parametrize(
    ("who", "perms", "advance", "start"),
    [
        ("anonymous", None, 302, 302),  # to the login page
        ("not staff", (), 302, 302),
        ("staff without view", ("flowr.add_state", "flowr.change_state"), 403, 403),
        ("staff without flowr perms", ("testapp.view_ticket",), 403, 403),
        ("staff who may only start", ("testapp.view_ticket", "flowr.add_state"), 403, 302),
        ("staff who may only advance", ("testapp.view_ticket", "flowr.change_state"), 302, 403),
    ],
)
def test_permissions(
    who: str, perms: tuple[str, ...] | None, advance: int, start: int, flow: Flow, ticket: Ticket, submitted: State
) -> None:
    if perms is None:
        client = Client()
    else:
        user = staff("u", *perms)
        if who == "not staff":
            user.is_staff = False
            user.save()
        client = client_for(user)
    moved = post_advance_raw(client, ticket, submitted, Rejected.class_label)
    started = client.post(start_url(ticket), {"flow": flow.pk})
    assert (moved.status_code, started.status_code) == (advance, start)
    if advance == 302 and perms is not None and "flowr.change_state" in perms:
        assert State.objects.get(pk=submitted.pk).version == submitted.version + 1
    else:
        assert State.objects.get(pk=submitted.pk).version == submitted.version
    assert State.objects.count() == (2 if start == 302 and perms and "flowr.add_state" in perms else 1)


def post_advance_raw(client: Client, ticket: Ticket, state: State, rule: str) -> Any:
    data = {"state": state.pk, "rule": rule, "expected_version": state.version}
    return client.post(advance_url(ticket), data)


def test_a_viewer_without_flowr_permissions_sees_disabled_buttons(ticket: Ticket, submitted: State) -> None:
    client = client_for(staff("viewer", "testapp.view_ticket"))
    html = client.get(change_url(ticket)).content.decode()
    assert buttons(html) == {Approved.class_label: False, Rejected.class_label: False}
    assert "You may not move States." in html
    assert 'name="note"' not in html and "Start on" not in html


# -- query counts ------------------------------------------------------------------------------
def _page_queries(client: Client, url: str, django_assert_num_queries: Any, count: int) -> str:
    with django_assert_num_queries(count):
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_change_page_queries_do_not_grow_with_states(
    boss: Client, flow: Flow, ticket: Ticket, django_assert_num_queries: Any
) -> None:
    boss.get(change_url(ticket))  # warm the caches (content types, session)
    state = State.start(flow, subject=ticket)
    state.next_state()
    counted = _count(boss, change_url(ticket))
    for _ in range(4):
        more = State.start(flow, subject=ticket)
        more.next_state()
    html = _page_queries(boss, change_url(ticket), django_assert_num_queries, counted)
    assert html.count('class="flowr-subject-state"') == 5


def test_the_change_page_shows_the_due_time_and_rule_in_the_same_queries(
    boss: Client, ticket: Ticket, submitted: State, django_assert_num_queries: Any
) -> None:
    boss.get(change_url(ticket))  # warm the caches (content types, session)
    counted = _count(boss, change_url(ticket))
    assert 'class="flowr-due"' not in boss.get(change_url(ticket)).content.decode()  # no timer: nothing shown
    due = timezone.now() + datetime.timedelta(days=3)
    State.objects.filter(pk=submitted.pk).update(due_at=due, due_rule=Rejected.class_label)
    html = _page_queries(boss, change_url(ticket), django_assert_num_queries, counted)
    shown = re.search(r'<p class="flowr-due">(.*?)</p>', html, re.S)
    assert shown is not None
    text = " ".join(shown.group(1).split())
    when = date_format(timezone.localtime(due), "DATETIME_FORMAT")
    assert text == f"Times out on {when} to {Rejected.verbose_name}."
    State.objects.filter(pk=submitted.pk).update(due_rule="")  # a reminder (issue 17): no rule
    html = _page_queries(boss, change_url(ticket), django_assert_num_queries, counted)
    assert f'<p class="flowr-due">Reminder on {when}.</p>' in html
    State.objects.filter(pk=submitted.pk).update(cancelled=timezone.now())  # a cancelled State has no timer to show
    assert 'class="flowr-due"' not in boss.get(change_url(ticket)).content.decode()


def test_change_list_queries_do_not_grow_with_rows(boss: Client, flow: Flow, django_assert_num_queries: Any) -> None:
    url = reverse("admin:testapp_ticket_changelist")
    State.start(flow, subject=Ticket.objects.create(title="first"))
    boss.get(url)
    counted = _count(boss, url)
    for n in range(10):
        state = State.start(flow, subject=Ticket.objects.create(title=f"t{n}"))
        if n % 2:
            state.next_state()
    html = _page_queries(boss, url, django_assert_num_queries, counted)
    assert html.count('<td class="field-flowr_state">Submitted</td>') == 5
    assert html.count('<td class="field-flowr_state">Draft</td>') == 6


def _count(client: Client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_change_list_state_column_and_filters(boss: Client, flow: Flow) -> None:
    other = review_flow("Other")
    at_draft = Ticket.objects.create(title="at draft")
    at_submitted = Ticket.objects.create(title="at submitted")
    on_other = Ticket.objects.create(title="on other")
    Ticket.objects.create(title="no state")
    State.start(flow, subject=at_draft)
    State.start(flow, subject=at_submitted).next_state()
    State.start(other, subject=on_other)
    url = reverse("admin:testapp_ticket_changelist")

    def titles(**query: Any) -> set[str]:
        response = boss.get(url, query)
        assert response.status_code == 200
        return {t.title for t in response.context["cl"].result_list}

    html = boss.get(url).content.decode()
    assert '<td class="field-flowr_state">—</td>' in html
    assert "?flowr_flow=" in html and "?flowr_rule=" in html
    assert titles(flowr_flow=flow.pk) == {"at draft", "at submitted"}
    assert titles(flowr_flow=other.pk) == {"on other"}
    assert titles(flowr_rule=Submitted.class_label) == {"at submitted"}
    assert titles(flowr_rule=Draft.class_label) == {"at draft", "on other"}
    assert titles(flowr_flow="nonsense") == set()


# -- the subject's name is shown only to who may view it ---------------------------------------
def test_state_admin_shows_the_subject_name_only_to_its_viewers(flow: Flow) -> None:
    ticket = Ticket.objects.create(title="Secret merger")
    state = State.start(flow, subject=ticket)
    Ticket.__str__ = lambda self: self.title  # type: ignore[method-assign,assignment]
    try:
        seer = client_for(staff("seer", "flowr.view_state", "testapp.view_ticket"))
        blind = client_for(staff("blind", "flowr.view_state"))
        for url in [reverse("admin:flowr_state_changelist"), reverse("admin:flowr_state_change", args=[state.pk])]:
            assert "Secret merger" in seer.get(url).content.decode()
            html = blind.get(url).content.decode()
            assert "Secret merger" not in html and f"ticket #{ticket.pk}" in html
    finally:
        del Ticket.__str__  # type: ignore[attr-defined]


def test_subject_display_names_the_subject_for_its_viewers_only(boss: Client, ticket: Ticket, submitted: State) -> None:
    from flowr.admin import subject_display

    fresh = State.objects.select_related("subject_content_type").get(pk=submitted.pk)
    assert subject_display(fresh, User.objects.get(username="boss")) == str(ticket)
    assert subject_display(fresh, staff("nobody")) == f"ticket #{ticket.pk}"
    assert subject_display(fresh, None) == f"ticket #{ticket.pk}"
    ticket.delete()
    fresh = State.objects.select_related("subject_content_type").get(pk=submitted.pk)
    assert subject_display(fresh, User.objects.get(username="boss")) == f"ticket #{submitted.subject_id} (deleted)"


# -- flowr's "Start a state" page: the subject picker ------------------------------------------
def test_start_a_state_with_a_subject(boss: Client, flow: Flow, ticket: Ticket) -> None:
    url = reverse("admin:flowr_state_add")
    html = boss.get(url).content.decode()
    assert '<option value="testapp.ticket">Ticket</option>' in html
    assert "testapp.document" not in html  # boss may not view documents
    response = boss.post(url, {"flow": flow.pk, "subject_type": "testapp.ticket", "subject_id": str(ticket.pk)})
    assert response.status_code == 302
    (state,) = State.objects.all()
    assert state.subject == ticket


def test_start_a_state_without_a_subject(boss: Client, flow: Flow) -> None:
    response = boss.post(reverse("admin:flowr_state_add"), {"flow": flow.pk})
    assert response.status_code == 302
    assert State.objects.get().subject is None


@pytest.mark.parametrize(
    ("subject_type", "subject_id", "error"),
    [
        ("testapp.ticket", "999999", "No ticket with id &#x27;999999&#x27;."),
        ("testapp.ticket", "abc", "No ticket with id &#x27;abc&#x27;."),
        ("testapp.ticket", "", "Choose the object too."),
        ("", "1", "Choose the subject&#x27;s model too."),
        ("testapp.document", "1", "Select a valid choice."),  # not viewable by this user
        ("auth.user", "1", "Select a valid choice."),  # not a subject model
        ("testapp.label", "1", "Select a valid choice."),
    ],
)
def test_start_a_state_bad_subjects_write_nothing(
    boss: Client, flow: Flow, ticket: Ticket, subject_type: str, subject_id: str, error: str
) -> None:
    data = {"flow": flow.pk, "subject_type": subject_type, "subject_id": subject_id}
    response = boss.post(reverse("admin:flowr_state_add"), data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not State.objects.exists()


def test_start_a_state_with_a_uuid_subject(flow: Flow) -> None:
    client = client_for(staff("docs", "flowr.add_state", "flowr.view_state", "testapp.view_document"))
    document = Document.objects.create(title="Spec")
    url = reverse("admin:flowr_state_add")
    bad = client.post(url, {"flow": flow.pk, "subject_type": "testapp.document", "subject_id": "not-a-uuid"})
    assert bad.status_code == 200 and not State.objects.exists()
    good = client.post(url, {"flow": flow.pk, "subject_type": "testapp.document", "subject_id": str(document.pk)})
    assert good.status_code == 302
    assert State.objects.get().subject == document


# -- system check flowr.E006 -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("entries", "bad"),
    [
        (["testapp.ticket", "testapp.Document"], []),
        (["testapp.Nope"], ["testapp.Nope"]),
        (["nope.Ticket", "testapp.ticket"], ["nope.Ticket"]),
        (["ticket", "a.b.c", ""], ["ticket", "a.b.c", ""]),
    ],
)
def test_subject_models_check(entries: list[str], bad: list[str]) -> None:
    with override_settings(FLOWR={"SUBJECT_MODELS": entries}):
        found = check_subject_models()
        assert [m.id for m in found] == ["flowr.E006"] * len(bad)
        assert [m.msg for m in found] == [
            f'FLOWR["SUBJECT_MODELS"] names {entry!r}, which is not an installed model.' for entry in bad
        ]
        assert ("flowr.E006" in {m.id for m in run_checks(tags=["flowr"])}) == bool(bad)


def test_start_page_offers_a_search_box_for_searchable_subject_models(boss: Client) -> None:
    html = boss.get(reverse("admin:flowr_state_add")).content.decode()
    search = reverse("admin:flowr_state_subject_autocomplete")
    assert 'data-flowr-picker="testapp.ticket"' in html
    assert f'data-ajax--url="{search}?subject_type=testapp.ticket"' in html
    assert 'class="admin-autocomplete"' in html and "admin/js/autocomplete.js" in html
    assert "flowr/admin/subject-picker.js" in html
    # Document has no ModelAdmin (nothing to search with): only its id field
    docs = client_for(staff("docs", "flowr.add_state", "testapp.view_document"))
    html = docs.get(reverse("admin:flowr_state_add")).content.decode()
    assert '<option value="testapp.document">Document</option>' in html and "data-flowr-picker" not in html


def test_a_subject_found_with_the_search_box_is_used(boss: Client, flow: Flow, ticket: Ticket) -> None:
    data = {"flow": flow.pk, "subject_type": "testapp.ticket", "subject_pick_testapp__ticket": str(ticket.pk)}
    assert boss.post(reverse("admin:flowr_state_add"), data).status_code == 302
    assert State.objects.get().subject == ticket


def test_subject_autocomplete_uses_the_models_own_admin_search(boss: Client) -> None:
    Ticket.objects.create(title="Printer on fire")
    wanted = Ticket.objects.create(title="Cannot log in")
    url = reverse("admin:flowr_state_subject_autocomplete")
    found = boss.get(url, {"subject_type": "testapp.ticket", "term": "log"}).json()
    assert found == {"results": [{"id": str(wanted.pk), "text": str(wanted)}], "pagination": {"more": False}}


@pytest.mark.parametrize(
    ("perms", "query", "status"),
    [
        (ALL, {"subject_type": "testapp.document", "term": "x"}, 403),  # no admin to search with
        (ALL, {"subject_type": "auth.user", "term": "x"}, 403),  # not a subject model
        (ALL, {"term": "x"}, 403),
        (("testapp.view_ticket", "flowr.view_state"), {"subject_type": "testapp.ticket"}, 403),  # may not start
        (("flowr.add_state",), {"subject_type": "testapp.ticket"}, 403),  # may not view tickets
        (ALL, {"subject_type": "testapp.ticket"}, 200),
    ],
)
def test_subject_autocomplete_permissions(perms: tuple[str, ...], query: dict[str, str], status: int) -> None:
    url = reverse("admin:flowr_state_subject_autocomplete")
    assert client_for(staff("searcher", *perms)).get(url, query).status_code == status
    assert Client().get(url, query).status_code == 302  # anonymous: to the login page


# -- docs/tutorial/admin.md's snippet runs --------------------------------------------------------------
def docs_snippet() -> str:
    text = (Path(__file__).resolve().parent.parent / "docs" / "tutorial" / "admin.md").read_text(encoding="utf-8")
    section = text.split("## Flows on your own models' admin pages", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def test_the_docs_snippet_works(monkeypatch: pytest.MonkeyPatch, ticket: Ticket) -> None:
    import sys
    import types

    import django.contrib.admin
    from django.contrib.admin import AdminSite
    from django.urls import path

    site = AdminSite()  # the snippet registers on a fresh site, served by its own URLconf
    monkeypatch.setattr(django.contrib.admin, "site", site)
    monkeypatch.setitem(sys.modules, "myapp", types.ModuleType("myapp"))
    monkeypatch.setitem(sys.modules, "myapp.models", sys.modules["tests.testapp.models"])
    namespace: dict[str, Any] = {}
    exec(compile(docs_snippet(), "docs/tutorial/admin.md", "exec"), namespace)  # noqa: S102 -- our own docs
    assert isinstance(site._registry[Ticket], namespace["TicketAdmin"])
    helpdesk = review_flow("Helpdesk")  # rule set "Helpdesk rules"
    RuleSet.objects.filter(pk=helpdesk.rule_set_id).update(name="Helpdesk")
    review_flow("Other")
    State.start(helpdesk, subject=ticket)
    urls = types.ModuleType("docs_urls")
    urls.urlpatterns = [path("admin/", site.urls)]  # type: ignore[attr-defined]
    client = client_for(User.objects.create_superuser("root", password="pw"))
    with override_settings(ROOT_URLCONF=urls):
        html = client.get(reverse("admin:testapp_ticket_change", args=[ticket.pk])).content.decode()
        listed = client.get(reverse("admin:testapp_ticket_changelist")).content.decode()
    assert buttons(html) == {Submitted.class_label: True}
    flows = re.findall(r'<option value="\d+">([^<]+)</option>', html.split('id="flowr-start-flow"', 1)[1])
    assert flows == [str(helpdesk)]
    assert '<td class="field-flowr_state">Draft</td>' in listed and "?flowr_rule=" in listed


def test_the_section_joins_a_customised_change_form(boss: Client, ticket: Ticket, submitted: State) -> None:
    from django.contrib import admin

    ticket_admin = admin.site._registry[Ticket]
    ticket_admin.change_form_template = "testapp/custom_change_form.html"
    try:
        html = boss.get(change_url(ticket)).content.decode()
    finally:
        ticket_admin.change_form_template = None
    assert 'id="custom-marker"' in html and 'id="ticket_form"' in html
    assert buttons(html) == {Approved.class_label: False, Rejected.class_label: True}
    # after the object's form, not inside it
    assert html.index('id="flowr-states"') > html.index("</form>", html.index('id="ticket_form"'))


def test_a_cancelled_state_shows_no_buttons(boss: Client, ticket: Ticket, submitted: State) -> None:
    submitted.cancel()
    html = boss.get(change_url(ticket)).content.decode()
    assert "it takes no more transitions" in html and buttons(html) == {}
    submitted.refresh_from_db()
    response = post_advance(boss, ticket, submitted, Rejected.class_label)
    (text,) = message_texts(response)
    assert text.startswith(f"State {submitted.pk} was not moved:")
    assert State.objects.get(pk=submitted.pk).current_node.rule_label == Submitted.class_label
