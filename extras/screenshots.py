"""Retake every picture in docs/img/ from the demo, in headless Chromium.

    .venv/bin/python extras/screenshots.py          (or: make screenshots)

Builds the demo (extras/sample_site) on a temporary SQLite database with its
sample data, serves it on a free port, drives Chromium with Playwright at
1280x800 and writes the PNGs named in ``PICTURES`` into docs/img/ (``--only
NAME`` for some of them, ``--out DIR`` to write elsewhere).  Needs Playwright for Python and a Chromium
(``FLOWR_CHROMIUM``, default /usr/bin/chromium).  The pictures are taken in
the order of ``PICTURES``: later ones build on the edits of earlier ones.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "extras" / "sample_site"
OUT = ROOT / "docs" / "img"
VIEWPORT = {"width": 1280, "height": 800}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]

# Every picture, in the order taken (the docs page that shows it).
PICTURES = (
    "admin-front.png",  # admin.md
    "admin-rule-sets.png",  # admin.md
    "admin-flows.png",  # admin.md
    "admin-flow-tree.png",  # admin.md
    "admin-prune.png",  # admin.md
    "admin-add-child.png",  # admin.md
    "admin-frozen.png",  # admin.md
    "admin-states.png",  # admin.md
    "admin-advance.png",  # admin.md
    "admin-state-history.png",  # admin.md
    "subject-admin.png",  # the flow-builders' guide
    "rules-sample.png",  # editor.md
    "editor-flow.png",  # index.md, editor.md, README.md
    "editor-frozen.png",  # editor.md
    "editor-undo.png",  # the flow-builders' guide
    "editor-connect.png",  # editor.md
    "editor-prune.png",  # editor.md
    "editor-disconnect.png",  # the flow-builders' guide
    "editor-insert.png",  # the flow-builders' guide
    "editor-prune-confirm.png",  # the flow-builders' guide
    "admin-edit-log.png",  # the flow-builders' guide
)


# -- the demo, on a temporary database --------------------------------------------------
def demo_env(database: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "sample_site.settings"
    env["FLOWR_DEMO_DB"] = str(database)
    env["FLOWR_DEMO_EMAIL_BACKEND"] = "django.core.mail.backends.dummy.EmailBackend"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["DJANGO_SUPERUSER_PASSWORD"] = "admin"
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=SITE, env=env, check=True, stdout=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def demo_server() -> Iterator[tuple[str, dict[str, str]]]:
    """A fresh demo database and its development server: (base URL, env)."""
    folder = Path(tempfile.mkdtemp(prefix="flowr_screenshots_"))
    env = demo_env(folder / "demo.sqlite3")
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com")
    manage(env, "load_demo")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=SITE,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield base, env
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def demo_ids(env: dict[str, str]) -> dict[str, Any]:
    """Primary keys of the demo's objects, read from the temporary database."""
    code = """
import json
from flowr.models import Flow, FlowNodeData, RuleSet
from helpdesk.models import Ticket
flows = {f.name + (" v%d" % f.version): f.pk for f in Flow.objects.all()}
nodes = {}
for d in FlowNodeData.objects.select_related("node"):
    nodes.setdefault(d.node.graph_id, {})[d.rule_label.rsplit(".", 1)[1]] = d.node_id
graphs = {f.pk: f.state_graph_id for f in Flow.objects.all()}
print(json.dumps({"flows": flows, "nodes": {str(k): v for k, v in nodes.items()}, "graphs": graphs,
    "rule_sets": {r.name: r.pk for r in RuleSet.objects.all()},
    "tickets": {t.title: t.pk for t in Ticket.objects.all()}}))
"""
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=SITE,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    found: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return found


# -- driving the pages ------------------------------------------------------------------
class Shooter:
    def __init__(self, page: Any, base: str, ids: dict[str, Any], only: set[str], out: Path) -> None:
        self.page, self.base, self.ids, self.only, self.out = page, base, ids, only, out

    def shoot(self, name: str, full: bool = False) -> None:
        if not self.only or name in self.only:
            self.page.screenshot(path=str(self.out / name), full_page=full)
            print(self.out / name)

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def flow(self, name: str, version: int = 1) -> int:
        return int(self.ids["flows"][f"{name} v{version}"])

    def node(self, flow: int, rule: str) -> int:
        return int(self.ids["nodes"][str(self.ids["graphs"][str(flow)])][rule])

    def to_top(self, selector: str) -> None:
        """Scroll the page so that ``selector`` starts near the top of the view."""
        self.page.evaluate("s => window.scrollTo(0, document.querySelector(s).offsetTop - 60)", selector)

    def editor(self, flow: int) -> None:
        self.go(f"/flowr/flows/{flow}/edit/")
        self.page.wait_for_selector("#flowr-editor[data-ready=true]")

    def idle(self) -> None:
        self.page.wait_for_function("() => !document.getElementById('flowr-editor').classList.contains('flowr-busy')")

    def click_node(self, node: int) -> None:
        point = self.page.evaluate(
            """id => {
                const cy = window.flowrEditor.graph.cy;
                const p = cy.getElementById(id).renderedPosition();
                const box = cy.container().getBoundingClientRect();
                return [box.left + p.x, box.top + p.y];
            }""",
            f"n{node}",
        )
        self.page.mouse.click(point[0], point[1])

    def select(self, node: int) -> None:
        self.click_node(node)
        self.page.wait_for_selector(f".flowr-node[data-node='{node}']")
        self.idle()


def login(shots: Shooter) -> None:
    shots.go("/admin/login/")
    shots.page.fill("#id_username", "admin")
    shots.page.fill("#id_password", "admin")
    shots.page.click("input[type=submit]")
    shots.page.wait_for_url("**/admin/")


def admin_pictures(shots: Shooter) -> None:
    page = shots.page
    shots.go("/")
    shots.shoot("admin-front.png")
    login(shots)
    shots.go("/admin/flowr/ruleset/")
    shots.shoot("admin-rule-sets.png")
    shots.go("/admin/flowr/flow/")
    shots.shoot("admin-flows.png")
    sample = f"/admin/flowr/flow/{shots.flow('Sample A–E (0.2)')}/change/"
    shots.go(sample)
    page.locator("#flowr-tree").scroll_into_view_if_needed()
    shots.shoot("admin-flow-tree.png", full=True)
    page.locator("#flowr-tree").get_by_role("link", name="prune…").first.click()
    shots.shoot("admin-prune.png")
    # remove D so that C offers "add child", picture it, then add D back
    shots.go(sample)
    flow = shots.flow("Sample A–E (0.2)")
    page.locator(f"#flowr-tree a[href$='/nodes/{shots.node(flow, 'D')}/remove/']").click()
    page.get_by_role("button", name="Yes, remove").click()
    page.locator("#flowr-tree").scroll_into_view_if_needed()
    shots.shoot("admin-add-child.png")
    add = page.locator(f"#flowr-tree form[action$='/nodes/{shots.node(flow, 'C')}/add-child/']")
    add.locator("select").select_option(label="D")
    add.locator("input[type=submit]").click()
    page.wait_for_load_state()
    shots.go(f"/admin/flowr/flow/{shots.flow('Support tickets')}/change/")
    shots.shoot("admin-frozen.png", full=True)
    shots.go("/admin/flowr/state/")
    shots.shoot("admin-states.png")
    page.locator("#result_list tr", has_text="Resolved").first.get_by_role("link", name="advance…").click()
    shots.shoot("admin-advance.png")
    page.get_by_role("link", name="Cancel").click()
    shots.shoot("admin-state-history.png", full=True)
    ticket = shots.ids["tickets"]["Invoice shows the wrong amount"]
    shots.go(f"/admin/helpdesk/ticket/{ticket}/change/")
    shots.shoot("subject-admin.png", full=True)


def editor_pictures(shots: Shooter) -> None:
    page = shots.page
    shots.go(f"/flowr/rule-sets/{shots.ids['rule_sets']['A–E sample rules (0.2)']}/graph/")
    page.wait_for_selector("#flowr-rules[data-ready=true]")
    shots.shoot("rules-sample.png")
    draft = shots.flow("Support tickets", 2)
    shots.editor(draft)
    shots.select(shots.node(draft, "InProgress"))
    shots.shoot("editor-flow.png")
    shots.editor(shots.flow("Support tickets"))
    shots.shoot("editor-frozen.png")
    # the sample flow: add E under C (the front page's first step): undo offered
    sample = shots.flow("Sample A–E (0.2)")
    shots.editor(sample)
    shots.select(shots.node(sample, "C"))
    page.select_option("#flowr-add-rule", "flowr.sample_rules.E")
    page.click("#flowr-add-child")
    page.wait_for_function("() => window.flowrEditor.graph.cy.nodes().length === 4")
    shots.idle()
    shots.shoot("editor-undo.png")
    # connect E back to A: the allowed target is green
    names = page.evaluate("() => window.flowrEditor.graph.cy.nodes().map(n => [n.data('rule_name'), n.id()])")
    shots.select(int(dict(names)["E"][1:]))
    page.click("#flowr-connect")
    page.wait_for_selector("#flowr-mode[data-kind=connect]")
    page.locator("#flowr-mode").scroll_into_view_if_needed()
    shots.shoot("editor-connect.png")
    shots.click_node(shots.node(sample, "A"))
    page.wait_for_function("() => window.flowrEditor.graph.cy.edges().length === 4")
    shots.idle()
    # prune C: what goes is red
    shots.select(shots.node(sample, "C"))
    page.click("#flowr-prune")
    page.wait_for_selector("#flowr-mode[data-kind=prune]")
    page.locator("#flowr-mode").scroll_into_view_if_needed()
    shots.shoot("editor-prune.png")
    page.click("#flowr-cancel")
    # the draft helpdesk flow: delete the link Reopened -> InProgress (asked first)
    shots.editor(draft)
    shots.select(shots.node(draft, "Reopened"))
    page.click(f".flowr-disconnect[data-child='{shots.node(draft, 'InProgress')}']")
    page.wait_for_selector("#flowr-mode[data-kind=disconnect]")
    page.locator("#flowr-mode").scroll_into_view_if_needed()
    shots.shoot("editor-disconnect.png")
    page.click("#flowr-cancel")
    # insert Review between InProgress and Resolved (pictured done)
    shots.select(shots.node(draft, "InProgress"))
    page.select_option("#flowr-insert-child", str(shots.node(draft, "Resolved")))
    page.select_option("#flowr-insert-rule", "helpdesk.rules.Review")
    page.click("#flowr-insert")
    page.wait_for_function("() => window.flowrEditor.graph.cy.nodes().length === 9")
    shots.idle()
    shots.shoot("editor-insert.png")
    # prune Resolved: InProgress, above it, goes too (Reopened loops back to it)
    shots.select(shots.node(draft, "Resolved"))
    page.click("#flowr-prune")
    page.wait_for_selector("#flowr-mode[data-kind=prune]")
    page.locator("#flowr-mode").scroll_into_view_if_needed()
    shots.shoot("editor-prune-confirm.png")
    page.click("#flowr-cancel")
    # the edits above, in the draft's edit log
    shots.go(f"/admin/flowr/flow/{draft}/change/")
    shots.to_top("#flowr-edits")
    shots.shoot("admin-edit-log.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", default=[], choices=PICTURES, metavar="NAME")
    parser.add_argument("--out", type=Path, default=OUT, help="the folder to write into (default docs/img)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    executable = os.environ.get("FLOWR_CHROMIUM", "/usr/bin/chromium")
    with demo_server() as (base, env), sync_playwright() as playwright:
        ids = demo_ids(env)
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(30_000)
        # keep the admin's navigation sidebar closed: more room for the pages
        page.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
        shots = Shooter(page, base, ids, set(args.only), args.out)
        steps: list[Callable[[Shooter], None]] = [admin_pictures, editor_pictures]
        for step in steps:
            step(shots)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
