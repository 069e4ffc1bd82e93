#!/usr/bin/env bash
# Build the octref docs from a fresh clone, offline apart from npm.
#
#   pip install -e ".[docs]"      # once: Sphinx, myst-nb, furo, katex, jupytext
#   bash docs/build.sh            # -> docs/_build/html/index.html
#
# Steps: install the pinned KaTeX (docs/package-lock.json) into
# docs/node_modules if it is missing, then run Sphinx with warnings as errors.
# Every notebook in notebooks/ is executed during the build.
# Extra arguments go to sphinx-build, e.g. `bash docs/build.sh -E` to rebuild all;
# PYTHON=.venv/bin/python picks the interpreter that has the [docs] extra.
set -euo pipefail

docs="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

for tool in node npm; do
    command -v "$tool" >/dev/null || { echo "build.sh: $tool is needed (KaTeX renders the math at build time)" >&2; exit 1; }
done

katex_version="$(node -p "require('$docs/package.json').dependencies.katex")"
installed="$(node -p "try { require('$docs/node_modules/katex/package.json').version } catch (e) { '' }")"
if [ "$installed" != "$katex_version" ]; then
    echo "build.sh: installing katex@$katex_version into docs/node_modules"
    npm ci --prefix "$docs" --no-audit --no-fund --loglevel=error
fi

"${PYTHON:-python3}" -m sphinx -W --keep-going -b html "$@" "$docs" "$docs/_build/html"

# The built site must not reach for the network: no http(s) in any
# <script src> or <link href> (hyperlinks in the text are fine).
if grep -rEoh --include='*.html' '<(script|link)[^>]*(src|href)="(https?:)?//[^"]*"' "$docs/_build/html" | sort -u | grep .; then
    echo "build.sh: the pages above load remote assets" >&2
    exit 1
fi
"${PYTHON:-python3}" "$docs/check_api.py"
echo "build.sh: docs built in $docs/_build/html (no remote assets)"
