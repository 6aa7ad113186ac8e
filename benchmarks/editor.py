"""Editor layout: the first (cold) layout of a flow in headless Chromium.

The flow is the graph benchmark's shape (a binary creation tree with
back-edges, :func:`benchmarks.graphs.shape`).  Each round starts a fresh
Chromium (no compiled code cached from an earlier round), opens the flow
editor on a live server and reads the page's performance entries: the
``flowr-layout`` measure (layout.js: ELK in its worker and the routes
applied to cytoscape, marks ``flowr-layout-start`` / ``-end``) and when the
layout ended after the navigation started.  Then the same page lays the
graph out again three times (warm: ELK's code compiled and optimised).

Needs Playwright for Python and Chromium at ``/usr/bin/chromium``
(``FLOWR_BENCH_CHROMIUM`` overrides); without them the section is skipped.
The load average is printed: on a busy machine every figure is a wall-clock
time that includes waiting for a CPU.
"""

from __future__ import annotations

import os
import statistics
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.test import Client
from django.test.testcases import LiveServerThread
from django.urls import reverse

from benchmarks.common import Section
from benchmarks.graphs import document, import_flow, shape
from flowr.models import Flow, RuleSet

CHROMIUM = os.environ.get("FLOWR_BENCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SIZES = (200, 500, 1000)
QUICK_SIZES = (500,)
CPU_KINDS = ("main", "worker", "other")
READ = """() => {
  const mark = (name) => performance.getEntriesByName(name).at(-1).startTime;
  const layout = performance.getEntriesByName("flowr-layout").at(-1);
  return { ms: layout.duration, ready: mark("flowr-layout-end"), name: window.flowrEditor.graph.layoutName,
    waited: Math.max(0, mark("flowr-elk-ready") - mark("flowr-layout-start")),
    draw: mark("flowr-layout-end") - mark("flowr-elk-done") };
}"""
RELAYOUT = """async () => {
  const started = performance.now();
  await window.flowrEditor.graph.layout(false);
  return performance.now() - started;
}"""


def _stat_cpu_ms(path: str) -> float:
    with open(path) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def renderer_cpu(marker: str) -> dict[str, float]:
    """CPU ms so far of the renderer processes of the browser whose command
    line holds ``marker``, by thread: the page's main thread, its web
    workers, and the rest (V8's compiler and collector threads...).  Linux
    only (/proc); empty elsewhere."""
    if not os.path.isdir("/proc/self/task"):
        return {}
    procs: dict[int, tuple[int, str]] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmd, open(f"/proc/{pid}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
                procs[int(pid)] = (parent, cmd.read().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    family = {pid for pid, (_, cmd) in procs.items() if marker in cmd and "--type=" not in cmd}
    grew = True
    while grew:
        more = {pid for pid, (parent, _) in procs.items() if parent in family} - family
        family |= more
        grew = bool(more)
    found = {"main": 0.0, "worker": 0.0, "other": 0.0}
    for pid in family:
        if "--type=renderer" not in procs[pid][1]:
            continue
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/comm") as comm:
                    name = comm.read().strip()
                cpu = _stat_cpu_ms(f"/proc/{pid}/task/{tid}/stat")
            except OSError:
                continue
            kind = "main" if tid == str(pid) else "worker" if name.startswith("DedicatedWorker") else "other"
            found[kind] += cpu
    return found


def available() -> str | None:
    """Why the section cannot run, or None."""
    if not os.path.exists(CHROMIUM):
        return f"no Chromium at {CHROMIUM}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed"
    return None


@contextmanager
def live_server() -> Iterator[str]:
    """Serve the benchmark project (and its static files) on a free port."""
    thread = LiveServerThread("127.0.0.1", StaticFilesHandler, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    try:
        yield f"http://127.0.0.1:{thread.port}"
    finally:
        thread.terminate()


def make_flow(size: int) -> Flow:
    labels, parents, links = shape(size)
    return import_flow(document(f"editor {size}", labels, parents, links), RuleSet.factory(f"editor {size}", labels[0]))


def session_cookie() -> str:
    user, _ = get_user_model().objects.get_or_create(username="bench-editor", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def measure(playwright: Any, base: str, cookie: str, flow: Flow) -> dict[str, Any]:
    """One cold page load (a fresh browser) and three warm re-layouts."""
    marker = f"--flowr-bench-browser={uuid.uuid4().hex}"  # finds its processes in /proc
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, marker], headless=True)
    try:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.add_cookies([{"name": "sessionid", "value": cookie, "url": base}])
        page = context.new_page()
        page.goto(base + reverse("flowr:flow_editor", kwargs={"pk": flow.pk}))
        page.wait_for_selector("#flowr-editor[data-ready=true]", timeout=120_000)
        found: dict[str, Any] = page.evaluate(READ)
        found["cpu"] = renderer_cpu(marker)
        found["warm"] = statistics.median(page.evaluate(RELAYOUT) for _ in range(3))
        return found
    finally:
        browser.close()


def run(sizes: tuple[int, ...] | list[int], rounds: int = 5) -> tuple[Section, dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    section = Section(
        f"Editor layout: first layout on opening the editor, headless Chromium, {rounds} fresh browsers per size",
        [
            "nodes",
            "layout",
            "cold ms (median)",
            "cold ms (max)",
            "cold runs",
            "page ready ms",
            "of which: ELK start / routes drawn",
            "CPU ms to ready: main / worker / other",
            "warm ms",
        ],
    )
    found: dict[str, Any] = {}
    load = os.getloadavg()[0]
    cookie = session_cookie()
    flows = [make_flow(size) for size in sizes]  # before Playwright's event loop starts: the ORM refuses to run in one
    with live_server() as base, sync_playwright() as playwright:
        for size, flow in zip(sizes, flows, strict=True):
            runs = [measure(playwright, base, cookie, flow) for _ in range(rounds)]
            cold = [r["ms"] for r in runs]
            section.add(
                size,
                "/".join(sorted({r["name"] for r in runs})),
                f"{statistics.median(cold):.0f}",
                f"{max(cold):.0f}",
                ", ".join(f"{t:.0f}" for t in cold),
                f"{statistics.median(r['ready'] for r in runs):.0f}",
                " / ".join(f"{statistics.median(r[k] for r in runs):.0f}" for k in ("waited", "draw")),
                " / ".join(f"{statistics.median(r['cpu'].get(k, 0) for r in runs):.0f}" for k in CPU_KINDS),
                f"{statistics.median(r['warm'] for r in runs):.0f}",
            )
            found[f"editor_layout_{size}_cold_ms"] = round(statistics.median(cold))
            found[f"editor_layout_{size}_cold_max_ms"] = round(max(cold))
            for kind in CPU_KINDS:
                found[f"editor_layout_{size}_cpu_{kind}_ms"] = round(
                    statistics.median(r["cpu"].get(kind, 0) for r in runs)
                )
            found[f"editor_layout_{size}_warm_ms"] = round(statistics.median(r["warm"] for r in runs))
    section.notes.append(
        "cold: the flowr-layout measure of a fresh browser's first page (ELK started in its worker "
        "while the page loads, the layout, the routes applied); page ready: navigation start to the "
        "layout's end; of which: waiting for ELK's worker to start (its warm-up) and drawing ELK's "
        "routes in cytoscape, the rest is ELK's layout; CPU: the renderer's CPU time from its start "
        "to the layout's end (medians; "
        "main: the page's thread, worker: ELK's, other: V8's compiler and collector threads, from /proc, "
        "Linux only), the figure a busy machine inflates least; warm: a re-layout on the same page "
        "(median of 3)."
    )
    section.notes.append(f"load average at the start: {load:.2f} ({os.cpu_count()} CPUs)")
    return section, found
