"""Write the JavaScript the built book serves itself, so pages render with no network.

- Vega, Vega-Lite and Vega-Embed as one bundle (from vl-convert-python), plus a preset that
  tells Altair's chart loader those exact versions are already on the page.
- MathJax 3 (from the django-static-mathjax wheel), for equations.
Output goes to _vendor/ (ignored by git; `make` regenerates it), served as the book's _static/.
"""
from __future__ import annotations

import json
import pathlib
import shutil
import sys

import altair as alt
import mathjax
import vl_convert

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Not under _static/: Jupyter Book loads every .js file there on every page.
OUT = ROOT / "_vendor"


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    vl_version = "v" + ".".join(alt.VEGALITE_VERSION.split(".")[:2])
    bundle = OUT / "vega-bundle.js"
    stamp = OUT / "versions.json"
    versions = {"vega_version": alt.VEGA_VERSION, "vegalite_version": alt.VEGALITE_VERSION,
                "vegaembed_version": alt.VEGAEMBED_VERSION}
    if not bundle.exists() or not stamp.exists() or json.loads(stamp.read_text()) != versions:
        # The bundle declares top-level constants (e.g. `_`) that clash with the page's other
        # scripts in the shared global scope; a function scope keeps them private. It exports
        # vega, vegaLite and vegaEmbed on `window` itself.
        code = vl_convert.javascript_bundle(vl_version=vl_version)
        bundle.write_text("(function () {\n" + code + "\n})();\n")
        # Altair's loader skips its CDN fetch for a library whose version is preset here.
        (OUT / "vega-preset.js").write_text(f"var VEGA_DEBUG = {json.dumps(versions)};\n")
        stamp.write_text(json.dumps(versions))
    src = pathlib.Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    dst = OUT / "mathjax"
    if not (dst / "tex-mml-chtml.js").exists():
        shutil.copytree(src, dst, dirs_exist_ok=True, ignore=shutil.ignore_patterns("sre"))
    print(f"vendored Vega {versions} and MathJax into {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
