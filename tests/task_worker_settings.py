"""Settings of the task worker processes started by tests/test_tasks_workers.py:
the test settings on the test database (``FLOWR_WORKER_DB``, its name), the
test apps' timer rules imported at start (pytest imported them in the test
process), the task backend ``FLOWR_WORKER_BACKEND`` (``db`` or ``rq``)."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, FLOWR, FLOWR_RQ_QUEUE

DATABASES["default"]["NAME"] = os.environ["FLOWR_WORKER_DB"]
FLOWR = {**FLOWR, "RULE_MODULES": ["rules", "timer_rules"]}
TASKS = {
    "db": {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}},
    "rq": {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [FLOWR_RQ_QUEUE, "default"]}},
}[os.environ["FLOWR_WORKER_BACKEND"]]
