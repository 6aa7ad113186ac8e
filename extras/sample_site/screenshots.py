"""Take the admin screenshots of docs/admin.md in headless Chromium.

Run the demo first (``make demo PORT=8123``), then::

    .venv/bin/python extras/sample_site/screenshots.py http://127.0.0.1:8123

Needs Playwright for Python and a Chromium (``FLOWR_CHROMIUM``, default
/usr/bin/chromium).  The pictures land in docs/img/admin-*.png.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

OUT = Path(__file__).resolve().parent.parent.parent / "docs" / "img"


def shoot(page: Page, name: str, full: bool = False) -> None:
    page.screenshot(path=str(OUT / f"admin-{name}.png"), full_page=full)
    print(f"docs/img/admin-{name}.png")


def flow_url(page: Page, base: str, name: str) -> str:
    page.goto(f"{base}/admin/flowr/flow/")
    return page.get_by_role("link", name=name, exact=True).first.get_attribute("href") or ""


def main(base: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    executable = os.environ.get("FLOWR_CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1360, "height": 760})
        # keep the admin's navigation sidebar closed: more room for the pages
        page.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
        page.goto(f"{base}/")
        shoot(page, "front")
        page.goto(f"{base}/admin/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "admin")
        page.click("input[type=submit]")
        page.goto(f"{base}/admin/flowr/ruleset/")
        shoot(page, "rule-sets")
        page.goto(f"{base}/admin/flowr/flow/")
        shoot(page, "flows")
        sample = flow_url(page, base, "Sample A–E (0.2)")
        page.goto(f"{base}{sample}")
        page.locator("#flowr-tree").scroll_into_view_if_needed()
        shoot(page, "flow-tree", full=True)
        page.get_by_role("link", name="prune…").first.click()
        shoot(page, "prune")
        # remove D so that C offers "add child", picture it, then add D back
        page.goto(f"{base}{sample}")
        page.locator("tr", has_text=" D").get_by_role("link", name="remove…").click()
        page.get_by_role("button", name="Yes, remove").click()
        page.locator("#flowr-tree").scroll_into_view_if_needed()
        shoot(page, "add-child")
        page.locator("tr", has_text=" C").get_by_role("button", name="add child").click()
        support = flow_url(page, base, "Support tickets")
        page.goto(f"{base}{support}")
        shoot(page, "frozen", full=True)
        page.goto(f"{base}/admin/flowr/state/")
        shoot(page, "states")
        page.goto(f"{base}/admin/flowr/state/?q=")
        row = page.locator("tr", has_text="Resolved").first
        row.get_by_role("link", name="advance…").click()
        shoot(page, "advance")
        page.get_by_role("link", name="Cancel").click()
        shoot(page, "state-history", full=True)
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
