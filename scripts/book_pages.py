"""Sphinx extension that writes the book's reference pages at build time.

* ``chapters/api.md``: one section per ``mesalib`` module (autodoc from the docstrings), and a
  "Used in" line under every documented object and module, listing the chapters whose code calls
  it. The map comes from scanning each chapter notebook's code (code cells and the ``python``
  blocks of its solutions) for uses of ``mesalib`` names, so it is never maintained by hand.
* ``chapters/status.md``: when each chapter's stored outputs were last executed and how long that
  took, whether this build executed it, the versions of the key packages, and the device.
* ``chapters/claims.md``: the claims ledger, rendered from ``chapters/claims_ledger.json``, which
  the claim tests write (``pytest --update-ledger``) and check on every run.

Each page holds a marker comment (``<!-- generated: api -->`` and so on) that the extension
replaces with MyST text when the page is read; the three pages are re-read on every build.
"""
from __future__ import annotations

import ast
import datetime as dt
import importlib
import importlib.metadata
import json
import os
import pathlib
import pkgutil
import platform
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
LEDGER = CHAPTERS / "claims_ledger.json"
PAGES = {"chapters/api": "<!-- generated: api -->", "chapters/status": "<!-- generated: status -->",
         "chapters/claims": "<!-- generated: claims -->"}
PACKAGES = ("jax", "jaxlib", "optax", "numpy", "scipy", "pandas", "altair", "jupyter-book", "sphinx", "myst-nb",
            "nbval")
GROUPS = (("Library", lambda m: not m.startswith(("mesalib.experiments", "mesalib.exercises"))),
          ("Chapter experiments", lambda m: m.startswith("mesalib.experiments")),
          ("Exercise checkers", lambda m: m.startswith("mesalib.exercises")))


# ------------------------------------------------------------------------------------- notebooks

def notebooks(root: pathlib.Path = CHAPTERS) -> dict:
    """docname -> parsed notebook, for every chapter notebook."""
    return {f"chapters/{p.stem}": json.loads(p.read_text()) for p in sorted(root.glob("*.ipynb"))}


def chapter_label(nb: dict, docname: str) -> str:
    """'Chapter 2' from a first heading '# Chapter 2 — Robustness: ...' (else the heading)."""
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            m = re.search(r"^#\s+(.+)$", "".join(cell["source"]), re.M)
            if m:
                title = m.group(1).strip()
                short = re.match(r"(Chapter \d+)", title)
                return short.group(1) if short else title
    return docname


def chapter_title(nb: dict, docname: str) -> str:
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            m = re.search(r"^#\s+(.+)$", "".join(cell["source"]), re.M)
            if m:
                return m.group(1).strip()
    return docname


def code_of(nb: dict) -> list[str]:
    """Code cells (magics dropped) and the ```python blocks of markdown cells (solutions)."""
    out = []
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "code":
            out.append("\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!"))))
        else:
            out.extend(re.findall(r"```python\n(.*?)```", src, re.S))
    return out


def uses(sources: list[str]) -> set[str]:
    """Fully qualified ``mesalib`` names (modules and their attributes) that the code uses."""
    found: set[str] = set()
    aliases: dict[str, str] = {}
    trees = []
    for src in sources:
        try:
            trees.append(ast.parse(src))
        except SyntaxError:
            continue
    for tree in trees:            # imports first: a solution may use a module imported elsewhere
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "mesalib":
                for a in node.names:
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == "mesalib":
                        aliases[a.asname or a.name] = a.name
    found.update(aliases.values())
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                chain = []
                cur = node
                while isinstance(cur, ast.Attribute):
                    chain.append(cur.attr)
                    cur = cur.value
                if isinstance(cur, ast.Name) and cur.id in aliases:
                    base = aliases[cur.id]
                    for part in reversed(chain):
                        base = f"{base}.{part}"
                        found.add(base)
    return found


def usage_map(books: dict) -> dict:
    """qualified name -> sorted docnames of the chapters that use it (modules included)."""
    where: dict[str, set] = {}
    for doc, nb in books.items():
        for name in uses(code_of(nb)):
            parts = name.split(".")
            for i in range(2, len(parts) + 1):          # a use of mesalib.a.b.c also uses mesalib.a, mesalib.a.b
                where.setdefault(".".join(parts[:i]), set()).add(doc)
    return {k: sorted(v) for k, v in where.items()}


# ------------------------------------------------------------------------------------- API page

def modules() -> list[str]:
    import mesalib

    names = []
    for info in pkgutil.walk_packages(mesalib.__path__, "mesalib."):
        if info.name.split(".")[-1].startswith("_"):
            continue
        names.append(info.name)
    return sorted(names)


def api_text() -> str:
    out = []
    names = modules()
    for group, keep in GROUPS:
        members = [n for n in names if keep(n)]
        if not members:
            continue
        out.append(f"## {group}\n")
        for name in members:
            out.append(f"### `{name}`\n\n```{{eval-rst}}\n.. automodule:: {name}\n   :members:\n```\n")
    return "\n".join(out)


def skip_member(app, what, name, obj, skip, options):
    doc = getattr(obj, "__doc__", None) or ""
    if what == "class" and doc.startswith("Alias for field number"):
        return True                                    # NamedTuple fields: the class docstring describes them
    return None


_PROTECTED = re.compile(r"``.+?``|:[\w:]+:`[^`]+`|`[^`]+`_?")
_EMPHASIS = re.compile(r"\*\*[^*\s][^*]*\*\*|\*[^*\s][^*]*\*")


def _escape_outside_literals(line: str) -> str:
    """Docstrings are prose: a ``|x|`` is an absolute value and a lone ``*`` a star, not reST markup."""
    out, last = [], 0
    for m in _PROTECTED.finditer(line):
        out.append(_escape(line[last:m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(_escape(line[last:]))
    return "".join(out)


def _escape(text: str) -> str:
    text = text.replace("|", "\\|")
    pieces, last = [], 0
    for m in _EMPHASIS.finditer(text):
        pieces.append(text[last:m.start()].replace("*", "\\*"))
        pieces.append(m.group(0))
        last = m.end()
    pieces.append(text[last:].replace("*", "\\*"))
    return "".join(pieces)


def sanitize(lines: list[str]) -> list[str]:
    """Make plain-prose docstrings valid reST: escape stray ``|`` and ``*``, and put blank lines
    around top-level bullet lists written without them."""
    out, in_list = [], False
    for line in lines:
        bullet = re.match(r"([-*] )(.*)$", line)
        if bullet and not in_list and out and out[-1].strip():
            out.append("")
        if in_list and not bullet and line.strip() and not line.startswith(" "):
            out.append("")
        if bullet:
            in_list = True
            out.append(bullet.group(1) + _escape_outside_literals(bullet.group(2)))
            continue
        if not line.strip() or not line.startswith(" "):
            in_list = False
        out.append(_escape_outside_literals(line))
    return out


def process_docstring(app, what, name, obj, options, lines):
    lines[:] = sanitize(lines)
    add_usage(app, what, name, obj, options, lines)


def resolve_module_data(app, env, node, contnode):
    """A ``:data:`NAME``` naming an undocumented constant of a mesalib module renders as code."""
    if node.get("refdomain") != "py" or node.get("reftype") not in ("data", "const", "attr"):
        return None
    module = node.get("py:module") or ""
    target = node.get("reftarget", "")
    if not module.startswith("mesalib"):
        return None
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    return contnode if hasattr(mod, target.split(".")[-1]) else None


def add_usage(app, what, name, obj, options, lines):
    where = app.env.mesalib_usage.get(name)
    if not where:
        return
    labels = app.env.mesalib_labels
    links = ", ".join(f":doc:`{labels.get(doc, doc)} </{doc}>`" for doc in where)
    lines.extend(["", f"*Used in:* {links}"])


# ------------------------------------------------------------------------------------- status page

def _stored_run(nb: dict):
    """(last execution end, seconds from first cell start to last cell end) from nbclient's
    per-cell timestamps, or (None, None) for a notebook saved without them."""
    starts, ends = [], []
    for cell in nb["cells"]:
        ex = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in ex and "iopub.status.idle" in ex:
            starts.append(dt.datetime.fromisoformat(ex["iopub.execute_input"].replace("Z", "+00:00")))
            ends.append(dt.datetime.fromisoformat(ex["iopub.status.idle"].replace("Z", "+00:00")))
    if not ends:
        return None, None
    return max(ends), (max(ends) - min(starts)).total_seconds()


def _version(pkg: str) -> str:
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def status_text(env) -> str:
    books = notebooks()
    rows = ["| Chapter | Outputs last executed (UTC) | Run time of those outputs | In this build |",
            "|---|---|---|---|"]
    meta = getattr(env, "nb_metadata", {}) or {}
    for doc, nb in books.items():
        when, secs = _stored_run(nb)
        exec_data = (meta.get(doc) or {}).get("exec_data")
        if exec_data and exec_data.get("method") != "off":
            ran = dt.datetime.fromtimestamp(exec_data["mtime"], dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
            took = exec_data.get("runtime")
            here = f"executed ({exec_data.get('method')}, {ran}" + (f", {took:.0f} s)" if took else ")")
        else:
            here = "stored outputs shown"
        rows.append(f"| {{doc}}`/{doc}` | {when.strftime('%Y-%m-%d %H:%M') if when else 'unknown'} "
                    f"| {f'{secs:.0f} s' if secs is not None else 'unknown'} | {here} |")
    import jax

    devices = jax.devices()
    device = f"{devices[0].platform.upper()}: {devices[0].device_kind}" + (
        f" × {len(devices)}" if len(devices) > 1 else "")
    lines = ["## Chapters", "", *rows, "",
             "## This build", "",
             f"- Built: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M')} UTC",
             f"- JAX device: {device} (default backend `{jax.default_backend()}`)",
             f"- Processor: {_cpu_model()}, {os.cpu_count()} logical cores; {platform.system()} {platform.release()}",
             f"- Python {platform.python_version()}", "",
             "| Package | Version |", "|---|---|"]
    lines += [f"| {p} | {_version(p)} |" for p in PACKAGES]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------- claims ledger

def _fmt(x) -> str:
    if x is None:
        return "—"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def claims_text(path: pathlib.Path = LEDGER) -> str:
    if not path.exists():
        return "*No claims recorded yet.*\n"
    records = json.loads(path.read_text())["claims"]
    books = notebooks()
    compared = [r for r in records if r["published"] is not None and r["low"] is not None]
    inside = [r for r in compared if r["low"] <= r["published"] <= r["high"]]
    out = [f"{len(records)} claims from {len({r['chapter'] for r in records})} chapters; "
           f"{len(compared)} are compared with a published or theoretical value, which lies inside our interval "
           f"for {len(inside)} of them.", ""]
    records = sorted(records, key=lambda r: (r["chapter"], r["test"].partition("::")[0], r.get("line", 0),
                                             r.get("order", 0)))
    for chapter in sorted({r["chapter"] for r in records}):
        doc = next((d for d in books if re.match(rf"chapters/0*{chapter}_", d)), None)
        title = chapter_title(books[doc], doc) if doc else f"Chapter {chapter}"
        out += [f"## {title}", "", f"{{doc}}`Read the chapter </{doc}>`" if doc else "", "",
                "| Claim | Ours [interval] | Interval over | Training seeds | Published | Source | Checked by |",
                "|---|---|---|---|---|---|---|"]
        for r in [r for r in records if r["chapter"] == chapter]:
            ours = _fmt(r["value"]) + (f" [{_fmt(r['low'])}, {_fmt(r['high'])}]" if r["low"] is not None else "")
            if r["unit"]:
                ours += f" {r['unit']}"
            pub = _fmt(r["published"])
            if r["published"] is not None and r["low"] is not None:
                pub += " (inside)" if r["low"] <= r["published"] <= r["high"] else " (outside)"
            path, _, test = r["test"].partition("::")
            out.append(f"| {r['claim']} | {ours} | {r['interval'] or '—'} | {r['seeds'] or '—'} | {pub} | "
                       f"{r['source'] or '—'} | `{pathlib.Path(path).name}::{test}` |")
        out.append("")
    return "\n".join(out)


# ------------------------------------------------------------------------------------- wiring

def builder_inited(app):
    books = notebooks()
    app.env.mesalib_usage = usage_map(books)
    app.env.mesalib_labels = {doc: chapter_label(nb, doc) for doc, nb in books.items()}


def source_read(app, docname, source):
    marker = PAGES.get(docname)
    if marker is None or marker not in source[0]:
        return
    if docname == "chapters/api":
        text = api_text()
    elif docname == "chapters/status":
        text = status_text(app.env)
    else:
        text = claims_text()
        app.env.note_dependency(str(LEDGER))
    source[0] = source[0].replace(marker, text)


def always_reread(app, env, added, changed, removed):
    return [doc for doc in PAGES if doc in env.found_docs]


def setup(app):
    app.setup_extension("sphinx.ext.autodoc")
    app.connect("builder-inited", builder_inited)
    app.connect("source-read", source_read)
    app.connect("env-get-outdated", always_reread)
    app.connect("autodoc-process-docstring", process_docstring)
    app.connect("missing-reference", resolve_module_data)
    app.connect("autodoc-skip-member", skip_member)
    app.add_config_value("mesalib_pages", True, "env")
    return {"version": "1.0", "parallel_read_safe": False, "parallel_write_safe": True}
