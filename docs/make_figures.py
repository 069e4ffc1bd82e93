"""Redraw the figures the README and the docs front pages show: ``python docs/make_figures.py``.

Writes to ``docs/_static/figures/``: ``octave_layer.png`` (the layer drawn by
:func:`octref.viz.plot_octave_layer`) and three of the tour's figures,
``misalignment.png``, ``receptive_field.png`` and ``cost.png``, taken from a
run of ``octref tour`` on the bundled image with its defaults. The PNGs are
committed so that the README shows them on a code host too; they are
palette-quantised to keep each under about 100 kB. Run this after changing
a figure or the numbers it shows, and commit the result.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
OUT = HERE / "_static" / "figures"
TOUR_FIGURES = ("misalignment.png", "receptive_field.png", "cost.png")


def _save_small(source, target):
    """Save ``source`` as a 256-colour PNG: plots have few colours, and text stays sharp."""
    with Image.open(source) as image:
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
            target, optimize=True)


def main():
    import matplotlib

    matplotlib.use("Agg")
    from octref import viz

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        viz.plot_octave_layer(64, 64, 3, 0.5, 0.5, 56, 56).savefig(tmp / "octave_layer.png",
                                                                   dpi=100)
        _save_small(tmp / "octave_layer.png", OUT / "octave_layer.png")
        subprocess.run([sys.executable, "-m", "octref", "tour", "--out", str(tmp / "tour")],
                       check=True, stdout=subprocess.DEVNULL)
        for name in TOUR_FIGURES:
            _save_small(tmp / "tour" / name, OUT / name)
    for path in sorted(OUT.glob("*.png")):
        print(f"{path.relative_to(HERE.parent)}: {path.stat().st_size // 1024} kB")


if __name__ == "__main__":
    main()
