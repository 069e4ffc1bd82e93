"""The implementations every contract test runs on: one list, taken from the package.

``octref.layer.IMPLEMENTATIONS`` names them (the package default first); the
loops (Eq. 3) are the reference the others are compared with, and every one
of them, the loops included, is compared with the scipy oracle.
"""

import importlib

from octref.layer import IMPLEMENTATIONS

IMPLS = [importlib.import_module(f"octref.{name}") for name in IMPLEMENTATIONS]
LOOPS = importlib.import_module("octref.loops")
#: The implementations checked against the loops.
FAST = [impl for impl in IMPLS if impl is not LOOPS]


def ids(impls):
    return [impl.__name__.rsplit(".", 1)[1] for impl in impls]
