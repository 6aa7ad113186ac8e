"""The demo site (extras/sample_site): its scripts build a database with the
sample data, and its pages work.  Runs the demo's own scripts in
subprocesses against a temporary SQLite file (never the demo's database)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SITE = Path(__file__).resolve().parent.parent / "extras" / "sample_site"

CHECK = """
import json
from django.contrib.auth import authenticate
from django.test import Client
from django.urls import reverse
from flowr.models import Flow, RuleSet, State
from helpdesk.models import Ticket, TicketLog

from django.core.management import CommandError, call_command


def again():
    # loading twice: refused without --reset, a fresh load with it
    try:
        call_command("load_demo")
    except CommandError as exc:
        refusal = str(exc)
    call_command("load_demo", reset=True)
    return {"refusal": refusal, "flows": Flow.objects.count(), "states": State.objects.count()}


client = Client()
assert authenticate(username="admin", password="admin") is not None
assert client.login(username="admin", password="admin")
urls = ["/", reverse("admin:index"), reverse("admin:flowr_flow_changelist"), reverse("admin:flowr_state_changelist"),
        reverse("admin:flowr_ruleset_changelist"), reverse("admin:helpdesk_ticket_changelist")]
urls += [reverse("admin:flowr_flow_change", args=[f.pk]) for f in Flow.objects.all()]
urls += [reverse("admin:flowr_state_advance", args=[s.pk]) for s in State.objects.all()]
urls += [reverse("admin:helpdesk_ticket_change", args=[t.pk]) for t in Ticket.objects.all()]
status = {url: client.get(url).status_code for url in urls}


def subject_page():
    # each ticket's page shows its State; the first ticket's button moves it on
    ticket = Ticket.objects.get(title="The printer is on fire")
    url = reverse("admin:helpdesk_ticket_change", args=[ticket.pk])
    pages = [client.get(reverse("admin:helpdesk_ticket_change", args=[t.pk])) for t in Ticket.objects.all()]
    shown = sum('class="flowr-subject-state"' in page.content.decode() for page in pages)
    html = client.get(url).content.decode()
    (state,) = State.objects.for_subject(ticket)
    moved = client.post(reverse("admin:helpdesk_ticket_flowr_advance", args=[ticket.pk]),
                        {"state": state.pk, "rule": "helpdesk.rules.Triaged", "expected_version": state.version})
    state.refresh_from_db()
    listed = client.get(reverse("admin:helpdesk_ticket_changelist")).content.decode()
    return {"shown": shown, "button": 'value="helpdesk.rules.Triaged"' in html, "moved": moved.status_code,
            "now": state.current_node.rule_label, "column": '<td class="field-flowr_state">Triaged</td>' in listed}


print(json.dumps({
    "status": status,
    "flows": sorted(str(f) for f in Flow.objects.all()),
    "frozen": sorted(f.name for f in Flow.objects.all() if f.in_use()),
    "rule_sets": RuleSet.objects.count(),
    "states": State.objects.count(),
    "statuses": sorted(Ticket.objects.values_list("status", flat=True)),
    "logs": TicketLog.objects.count(),
    "subject_page": subject_page(),
    "again": again(),
}))
"""


def run(tmp_path: Path, *command: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FLOWR_DEMO_DB": str(tmp_path / "demo.sqlite3"),
        "VENV": sys.prefix,
        # the flowr of this checkout, whichever one the virtualenv has installed
        "PYTHONPATH": str(SITE.parent.parent),
        "DJANGO_SETTINGS_MODULE": "sample_site.settings",
    }
    return subprocess.run(command, cwd=SITE, env=env, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    tmp_path = tmp_path_factory.mktemp("demo")
    built = run(tmp_path, "bash", "resetdb.sh")
    assert built.returncode == 0, built.stderr
    assert "Demo data loaded" in built.stdout
    checked = run(tmp_path, sys.executable, "manage.py", "shell", "-c", CHECK)
    assert checked.returncode == 0, checked.stderr
    return tmp_path, json.loads(checked.stdout.strip().splitlines()[-1])


def test_resetdb_builds_the_sample_data(demo: tuple[Path, dict[str, object]]) -> None:
    _, found = demo
    assert found["flows"] == ["Sample A–E (0.2)", "Support tickets", "Support tickets (v2)", "To-do list"]
    assert found["frozen"] == ["Support tickets", "To-do list"]
    assert found["rule_sets"] == 3 and found["states"] == 6
    # the helpdesk rules set each ticket's status and write its log
    assert found["statuses"] == ["open", "rejected", "resolved", "waiting on customer"]
    assert found["logs"] == 12  # 4 starts and 8 moves


def test_the_ticket_admin_shows_and_moves_its_states(demo: tuple[Path, dict[str, object]]) -> None:
    _, found = demo
    assert found["subject_page"] == {
        "shown": 4,
        "button": True,
        "moved": 302,
        "now": "helpdesk.rules.Triaged",
        "column": True,
    }


def test_the_demo_pages_work_for_admin(demo: tuple[Path, dict[str, object]]) -> None:
    _, found = demo
    status = found["status"]
    assert isinstance(status, dict) and len(status) >= 20
    assert set(status.values()) == {200}, status


def test_loading_twice_needs_reset(demo: tuple[Path, dict[str, object]]) -> None:
    _, found = demo
    assert found["again"] == {
        "refusal": "The demo data is already loaded; use --reset to load it afresh.",
        "flows": 4,
        "states": 6,
    }


def test_the_scripts_are_there() -> None:
    for script in ["demo.sh", "resetdb.sh", "runserver.sh", "manage.py"]:
        assert (SITE / script).is_file()
    urls = (SITE / "sample_site" / "urls.py").read_text()
    assert 'path("flowr/", include("flowr.urls"))' in urls
    assert "from flowr import sample_rules" in (SITE / "helpdesk" / "rules.py").read_text()
