"""Sphinx configuration for the octref documentation.

Build with ``bash docs/build.sh`` (it installs the pinned KaTeX and runs
``sphinx-build -W``). Three choices shape this file:

* Math is rendered to HTML at build time by KaTeX running under node
  (``katex_prerender``); the KaTeX stylesheet and fonts are copied into
  ``_static/katex``. No page loads anything from the network.
* The notebooks are jupytext percent-format ``.py`` files in ``../notebooks``,
  reached through the symlink ``docs/notebooks -> ../notebooks``; myst-nb
  converts and executes every one of them on each build.
* The API reference is autodoc + napoleon over the installed ``octref``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

DOCS = Path(__file__).resolve().parent
KATEX_DIST = DOCS / "node_modules" / "katex" / "dist"

# -- Project -----------------------------------------------------------------

project = "octref"
author = "octref contributors"
copyright = "octref contributors"
try:
    from importlib.metadata import version as _version

    release = _version("octref")
except Exception:  # the docs still build, without a version, before install
    release = ""
version = release

# -- General -----------------------------------------------------------------

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinxcontrib.katex",
]

root_doc = "index"
templates_path: list[str] = []

# Every notebook in ../notebooks is a page. A notebook kept both as
# ``name.py`` (the jupytext source) and ``name.ipynb`` would be two documents
# with one name; the ``.py`` source wins.
NOTEBOOKS = DOCS / "notebooks"
_nb_sources = sorted(NOTEBOOKS.glob("[!_.]*.py")) + sorted(NOTEBOOKS.glob("[!_.]*.ipynb"))
_py_stems = {p.stem for p in _nb_sources if p.suffix == ".py"}
_shadowed_ipynb = [
    f"notebooks/{p.name}" for p in _nb_sources if p.suffix == ".ipynb" and p.stem in _py_stems
]
HAS_NOTEBOOKS = bool(_nb_sources)

exclude_patterns = [
    "_build",
    "node_modules",
    "build.sh",
    "package.json",
    "package-lock.json",
    "README.md",
    # conf.py would otherwise be read as a notebook through nb_custom_formats
    "conf.py",
    # helpers next to the notebooks (``_util.py``), caches, checkpoints
    "notebooks/_*",
    "notebooks/*.md",
    "notebooks/.*",
    "notebooks/**/__pycache__",
    "notebooks/**/.ipynb_checkpoints",
    "notebooks/*/**",
    *_shadowed_ipynb,
]


# -- MyST --------------------------------------------------------------------

myst_enable_extensions = [
    "amsmath",
    "colon_fence",
    "deflist",
    "dollarmath",
]
myst_heading_anchors = 3
myst_dmath_double_inline = True

# -- myst-nb: notebooks ------------------------------------------------------

nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}
# Every build runs every notebook, as CI must: stored outputs are never trusted.
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_show_tb = True
# Seconds per cell. Gradient checks in float64 are slow on 2 cores.
nb_execution_timeout = 600
# Run in the notebook's own folder (../notebooks), as `jupyter lab notebooks/`
# and nbmake do, so relative paths in a notebook mean the same everywhere.
nb_execution_in_temp = False
nb_merge_streams = True
# A jupytext file without a header names no kernel; use the one that runs
# the build (ipykernel's "python3").
nb_kernel_rgx_aliases = {".*": "python3"}
# Never load the ipywidgets manager from a CDN, even if a notebook has widgets.
nb_ipywidgets_js: dict[str, dict[str, str]] = {}

# -- Math: KaTeX, prerendered, offline ----------------------------------------

katex_prerender = True
# node runs this file to render every formula while the HTML is written. It
# is the pinned npm package, so the HTML matches the stylesheet copied below.
katex_js_path = str(KATEX_DIST / "katex.min.js")
# Relative to _static; the files are copied there by _copy_katex_assets.
katex_css_path = "katex/katex.min.css"
# With prerendering these two are not loaded; set them so nothing points to a CDN.
katex_autorender_path = "auto-render.min.js"
katex_options = ""

if not (KATEX_DIST / "katex.min.js").is_file():
    raise RuntimeError(
        f"KaTeX not found at {KATEX_DIST}. Run `npm ci --prefix docs` "
        "(or just `bash docs/build.sh`, which does it)."
    )

# -- API reference -----------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"show-inheritance": True}
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

# -- HTML --------------------------------------------------------------------

html_theme = "furo"
html_title = "octref"
html_static_path: list[str] = []
html_copy_source = False
html_show_sourcelink = False


def _copy_katex_assets(app, exception):
    """Serve KaTeX's stylesheet and fonts from ``_static/katex``."""
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "katex"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(KATEX_DIST / "katex.min.css", target / "katex.min.css")
    shutil.copytree(KATEX_DIST / "fonts", target / "fonts", dirs_exist_ok=True)


def _drop_empty_notebook_toctree(app, docname, source):
    """Without notebooks, replace the ``notebooks/*`` toctree by a sentence.

    Sphinx warns about a glob that matches nothing, and that warning cannot
    be silenced through ``suppress_warnings`` (it has no type), so a fresh
    checkout with an empty ``notebooks/`` would fail ``-W``.
    """
    if docname != "notebooks" or HAS_NOTEBOOKS:
        return
    text = source[0]
    begin = text.index("% notebooks-toctree: begin")
    end = text.index("% notebooks-toctree: end")
    source[0] = text[:begin] + "There are no notebooks in the repository yet.\n" + text[end:]


def setup(app):
    app.connect("source-read", _drop_empty_notebook_toctree)
    app.connect("build-finished", _copy_katex_assets)
