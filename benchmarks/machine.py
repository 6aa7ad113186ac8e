"""What the benchmarks ran on."""

from __future__ import annotations

import os
import platform
import sqlite3
from typing import Any

import django
from django.db import connection


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _database() -> str:
    if connection.vendor == "sqlite":
        return f"SQLite {sqlite3.sqlite_version} (file)"
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0]
    return f"{connection.vendor} {version.split(' on ')[0]}"


def describe() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "database": _database(),
        "vendor": connection.vendor,
        "load": round(os.getloadavg()[0], 2),
    }


def render(info: dict[str, Any]) -> str:
    return (
        f"machine: {info['cpus']} CPUs ({info['cpu']}), load {info['load']}; Python {info['python']}, "
        f"Django {info['django']}, {info['database']}\n"
    )
