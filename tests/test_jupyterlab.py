"""A real JupyterLab 4 in headless Debian Chromium (Playwright): notebook 00 runs top to bottom
as a student runs it (Run → Run All Cells), Generate is clicked in the studio, and what the
student sees is checked: a treble clef, chord names that do not overlap, download links that
answer, and no traceback or third-party banner. Screenshots go to $AITUNES_ARTIFACTS (docs/
when they are refreshed for the README)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from test_browser import CHROMIUM, FLAGS, free_port, wait_for_port

NOISE = ("Traceback", "FluidSynth runtime version", "Copyright (C) 2000", "Loading weights", "ties left open")
TREBLE, BASS = "E050", "E062"  # SMuFL code points of the G and F clefs, as verovio names its glyphs

OVERLAPS = """() => {
  const boxes = [...document.querySelectorAll('.widget-html svg g.harm')].map(g => g.getBoundingClientRect())
    .filter(b => b.width > 0);
  let hits = 0;
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i], b = boxes[j];
    if (a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5) hits++;
  }
  return [boxes.length, hits];
}"""

LINKS = """async () => {
  const out = [];
  for (const a of document.querySelectorAll('.widget-html a[download]')) {
    const r = await fetch(a.href);
    out.push([a.getAttribute('download'), r.status, (await r.arrayBuffer()).byteLength]);
  }
  return out;
}"""


@pytest.mark.slow
def test_notebook_00_in_jupyterlab_as_a_student_sees_it(tmp_path, openewld):
    if not Path(CHROMIUM).is_file():
        pytest.fail("Debian's chromium is needed for the browser test: `make test` installs it (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    pytest.importorskip("jupyterlab")
    port = free_port()
    env = {**os.environ, "AITUNES_OUT": str(tmp_path / "out"), "AITUNES_CACHE": str(tmp_path / "cache"),
           "AITUNES_PARAMS": json.dumps({"steps": 4, "candidates": 2}), "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    env.pop("OPENAI_API_KEY", None)
    settings = tmp_path / "settings"  # every cell laid out (JupyterLab 4 skips drawing cells off screen), no news toast
    for name, value in (("notebook-extension/tracker", {"windowingMode": "none"}),
                        ("apputils-extension/notification", {"fetchNews": "false"})):
        path = settings / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    work = tmp_path / "notebooks"
    work.mkdir()
    (work / "00_quickstart.ipynb").write_bytes((ROOT / "notebooks" / "00_quickstart.ipynb").read_bytes())
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
         f"--ServerApp.root_dir={work}", "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    shots = Path(os.environ.get("AITUNES_ARTIFACTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    try:
        wait_for_port(port)
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/lab/tree/00_quickstart.ipynb", timeout=120_000)
            page.locator(".jp-Notebook").wait_for(timeout=120_000)
            page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=120_000)
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)  # the kernel is connected
            for _ in range(3):  # Run → Run All Cells, as a student does; again if the kernel was not ready for it
                page.locator(".lm-MenuBar-item", has_text="Run").first.click()
                page.locator("[data-command='runmenu:run-all']").click()
                try:
                    page.locator(".jp-InputPrompt", has_text="[1]:").first.wait_for(state="attached", timeout=60_000)
                    break
                except playwright.TimeoutError:
                    page.keyboard.press("Escape")
            generate = page.get_by_role("button", name="Generate")
            generate.wait_for(state="attached", timeout=900_000)  # prep, 4 training steps, generate, audio: every cell above
            page.get_by_text("ready: name a song and click Generate").wait_for(state="attached", timeout=300_000)
            generate.scroll_into_view_if_needed()
            generate.click()
            page.get_by_text("candidates, best first").wait_for(timeout=300_000)
            page.locator(".widget-html svg").first.wait_for(timeout=120_000)
            page.locator(".widget-html a[download]").first.wait_for(timeout=120_000)
            text = page.locator(".jp-Notebook").inner_text()
            svg = page.locator(".widget-html svg").first.inner_html()
            count, overlapping = page.evaluate(OVERLAPS)
            links = page.evaluate(LINKS)
            generate.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "jupyterlab-notebook.png"))  # what the window shows
            page.set_viewport_size({"width": 1400, "height": 3400})  # room for the whole studio: table, roll, sheet
            studio = page.locator(".widget-vbox", has=page.get_by_role("button", name="Generate")).last
            studio.screenshot(path=str(shots / "jupyterlab-studio.png"))
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    for noise in NOISE:
        assert noise not in text, f"{noise!r} shows in the notebook"
    assert TREBLE in svg and BASS not in svg, "the studio's lead sheet is not in treble clef"
    assert count > 0 and overlapping == 0, f"{overlapping} pairs of chord names overlap"
    assert sorted(name.rsplit(".", 1)[1] for name, _, _ in links) == ["abc", "mid", "musicxml"]
    assert all(status == 200 and size > 0 for _, status, size in links), links
    assert (shots / "jupyterlab-studio.png").stat().st_size > 10_000
