"""Every notebook in notebooks/ runs, top to bottom, with its exercises solved.

The notebooks are jupytext percent-format ``.py`` files (reviewable diffs, no
outputs in git). Each is read with jupytext, its exercise cells are replaced by
the solutions in ``notebooks/solutions.md`` (see ``notebooks/_exercises.py``),
and it is executed in a fresh ``python3`` kernel by nbclient with the working
directory ``notebooks/``. The test fails on the first cell that raises, an
``assert`` included (the chapters assert every claim they make, and every
exercise's check cell asserts the solution), and on any exercise left
unanswered.
"""

import importlib.util
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
# Every chapter asks the reader to predict, then check, at least this often.
MIN_EXERCISES = 3


def _load_exercises():
    spec = importlib.util.spec_from_file_location("_exercises", NOTEBOOKS / "_exercises.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


exercises = _load_exercises()


def _outputs_text(notebook):
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            text = output.get("text")
            if text is None:
                text = output.get("data", {}).get("text/plain", "")
            parts.append(text if isinstance(text, str) else "".join(text))
    return "\n".join(parts)


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebook_runs(path, monkeypatch):
    # The kernel inherits this process's environment: a non-interactive
    # matplotlib backend, and octref importable even without an install.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    notebook = jupytext.read(path)
    exercises.with_solutions(notebook, exercises.read_solutions())
    client = nbclient.NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    printed = _outputs_text(notebook)
    assert "not answered yet" not in printed, \
        f"{path.name}: a solution in solutions.md does not set `answer`"


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


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebook_exercises(path):
    """At least three exercises, each followed by its check, each with a solution."""
    notebook = jupytext.read(path)
    cells = exercises.exercise_cells(notebook)
    assert len(cells) >= MIN_EXERCISES, \
        f"{path.name} has {len(cells)} exercises, a chapter needs at least {MIN_EXERCISES}"
    chapter = str(int(path.name.split("_", 1)[0]))
    solutions = exercises.read_solutions()
    for name, cell in cells.items():
        assert name.split(".")[0] == chapter, \
            f"{path.name}: exercise {name} is numbered for another chapter"
        assert "answer = ..." in cell.source, \
            f"{path.name}: exercise {name}'s cell must leave `answer = ...` for the reader"
        assert name in solutions, f"exercise {name} has no solution in notebooks/solutions.md"
        index = notebook.cells.index(cell)
        following = notebook.cells[index + 1] if index + 1 < len(notebook.cells) else None
        checks = following is not None and following.cell_type == "code" and \
            f'"{name}"' in following.source and \
            ("check(" in following.source or "answered(" in following.source)
        assert checks, f"{path.name}: exercise {name} must be followed by its check cell"


def test_every_solution_belongs_to_an_exercise():
    marked = set()
    for path in SOURCES:
        marked |= set(exercises.exercise_cells(jupytext.read(path)))
    stale = sorted(set(exercises.read_solutions()) - marked)
    assert not stale, f"solutions.md solves exercises no notebook asks: {stale}"


def test_check_accepts_right_refuses_wrong_and_hints_when_unanswered(capsys):
    assert exercises.check("0.1", (2, 3), (2, 3)) is True
    assert exercises.check("0.1", "floor", "floor") is True
    with pytest.raises(AssertionError, match="Exercise 0.1"):
        exercises.check("0.1", 6.5, 6)
    with pytest.raises(AssertionError):
        exercises.check("0.1", [[1, 2]], [1, 2])  # right values, wrong shape
    with pytest.raises(AssertionError):
        exercises.check("0.1", "ceil", "floor")
    assert exercises.check("0.1", ..., 6) is False
    assert "not answered yet" in capsys.readouterr().out


def test_with_solutions_refuses_an_exercise_without_solution():
    notebook = jupytext.reads('# %% exercise="9.9"\nanswer = ...\n', fmt="py:percent")
    with pytest.raises(ValueError, match="9.9"):
        exercises.with_solutions(notebook, {})
    assert exercises.with_solutions(notebook, {"9.9": "answer = 1"}) == ["9.9"]
    assert notebook.cells[0].source == "answer = 1"


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
