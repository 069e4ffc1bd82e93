"""After the build: every public name of every octref module is in the API reference.

Run by build.sh. A public name is one listed in a module's ``__all__``; autodoc
gives each documented object an HTML anchor ``id="octref.module.name"``.
"""

import importlib
import pkgutil
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
