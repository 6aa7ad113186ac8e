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
from flowr.models import Edge, Flow, FlowNodeData, RuleSet, State
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
def shape(flow):
    names = {d.node_id: d.rule_name for d in FlowNodeData.objects.filter(node__graph_id=flow.state_graph_id)}
    edges = Edge.objects.filter(graph_id=flow.state_graph_id).values_list("source_id", "target_id")
    return sorted(f"{names[s]}>{names[t]}" for s, t in edges)


def steps():
    # the front page's "What to try", done as a person would, through the admin
    front = client.get("/").content.decode()
    done = {"front": "<em>E</em> child under <em>C</em>" in front}
    sample = Flow.objects.get(name="Sample A–E (0.2)")
    node = {d.rule_name: d.node_id for d in FlowNodeData.objects.filter(node__graph_id=sample.state_graph_id)}
    page = client.get(reverse("admin:flowr_flow_change", args=[sample.pk])).content.decode()
    done["offers_E_under_C"] = 'value="flowr.sample_rules.E"' in page
    post = lambda name, *args, **body: client.post(reverse(f"admin:{name}", args=[sample.pk, *args]), body).status_code
    done["add"] = post("flowr_flow_add_child", node["C"], rule="flowr.sample_rules.E")
    e = FlowNodeData.objects.get(node__graph_id=sample.state_graph_id, rule_label="flowr.sample_rules.E").node_id
    done["connect"] = post("flowr_flow_connect", e, target=node["A"])
    done["after_connect"] = shape(sample)
    page = client.get(reverse("admin:flowr_flow_change", args=[sample.pk])).content.decode()
    done["undo_button"] = "Undo: connect E to A" in page
    done["undo"] = post("flowr_flow_undo")
    done["after_undo"] = shape(sample)
    done["redo"] = post("flowr_flow_redo")
    done["after_redo"] = shape(sample)
    confirm = client.get(reverse("admin:flowr_flow_prune", args=[sample.pk, node["C"]])).content.decode()
    done["prune_lists"] = all(f"#{n} " in confirm for n in (node["C"], node["D"], e))
    done["prune"] = post("flowr_flow_prune", node["C"])
    done["after_prune"] = shape(sample)
    ticket = State.objects.filter(flow__name="Support tickets").first()
    done["advance_page"] = client.get(reverse("admin:flowr_state_advance", args=[ticket.pk])).status_code
    v2 = Flow.objects.get(name="Support tickets", version=2)
    labels = {d.rule_name: d.node_id for d in FlowNodeData.objects.filter(node__graph_id=v2.state_graph_id)}
    page = client.get(reverse("admin:flowr_flow_disconnect", args=[v2.pk, labels["Reopened"]])).content.decode()
    done["link_offered"] = f'value="{labels["InProgress"]}"' in page
    done["disconnect"] = client.post(
        reverse("admin:flowr_flow_disconnect", args=[v2.pk, labels["Reopened"]]), {"choice": labels["InProgress"]}
    ).status_code
    done["link_gone"] = "Reopened>InProgress" not in shape(v2)
    v1 = Flow.objects.get(name="Support tickets", version=1)
    done["clone"] = client.post(reverse("admin:flowr_flow_clone", args=[v1.pk])).status_code
    done["versions"] = Flow.objects.filter(family=v1.family).count()
    return done


print(json.dumps({
    "favicon": [client.get("/favicon.ico").status_code, client.get("/favicon.ico")["Location"]],
    "status": status,
    "flows": sorted(str(f) for f in Flow.objects.all()),
    "frozen": sorted(f.name for f in Flow.objects.all() if f.in_use()),
    "rule_sets": RuleSet.objects.count(),
    "states": State.objects.count(),
    "statuses": sorted(Ticket.objects.values_list("status", flat=True)),
    "logs": TicketLog.objects.count(),
    "assigned": TicketLog.objects.filter(message__endswith="(assigned to Support, due in 1 day, 0:00:00)").count(),
    "subject_page": subject_page(),
    "steps": steps(),  # after the counts above: the steps change the data
    "again": again(),
}))
"""


def run(tmp_path: Path, *command: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FLOWR_DEMO_DB": str(tmp_path / "demo.sqlite3"),
        "VENV": sys.prefix,
        "PYTHONPATH": str(SITE.parent.parent),  # this checkout's flowr, whichever the venv has installed
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
    assert found["assigned"] == 2  # InProgress's callback read its node's settings (state.settings)


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


def test_the_front_page_steps_can_be_done_on_the_shipped_data(demo: tuple[Path, dict[str, object]]) -> None:
    _, found = demo
    steps = found["steps"]
    assert isinstance(steps, dict)
    assert steps["front"] and steps["offers_E_under_C"] and steps["undo_button"] and steps["prune_lists"]
    assert steps["add"] == steps["connect"] == steps["undo"] == steps["redo"] == steps["prune"] == 302
    assert steps["after_connect"] == ["A>C", "C>D", "C>E", "E>A"]
    assert steps["after_undo"] == ["A>C", "C>D", "C>E"]
    assert steps["after_redo"] == steps["after_connect"]
    assert steps["after_prune"] == []
    assert steps["advance_page"] == 200
    assert steps["link_offered"] and steps["disconnect"] == 302 and steps["link_gone"]
    assert steps["clone"] == 302 and steps["versions"] == 3


def test_the_demo_has_a_favicon(demo: tuple[Path, dict[str, object]]) -> None:
    _, found = demo
    assert found["favicon"] == [301, "/static/sample_site/favicon.svg"]
    assert (SITE / "helpdesk" / "static" / "sample_site" / "favicon.svg").read_text().startswith("<svg")
    assert "favicon.svg" in (SITE / "templates" / "admin" / "base_site.html").read_text()


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
