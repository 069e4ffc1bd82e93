"""Every figure prints the right numbers: each is read back from the figure's text."""

import re
import subprocess
import sys

import matplotlib.text
import numpy as np
import pytest
from matplotlib.figure import Figure

from octref import cost, findings, frequency, misalignment, viz
from octref.data import load_image
from tests.hostile_images import HOSTILE


@pytest.fixture(scope="module")
def photo():
    return load_image(max_side=128)  # 75 x 64


def shown_text(fig):
    """All text on a figure: titles, labels, legends, annotations and table cells."""
    texts = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
    for ax in fig.axes:
        for table in ax.tables:
            texts += [cell.get_text().get_text() for cell in table.get_celld().values()]
    return "\n".join(texts)


def percents(pattern, text):
    return [float(v) / 100 for v in re.findall(pattern, text)]


def test_frequency_figure(photo):
    fig = viz.plot_frequency_decomposition(photo, levels=3)
    assert isinstance(fig, Figure)
    text = shown_text(fig)
    low, high = frequency.octave_split(photo)
    shown = re.search(r"up\(pool\(X\)\) ([\d.]+)%, X − up\(pool\(X\)\) ([\d.]+)%", text)
    shown_low, shown_high = float(shown[1]) / 100, float(shown[2]) / 100
    assert shown_low == pytest.approx(frequency.energy_fraction_below(low), abs=5e-4)
    assert shown_high == pytest.approx(frequency.energy_fraction_below(high), abs=5e-4)
    assert shown_low > 0.9 and shown_high < 0.3  # the figure's claim
    # Per component: share of var(X) and share of its energy inside the circle.
    bands = frequency.octave_bands(photo, 3)
    variance = ((photo - photo.mean()) ** 2).sum()
    shares = percents(r"([\d.]+)% of var\(X\)", text)
    inside = percents(r"([\d.]+)% of its\nenergy", text)
    assert len(shares) == len(inside) == 4
    for band, share, below in zip(bands, shares, inside):
        assert share == pytest.approx(((band - band.mean()) ** 2).sum() / variance, abs=5e-4)
        assert below == pytest.approx(frequency.energy_fraction_below(band), abs=5e-4)
    error = float(re.search(r"max \|Σ components − X\| = ([\d.e+-]+)", text)[1])
    assert error < 1e-14
    # The headline's components are all plotted, and X's own share is beside them.
    labels = [line.get_label() for line in fig.axes[-1].get_lines()]
    assert "up(pool(X)), the low part" in labels and "X" in labels
    own = float(re.search(r"X itself ([\d.]+)%", text)[1]) / 100
    assert own == pytest.approx(frequency.energy_fraction_below(photo), abs=5e-4)
    parts = frequency.high_part_below_nyquist(photo)
    shown = re.search(r"([\d.-]+)% is the image's own content let through .* ([\d.-]+)% is "
                      r"aliased from above 0.25, ([\d.-]+)% their overlap", text)
    np.testing.assert_allclose([float(v) / 100 for v in shown.groups()],
                               [parts.passed, parts.aliased, parts.cross], atol=5e-4)


def test_frequency_figure_refuses_a_uniform_image():
    with pytest.raises(ValueError, match="image must not be uniform"):
        viz.plot_frequency_decomposition(np.full((32, 32), 0.5))


@pytest.mark.parametrize("alpha, c_low", [(0.0, 0), (0.5, 3), (1.0, 6)])
def test_feature_map_figure(photo, alpha, c_low):
    text = shown_text(viz.plot_feature_maps(photo, alpha))
    names, maps = frequency.filter_responses(photo)
    lost = frequency.high_energy_fraction(maps)
    shown = percents(r"high part: ([\d.]+)% of var", text)
    np.testing.assert_allclose(shown, lost, atol=5e-4)
    # The split is by position, the last floor(alpha C) channels low, whatever they hold:
    # the figure no longer says the maps that lose least "go to the low group".
    groups = re.findall(r"channel (\d) → \$X\^(H|L)\$", text)
    assert groups == [(str(c + 1), "L" if c >= 6 - c_low else "H") for c in range(6)]
    assert "lose least" not in text and "does not pick which maps go low" in text
    assert "the split is fixed" in text and "training adapts" in text


def test_sampling_grid_figure():
    fig = viz.plot_sampling_grids(size=6)
    points = {c.get_label(): c.get_offsets() for ax in fig.axes for c in ax.collections}
    pooled = points["pooled sample (2p + 0.5, 2q + 0.5)"]
    strided = points["strided sample (2p, 2q)"]
    # Offsets are (x, y) = (column, row).
    assert sorted(set(pooled[:, 0])) == sorted(set(pooled[:, 1])) == [0.5, 2.5, 4.5]
    assert sorted(set(strided[:, 0])) == sorted(set(strided[:, 1])) == [0, 2, 4]
    text = shown_text(fig)
    assert "offset (−0.5, −0.5)" in text
    # The two sign conventions, explained where each appears.
    assert "opposite signs" in text and "(+0.5, +0.5) px" in text


def test_misalignment_figure(photo):
    text = shown_text(viz.plot_misalignment(photo))
    assert "2×2 average pool: phase average (+0.00, +0.00)" in text
    assert "stride-2 conv: phase average (+0.50, +0.50)" in text
    # The table: impulse, edge and image rows, pool then strided.
    cells = re.findall(r"\(([+-][\d.]+), ([+-][\d.]+)\)", text)
    table = [(float(r), float(c)) for r, c in cells if len(r) == 6]  # 3 decimals
    assert table.count((0.0, 0.0)) == 3 and table.count((0.5, 0.5)) == 3
    # The edge panels: inside a block the strided edge moves a pixel, else nothing.
    assert re.findall(r"edge moves ([+-][\d.]+) px", text) == ["+0.00", "+1.00", "+0.00", "+0.00"]
    spread = float(re.search(r"off by up to ([\d.]+) px", text)[1])
    strided = misalignment.image_shifts(photo, "strided")
    assert spread == pytest.approx(np.abs(strided.shifts - 0.5).max(), abs=0.005)


@pytest.mark.parametrize("k", [3, 5])
def test_receptive_field_figure(k):
    text = shown_text(viz.plot_receptive_fields(kernel_size=k, size=8 * k))
    widths = [int(w) for w in re.findall(r"support (\d+) × \1 px", text)]
    assert widths == [k, 2 * k, 2 * k - 1, 2 * (2 * k - 1)]


def test_no_pyplot_and_a_matplotlib_free_core():
    # viz builds Figures directly; the numerical modules never import matplotlib.
    code = ("import sys\n"
            "import octref.frequency, octref.misalignment, octref.receptive_field, octref.data\n"
            "import octref.findings\n"
            "assert 'matplotlib' not in sys.modules, 'numerics imported matplotlib'\n"
            "import octref.viz, octref.cli\n"
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


HALF_LAST_DIGIT = 5e-6 + 1e-12  # the cost table prints 5 decimals


@pytest.mark.parametrize("alpha", [None, 0.3])
def test_cost_figure(alpha):
    fig = viz.plot_cost(alpha)
    table = next(t for ax in fig.axes for t in ax.tables)
    cells = {key: cell.get_text().get_text() for key, cell in table.get_celld().items()}
    rows = [[cells[r, c] for c in range(7)] for r in range(1, 1 + max(r for r, _ in cells))]
    alphas = [float(row[0].split()[0]) for row in rows]
    expected = sorted(set(cost.TABLE1_ALPHAS) | ({alpha} if alpha is not None else set()))
    assert alphas == expected
    for a, row in zip(alphas, rows):
        flops_counted, flops_theory, memory_counted, memory_theory = map(float, row[1:3] + row[4:6])
        # Theory columns are Table 1's formulas (printed to 5 decimals) ...
        assert flops_theory == pytest.approx(1 - 0.75 * a * (2 - a), abs=HALF_LAST_DIGIT)
        assert memory_theory == pytest.approx(1 - 0.75 * a, abs=HALF_LAST_DIGIT)
        if a in cost.TABLE1_ALPHAS:
            # ... and the counts on 64 channels at 56 x 56 equal them exactly ...
            assert flops_counted == flops_theory and memory_counted == memory_theory
            # ... and round to the paper's whole percents (but memory at 0.875, a misprint).
            assert row[3] == f"{round(100 * flops_theory + 1e-9)}%"
            if a != 0.875:
                assert row[6] == f"{round(100 * memory_theory + 1e-9)}%"
        else:
            # floor(0.3 * 64) = 19 low channels: the counts are those of alpha = 19/64.
            low = 19 / 64
            assert flops_counted == pytest.approx(1 - 0.75 * low * (2 - low), abs=HALF_LAST_DIGIT)
            assert memory_counted == pytest.approx(1 - 0.75 * low, abs=HALF_LAST_DIGIT)
            assert "(chosen)" in row[0]
    if alpha is not None:
        assert f"α = {alpha:g}: counted 0.6208" in shown_text(fig)


def test_figures_draw_given_findings(photo):
    # A figure given findings prints exactly what it prints when it measures itself.
    pairs = [(viz.plot_frequency_decomposition, findings.measure_frequency(photo), (photo,)),
             (viz.plot_feature_maps, findings.measure_feature_maps(photo, 0.5), (photo, 0.5)),
             (viz.plot_misalignment, findings.measure_misalignment(photo), (photo,)),
             (viz.plot_receptive_fields, findings.measure_receptive_fields(), ()),
             (viz.plot_cost, findings.measure_cost(0.5), (0.5,))]
    for plot, found, args in pairs:
        assert shown_text(plot(found)) == shown_text(plot(*args)), plot.__name__


@pytest.mark.parametrize("name, cell, why", [
    ("checkerboard", "undefined", "no content survives"),
    ("half", "(undefined, +0.500)", "a row shift cannot be seen"),
])
def test_misalignment_figure_says_what_is_undefined(name, cell, why):
    text = shown_text(viz.plot_misalignment(HOSTILE[name](32)))
    assert cell in text and why in text
    assert "off by up to" not in text


def test_misalignment_figure_frames_every_marker():
    # Single phases of a texture land far from the mean; none is left outside the frame.
    found = findings.measure_misalignment(HOSTILE["grating"](64))
    ax = viz.plot_misalignment(found).axes[0]
    shifts = np.concatenate([r.shifts for r in found.image.values()])
    shifts = shifts[np.isfinite(shifts).all(axis=1)]
    low, high = ax.get_xlim()
    assert (shifts >= low).all() and (shifts <= high).all()
