"""The H->L formula is stated one way everywhere (issue 14, item 1).

The one statement: **the paper prints X^H at (2p+0.5+i, 2q+0.5+j); unrolling Eq. 4
gives the 2x2 block centred at (2(p+i)+0.5, 2(q+j)+0.5); the two differ for k > 1
and every implementation, octref's included, computes Eq. 4.**

This test reads the prose of README.md, docs/*.md, the notebooks (markdown cells
and comments) and the octref package (docstrings and comments) and fails on a
sentence that contradicts it. The two forms are recognised with any whitespace,
braces, ``*``, ``\\,`` ``\\;`` ``\\!`` ``\\big`` ``\\left`` ``\\right`` between their
characters (so ``2 p + 0.5 + i``, ``2q + 0.5 + j``, ``2(p + i) + 0.5``,
``2 * (q + j) + 0.5`` and their LaTeX spellings all count):

* the printed form: ``2p+0.5+i`` or ``2q+0.5+j``;
* the unrolled form: ``2(p+i)+0.5`` or ``2(q+j)+0.5``.

Text is cut into paragraphs (blank-line separated; a paragraph ending in ":" is
joined to the next, so a sentence introducing a displayed equation is read with
it), sentences (a ".", "!" or "?" followed by a space and a capital letter,
backtick or "$") and clauses (at every ";", not LaTeX's ``\\;``). Around each
form, its *context* is the clause's text on either side of it, up to the next
form or a word of contrast ("not", "never", "unlike", "rather than", "instead
of", "while", "whereas", "but", "versus"). The rules:

1. The printed form must be said to be the paper's: "print" (prints, printed),
   "paper", "Eq. 3" or "literal" in its context, or anywhere in its paragraph
   or the paragraph before it (a docstring's summary line counts).
2. The printed form must not be said to be what Eq. 4 or an implementation
   computes: no "Eq. 4" or "unroll", and no "octref", "the loops", "im2col",
   "rowshift" or "implementation(s)" followed by "compute", "implement" or
   "evaluate", in its context. (``high_to_low_literal computes ...`` is fine:
   that function exists to compute the printed form.)
3. The unrolled form must not be attributed to the paper's print: no "print",
   "paper" or "literal" in its context (say "Eq. 4", "unrolling Eq. 4",
   "octref's loops", "the official code").

So "the paper prints 2p+0.5+i; unrolling Eq. 4 gives 2(p+i)+0.5" and "Eq. 4
reads 2(p+i)+0.5, not the printed 2p+0.5+i" pass, while "the paper's Eq. 3:
... 2(p+i)+0.5" and "octref computes 2p+0.5+i" fail.

Code itself (string literals such as figure titles) is not read.
"""

import ast
import io
import re
import tokenize
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]

_NOISE = r"(?:\s|[{}*]|\\[,;!]|\\(?:big|Big|left|right)\b)*"


def _form(*spellings):
    """A regex for spellings such as "2p+0.5+i", allowing _NOISE between characters."""
    return re.compile("|".join(_NOISE.join(re.escape(ch) for ch in text) for text in spellings))


PRINTED = _form("2p+0.5+i", "2q+0.5+j")
UNROLLED = _form("2(p+i)+0.5", "2(q+j)+0.5")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`$])")
_CONTRAST = re.compile(r"\b(?:not|never|unlike|rather than|instead of|while|whereas|but|versus)\b",
                       re.IGNORECASE)
_NAMES_OWNER = re.compile(r"print|paper|eq\.\s*3|literal", re.IGNORECASE)
_CLAIMS_COMPUTED = re.compile(
    r"eq\.\s*4|unroll|\b(octref|the loops|im2col|rowshift|implementations?)\s+"
    r"(also\s+)?(comput|implement|evaluat)", re.IGNORECASE)
_ATTRIBUTES_TO_PRINT = re.compile(r"print|paper|literal", re.IGNORECASE)


def _paragraphs(text):
    """Blank-line separated paragraphs; one ending in ":" is joined to the next."""
    joined = []
    for paragraph in (p.strip() for p in re.split(r"\n\s*\n", text)):
        if not paragraph:
            continue
        if joined and joined[-1].rstrip().endswith(":"):
            joined[-1] += "\n" + paragraph
        else:
            joined.append(paragraph)
    return joined


def _clauses(paragraph):
    for sentence in _SENTENCE_END.split(paragraph):
        # A ";" ends a clause; LaTeX's thin space "\;" does not.
        yield from (part for part in re.split(r"(?<!\\);", sentence) if part.strip())


def _contexts(clause):
    """(kind, before, after) for each form in the clause, cut at the next form or contrast."""
    found = sorted([(m.start(), m.end(), "printed") for m in PRINTED.finditer(clause)]
                   + [(m.start(), m.end(), "unrolled") for m in UNROLLED.finditer(clause)])
    for k, (start, end, kind) in enumerate(found):
        before = clause[found[k - 1][1] if k else 0:start]
        after = clause[end:found[k + 1][0] if k + 1 < len(found) else len(clause)]
        before = _CONTRAST.split(before)[-1]
        after = _CONTRAST.split(after)[0]
        yield kind, before, after


def problems(text):
    """Each form in ``text`` used against the rules, with the rule it breaks."""
    found = []
    paragraphs = _paragraphs(text)
    for index, paragraph in enumerate(paragraphs):
        nearby = paragraph + "\n" + (paragraphs[index - 1] if index else "")
        for clause in _clauses(paragraph):
            words = " ".join(clause.split())
            for kind, before, after in _contexts(clause):
                context = before + " " + after
                if kind == "printed":
                    if not (_NAMES_OWNER.search(context) or _NAMES_OWNER.search(nearby)):
                        found.append(f"printed form not called the paper's print: {words!r}")
                    if _CLAIMS_COMPUTED.search(context):
                        found.append(f"printed form said to be what is computed: {words!r}")
                elif _ATTRIBUTES_TO_PRINT.search(context):
                    found.append(f"unrolled (Eq. 4) form called the paper's print: {words!r}")
    return found


def _python_prose(source):
    """Docstrings and comments of a Python module, one paragraph each."""
    parts = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc:
                parts.append(doc)
    comments = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments.append(token.string.lstrip("#").strip())
        elif token.type == tokenize.NL and comments and comments[-1] != "":
            comments.append("")
    parts.append("\n".join(comments))
    return "\n\n".join(parts)


def _notebook_prose(path):
    cells = jupytext.read(path).cells
    parts = []
    for cell in cells:
        if cell.cell_type == "markdown":
            parts.append(cell.source)
        else:
            parts.append(_python_prose(cell.source) if _parses(cell.source) else "")
    return "\n\n".join(parts)


def _parses(source):
    try:
        ast.parse(source)
    except SyntaxError:  # a cell with IPython magics only
        return False
    return True


def _sources():
    yield ROOT / "README.md", (ROOT / "README.md").read_text(encoding="utf-8")
    for path in sorted((ROOT / "docs").glob("*.md")):
        yield path, path.read_text(encoding="utf-8")
    for path in sorted((ROOT / "notebooks").glob("[!_.]*.py")):
        yield path, _notebook_prose(path)
    for path in sorted((ROOT / "notebooks").glob("*.md")):
        yield path, path.read_text(encoding="utf-8")
    for path in sorted((ROOT / "octref").rglob("*.py")):
        yield path, _python_prose(path.read_text(encoding="utf-8"))


SOURCES = list(_sources())


@pytest.mark.parametrize("path,text", SOURCES, ids=[str(p.relative_to(ROOT)) for p, _ in SOURCES])
def test_no_contradicting_statement(path, text):
    found = problems(text)
    assert not found, f"{path.relative_to(ROOT)}:\n  " + "\n  ".join(found)


@pytest.mark.parametrize("name", ["README.md", "docs/math.md", "notebooks/02_octconv_by_hand.py"])
def test_the_statement_is_made(name):
    """The places that teach the formula state both forms and that they differ for k > 1."""
    path = ROOT / name
    text = _notebook_prose(path) if path.suffix == ".py" else path.read_text(encoding="utf-8")
    assert PRINTED.search(text) and UNROLLED.search(text), f"{name} must state both forms"
    assert re.search(r"k\s*>\s*1", text), f"{name} must say the two differ for k > 1"


@pytest.mark.parametrize("text", [
    # the examples of contradicting statements
    "This is the paper's Eq. 3:\n\n$$ X^H_{2(p+i)+0.5,\\; 2(q+j)+0.5} $$",
    "Unrolling f, up and pool gives the per-pixel form: $X^H_{(2p + 0.5 + i, 2q + 0.5 + j)}$.",
    "octref computes X^H at 2p + 0.5 + i, as the paper prints.",
    "The H->L sum reads X^H at 2p + 0.5 + i.",
    "Octave convolution, pixel by pixel.\n\nThe paper's formula: X^H(2(p + i) + 0.5).",
])
def test_contradictions_are_caught(text):
    assert problems(text)


@pytest.mark.parametrize("text", [
    "The paper prints X^H at (2p+0.5+i, 2q+0.5+j); unrolling Eq. 4 gives the 2x2 block "
    "centred at (2(p+i)+0.5, 2(q+j)+0.5); the two differ for k > 1 and every "
    "implementation, octref's included, computes Eq. 4.",
    "Eq. 3 read literally, $X^H_{(2p+0.5+i,\\,2q+0.5+j)}$, applies the offset on the high grid.",
    "`octref.loops.high_to_low_literal` computes the printed form 2p + 0.5 + i.",
    "Low pixel (p, q) sums the block means at $(2(p+i)+0.5,\\, 2(q+j)+0.5)$.",
    "Eq. 4 reads 2(p+i)+0.5 while the paper prints 2p+0.5+i.",
    "The 2x2 block of X^H centred at (2(p + i) + 0.5, 2(q + j) + 0.5): the offset i steps "
    "one *low* pixel, as in Eq. 4 (not the printed 2p + 0.5 + i, see high_to_low_literal).",
    "The H->L term of Eq. 3 as printed.\n\n``X^H(2p + 0.5 + i, 2q + 0.5 + j)``, the mean "
    "of the block centred there. Eq. 4 (f(pool(X^H); W^HL)), which every implementation "
    "computes, centres the block at (2(p + i) + 0.5, 2(q + j) + 0.5) instead.",
])
def test_the_allowed_phrasing_passes(text):
    assert not problems(text)
