"""Sphinx configuration for the octref documentation.

Build with ``bash docs/build.sh`` (it installs the pinned KaTeX and runs
``sphinx-build -W``). Three choices shape this file:

* Math is rendered to HTML at build time by KaTeX running under node
  (``katex_prerender``); ``_ext/offline_katex.py`` copies the KaTeX
  stylesheet and fonts into ``_static/katex``. No page loads anything from
  the network.
* The notebooks are jupytext percent-format ``.py`` files in ``../notebooks``,
  reached through the symlink ``docs/notebooks -> ../notebooks``; myst-nb
  converts and executes every one of them on each build.
* The API reference is autodoc + napoleon over the importable ``octref``.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path

from docutils import nodes
from sphinx import addnodes

DOCS = Path(__file__).resolve().parent
KATEX_DIST = DOCS / "node_modules" / "katex" / "dist"
sys.path.insert(0, str(DOCS / "_ext"))

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

# -- Sources -----------------------------------------------------------------

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinxcontrib.katex",
    "offline_katex",
]

root_doc = "index"

# With ``.py`` registered as a notebook format, every Python file under docs/
# would be a page; only these are. Files in notebooks/ starting with "_" or
# "." are helpers, not notebooks; notebooks/solutions.md is the exercises'
# solutions page (the tests put the same code into the notebooks).
include_patterns = ["*.md", "notebooks/solutions.md", "notebooks/[!_.]*.py",
                    "notebooks/[!_.]*.ipynb"]

# A notebook kept both as ``name.py`` (the jupytext source) and
# ``name.ipynb`` would be two documents with one name; the ``.py`` wins.
NOTEBOOKS = DOCS / "notebooks"
_py_stems = {p.stem for p in NOTEBOOKS.glob("[!_.]*.py")}
_ipynbs = sorted(NOTEBOOKS.glob("[!_.]*.ipynb"))
HAS_NOTEBOOKS = bool(_py_stems or _ipynbs)

exclude_patterns = [
    "_build",
    "node_modules",
    *(f"notebooks/{p.name}" for p in _ipynbs if p.stem in _py_stems),
]

# -- MyST --------------------------------------------------------------------

myst_enable_extensions = ["amsmath", "colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 3

# -- myst-nb: notebooks ------------------------------------------------------

nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}
# Every build runs every notebook, as CI must: stored outputs are never trusted.
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_show_tb = True
# Seconds per cell. Gradient checks in float64 are slow on 2 cores.
nb_execution_timeout = 600
# Run in the notebook's own folder, as `jupyter lab notebooks/` and nbmake
# do, so relative paths in a notebook mean the same everywhere.
nb_execution_in_temp = False
nb_merge_streams = True
# A jupytext file without a header names no kernel, and one with a header may
# name a kernel this machine lacks: run all of them on ipykernel's "python3",
# the interpreter that runs the build and has octref installed.
nb_kernel_rgx_aliases = {".*": "python3"}
# Never load the ipywidgets manager from a CDN, even if a notebook has widgets.
nb_ipywidgets_js: dict[str, dict[str, str]] = {}

# -- Math: KaTeX, prerendered, offline ----------------------------------------

if not (KATEX_DIST / "katex.min.js").is_file():
    raise RuntimeError(
        f"KaTeX not found in {KATEX_DIST}. Run `npm ci --prefix docs`, "
        "or `bash docs/build.sh`, which does it."
    )

katex_prerender = True
# node runs this file to render each formula while the HTML is written. It is
# the pinned npm package, so the HTML matches the stylesheet served with it.
katex_js_path = str(KATEX_DIST / "katex.min.js")
# Relative to _static; offline_katex copies the stylesheet and fonts there.
katex_css_path = "katex/katex.min.css"
katex_dist = str(KATEX_DIST)
# Not loaded when prerendering; set so that no default points to a CDN.
katex_autorender_path = "auto-render.min.js"

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
html_copy_source = False
html_show_sourcelink = False
# figures.css widens the column on wide screens; figures.js links every figure
# to its full-size image. figures/ holds the layer figure and the tour's key
# figures shown on the front pages, drawn by make_figures.py (committed: the
# README shows them too).
html_static_path = ["_static"]
html_css_files = ["figures.css"]
html_js_files = ["figures.js"]


def _drop_empty_notebook_toctree(app, docname, source):
    """Without notebooks, replace the ``notebooks/*`` toctree by a sentence.

    Sphinx warns about a glob that matches nothing, and that warning cannot
    be silenced through ``suppress_warnings`` (Sphinx 9 gives it no type), so
    a checkout with an empty ``notebooks/`` would fail ``-W``.
    """
    if docname != "notebooks" or HAS_NOTEBOOKS:
        return
    text = source[0]
    begin = text.index("% notebooks-toctree: begin")
    end = text.index("% notebooks-toctree: end")
    source[0] = text[:begin] + "There are no notebooks in the repository yet.\n" + text[end:]


# Ties in the dependency order of the API page are broken by this reading order;
# a module not named here comes after the named ones of its rank.
MODULE_ORDER = ["checks", "octave", "contract", "sampling", "loops", "im2col", "rowshift",
                "layer", "gradcheck", "cost", "data", "frequency", "misalignment",
                "receptive_field", "findings", "viz", "testing", "nn", "network", "mnist",
                "experiments", "train", "cli"]


def _octref_modules():
    """The octref modules in dependency order: every module after those it imports."""
    package = Path(importlib.util.find_spec("octref").submodule_search_locations[0])
    # Modules (octref/name.py) and packages (octref/name/__init__.py, e.g. testing).
    sources = {p.stem: [p] for p in package.glob("[!_]*.py")}
    sources.update({d.name: sorted(d.glob("*.py")) for d in package.iterdir()
                    if d.is_dir() and (d / "__init__.py").exists() and d.name[0] not in "_."})
    names = sorted(sources)
    imports = {}
    for name in names:
        used = set()
        for node in (n for path in sources[name]
                     for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))):
            if isinstance(node, ast.ImportFrom) and node.module == "octref":
                used |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("octref."):
                used.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                used |= {a.name.split(".")[1] for a in node.names if a.name.startswith("octref.")}
        imports[name] = (used & set(names)) - {name}
    rank = {name: MODULE_ORDER.index(name) if name in MODULE_ORDER else len(MODULE_ORDER)
            for name in names}
    ordered = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and imports[n] <= set(ordered)]
        if not ready:  # an import cycle: list the rest in reading order
            ready = [n for n in names if n not in ordered]
        ordered.append(min(ready, key=lambda n: (rank[n], n)))
    return ordered


def _api_sections(app, docname, source):
    """Fill the API page with an automodule section per octref module."""
    if docname != "api":
        return
    sections = "".join(f"## octref.{name}\n\n```{{eval-rst}}\n.. automodule:: octref.{name}\n"
                       f"   :members:\n```\n\n" for name in _octref_modules())
    source[0] = source[0].replace("% api-modules\n", sections)


def _skip_namedtuple_field_aliases(app, what, name, obj, skip, options):
    """Leave out a NamedTuple's generated "Alias for field number i" members.

    The class docstring's Attributes section already documents each field;
    documenting the alias too would describe the same object twice (a warning).
    """
    if (getattr(obj, "__doc__", None) or "").startswith("Alias for field number"):
        return True
    return None


# Symbols of array shapes such as (N, C_H, H, W): the Python domain turns every
# name in a ``:type:`` into a cross-reference, and a fuzzy match would link
# "H" to a module constant of the same name. These never name an object.
_SHAPE_SYMBOL = re.compile(r"^(?:[A-Za-z]|[CHWN]_\w+|[a-z]_(?:in|out|low|high))$")


def _fix_notebook_links(app, doctree):
    """Point links between notebooks, e.g. ``[chapter 2](02_octconv_by_hand.py)``, at their pages.

    MyST resolves a relative link with ``Path.resolve()``, which follows the
    ``docs/notebooks`` symlink out of the source tree; the link then names a
    document "/.../notebooks/02_octconv_by_hand" that Sphinx does not know.
    The same link works in Jupyter and on a code host, so it is kept and
    mapped back here.
    """
    real = str(NOTEBOOKS.resolve()) + "/"
    for node in doctree.findall(addnodes.pending_xref):
        target = node.get("reftarget", "")
        if node.get("refdomain") == "doc" and target.startswith(real):
            node["reftarget"] = "notebooks/" + target[len(real):]


def _unlink_shape_symbols(app, doctree):
    """Turn cross-references to shape symbols (H, W, C_H, ...) back into text."""
    for node in list(doctree.findall(addnodes.pending_xref)):
        if node.get("refdomain") == "py" and _SHAPE_SYMBOL.match(node.get("reftarget", "")):
            node.replace_self(node.children or nodes.Text(node["reftarget"]))


_FIELD_SECTIONS = {"Parameters", "Attributes", "Returns", "Yields", "Raises",
                   "Other Parameters", "Keyword Arguments"}


def _notes_after_fields(app, what, name, obj, options, lines):
    """Start a Notes section at a paragraph that follows a field list.

    In a NumPy docstring, a paragraph written after the last entry of
    "Attributes" (or "Parameters", ...) at the entries' indentation is read by
    napoleon as one more entry: its first words become a bold pseudo-parameter
    and its ``literals`` are shown with their backticks. A field entry is a
    line followed by its indented description; a line of four or more words
    after a blank line, not followed by an indented line, is prose, so a
    "Notes" heading is put before it. Runs before napoleon (priority 400).
    """
    section = None
    out = []
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"} and line.strip():
            section = line.strip()
        elif (section in _FIELD_SECTIONS and line and not line[0].isspace()
              and i > 0 and not lines[i - 1].strip() and len(line.split()) >= 4):
            following = lines[i + 1] if i + 1 < len(lines) else ""
            if not (following.startswith(" ") and following.strip()):
                out += ["Notes", "-----"]
                section = "Notes"
        out.append(line)
    lines[:] = out


def setup(app):
    app.connect("source-read", _drop_empty_notebook_toctree)
    app.connect("source-read", _api_sections)
    app.connect("autodoc-skip-member", _skip_namedtuple_field_aliases)
    app.connect("autodoc-process-docstring", _notes_after_fields, priority=400)
    app.connect("doctree-read", _unlink_shape_symbols)
    app.connect("doctree-read", _fix_notebook_links)
