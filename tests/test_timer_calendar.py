"""The business calendar of timers (issue 17): ``FLOWR["TIMER_CALENDAR"]``
computes every timer's due time (entering a node, a reminder's
rescheduling); :func:`flowr.timers.working_days` skips weekends."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import flowr
from flowr import checks, nodesettings, timers
from flowr.models import State
from tests.testapp.models import Ticket
from tests.testapp.timer_rules import TimerEscalated, TimerNudged, TimerWaiting, reminder_flow, timer_flow

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
FRIDAY = datetime.datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def doubled(start: datetime.datetime, delay: datetime.timedelta) -> datetime.datetime:
    """A calendar the tests can see: every delay counts twice."""
    return start + 2 * delay


NOT_CALLABLE = 42


@pytest.fixture
def calendar(settings):
    settings.FLOWR = {"TIMER_CALENDAR": "tests.test_timer_calendar.doubled"}


@pytest.mark.parametrize(
    ("start", "delay", "expected"),
    [
        (FRIDAY, datetime.timedelta(days=1), datetime.datetime(2026, 11, 30, 10, 0, tzinfo=UTC)),  # Monday
        (FRIDAY, datetime.timedelta(days=5), datetime.datetime(2026, 12, 4, 10, 0, tzinfo=UTC)),  # next Friday
        (FRIDAY, datetime.timedelta(hours=2), datetime.datetime(2026, 11, 27, 12, 0, tzinfo=UTC)),
        (FRIDAY, datetime.timedelta(days=1, hours=3), datetime.datetime(2026, 11, 30, 13, 0, tzinfo=UTC)),
        (
            FRIDAY + datetime.timedelta(days=1),
            datetime.timedelta(days=1),
            datetime.datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
        ),
        (
            FRIDAY - datetime.timedelta(days=4),
            datetime.timedelta(days=2),
            datetime.datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
        ),
    ],
)
def test_working_days_skip_the_weekend(start, delay, expected):
    assert timers.working_days(start, delay) == expected


def test_holidays_plug_into_add_working_days():
    holidays = {datetime.date(2026, 11, 30)}
    due = timers.add_working_days(FRIDAY, datetime.timedelta(days=1), skip=lambda d: d.weekday() >= 5 or d in holidays)
    assert due == datetime.datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_default_adds_the_delay_and_the_setting_is_used(settings):
    delay = datetime.timedelta(hours=5)
    assert nodesettings.due_time(FRIDAY, delay) == FRIDAY + delay
    settings.FLOWR = {"TIMER_CALENDAR": "flowr.timers.working_days"}
    assert nodesettings.due_time(FRIDAY, datetime.timedelta(days=1)) == FRIDAY + datetime.timedelta(days=3)


def test_entering_a_node_counts_its_timer_through_the_calendar(calendar):
    flow, waiting = timer_flow()
    waiting.set_settings({"timeout_after": 60, "timeout_rule": TimerEscalated.class_label})
    state = State.start(flow).next_state()
    row = State.objects.get(pk=state.pk)
    assert row.due_at - row.updated == datetime.timedelta(seconds=120)
    assert row.due_rule == TimerEscalated.class_label


def test_a_reminder_reschedules_its_timeout_through_the_calendar(calendar):
    flow, nudged = reminder_flow()
    nudged.set_settings({"remind_after": 60, "timeout_after": 100})
    state = State.start(flow).next_state()
    assert (state.due_rule, state.due_at - state.updated) == ("", datetime.timedelta(seconds=120))
    report = timers.fire_all(now=timezone.now() + datetime.timedelta(seconds=121))
    assert report.reminded == 1
    state.refresh_from_db()
    assert state.due_at - state.updated == datetime.timedelta(seconds=200)


@pytest.mark.parametrize("calendar_path", [None, "tests.test_timer_calendar.doubled"])
def test_the_calendar_costs_no_statement(settings, django_assert_num_queries, calendar_path):
    settings.FLOWR = {"TIMER_CALENDAR": calendar_path}
    flow, waiting = timer_flow()
    waiting.set_settings({"timeout_after": 60, "timeout_rule": TimerEscalated.class_label})
    plain_flow, _plain = timer_flow("plain")
    timed, untimed = State.start(flow), State.start(plain_flow)
    with CaptureQueriesContext(connection) as baseline:
        untimed.next_state()
    with django_assert_num_queries(len(baseline.captured_queries)):
        timed.next_state()
    assert timed.due_at is not None


def test_check_e012_a_calendar_that_does_not_import_or_is_not_callable(settings):
    assert checks.check_timer_calendar() == []
    settings.FLOWR = {"TIMER_CALENDAR": "flowr.timers.working_days"}
    assert checks.check_timer_calendar() == []
    for path, words in [
        ("tests.nowhere.calendar", "does not import"),
        ("tests.test_timer_calendar.NOT_CALLABLE", "is not a callable"),
    ]:
        settings.FLOWR = {"TIMER_CALENDAR": path}
        messages = checks.check_timer_calendar()
        assert [m.id for m in messages] == ["flowr.E012"], path
        assert words in messages[0].msg


def test_the_simulators_fast_forward_counts_through_the_calendar(calendar):
    TimerNudged.timers.clear()
    flow, nudged = reminder_flow()
    nudged.set_settings({"remind_after": 3600, "timeout_after": 7200})  # doubled: 2 h and 4 h
    sooner = flowr.simulate(flow, now=timezone.now() + datetime.timedelta(hours=3))
    assert sooner.steps[1].timers == ["reminder"]
    later = flowr.simulate(flow, now=timezone.now() + datetime.timedelta(hours=5))
    assert later.steps[1].timers == ["reminder", "timeout"]
    assert State.objects.count() == 0


# -- the due time from the subject (Rule.timeout_from) ----------------------------------------


@pytest.fixture
def deadline(monkeypatch):
    """TimerWaiting takes its timeout from ``Ticket.deadline()``: the ticket's
    ``status`` "none" means no deadline."""
    due = timezone.now() + datetime.timedelta(days=10)

    def ticket_deadline(ticket: Ticket) -> datetime.datetime | None:
        return None if ticket.status == "none" else due

    monkeypatch.setattr(TimerWaiting, "timeout_from", "deadline")
    monkeypatch.setattr(Ticket, "deadline", ticket_deadline, raising=False)
    return due


def test_the_timeout_comes_from_the_subject(deadline):
    flow, waiting = timer_flow()
    waiting.set_settings({"timeout_after": 60, "timeout_rule": TimerEscalated.class_label})
    ticket = Ticket.objects.create(title="late")
    started = State.start(flow, subject=ticket)
    fresh = State.objects.get(pk=started.pk).next_state()  # the subject not loaded: the move reads it
    row = State.objects.get(pk=fresh.pk)
    assert (row.due_at, row.due_rule, fresh.due_at) == (deadline, TimerEscalated.class_label, deadline)
    assert timers.fire_all(now=deadline - datetime.timedelta(seconds=1)).claimed == 0
    assert timers.fire_all(now=deadline).fired == 1
    fresh.refresh_from_db()
    assert fresh.current_node.rule is TimerEscalated
    # without a subject, timeout_after counts as before
    plain = State.start(flow).next_state()
    assert plain.due_at - plain.updated == datetime.timedelta(seconds=60)


def test_a_subject_without_a_due_time_sets_no_timer(deadline):
    flow, waiting = timer_flow()
    waiting.set_settings({"timeout_after": 60, "timeout_rule": TimerEscalated.class_label})
    ticket = Ticket.objects.create(title="no deadline", status="none")
    state = State.start(flow, subject=ticket).next_state()
    assert State.objects.filter(pk=state.pk, due_at__isnull=True, due_rule="").exists()
    assert (state.due_at, state.due_rule) == (None, "")


def test_check_e013_timeout_from_is_a_method_name(monkeypatch):
    assert checks.check_timeout_from() == []
    monkeypatch.setattr(TimerWaiting, "timeout_from", "deadline")
    assert checks.check_timeout_from() == []
    for bad in (42, "not a name", ""):
        monkeypatch.setattr(TimerWaiting, "timeout_from", bad)
        messages = checks.check_timeout_from()
        assert [m.id for m in messages] == ["flowr.E013"], bad
        assert TimerWaiting.class_label in messages[0].msg
