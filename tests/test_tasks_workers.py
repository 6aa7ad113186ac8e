"""flowr.tasks.fire_timers run by real task worker processes (issue 17), on
the test database: the database backend (django-tasks-db, eight
``manage.py db_worker`` processes) and the RQ backend on Redis
(django-tasks-rq, eight ``manage.py rqworker`` processes).  Sixteen tasks
are queued for 120 due States while a person (a thread of the test process)
answers the same States from the other end; each State moves exactly once,
by its timeout or by the person."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection

from flowr.integrity import check_integrity
from flowr.models import State, StateHistory
from tests.test_timers_concurrency import due_states, person
from tests.testapp.timer_rules import TimerAnswered, TimerEscalated

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.server_db]

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 8
TASKS = 16
STATES = 120


def run_workers(backend: str, *args: str, count: int = WORKERS, timeout: float = 120) -> None:
    """Start ``count`` ``python -m django <args>`` processes on the test
    database with the task backend ``backend``; wait until all exit, 0."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.task_worker_settings",
        "FLOWR_WORKER_DB": str(connection.settings_dict["NAME"]),
        "FLOWR_WORKER_BACKEND": backend,
        "FLOWR_RQ_QUEUE": django_settings.FLOWR_RQ_QUEUE,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-m", "django", *args]
    workers = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(count)
    ]
    try:
        for worker in workers:
            out, _ = worker.communicate(timeout=timeout)
            assert worker.returncode == 0, out
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()


class Person:
    """A person answering the due States, last first, in a thread of the test
    process; starts once the workers have fired a first timer, so the two
    race over the States between them."""

    def __init__(self, pks: list[int]) -> None:
        self.pks, self.won, self.errors = pks, 0, list[BaseException]()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def __enter__(self) -> Person:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join(120)
        assert not self.thread.is_alive(), "the person hung"
        assert not self.errors, self.errors

    def run(self) -> None:
        try:
            end = time.monotonic() + 60
            while not StateHistory.objects.filter(state_id__in=self.pks, seq=3).exists():
                assert time.monotonic() < end, "no worker fired a timer within 60 s"
                time.sleep(0.02)
            self.won = person(self.pks[::-1])
        except BaseException as exc:  # reported by __exit__, in the test's thread
            self.errors.append(exc)
        finally:
            connection.close()


def assert_moved_once(pks: list[int], counts: list[dict[str, int]], by_person: int) -> None:
    """Each State left the waiting node once: by its timeout or by the person."""
    fired = sum(c["fired"] for c in counts)
    assert fired + by_person == STATES, (fired, by_person)
    assert sum(c["failed"] + c["refused"] for c in counts) == 0
    assert not State.objects.filter(pk__in=pks, due_at__isnull=False).exists()
    assert StateHistory.objects.filter(state_id__in=pks).count() == 3 * STATES  # start, wait, one move out: no more
    seq3 = StateHistory.objects.filter(state_id__in=pks, seq=3)
    assert seq3.filter(to_rule_label=TimerEscalated.class_label, data={"timeout": True}).count() == fired
    assert seq3.filter(to_rule_label=TimerAnswered.class_label, actor_repr="person").count() == by_person
    assert check_integrity(pks) == []
    dropped = sum(c["dropped"] for c in counts)
    print(f"\n{connection.vendor}: {fired} by timeout, {by_person} by the person, {dropped} timers dropped")


def test_db_workers_and_a_person_move_each_due_state_exactly_once(settings):
    pytest.importorskip("django_tasks_db")
    from django_tasks_db.models import DBTaskResult

    from flowr import tasks

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    pks = due_states(STATES)
    results = [tasks.fire_timers.enqueue(batch=4) for _ in range(TASKS)]
    with Person(pks) as person:
        run_workers("db", "db_worker", "--batch", "--no-startup-delay", "--interval", "0.1", "--no-reload")

    rows = DBTaskResult.objects.filter(id__in=[r.id for r in results])
    assert sorted(rows.values_list("status", flat=True)) == ["SUCCESSFUL"] * TASKS
    assert_moved_once(pks, [row.return_value for row in rows], person.won)


@pytest.fixture
def redis_queue() -> Any:
    """The RQ queue of this run, emptied; skips when Redis is unreachable,
    except under ``CI=true`` where that fails the test."""
    pytest.importorskip("django_tasks_rq")
    import django_rq
    from redis.exceptions import ConnectionError as RedisConnectionError

    queue = django_rq.get_queue(django_settings.FLOWR_RQ_QUEUE)
    try:
        queue.connection.ping()
    except RedisConnectionError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is unreachable under CI=true: {error}")
        pytest.skip(f"Redis is unreachable: {error}")
    queue.empty()
    yield queue
    queue.empty()


@pytest.mark.redis
def test_rq_workers_and_a_person_move_each_due_state_exactly_once(settings, redis_queue):
    from flowr import tasks

    # "default" too: the worker resolves the module's task, on the default queue
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [redis_queue.name, "default"]}}
    pks = due_states(STATES)
    task = tasks.fire_timers.using(queue_name=redis_queue.name)
    results = [task.enqueue(batch=4) for _ in range(TASKS)]
    with Person(pks) as person:
        run_workers("rq", "rqworker", "--burst", "--job-class", "django_tasks_rq.Job", redis_queue.name)

    for result in results:
        result.refresh()
    assert [str(r.status) for r in results] == ["SUCCESSFUL"] * TASKS, [e.traceback for r in results for e in r.errors]
    assert_moved_once(pks, [r.return_value for r in results], person.won)
