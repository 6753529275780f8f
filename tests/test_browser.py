"""A real browser: Voilà serves the quickstart on 127.0.0.1, headless Debian Chromium (Playwright) runs it,
the studio renders, Generate fills the candidate table, and a screenshot is kept."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, seconds: float = 90) -> None:
    """Until a server listens on 127.0.0.1:port; a TimeoutError after `seconds`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"nothing listens on port {port} after {seconds:g} s")


@pytest.mark.slow
def test_the_quickstart_runs_in_a_browser_and_the_studio_generates(tmp_path, openewld):
    if not Path(CHROMIUM).is_file():
        pytest.fail("Debian's chromium is needed for the browser test: `make test` installs it (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    port = free_port()
    env = {**os.environ, "AITUNES_OUT": str(tmp_path / "out"), "AITUNES_CACHE": str(tmp_path / "cache"),
           "AITUNES_PARAMS": json.dumps({"steps": 4, "candidates": 2}), "MPLBACKEND": "Agg"}
    env.pop("OPENAI_API_KEY", None)
    log = (tmp_path / "voila.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "voila", "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1", "--show_tracebacks=True",
         str(ROOT / "notebooks" / "00_quickstart.ipynb")],
        cwd=ROOT / "notebooks", env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    shot = Path(os.environ.get("AITUNES_ARTIFACTS", tmp_path)) / "studio.png"
    try:
        wait_for_port(port, 60)
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.goto(f"http://127.0.0.1:{port}/", timeout=600_000)  # Voilà runs every cell before the page is done
            generate = page.get_by_role("button", name="Generate")
            generate.wait_for(timeout=600_000)
            assert page.get_by_role("button", name="Invent").is_visible()
            assert page.locator("text=Traceback").count() == 0
            generate.click()
            page.get_by_text("candidates, best first").wait_for(timeout=300_000)
            studio_table = page.locator(".widget-html table.dataframe")
            assert studio_table.count() >= 1 and "NDM" in studio_table.first.inner_text()
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot.with_name("quickstart-page.png")), full_page=True)
            studio = page.locator(".widget-vbox", has=page.get_by_role("button", name="Generate")).last
            studio.screenshot(path=str(shot))
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert shot.stat().st_size > 10_000, (tmp_path / "voila.log").read_text()[-3000:]
