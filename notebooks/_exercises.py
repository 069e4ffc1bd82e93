"""Exercises in the notebooks: the self-check helpers and the solutions' one home.

How an exercise looks in a chapter (jupytext percent format)::

    # %% [markdown]
    # **Exercise 2.1 (predict).** What is ... ? Write your answer, then run the check.

    # %% exercise="2.1"
    answer = ...  # your prediction

    # %%
    check("2.1", answer, expected=y_low[0, 0])

* The exercise cell carries the metadata ``exercise="<chapter>.<n>"`` and holds only
  what the reader replaces: ``answer = ...`` lines (a number, an array, a string, or a
  function the reader writes). Nothing after it may depend on the answer.
* The check cell right after it computes the truth with octref and calls :func:`check`
  (compare with an expected value) or :func:`answered` (then asserts its own claims).
  An answer left as ``...`` prints a hint and raises nothing, so "Run all" still reads
  the whole chapter; a wrong answer raises ``AssertionError``.
* The solutions live in ``notebooks/solutions.md`` only: one ``## Exercise <id>: ...``
  section per exercise whose first ``python`` code block replaces the exercise cell.
  The docs render that page; ``tests/test_notebooks.py`` puts every solution into its
  cell (:func:`with_solutions`) and executes the chapters, so the checks run in CI
  against the published solutions and a stale solution fails the suite.

This file starts with ``_``, so it is not a chapter: neither the tests nor the docs
treat it as a notebook. The chapters import it from their own folder.
"""

import re
from pathlib import Path

import numpy as np

SOLUTIONS = Path(__file__).resolve().parent / "solutions.md"
_HINT = ("Exercise {name}: not answered yet. Replace the `...` in the cell above with "
         "your answer and run both cells again (solutions: notebooks/solutions.md).")


def answered(name, answer):
    """Return False (and print a hint) if ``answer`` is still ``...``, else True."""
    if answer is Ellipsis:
        print(_HINT.format(name=name))
        return False
    return True


def check(name, answer, expected, *, rtol=1e-9, atol=1e-12):
    """Assert that the reader's ``answer`` equals ``expected``.

    Numbers, tuples and arrays are compared by shape and value (``np.allclose``
    with the given tolerances); anything else (strings, for instance) by ``==``.
    An answer still equal to ``...`` prints a hint instead of failing. Returns
    True when the answer was checked and right.
    """
    if not answered(name, answer):
        return False
    if isinstance(expected, str) or isinstance(answer, str):
        right = answer == expected
    else:
        try:
            got, want = np.asarray(answer, dtype=float), np.asarray(expected, dtype=float)
        except (TypeError, ValueError):
            right = answer == expected
        else:
            right = got.shape == want.shape and np.allclose(got, want, rtol=rtol, atol=atol)
    assert right, f"Exercise {name}: {answer!r} is not it. Have another look, then run both cells again."
    print(f"Exercise {name}: right.")
    return True


def read_solutions(path=SOLUTIONS):
    """Map each exercise id to the code of its solution, read from ``solutions.md``.

    A section starts at a heading ``## Exercise <id>: <title>``; its solution is
    the first fenced ``python`` block in it. Raises ValueError for a section
    without one or an id given twice.
    """
    text = Path(path).read_text(encoding="utf-8")
    heading = re.compile(r"^#{2,4} Exercise (\d+\.\d+)\b.*$", re.MULTILINE)
    block = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
    marks = list(heading.finditer(text))
    solutions = {}
    for mark, after in zip(marks, marks[1:] + [None]):
        section = text[mark.end():after.start() if after else len(text)]
        code = block.search(section)
        name = mark.group(1)
        if code is None:
            raise ValueError(f"{path}: exercise {name} has no ```python block")
        if name in solutions:
            raise ValueError(f"{path}: exercise {name} appears twice")
        solutions[name] = code.group(1).rstrip("\n")
    return solutions


def exercise_cells(notebook):
    """The cells of a jupytext/nbformat notebook marked ``exercise="<id>"``, by id."""
    cells = {}
    for cell in notebook.cells:
        name = cell.metadata.get("exercise")
        if name is None:
            continue
        if name in cells:
            raise ValueError(f"exercise {name} is marked on two cells")
        cells[name] = cell
    return cells


def with_solutions(notebook, solutions):
    """Replace every exercise cell's source by its solution, in place; return the ids.

    Raises ValueError for an exercise cell without a solution, so a new exercise
    cannot slip into the notebooks untested.
    """
    cells = exercise_cells(notebook)
    missing = sorted(set(cells) - set(solutions))
    if missing:
        raise ValueError(f"no solution in solutions.md for exercise(s) {missing}")
    for name, cell in cells.items():
        cell.source = solutions[name]
    return sorted(cells)
