"""The README's install and quickstart, followed verbatim in a new project.

The code blocks between the README's ``install`` and ``quickstart`` markers
are read from the README (not copied here) and done in order, as a newcomer
would: ``bash`` blocks run in a shell (flowr itself comes from this checkout
through ``PYTHONPATH``, so the ``pip install`` line is the one line not run);
a ``python`` block whose first line is ``# path`` writes that file, ``# path
(append)`` appends to it, ``# python manage.py shell`` runs in the project's
shell, and the ``text`` block after it is what it must print.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def readme_blocks() -> list[tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- --8<-- [start:install] -->")
    end = text.index("<!-- --8<-- [end:quickstart] -->")
    return [(match[1], match[2]) for match in FENCE.finditer(text[start:end])]


def test_the_readme_is_short():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 300  # the rest lives in docs/


def test_the_readme_marks_what_it_runs():
    kinds = [kind for kind, _ in readme_blocks()]
    assert kinds.count("bash") >= 2 and kinds.count("python") >= 5 and kinds.count("text") == 1


@pytest.fixture
def shell_env(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # this virtualenv's Python as `python` and `django-admin` (a symlink would lose the virtualenv)
    for name, command in (("python", ""), ("django-admin", " -m django")):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}"{command} "$@"\n')
        script.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONSTARTUP")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    return env


def run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["bash", "-e", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done


def test_install_and_quickstart_as_written(tmp_path, shell_env):
    cwd = tmp_path / "work"
    cwd.mkdir()
    expected_output: str | None = None
    printed = ""
    for kind, body in readme_blocks():
        first = body.splitlines()[0]
        if kind == "bash":
            for line in body.splitlines():
                command = line.split("#", 1)[0].strip()
                if not command or command.startswith("python -m pip install"):
                    continue  # flowr comes from this checkout (PYTHONPATH)
                if command.startswith("cd "):
                    cwd = cwd / command[3:].strip()
                    continue
                run(command, cwd, shell_env)
        elif kind == "python" and first.startswith("# python manage.py shell"):
            printed = run(f"python manage.py shell -v 0 -c {quote(body)}", cwd, shell_env).stdout
        elif kind == "python":
            target, append = first[2:].removesuffix(" (append)"), first.endswith(" (append)")
            path = cwd / target
            if append:
                path.write_text(path.read_text(encoding="utf-8") + "\n" + body, encoding="utf-8")
            else:
                path.write_text(body, encoding="utf-8")
        elif kind == "text":
            expected_output = body
    assert expected_output is not None
    assert printed == expected_output


def quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"
