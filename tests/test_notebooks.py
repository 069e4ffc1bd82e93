"""Every notebook in notebooks/ runs, top to bottom, and its asserts hold.

The notebooks are jupytext percent-format ``.py`` files (reviewable diffs, no
outputs in git). Each is read with jupytext, executed in a fresh ``python3``
kernel by nbclient with the working directory ``notebooks/``, and fails the
test on the first cell that raises, an ``assert`` included: the chapters
assert every claim they make.
"""

import os
from pathlib import Path

import jupytext  # in the `test` extra: notebooks are part of the suite, never skipped
import nbclient
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SOURCES = sorted(p for p in NOTEBOOKS.glob("*.py") if not p.name.startswith(("_", ".")))

# A cell that takes longer than this is a bug in the notebook: the whole of each
# chapter is meant to run in well under a minute on two slow cores.
CELL_TIMEOUT = 120


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebook_runs(path, monkeypatch):
    # The kernel inherits this process's environment: a non-interactive
    # matplotlib backend, and octref importable even without an install.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    notebook = jupytext.read(path)
    client = nbclient.NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebook_is_percent_format(path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# ---\n# jupyter:\n#   jupytext:\n"), \
        f"{path.name} must start with the jupytext YAML header"
    header = text.split("# ---\n", 2)[1]
    assert "formats: py:percent" in header, f"{path.name}: header must say formats: py:percent"
    assert "name: python3" in header, f"{path.name}: header must name the python3 kernel"
    fmt, _ = jupytext.formats.guess_format(text, ".py")
    assert fmt == "percent", f"{path.name} is in jupytext format {fmt!r}, not percent"
    cells = jupytext.reads(text, fmt="py:percent").cells
    kinds = {cell.cell_type for cell in cells}
    assert {"markdown", "code"} <= kinds, f"{path.name} needs markdown and code cells"
    code = "\n".join(cell.source for cell in cells if cell.cell_type == "code")
    assert "assert " in code, f"{path.name} must assert its claims, not only print them"


def test_no_ipynb_in_notebooks():
    # The .py sources are the notebooks; an .ipynb copy would be an unreviewable
    # duplicate (outputs, JSON) that drifts from its source. Jupyter's own
    # checkpoint folders are git-ignored and do not count.
    strays = [p.relative_to(ROOT) for p in NOTEBOOKS.rglob("*.ipynb")
              if ".ipynb_checkpoints" not in p.parts]
    assert not strays, f"commit notebooks as jupytext .py files only, found {strays}"


def test_notebooks_exist_and_are_listed():
    assert SOURCES, f"no notebooks found in {NOTEBOOKS}"
    readme = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in SOURCES if p.name not in readme]
    assert not missing, f"notebooks/README.md must list every chapter, missing {missing}"
