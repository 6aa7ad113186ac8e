"""Settings of the benchmark project.

``FLOWR_BENCH_DB`` picks the database: ``sqlite`` (default: a file in a
temporary folder, see ``run.py``), ``postgres`` or ``mariadb`` (database
``flowr_bench``, created and dropped by ``run.py``).
"""

import os
import tempfile

FLOWR_BENCH_DB = os.environ.get("FLOWR_BENCH_DB", "sqlite")
DB_NAME = os.environ.get("FLOWR_BENCH_DB_NAME", "flowr_bench")

if FLOWR_BENCH_DB == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": DB_NAME,
            "USER": os.environ.get("FLOWR_PG_USER", "postgres"),
            "PASSWORD": os.environ.get("FLOWR_PG_PASSWORD", ""),
            "HOST": os.environ.get("FLOWR_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("FLOWR_PG_PORT", "5432"),
        }
    }
elif FLOWR_BENCH_DB == "mariadb":
    import pymysql

    pymysql.version_info = (2, 2, 7, "final", 0)  # Django checks mysqlclient's version
    pymysql.install_as_MySQLdb()
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": DB_NAME,
            "USER": os.environ.get("FLOWR_MYSQL_USER", "root"),
            "PASSWORD": os.environ.get("FLOWR_MYSQL_PASSWORD", ""),
            "HOST": os.environ.get("FLOWR_MYSQL_HOST", "127.0.0.1"),
            "PORT": os.environ.get("FLOWR_MYSQL_PORT", "3306"),
            "OPTIONS": {"charset": "utf8mb4", "isolation_level": "read committed"},
        }
    }
elif FLOWR_BENCH_DB == "sqlite":
    # A file (a real journal and fsync), not memory: that is what a site runs.
    _default = os.path.join(tempfile.gettempdir(), "flowr_bench.sqlite3")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("FLOWR_BENCH_SQLITE", _default),
        }
    }
else:
    raise RuntimeError(f"FLOWR_BENCH_DB must be sqlite, postgres or mariadb, not {FLOWR_BENCH_DB!r}")

SECRET_KEY = "flowr-benchmarks-only"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "benchmarks.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",  # the editor benchmark serves the editor's scripts
    "rest_framework",
    "rest_framework.authtoken",
    "django_fsm_log",
    "flowr",
    "benchmarks.benchapp",
]

MIDDLEWARE = [
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
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# django-fsm-log records every django-fsm model except these: the plain
# django-fsm-2 contender must not pay for a log it does not keep.
DJANGO_FSM_LOG_IGNORED_MODELS = ["benchmarks.benchapp.models.FsmTicket"]
