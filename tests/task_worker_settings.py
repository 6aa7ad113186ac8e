"""Settings of the task worker processes started by tests/test_tasks_workers.py:
the test settings on the test database (``FLOWR_WORKER_DB``, its name), the
test apps' timer rules imported at start (pytest imported them in the test
process), the database task backend."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, FLOWR

DATABASES["default"]["NAME"] = os.environ["FLOWR_WORKER_DB"]
FLOWR = {**FLOWR, "RULE_MODULES": ["rules", "timer_rules"]}
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
