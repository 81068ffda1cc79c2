"""The book builds with warnings as errors, and every page renders offline in a real browser.

The build reuses the notebooks' stored outputs (nbval has just re-executed and compared them),
so no chapter is executed twice in one test run.
"""
import functools
import http.server
import json
import os
import pathlib
import shutil
import subprocess
import sys
import threading

import pytest
import yaml

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def build(root, out, **sphinx_config):
    """Build the book into ``out`` from the stored outputs, with warnings as errors."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"
    config["sphinx"]["config"].update(sphinx_config)
    # local extensions are found relative to the config file, which lives elsewhere here
    config["sphinx"]["local_extensions"] = {name: str((root / path).resolve())
                                            for name, path in (config["sphinx"].get("local_extensions") or {}).items()}
    cfg = out / "_config.yml"
    cfg.write_text(yaml.safe_dump(config, sort_keys=False))
    jb = pathlib.Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.run([str(jb), "build", str(root), "--config", str(cfg), "--path-output", str(out),
                           "-W", "-n", "--keep-going"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    return out / "_build" / "html"


@pytest.fixture(scope="module")
def built_book(root, tmp_path_factory):
    return build(root, tmp_path_factory.mktemp("book"))


def test_book_builds_without_warnings(built_book, root):
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    for f in files:
        assert (built_book / f"{f}.html").exists(), f
    html = (built_book / "chapters/01_meta_learning.html").read_text()
    assert "colab.research.google.com" in html                      # launch button
    assert "_static/vega-bundle.js" in html and "cdn.jsdelivr.net/npm/vega@" in html  # local bundle, CDN only as fallback
    assert "_static/mathjax/tex-mml-chtml.js" in html
    assert html.count("mathjax/") == 1       # one MathJax entry point, not every file of the package
    assert (built_book / "_static/mathjax/output/chtml/fonts/woff-v2").is_dir()


def test_reference_pages_are_generated(built_book, root):
    api = (built_book / "chapters/api.html").read_text()
    assert "mesalib.optpower.power_bits" in api and "Used in" in api
    assert "Alias for field number" not in api
    status = (built_book / "chapters/status.html").read_text()
    assert "jaxlib" in status and "logical cores" in status
    for nb in sorted((root / "chapters").glob("*.ipynb")):
        assert f"{nb.stem}.html" in status, nb.stem               # every chapter has a status row
    ledger = (built_book / "chapters/claims.html").read_text()
    for chapter in sorted({r["chapter"] for r in json.loads((root / "chapters/claims_ledger.json").read_text())["claims"]}):
        assert f"Chapter {chapter}" in ledger


@pytest.mark.timeout(900)
def test_student_build_hides_every_solution(built_book, root, tmp_path):
    student = build(root, tmp_path, hide_solutions=True)
    with_solutions = [nb.stem for nb in sorted((root / "chapters").glob("*.ipynb")) if "{solution}" in nb.read_text()]
    assert with_solutions
    for stem in with_solutions:
        full = (built_book / f"chapters/{stem}.html").read_text()
        assert 'class="solution' in full, stem                      # the default build shows them
        assert 'class="solution' not in (student / f"chapters/{stem}.html").read_text(), stem


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(built_book):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(built_book)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


# Two messages come from the theme stack itself on every page, not from this book's content.
KNOWN_THEME_NOISE = ("THEBE_JS_URL", "Got invalid theme mode")


@pytest.mark.timeout(600)
def test_every_page_renders_offline_with_charts_and_math(built_book, server):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (CI's .ci/run installs it)")
        pytest.skip("install Debian's chromium to run the browser check")
    from playwright.sync_api import sync_playwright

    pages = sorted(p.relative_to(built_book).as_posix() for p in built_book.rglob("*.html")
                   if "_static" not in p.parts and p.name not in ("genindex.html", "search.html"))
    assert len(pages) >= 4
    problems = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-quic"])
        context = browser.new_context()
        blocked = []

        def route(r):
            if r.request.url.startswith(server):
                return r.continue_()
            blocked.append(r.request.url)
            return r.abort()

        context.route("**/*", route)
        page = context.new_page()   # one page, navigated from URL to URL
        errors = []
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        for rel in pages:
            errors.clear()
            page.goto(f"{server}/{rel}", wait_until="load")
            charts = page.locator("[id^=altair-viz-]").count()
            if charts:
                try:
                    page.wait_for_function(
                        "n => document.querySelectorAll('[id^=altair-viz-] svg, [id^=altair-viz-] canvas').length >= n",
                        arg=charts, timeout=20000)
                except Exception:  # noqa: BLE001 - reported below with the page's errors
                    problems.append(f"{rel}: only some of {charts} charts drew")
                if page.locator("[id^=altair-viz-] .error").count():
                    problems.append(f"{rel}: a chart shows an error: {page.locator('[id^=altair-viz-] .error').first.inner_text()}")
            if page.locator(".math").count():
                try:
                    page.wait_for_selector("mjx-container", timeout=15000)
                except Exception:  # noqa: BLE001
                    problems.append(f"{rel}: math did not typeset")
            page.wait_for_timeout(300)   # let late script errors surface
            real = [e for e in errors if not any(n in e for n in KNOWN_THEME_NOISE) and "ERR_FAILED" not in e]
            if real:
                problems.append(f"{rel}: console errors {real[:3]}")
        context.close()
        browser.close()
    cdn = [u for u in blocked if "vega" in u or "mathjax" in u.lower()]
    assert not cdn, f"pages tried to fetch chart or math code from the network: {cdn[:3]}"
    assert not problems, "\n".join(problems)
