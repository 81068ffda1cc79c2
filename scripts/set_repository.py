"""Point the book at a repository: `_config.yml` holds the URL; this rewrites every copy of it.

Usage: python scripts/set_repository.py https://github.com/<owner>/<repo>
The Colab buttons read `_config.yml`; each chapter's install cell and the README carry the URL
too (a notebook opened in Colab cannot read the config), and tests/test_repository.py checks that
all of them agree.
"""
from __future__ import annotations

import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
URL_RE = re.compile(r"^https://github\.com/[\w.-]+/[\w.-]+$")


def current_url() -> str:
    m = re.search(r"^repository:\s*\n\s+url:\s*(\S+)", (ROOT / "_config.yml").read_text(), re.M)
    if not m:
        raise SystemExit("_config.yml has no repository.url")
    return m.group(1)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not URL_RE.match(argv[0].rstrip("/")):
        raise SystemExit("usage: set_repository.py https://github.com/<owner>/<repo>")
    new, old = argv[0].rstrip("/").removesuffix(".git"), current_url()
    files = [ROOT / "_config.yml", ROOT / "README.md", *sorted((ROOT / "chapters").glob("*.ipynb")),
             *sorted((ROOT / "chapters").glob("*.md"))]
    for path in files:
        text = path.read_text()
        old_colab = "colab.research.google.com/github/" + old.removeprefix("https://github.com/")
        new_colab = "colab.research.google.com/github/" + new.removeprefix("https://github.com/")
        if old in text or old_colab in text:
            text = text.replace(old, new).replace(old_colab, new_colab)
            if path.suffix == ".ipynb":
                json.loads(text)  # must stay valid JSON; the URL contains no characters needing escapes
            path.write_text(text)
            print(f"updated {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
