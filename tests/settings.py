"""Settings of the test project.  ``FLOWR_TEST_DB`` picks the database:
``sqlite`` (default), ``postgres`` or ``mariadb``; ``FLOWR_TEST_DB_NAME``
overrides the database name (run several suites at once)."""

import importlib.util
import os
import tempfile

import django

FLOWR_TEST_DB = os.environ.get("FLOWR_TEST_DB", "sqlite")
_name = os.environ.get("FLOWR_TEST_DB_NAME", "flowr")

if FLOWR_TEST_DB == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _name,
            "USER": os.environ.get("FLOWR_PG_USER", "postgres"),
            "HOST": os.environ.get("FLOWR_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("FLOWR_PG_PORT", "5432"),
            "TEST": {"NAME": f"test_{_name}"},
        }
    }
elif FLOWR_TEST_DB == "mariadb":
    import pymysql

    pymysql.version_info = (2, 2, 7, "final", 0)
    pymysql.install_as_MySQLdb()
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": _name,
            "USER": os.environ.get("FLOWR_MYSQL_USER", "root"),
            "PASSWORD": os.environ.get("FLOWR_MYSQL_PASSWORD", ""),
            "HOST": os.environ.get("FLOWR_MYSQL_HOST", "127.0.0.1"),
            "PORT": os.environ.get("FLOWR_MYSQL_PORT", "3306"),
            "OPTIONS": {"charset": "utf8mb4", "isolation_level": "read committed"},
            "TEST": {"NAME": f"test_{_name}", "CHARSET": "utf8mb4", "COLLATION": "utf8mb4_bin"},
        }
    }
elif FLOWR_TEST_DB == "sqlite":
    # A file, not memory: threads of the concurrency tests need their own
    # connections to one database with real locking.
    _file = os.path.join(tempfile.gettempdir(), f"test_{_name}_{os.getpid()}.sqlite3")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(tempfile.gettempdir(), f"{_name}.sqlite3"),
            # synchronous = NORMAL: in WAL mode (the concurrency tests turn it
            # on) a commit does not wait for fsync; with FULL, a busy disk
            # held the write lock through each commit's fsync and the
            # threaded races starved.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA synchronous = NORMAL"},
            "TEST": {"NAME": _file},
        }
    }
else:
    raise RuntimeError(f"FLOWR_TEST_DB must be sqlite, postgres or mariadb, not {FLOWR_TEST_DB!r}")

SECRET_KEY = "flowr-tests-only"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
# the models the API accepts as a State's subject
FLOWR = {"SUBJECT_MODELS": ["testapp.ticket", "testapp.document"]}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "flowr",
    "tests.testapp",
    # the test package itself, so rules defined in test modules resolve
    "tests",
]
# flowr.tasks with the database task backend (django-tasks-db), when installed:
# tests/test_tasks_workers.py runs its db_worker processes on the test database.
if importlib.util.find_spec("django_tasks_db") is not None:
    INSTALLED_APPS.append("django_tasks_db")
# ... and with the RQ backend (django-tasks-rq) on Redis, a queue of this run's own.
FLOWR_RQ_QUEUE = os.environ.get("FLOWR_RQ_QUEUE") or f"flowr-{_name}-{os.getpid()}"
if importlib.util.find_spec("django_tasks_rq") is not None:
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    _redis = {"URL": os.environ.get("FLOWR_REDIS_URL", "redis://127.0.0.1:6379/0"), "DEFAULT_TIMEOUT": 120}
    # "default": the connection django-tasks-rq reads results through
    RQ_QUEUES = {FLOWR_RQ_QUEUE: _redis, "default": _redis}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

STATIC_URL = "/static/"
STATIC_ROOT = os.path.join(tempfile.gettempdir(), "flowr_static")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if django.VERSION >= (6, 1):  # EMAIL_BACKEND is deprecated from Django 6.1
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
else:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
