"""extras/screenshots.py: it names every picture of docs/img/, every picture
the docs show exists, and (browser) it takes them all from the demo."""

from __future__ import annotations

import importlib.util
import re
import struct
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
IMG = ROOT / "docs" / "img"


def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flowr_screenshots", ROOT / "extras" / "screenshots.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shown_in_docs() -> set[str]:
    pages = [*(ROOT / "docs").rglob("*.md"), ROOT / "README.md"]
    return {name for page in pages for name in re.findall(r"img/([\w-]+\.png)", page.read_text(encoding="utf-8"))}


def test_every_picture_the_docs_show_exists():
    shown = shown_in_docs()
    assert shown, "no picture found in the docs"
    assert sorted(name for name in shown if not (IMG / name).is_file()) == []


def test_the_script_takes_exactly_the_pictures_in_docs_img():
    pictures = script().PICTURES
    assert len(set(pictures)) == len(pictures)
    assert sorted(pictures) == sorted(p.name for p in IMG.glob("*.png"))
    assert shown_in_docs() <= set(pictures)


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


@pytest.mark.browser
def test_the_script_takes_every_picture(tmp_path):
    pytest.importorskip("playwright.sync_api", reason="the screenshots need Playwright for Python")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("the screenshots need Chromium at /usr/bin/chromium")
    module = script()
    assert module.main(["--out", str(tmp_path)]) == 0
    taken = sorted(p.name for p in tmp_path.glob("*.png"))
    assert taken == sorted(module.PICTURES)
    for name in taken:
        width, height = png_size(tmp_path / name)
        assert width == module.VIEWPORT["width"] and height >= module.VIEWPORT["height"], name
