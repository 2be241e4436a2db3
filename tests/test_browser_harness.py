"""Quick checks that the headless-Chromium harness in tests/browser.py sees images, console errors and exceptions."""

from __future__ import annotations

import base64
import struct
import zlib

import pytest

from browser import inspect_page

pytestmark = pytest.mark.usefixtures("chromium")      # skips without Chromium (see conftest)


def tiny_png(width: int = 4, height: int = 3) -> bytes:
    """A solid red RGB PNG built by hand."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    rows = b"".join(b"\0" + b"\xff\0\0" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_images_console_errors_and_screenshot(tmp_path):
    ok = "data:image/png;base64," + base64.b64encode(tiny_png()).decode()
    page = tmp_path / "page.html"
    page.write_text(f"""<!doctype html><html><head><title>harness</title></head><body>
<img id="ok" alt="good" src="{ok}"> <img id="bad" alt="broken" src="data:image/png;base64,AAAA">
<script>console.error("boom"); </script></body></html>""")
    shot = tmp_path / "shot.png"
    facts = inspect_page(page, screenshot_path=shot, timeout=30)
    images = {img["id"]: img for img in facts["images"]}
    assert facts["title"] == "harness"
    assert images["ok"]["natural_width"] == 4 and images["ok"]["complete"]
    assert images["bad"]["natural_width"] == 0 or not images["bad"]["complete"]
    assert any("boom" in msg for msg in facts["console_errors"])
    assert facts["exceptions"] == []
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_uncaught_exception_is_reported(tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<!doctype html><html><body><script>undefinedFunction()</script></body></html>")
    facts = inspect_page(page, timeout=30)
    assert len(facts["exceptions"]) == 1
    assert "undefinedFunction" in facts["exceptions"][0]
