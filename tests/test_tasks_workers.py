"""flowr.tasks.fire_timers run by real task worker processes (issue 17), on
the test database: the database backend (django-tasks-db, three
``manage.py db_worker`` processes) and the RQ backend on Redis
(django-tasks-rq, three ``manage.py rqworker`` processes).  Six tasks are
queued for 30 due States; each State moves exactly once."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from flowr.integrity import check_integrity
from flowr.models import State, StateHistory
from tests.testapp.timer_rules import TimerEscalated, timer_flow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.server_db]

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 3
TASKS = 6
STATES = 30


def due_states(count: int) -> list[int]:
    flow, waiting = timer_flow()
    waiting.set_settings({"timeout_after": 3600, "timeout_rule": TimerEscalated.class_label})
    pks = [State.start(flow).next_state().pk for _ in range(count)]
    State.objects.filter(pk__in=pks).update(due_at=timezone.now() - datetime.timedelta(minutes=1))
    return pks


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


def assert_fired_once(pks: list[int], fired: list[int]) -> None:
    assert sum(fired) == STATES  # every due timer fired once, whichever worker claimed it
    assert not State.objects.filter(pk__in=pks, due_at__isnull=False).exists()
    assert StateHistory.objects.filter(state_id__in=pks).count() == 3 * STATES  # start, wait, timeout: no more
    escalated = StateHistory.objects.filter(state_id__in=pks, seq=3, to_rule_label=TimerEscalated.class_label)
    assert escalated.count() == STATES
    assert check_integrity(pks) == []


def test_db_workers_fire_each_due_timer_exactly_once(settings):
    pytest.importorskip("django_tasks_db")
    from django_tasks_db.models import DBTaskResult

    from flowr import tasks

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    pks = due_states(STATES)
    results = [tasks.fire_timers.enqueue(batch=4) for _ in range(TASKS)]
    run_workers("db", "db_worker", "--batch", "--no-startup-delay", "--interval", "0.1", "--no-reload")

    rows = DBTaskResult.objects.filter(id__in=[r.id for r in results])
    assert sorted(rows.values_list("status", flat=True)) == ["SUCCESSFUL"] * TASKS
    assert_fired_once(pks, [row.return_value["fired"] for row in rows])


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
def test_rq_workers_fire_each_due_timer_exactly_once(settings, redis_queue):
    from flowr import tasks

    # "default" too: the worker resolves the module's task, on the default queue
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [redis_queue.name, "default"]}}
    pks = due_states(STATES)
    task = tasks.fire_timers.using(queue_name=redis_queue.name)
    results = [task.enqueue(batch=4) for _ in range(TASKS)]
    run_workers("rq", "rqworker", "--burst", "--job-class", "django_tasks_rq.Job", redis_queue.name)

    for result in results:
        result.refresh()
    assert [str(r.status) for r in results] == ["SUCCESSFUL"] * TASKS, [e.traceback for r in results for e in r.errors]
    assert_fired_once(pks, [r.return_value["fired"] for r in results])
