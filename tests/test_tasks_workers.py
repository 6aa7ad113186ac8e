"""flowr.tasks.fire_timers run by real task worker processes (issue 17):
the database backend (django-tasks-db, ``manage.py db_worker``) with three
worker processes on the test database; the due States move exactly once."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from flowr.integrity import check_integrity
from flowr.models import State, StateHistory
from tests.testapp.timer_rules import TimerEscalated, timer_flow

pytest.importorskip("django_tasks_db")

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.server_db]

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 3
TASKS = 6
STATES = 30
DB_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def due_states(count: int) -> list[int]:
    flow, waiting = timer_flow()
    waiting.set_settings({"timeout_after": 3600, "timeout_rule": TimerEscalated.class_label})
    pks = [State.start(flow).next_state().pk for _ in range(count)]
    State.objects.filter(pk__in=pks).update(due_at=timezone.now() - datetime.timedelta(minutes=1))
    return pks


def start_workers(count: int, *args: str) -> list[subprocess.Popen[str]]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.task_worker_settings",
        "FLOWR_WORKER_DB": str(connection.settings_dict["NAME"]),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return [
        subprocess.Popen(
            [sys.executable, "-m", "django", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(count)
    ]


def wait_all(workers: list[subprocess.Popen[str]], timeout: float = 120) -> list[str]:
    outputs = []
    try:
        for worker in workers:
            out, _ = worker.communicate(timeout=timeout)
            assert worker.returncode == 0, out
            outputs.append(out)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    return outputs


def test_db_workers_fire_each_due_timer_exactly_once(settings):
    from django_tasks_db.models import DBTaskResult

    from flowr import tasks

    settings.TASKS = DB_BACKEND
    pks = due_states(STATES)
    results = [tasks.fire_timers.enqueue(batch=4) for _ in range(TASKS)]
    workers = start_workers(WORKERS, "db_worker", "--batch", "--no-startup-delay", "--interval", "0.1", "--no-reload")
    wait_all(workers)

    rows = DBTaskResult.objects.filter(id__in=[r.id for r in results])
    assert sorted(rows.values_list("status", flat=True)) == ["SUCCESSFUL"] * TASKS
    fired = [r.return_value["fired"] for r in rows]
    assert sum(fired) == STATES  # every due timer fired once, whichever worker claimed it
    assert not State.objects.filter(pk__in=pks, due_at__isnull=False).exists()
    assert StateHistory.objects.filter(state_id__in=pks).count() == 3 * STATES  # start, wait, timeout: no more
    assert StateHistory.objects.filter(state_id__in=pks, seq=3, to_rule_label=TimerEscalated.class_label).count() == (
        STATES
    )
    assert check_integrity(pks) == []
