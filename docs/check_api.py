"""After the build: every public name of every octref module is in the API reference.

Run by build.sh. A public name is one listed in a module's ``__all__``; autodoc
gives each documented object an HTML anchor ``id="octref.module.name"``.
"""

import importlib
import pkgutil
import re
import sys
from pathlib import Path

import octref

html = (Path(__file__).parent / "_build" / "html" / "api.html").read_text(encoding="utf-8")
missing = []
for info in pkgutil.iter_modules(octref.__path__):
    if info.name.startswith("_"):
        continue
    module = importlib.import_module(f"octref.{info.name}")
    for name in getattr(module, "__all__", []):
        if f'id="octref.{info.name}.{name}"' not in html:
            missing.append(f"octref.{info.name}.{name}")
if missing:
    sys.exit("check_api.py: not in the API reference: " + ", ".join(missing))
print(f"check_api.py: every public name of {len(list(pkgutil.iter_modules(octref.__path__)))} "
      "modules is in the API reference")

# The page must also read right, not only contain every name:
# * a shape such as (N, C_H, H, W) must not link its letters to objects (a fuzzy
#   cross-reference once sent all 34 "H" to octref.gradcheck.H);
# * no reStructuredText may leak into the text: double backticks shown literally
#   come from prose napoleon misread as a parameter entry (see conf.py).
article = html[html.index("<article"):html.index("</article>")]  # not the page's contents list
letter_links = re.findall(
    r'<a class="reference internal" href="#([\w.]+)"[^>]*>(?:<[^>]+>)*([A-Za-z]|[CHWN]_\w+)'
    r'(?:</[^>]+>)*</a>', article)
if letter_links:
    sys.exit("check_api.py: shape symbols linked to objects: "
             + ", ".join(sorted({f"{text} -> {target}" for target, text in letter_links})))
text = re.sub(r"<[^>]+>", "", article)
if "``" in text:
    where = text.index("``")
    sys.exit("check_api.py: literal double backticks on the API page: "
             f"...{text[where - 80:where + 40]!r}")
print("check_api.py: no shape symbol linked, no reStructuredText shown literally")
