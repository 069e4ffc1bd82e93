"""Figures: the octave split, the misalignment of strided sampling, receptive fields, cost.

The only module of octref that imports Matplotlib. Every function builds a
:class:`matplotlib.figure.Figure` directly, never through ``pyplot``, so no
global state is touched and nothing needs a display; save one with
``fig.savefig("name.png")``. A figure computes no number itself: it draws
the findings of :mod:`octref.findings` (each figure function takes them, or
computes them from an image for convenience), and writes them with the same
text helpers as the tour's report.

Coordinates in every image panel: row down, column right, pixel centres at
integers, as ``array[row, col]``.
"""

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, Rectangle

from octref import cost, findings, frequency, misalignment
from octref.octave import octave_weight_shapes

__all__ = ["plot_frequency_decomposition", "plot_feature_maps", "plot_sampling_grids",
           "plot_misalignment", "plot_receptive_fields", "plot_cost", "octave_layer_shapes",
           "plot_octave_layer"]

# One colour per downsampling variant, used by every misalignment panel.
VARIANT_COLOURS = {"avgpool": "tab:blue", "strided": "tab:orange"}
VARIANT_NAMES = {"avgpool": "2×2 average pool", "strided": "stride-2 conv"}


def _image(ax, image, *, title=None, cmap="gray", vmin=None, vmax=None):
    """Show an (H, W) array with square pixels and no ticks."""
    shown = ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=9)
    return shown


# --------------------------------------------------------------------------- frequency

def plot_frequency_decomposition(image, levels=findings.LEVELS):
    """The octave bands of an image, their spectra, and where their energy lies.

    ``X = band_0 + band_1 + ... + residual`` (:func:`octref.frequency.octave_bands`):
    band_0 = X - up(pool(X)) is what only the full-resolution group can hold;
    everything else sums to up(pool(X)), what the low group holds. Each
    component is shown above its centred log-power spectrum, with the
    half-resolution Nyquist circle ``|f| = 0.25`` cycles/pixel; the bottom panel
    plots the spectral density per ring of radial frequency, of X, of each
    component and of the low part up(pool(X)). Bands are shown on a grey
    scale centred on their mean and clipped at the 99.5th percentile of their
    deviation from it.

    Printed numbers (all from :func:`octref.findings.measure_frequency`): per
    component, its share of the variance of X and the share of its own
    spectral energy below 0.25 cycles/pixel; the same share for X itself, the
    low part and the high part, and where the high part's share comes from
    (:func:`octref.frequency.high_part_below_nyquist`); the reconstruction
    error ``max |sum of components - X|``.

    Parameters
    ----------
    image : ndarray of shape (H, W), or octref.findings.Frequency
        Grayscale, e.g. :func:`octref.data.load_image`, not uniform; or the
        findings of :func:`octref.findings.measure_frequency` to draw.
    levels : int
        Number of octave bands (the residual comes on top); ignored when
        findings are given.

    Returns
    -------
    matplotlib.figure.Figure
    """
    found = image if isinstance(image, findings.Frequency) else \
        findings.measure_frequency(image, levels)
    if found.note:
        # Shares of var(X) and a log-scaled spectrum mean nothing for a flat image.
        raise ValueError("image must not be uniform: it has no frequencies to split")
    image, components, levels = found.image, found.components, len(found.names) - 1
    names = (["X − up(pool(X))\nband 0, the finest octave"]
             + [f"band {level}" for level in range(1, levels)]
             + [f"residual: up{_superscript(levels)}(pool{_superscript(levels)}(X))"])

    columns = levels + 2
    fig = Figure(figsize=(2.6 * columns, 10.4), layout="constrained")
    grid = fig.add_gridspec(3, columns, height_ratios=[1.15, 1.0, 1.25])
    fig.suptitle("Octave decomposition of an image: X = (X − up(pool(X))) + up(pool(X)), "
                 "repeated on pool(X)\n"
                 f"the components sum back to X: max |Σ components − X| = "
                 f"{found.reconstruction_error:.1e}", fontsize=11)

    top = np.log10(max(s.max() for s in found.spectra))
    extent = _spectrum_extent(image.shape)
    for column, (component, spectrum) in enumerate(zip((image,) + components, found.spectra)):
        ax = fig.add_subplot(grid[0, column])
        if column == 0:
            _image(ax, component,
                   title=f"X, the input\n{image.shape[0]} × {image.shape[1]} px (H × W)\n"
                         f"{findings.percent(found.image_below)} inside the circle")
        else:
            # Grey scale: +-(99.5th percentile of |component - mean|), so that a
            # few strong edges do not leave the rest of a band flat grey.
            centre = component.mean()
            limit = np.percentile(np.abs(component - centre), 99.5) or 1.0
            _image(ax, component, vmin=centre - limit, vmax=centre + limit,
                   title=f"{names[column - 1]}\n"
                         f"{findings.percent(found.variance_shares[column - 1])} of var(X), "
                         f"{findings.percent(found.below[column - 1])} of its\n"
                         "energy inside the circle below")
        ax = fig.add_subplot(grid[1, column])
        shown = ax.imshow(np.log10(spectrum + 1e-300), cmap="magma", vmin=top - 7, vmax=top,
                          extent=extent, interpolation="nearest")
        ax.add_patch(Circle((0, 0), frequency.HALF_RES_NYQUIST, fill=False, ls="--",
                            lw=1.0, color="cyan"))
        ax.set_xlabel("column frequency (cycles/px)", fontsize=8)
        if column == 0:
            ax.set_ylabel("row frequency (cycles/px)", fontsize=8)
        ax.tick_params(labelsize=7)
        if column == 0:
            ax.set_title("log₁₀ power spectrum; circle |f| = 0.25", fontsize=9)
    fig.colorbar(shown, ax=fig.axes[-1], label="log₁₀ power", shrink=0.9)

    ax = fig.add_subplot(grid[2, :])
    curves = [("X", "X", {"lw": 2.2, "color": "black"})]
    curves += [(name, label.split("\n")[-1] if column else "X − up(pool(X)), band 0",
                {"lw": 1.6}) for column, (name, label) in enumerate(zip(found.names, names))]
    curves += [("low", "up(pool(X)), the low part", {"lw": 1.8, "color": "gray", "ls": "--"})]
    for key, label, style in curves:
        edges, density = found.profiles[key]
        ax.semilogy(0.5 * (edges[:-1] + edges[1:]), density, label=label, **style)
    for level in range(1, levels + 1):
        nyquist = 0.5 / 2 ** level
        ax.axvline(nyquist, color="gray", ls=":", lw=1)
        ax.text(nyquist, 0.04, f" 1/{2 ** level} res.", fontsize=9, color="dimgray",
                ha="left", va="bottom", transform=ax.get_xaxis_transform())
    # Bands of a nearest-upsampled map have exact spectral zeros; show four
    # decades below the image's own weakest ring and let those dive off the axis.
    density_x = found.profiles["X"][1]
    positive = density_x[density_x > 0]
    ax.set_ylim(positive.min() / 1e4, positive.max() * 3)
    ax.set_xlim(0, np.sqrt(0.5))
    ax.set_xlabel("radial frequency |f| (cycles per pixel); dotted: the Nyquist frequency "
                  "0.5 / 2ˡ of the grid at 1/2ˡ resolution")
    ax.set_ylabel("mean power per frequency")
    parts = found.high_parts
    ax.set_title("Radial energy profile. Energy below 0.25 cycles/px (the half-resolution "
                 f"Nyquist): X itself {findings.percent(found.image_below)}, "
                 f"up(pool(X)) {findings.percent(found.low_below)}, "
                 f"X − up(pool(X)) {findings.percent(found.high_below)}\n{found.context}"
                 + (("\nOf the high part's energy, below 0.25: "
                     f"{findings.percent(parts.passed)} is the image's own content let through "
                     "(a 2×2 block mean is no ideal low-pass filter), "
                     f"{findings.percent(parts.aliased)} is aliased from above 0.25, "
                     f"{findings.percent(parts.cross)} their overlap") if parts.total > 0
                    else ""), fontsize=10)
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=levels + 3,
              frameon=False)
    ax.grid(alpha=0.3)
    return fig


def _superscript(n):
    return str(n).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def _spectrum_extent(shape):
    """imshow extent (left, right, bottom, top) of a centred spectrum, in cycles/pixel."""
    f_row = np.fft.fftshift(np.fft.fftfreq(shape[0]))
    f_col = np.fft.fftshift(np.fft.fftfreq(shape[1]))
    d_row, d_col = 1.0 / shape[0], 1.0 / shape[1]
    return (f_col[0] - d_col / 2, f_col[-1] + d_col / 2,
            f_row[-1] + d_row / 2, f_row[0] - d_row / 2)


def plot_feature_maps(image, alpha=0.5, filters=None):
    """Feature maps of one convolution layer, each split into its two octaves.

    Columns: the maps ``f(X; w_c)`` of :func:`octref.frequency.filter_responses`.
    Rows: the map, its low part up(pool(f)), its high part f - up(pool(f)),
    with the same contrast in each column, so a faint high part means little
    is lost at half resolution. Each column prints
    :func:`octref.frequency.high_energy_fraction`, the share of the map's
    variance in the high part, and the group an octave layer with ratio
    alpha puts that channel in: by position, its last ``floor(alpha C)``
    channels are low. The layer does not choose channels by what they hold;
    the split is fixed and training adapts the filters.

    Parameters
    ----------
    image : ndarray of shape (H, W), or octref.findings.FeatureMaps
        The image, or the findings of
        :func:`octref.findings.measure_feature_maps` to draw.
    alpha : float in [0, 1]
        Ignored when findings are given.
    filters : dict of str to ndarray of shape (k, k), optional
        :data:`octref.frequency.FILTER_BANK` when omitted; ignored when
        findings are given.

    Returns
    -------
    matplotlib.figure.Figure
    """
    found = image if isinstance(image, findings.FeatureMaps) else \
        findings.measure_feature_maps(image, alpha, filters)
    names, maps, count = found.names, found.maps, len(found.names)
    fig = Figure(figsize=(2.3 * count, 9.0), layout="constrained")
    if found.c_low == 0:
        split = f"with α = {found.alpha:g} every channel is full resolution ($X^H$)"
    elif found.c_high == 0:
        split = f"with α = {found.alpha:g} every channel is half resolution ($X^L$)"
    else:
        split = (f"with α = {found.alpha:g}, channels 1–{found.c_high} are $X^H$ and "
                 f"{found.c_high + 1}–{count} are $X^L$ (red), by position")
    fig.suptitle(f"Feature maps of {count} fixed 3×3 filters, each split into octaves; printed: "
                 "the share of its variance that half resolution loses (its high part)\n"
                 "An octave layer does not pick which maps go low: the split is fixed "
                 f"({split}) and training adapts\nthe filters of the low channels until little "
                 "of their maps is lost. Same grey scale down each column (0.5–99.5 percentile "
                 "of the map); high parts centred on 0", fontsize=11)
    axes = fig.subplots(3, count, squeeze=False)
    for c, name in enumerate(names):
        # Contrast from the 0.5 and 99.5 percentiles: a few strong edges would
        # otherwise leave the rest of an edge map flat grey.
        bottom, top = np.percentile(maps[c], [0.5, 99.5])
        centre, half = 0.5 * (top + bottom), 0.5 * (top - bottom) or 1.0
        in_low = c >= found.c_high
        colour = "tab:red" if in_low else "black"
        group = "$X^L$" if in_low else "$X^H$"
        _image(axes[0, c], maps[c], vmin=centre - half, vmax=centre + half)
        axes[0, c].set_title(f"{name}\nhigh part: {findings.percent(found.high_share[c])} of var"
                             f"\nchannel {c + 1} → {group}", fontsize=9, color=colour)
        _image(axes[1, c], found.lows[c], vmin=centre - half, vmax=centre + half)
        _image(axes[2, c], found.highs[c], vmin=-half, vmax=half)
        if in_low:
            for row in range(3):
                for spine in axes[row, c].spines.values():
                    spine.set_edgecolor("tab:red")
                    spine.set_linewidth(2.5)
    axes[0, 0].set_ylabel("feature map f", fontsize=10)
    axes[1, 0].set_ylabel("low: up(pool(f))", fontsize=10)
    axes[2, 0].set_ylabel("high: f − up(pool(f))", fontsize=10)
    return fig


# --------------------------------------------------------------------------- misalignment

def plot_sampling_grids(size=6):
    """Where each low-resolution sample sits on the high-resolution grid (Fig. 3 of the paper).

    Three panels on a ``size`` x ``size`` high-resolution grid (small dots at
    pixel centres): 2x2 average pooling puts low sample (p, q) at the block
    centre (2p + 0.5, 2q + 0.5); a stride-2 convolution at pixel (2p, 2q),
    half a pixel up-left of the centre; nearest upsampling fills high pixel
    (r, c) from low pixel (floor(r/2), floor(c/2)).

    Parameters
    ----------
    size : int
        Even side of the high-resolution grid drawn.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = Figure(figsize=(15, 5.6), layout="constrained")
    fig.suptitle("Where the low-resolution samples sit on the high-resolution grid "
                 "(pixel centres at integers, row down)", fontsize=12)
    axes = fig.subplots(1, 3)
    low = np.arange(size // 2)
    for ax, downsample in zip(axes[:2], ("avgpool", "strided")):
        _grid_background(ax, size)
        positions = misalignment.low_sample_position(low, downsample)
        rows, cols = np.meshgrid(positions, positions, indexing="ij")
        centres = misalignment.low_sample_position(low, "avgpool")
        if downsample == "strided":
            c_rows, c_cols = np.meshgrid(centres, centres, indexing="ij")
            ax.scatter(c_cols, c_rows, s=140, facecolors="none", edgecolors="gray", lw=1.2,
                       zorder=3, label="block centre (2p + 0.5, 2q + 0.5)")
            for r, c in zip(c_rows.ravel(), c_cols.ravel()):
                ax.add_patch(FancyArrowPatch((c, r), (c - 0.5, r - 0.5), arrowstyle="->",
                                             mutation_scale=10, color="tab:red", lw=1.2,
                                             zorder=4))
        label = ("pooled sample (2p + 0.5, 2q + 0.5)" if downsample == "avgpool"
                 else "strided sample (2p, 2q)")
        ax.scatter(cols.ravel(), rows.ravel(), s=140, color=VARIANT_COLOURS[downsample],
                   zorder=5, label=label)
        if downsample == "avgpool":
            ax.set_title("H→L by 2×2 average pooling\nlow pixel (p, q) = mean of the "
                         "2×2 block, at its centre", fontsize=10)
        else:
            ax.set_title("H→L by a stride-2 convolution\nlow pixel (p, q) reads high pixel "
                         "(2p, 2q): offset (−0.5, −0.5)\nfrom the block centre, where "
                         "upsampling puts it back", fontsize=10)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), fontsize=9, ncol=1,
                  frameon=False)

    ax = axes[2]
    _grid_background(ax, size, shade=True)
    centres = misalignment.low_sample_position(low, "avgpool")
    rows, cols = np.meshgrid(centres, centres, indexing="ij")
    ax.scatter(cols.ravel(), rows.ravel(), s=140, color="tab:green", zorder=5,
               label="low sample (at its block centre)")
    high = np.arange(size)
    for r in high:
        for c in high:
            source = (misalignment.low_sample_position(misalignment.upsample_source(r), "avgpool"),
                      misalignment.low_sample_position(misalignment.upsample_source(c), "avgpool"))
            ax.add_patch(FancyArrowPatch((source[1], source[0]), (c, r), arrowstyle="->",
                                         mutation_scale=8, color="tab:green", lw=0.9,
                                         shrinkA=6, shrinkB=2, zorder=4))
    ax.set_title("L→H by nearest upsampling\nhigh pixel (r, c) copies low pixel "
                 "(⌊r/2⌋, ⌊c/2⌋)", fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), fontsize=9, frameon=False)
    fig.supxlabel("Round trip H→L→H: pool then upsample returns each 2×2 block's mean to the "
                  "same block (no shift on average);\nstride then upsample copies pixel (2p, 2q) "
                  "over its whole block. Two views of one fact, with opposite signs: the sample "
                  "sits at offset (−0.5, −0.5)\nfrom where upsampling puts it back, so the "
                  "content moves by (+0.5, +0.5) px, down and right, the shift misalignment.png "
                  "measures.", fontsize=10)
    return fig


def _grid_background(ax, size, shade=False):
    """A size x size pixel grid: pixel outlines, centres, thick 2x2 block boundaries."""
    for r in range(size):
        for c in range(size):
            colour = ("#e8f4e8" if (r // 2 + c // 2) % 2 == 0 else "#f6f6f6") if shade \
                else "white"
            ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor=colour,
                                   edgecolor="#cccccc", lw=0.8, zorder=0))
    for edge in np.arange(-0.5, size, 2):
        ax.axhline(edge, color="#555555", lw=1.6, zorder=1)
        ax.axvline(edge, color="#555555", lw=1.6, zorder=1)
    centres = np.arange(size)
    rows, cols = np.meshgrid(centres, centres, indexing="ij")
    ax.scatter(cols.ravel(), rows.ravel(), s=6, color="black", zorder=2)
    ax.set_xlim(-0.5, size - 0.5)
    ax.set_ylim(size - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_xticks(centres)
    ax.set_yticks(centres)
    ax.set_xlabel("column (high-resolution pixel)", fontsize=9)
    ax.set_ylabel("row", fontsize=9)
    ax.tick_params(labelsize=8)


def plot_misalignment(image, size=findings.TEST_SIZE):
    """Measured shift of the round trip H->L->H, average pooling versus strided conv.

    Left: every measurement on the (column, row) shift plane, row axis
    pointing down like an image: an impulse at each of its four phases
    (:func:`octref.misalignment.impulse_shifts`), a step edge at both phases
    (:func:`~octref.misalignment.edge_shifts`) and the image at four phases
    (:func:`~octref.misalignment.image_shifts`), with the phase averages of
    the impulse. Middle: a step edge through both round trips, inside a
    2x2 block and on a block boundary. Right: a crop of the image and its
    round trips, and the table of phase averages for the three inputs; a
    shift the image does not define is printed "undefined", with the reason.

    Shifts are positive down and right: content at x appears at x + shift.
    The strided round trip's (+0.5, +0.5) is the other face of the
    (-0.5, -0.5) offset in :func:`plot_sampling_grids`.

    Parameters
    ----------
    image : ndarray of shape (H, W), H, W >= 4, or octref.findings.Misalignment
        The image, or the findings of
        :func:`octref.findings.measure_misalignment` to draw.
    size : int
        Side of the impulse and edge test images, even, >= 6; ignored when
        findings are given.

    Returns
    -------
    matplotlib.figure.Figure
    """
    found = image if isinstance(image, findings.Misalignment) else \
        findings.measure_misalignment(image, size)
    fig = Figure(figsize=(16, 9.4), layout="constrained")
    fig.suptitle("Misalignment (paper Fig. 3, Table 3): how far the round trip H→L→H = "
                 "up(down(X)) moves the content, measured with octref's octave convolution\n"
                 "shift (row, col) in px, + = down / right: content at x appears at x + shift "
                 "(sampling_grids.png's offset −0.5 of the strided sample, seen from the "
                 "content)", fontsize=12)
    grid = fig.add_gridspec(2, 3, width_ratios=[1.1, 1.0, 1.3])
    _shift_plane(fig.add_subplot(grid[:, 0]), found)
    for row, parity in enumerate((0, 1)):
        _edge_panel(fig.add_subplot(grid[row, 1]), found, parity)
    _misalignment_crops(fig, grid[0, 2], found)
    _shift_table(fig.add_subplot(grid[1, 2]), found)
    return fig


_KINDS = (("impulse", "impulse, 4 phases"), ("edge", "step edge, 2 phases"),
          ("image", "image, 4 phases"))


def _shift_plane(ax, found):
    markers = {"impulse": "o", "edge": "s", "image": "^"}
    for downsample in misalignment.DOWNSAMPLE_MODES:
        colour = VARIANT_COLOURS[downsample]
        mean = found.impulse[downsample].mean
        ax.scatter([mean[1]], [mean[0]], marker="*", s=420, color=colour, alpha=0.55,
                   edgecolors="black", zorder=3,
                   label=f"{VARIANT_NAMES[downsample]}: phase average "
                         f"{findings.shift_text(mean, 2)}")
        for kind, _ in _KINDS:
            result = getattr(found, kind)[downsample]
            kept = np.isfinite(result.shifts).all(axis=1)
            ax.scatter(result.shifts[kept, 1], result.shifts[kept, 0], marker=markers[kind],
                       s=45, facecolors="none", edgecolors=colour, lw=1.4, zorder=4)
    for kind, marker in markers.items():
        ax.scatter([], [], marker=marker, facecolors="none", edgecolors="dimgray",
                   label=f"{kind}, one phase")
    ax.axhline(0, color="gray", lw=0.8)
    ax.axvline(0, color="gray", lw=0.8)
    # The frame holds every marker: single phases of a texture can land far out.
    shown = np.concatenate([getattr(found, kind)[d].shifts for kind, _ in _KINDS
                            for d in misalignment.DOWNSAMPLE_MODES])
    shown = shown[np.isfinite(shown)]
    low, high = min(-0.75, shown.min() - 0.25), max(1.2, shown.max() + 0.25)
    ax.set_xlim(low, high)
    ax.set_ylim(high, low)
    ax.set_aspect("equal")
    ax.set_xlabel("column shift (px, + = right)")
    ax.set_ylabel("row shift (px, + = down)")
    ax.set_title("Shift of each test input at each sub-pixel phase\nA strided trip loses an "
                 "impulse on an odd row or column\n(3 of 4 phases: no marker)", fontsize=10)
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.09), frameon=False)
    ax.grid(alpha=0.3)


def _edge_panel(ax, found, parity):
    size = found.size
    edge = misalignment.edge_position(size, parity)
    positions = np.arange(size)
    ax.step(positions, positions > edge, where="mid", color="black", lw=5, alpha=0.3,
            label="input X")
    styles = {"avgpool": "-", "strided": "--"}
    for downsample in misalignment.DOWNSAMPLE_MODES:
        shift = found.edge[downsample].shifts[parity, 1]
        ax.step(positions, found.edge_rows[parity, downsample], where="mid",
                color=VARIANT_COLOURS[downsample], lw=2, ls=styles[downsample],
                label=f"up({'pool' if downsample == 'avgpool' else 'stride-2'}(X)): "
                      f"edge moves {findings.signed(shift, 2)} px")
    for boundary in np.arange(-0.5, size, 2):
        ax.axvline(boundary, color="#bbbbbb", lw=0.8, zorder=0)
    where = "inside a 2×2 block" if parity == 0 else "on a 2×2 block boundary"
    ax.set_title(f"Step edge between columns {edge} and {edge + 1}: {where}", fontsize=10)
    ax.set_xticks(positions)
    ax.set_ylim(-0.1, 1.45)
    ax.set_xlabel("column (grey lines: 2×2 block boundaries)", fontsize=9)
    ax.set_ylabel("value along every row", fontsize=9)
    ax.legend(fontsize=8.5, loc="upper left")


def _misalignment_crops(fig, cell, found):
    """A crop of the image, its two round trips and their difference, in one grid cell."""
    sub = cell.subgridspec(2, 2)
    top, left, crop = found.crop
    window = found.crop_trips["input"]
    vmin, vmax = window.min(), window.max()
    if vmin == vmax:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    difference = found.crop_trips["strided"] - found.crop_trips["avgpool"]
    limit = np.abs(difference).max() or 1.0
    panels = [("input X", window, "gray", vmin, vmax),
              ("up(pool(X))", found.crop_trips["avgpool"], "gray", vmin, vmax),
              ("up(stride-2(X))", found.crop_trips["strided"], "gray", vmin, vmax),
              ("stride-2 minus pool", difference, "RdBu_r", -limit, limit)]
    for index, (title, picture, cmap, low, high) in enumerate(panels):
        ax = fig.add_subplot(sub[index // 2, index % 2])
        _image(ax, picture, title=title, cmap=cmap, vmin=low, vmax=high)
        for edge in np.arange(1.5, crop - 1, 2):
            ax.axhline(edge, color="gold", lw=0.4, alpha=0.7)
            ax.axvline(edge, color="gold", lw=0.4, alpha=0.7)
        if index == 0:
            ax.set_ylabel(f"{crop} × {crop} px at ({top}, {left})", fontsize=8)
        if index == 2:
            ax.set_ylabel("gold: 2×2 blocks", fontsize=8)


def _shift_table(ax, found):
    ax.axis("off")
    rows = [[label] + [findings.shift_text(getattr(found, kind)[d].mean, 3)
                       for d in misalignment.DOWNSAMPLE_MODES] for kind, label in _KINDS]
    table = ax.table(cellText=rows, colLabels=["mean shift (row, col)"]
                     + [VARIANT_NAMES[d] for d in misalignment.DOWNSAMPLE_MODES],
                     loc="upper center", cellLoc="center", colWidths=[0.34, 0.33, 0.33])
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1.0, 1.8)
    strided = found.image["strided"]
    if strided.undefined:
        about_image = f"image: {strided.undefined}"
    else:
        about_image = (f"one strided phase alone is off by up to {found.strided_spread:.2f} px "
                       "(aliasing)\nthe image holds "
                       f"{findings.percent(strided.energy_used)} of its energy below 0.25 "
                       "cycles/px")
    ax.text(0.5, 0.4, "impulse: centroid of the response, phases weighted by the mass "
                       "that survives\nedge: centroid of the response's differences\n"
                       "image: phase slope of the cross-power spectrum below 0.25 cycles/px,\n"
                       "averaged over phases; it assumes shifts of at most 1 px,\nso it cannot "
                       f"wrap around the period of a texture\n{about_image}",
            transform=ax.transAxes, ha="center", va="top", fontsize=9, linespacing=1.5)


# --------------------------------------------------------------------------- receptive field

def plot_receptive_fields(kernel_size=findings.KERNEL_SIZE, size=findings.FIELD_SIZE,
                          radius=7):
    """Effective receptive fields of one output pixel of Y^H, high routes versus low routes.

    A 2 x 2 grid: one k x k layer (top) and two stacked k x k layers
    (bottom), through the high group only (left) and through the low group
    (right); see :mod:`octref.receptive_field`. Each panel shows
    ``dY^H[centre] / dX`` from octref's backward pass, the output pixel (x),
    and the support box with its measured width.

    Parameters
    ----------
    kernel_size : int, odd, or octref.findings.ReceptiveFields
        k, or the findings of :func:`octref.findings.measure_receptive_fields`
        to draw.
    size : int
        Side of the image the layers run on; ignored when findings are given.
    radius : int
        Half-width of the window shown around the output pixel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    found = kernel_size if isinstance(kernel_size, findings.ReceptiveFields) else \
        findings.measure_receptive_fields(kernel_size, size)
    k, size = found.kernel_size, found.size
    centre = size // 2
    fig = Figure(figsize=(10.5, 10.8), layout="constrained")
    fig.suptitle(f"Effective receptive field of one output pixel $p$ of $Y^H$, kernel $k = {k}$: "
                 "$\\partial Y^H[p] / \\partial X$ by octref's backward pass\n"
                 "routes through the low group see twice as far", fontsize=12)
    fig.supxlabel("All-ones kernels on the route, zeros elsewhere. p sits on an even row and "
                  "column, so the low routes' fields reach\none pixel further down-right than "
                  "up-left: p reads low pixel ⌊p/2⌋, the block of pixels p and p + 1.",
                  fontsize=10)
    axes = fig.subplots(2, 2)
    descriptions = {
        "H->H": f"one {k}×{k} layer, H→H",
        "L->H": f"one {k}×{k} layer, L→H ($X^L$ = pool(X))",
        "H->H->H": f"two {k}×{k} layers, H→H→H",
        "H->L->H": f"two {k}×{k} layers, H→L→H",
    }
    formulas = {"H->H": "k", "L->H": "2k", "H->H->H": "2k − 1", "H->L->H": "2(2k − 1)"}
    for ax, scenario in zip(axes.ravel(), found.fields):
        field = found.fields[scenario]
        rows, cols = found.supports[scenario]
        window = field[centre - radius:centre + radius + 1, centre - radius:centre + radius + 1]
        offsets = np.arange(-radius, radius + 1)
        extent = (offsets[0] - 0.5, offsets[-1] + 0.5, offsets[-1] + 0.5, offsets[0] - 0.5)
        shown = ax.imshow(window, cmap="viridis", extent=extent, interpolation="nearest",
                          vmin=0)
        nonzero = np.argwhere(window > 0)
        (r0, c0), (r1, c1) = nonzero.min(axis=0) - radius, nonzero.max(axis=0) - radius
        ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1, fill=False,
                               edgecolor="white", lw=2, ls="--"))
        ax.plot([0], [0], marker="x", color="red", ms=10, mew=2.5)
        ax.set_xticks(offsets[::2])
        ax.set_yticks(offsets[::2])
        ax.set_xticks(offsets[:-1] + 0.5, minor=True)
        ax.set_yticks(offsets[:-1] + 0.5, minor=True)
        ax.grid(which="minor", color="black", lw=0.3, alpha=0.4)
        ax.tick_params(which="minor", length=0)
        ax.set_title(f"{descriptions[scenario]}\nsupport {rows} × {cols} px "
                     f"= {formulas[scenario]}", fontsize=11)
        ax.set_xlabel("column offset from the output pixel (x)", fontsize=9)
        ax.set_ylabel("row offset", fontsize=9)
        fig.colorbar(shown, ax=ax, shrink=0.8, label="gradient")
    return fig


# --------------------------------------------------------------------------- cost

def plot_cost(alpha=None, *, channels=64, kernel_size=3, height=56, width=56):
    """Cost of an octave convolution relative to a vanilla one, versus alpha (Table 1).

    Left: multiply-accumulates, Table 1's ``1 - 3/4 alpha (2 - alpha)``
    (``alpha_in = alpha_out = alpha``) as a curve, beside the ratio counted by
    :func:`octref.cost.table1` (:func:`~octref.cost.octconv_cost` over
    :func:`~octref.cost.conv_cost`) for a real layer. Middle: output
    activation memory, ``1 - 3/4 alpha``, theory and counted. Right: the
    counted multiply-accumulates split by path. Below: the table of the
    counted, theoretical and printed (paper) values.

    Parameters
    ----------
    alpha : float in [0, 1], optional, or octref.findings.Cost
        Marked on the curves, and added to the table, when given; or the
        findings of :func:`octref.findings.measure_cost` to draw.
    channels, kernel_size, height, width : int
        The layer counted: ``channels -> channels``, k x k, at H x W; ignored
        when findings are given.

    Returns
    -------
    matplotlib.figure.Figure
    """
    found = alpha if isinstance(alpha, findings.Cost) else findings.measure_cost(
        alpha, channels=channels, kernel_size=kernel_size, height=height, width=width)
    alpha, rows = found.alpha, found.rows
    alphas = [r.alpha for r in rows]
    channels, kernel_size = found.layer["channels"], found.layer["kernel_size"]
    height, width = found.layer["height"], found.layer["width"]
    grid_alphas = np.linspace(0, 1, 201)
    fig = Figure(figsize=(15, 9.4), layout="constrained")
    fig.suptitle("Cost of an octave convolution over a vanilla one (paper Table 1), "
                 r"$\alpha_{in} = \alpha_{out} = \alpha$; "
                 f"counted on a {channels} → {channels} channel {kernel_size}×{kernel_size} "
                 f"layer at {height} × {width} px (H × W)", fontsize=12)
    grid = fig.add_gridspec(2, 3, height_ratios=[1.5, 1.0])
    panels = (("multiply-accumulates (FLOPs)", "1 − ¾α(2 − α)", cost.flops_ratio,
               [r.flops_counted for r in rows], 0),
              ("output activation memory", "1 − ¾α", cost.memory_ratio,
               [r.memory_counted for r in rows], 1))
    for title, formula, theory, counted, column in panels:
        ax = fig.add_subplot(grid[0, column])
        ax.plot(grid_alphas, [theory(a) for a in grid_alphas], color="black", lw=1.5,
                label=f"Table 1 theory: {formula}")
        ax.plot(alphas, counted, "o", color="tab:red", ms=7, mfc="none", mew=2,
                label="counted by octref.cost")
        printed = [cost.TABLE1_PRINTED[a][column] / 100 for a in cost.TABLE1_ALPHAS]
        ax.plot(cost.TABLE1_ALPHAS, printed, "x", color="tab:blue", ms=7,
                label="printed in the paper (whole %)")
        if alpha is not None:
            value = counted[alphas.index(alpha)]
            ax.axvline(alpha, color="gray", ls=":", lw=1)
            ax.annotate(f"α = {alpha:g}: counted {value:.4f}\ntheory {theory(alpha):.4f}",
                        (alpha, value), xytext=(12, 18), textcoords="offset points",
                        fontsize=9, arrowprops={"arrowstyle": "->", "color": "gray"})
        ax.set_xlim(-0.03, 1.03)
        ax.set_ylim(0, 1.08)
        ax.set_xlabel("α, fraction of channels in the low group")
        ax.set_ylabel("octave / vanilla")
        ax.set_title(title, fontsize=11)
        ax.legend(fontsize=9, loc="lower left")
        ax.grid(alpha=0.3)

    ax = fig.add_subplot(grid[0, 2])
    bottom = np.zeros(len(rows))
    positions = np.arange(len(rows))
    for path, colour in zip(("hh", "hl", "lh", "ll"),
                            ("tab:blue", "tab:orange", "tab:green", "tab:purple")):
        shares = found.path_shares[path]
        ax.bar(positions, shares, bottom=bottom, color=colour, width=0.7,
               label=f"{path[0].upper()}→{path[1].upper()}")
        bottom += shares
    ax.set_xticks(positions, [f"{r.alpha:g}" for r in rows], fontsize=9)
    ax.set_xlabel("α")
    ax.set_ylabel("share of the vanilla layer's multiply-accumulates")
    ax.set_title("where the multiply-accumulates go, path by path", fontsize=11)
    ax.set_ylim(0, 1.08)
    ax.legend(fontsize=9, ncol=4, loc="upper right")
    ax.grid(alpha=0.3, axis="y")

    ax = fig.add_subplot(grid[1, :])
    ax.axis("off")
    table = ax.table(cellText=found.cells("(chosen)"), loc="center", cellLoc="center",
                     colLabels=["α", "MACs counted", "MACs theory", "paper", "memory counted",
                                "memory theory", "paper"])
    table.auto_set_font_size(False)
    table.set_fontsize(10)
    table.scale(1.0, 1.45)
    ax.set_title("Counted with floor(αC) low channels and ceil(H/2) low maps, so an α that does "
                 "not split the channels evenly\ndeparts slightly from the formulas. The paper "
                 "prints memory 35% at α = 0.875, where 1 − ¾α = 34.375%.", fontsize=10)
    return fig


# --------------------------------------------------------------------------- the layer

_PATH_COLOURS = {"hh": "tab:blue", "hl": "tab:orange", "lh": "tab:green", "ll": "tab:purple"}


def _size(size):
    return f"{size[0]}×{size[1]}"


def octave_layer_shapes(in_channels, out_channels, kernel_size, alpha_in, alpha_out, height,
                        width, *, stride=1, groups=1, downsample="avgpool"):
    """The maps and steps of one octave convolution layer, as :func:`plot_octave_layer` draws them.

    Channel counts come from :func:`octref.octave.split_channels`, weight shapes
    from :func:`octref.octave.octave_weight_shapes`, input and output map shapes
    from :func:`octref.cost.octconv_cost` (which validates the configuration as
    the implementations do); pooling is ceil mode, so a side n becomes ceil(n/2).

    Returns
    -------
    dict
        ``"x_high"``, ``"x_low"``, ``"y_high"``, ``"y_low"``: ``(C, H, W)`` of each map,
        ``None`` for an empty group. ``"paths"``: for each of "hh", "hl", "lh", "ll",
        ``None`` if absent, else a dict with ``"weight"`` (its shape) and ``"steps"``,
        a list of ``(op, size)`` in order: ``("pool", (h, w))`` for each 2x2 average
        pooling (size after it), ``("conv", (h, w))`` (the convolution's output size;
        stride 2 for a ``"strided"`` H->L), ``("upsample", (h, w))`` for L->H at stride 1.
        ``"depthwise"``: whether ``groups == in_channels > 1``.
    """

    layer = cost.octconv_cost(in_channels, out_channels, kernel_size, alpha_in, alpha_out,
                              height, width, stride=stride, groups=groups, downsample=downsample)
    weights = octave_weight_shapes(in_channels, out_channels, kernel_size, alpha_in, alpha_out,
                                   groups=groups)
    maps = {}
    for name, shapes in (("x", layer.input_shapes), ("y", layer.output_shapes)):
        for group in ("high", "low"):
            shape = shapes.get(group)
            maps[f"{name}_{group}"] = None if shape is None or shape[1] == 0 else tuple(shape[1:])
    in_sizes = {"h": (height, width), "l": ((height + 1) // 2, (width + 1) // 2)}
    pad = (kernel_size - 1) // 2
    paths = {}
    for path, weight in zip(("hh", "hl", "lh", "ll"), weights):
        if weight is None:
            paths[path] = None
            continue
        size = in_sizes[path[0]]
        # Eq. 4 with the official code's stride: stride 2 pools every input first, except
        # L->H, where that pooling and the upsampling cancel; H->L pools X^H once more
        # (avgpool) or convolves it with stride 2 ("strided").
        pools = 0 if path == "lh" else (stride - 1) + (path == "hl" and downsample == "avgpool")
        conv_stride = 2 if path == "hl" and downsample == "strided" else 1
        steps = []
        for _ in range(pools):
            size = ((size[0] + 1) // 2, (size[1] + 1) // 2)
            steps.append(("pool", size))
        size = tuple((n + 2 * pad - kernel_size) // conv_stride + 1 for n in size)
        steps.append(("conv", size))
        if path == "lh" and stride == 1:
            steps.append(("upsample", maps["y_high"][1:]))
        paths[path] = {"weight": tuple(weight), "steps": steps}
    return {**maps, "paths": paths, "depthwise": groups == in_channels and groups > 1}


def plot_octave_layer(in_channels, out_channels, kernel_size, alpha_in, alpha_out, height, width,
                      *, stride=1, groups=1, downsample="avgpool"):
    """Draw one octave convolution layer as the paper's Fig. 2, with its live shapes.

    The input groups X^H, X^L on the left, the outputs Y^H, Y^L on the right, and
    the four paths of Eq. 4 between them, each with its pooling, convolution
    (weight shape) and upsampling steps and the map size after each. A path
    the configuration lacks (an empty channel group, or the crossing paths of
    a depthwise layer) is drawn dashed and grey with the reason. All numbers
    come from :func:`octave_layer_shapes`; the returned figure carries that
    dict as ``fig.octave_layer``, and each drawn label has a ``gid``
    ("x_high", ..., "hh", ...) naming what it labels.

    Parameters
    ----------
    in_channels, out_channels : int
        Total channels C_in, C_out (both groups together).
    kernel_size : int
    alpha_in, alpha_out : float in [0, 1]
        Fraction of channels in the low group; ``C_low = int(alpha C)``.
    height, width : int
        H, W of the high-frequency input.
    stride : {1, 2}
    groups : int
        ``groups == in_channels > 1`` is depthwise (only H->H and L->L).
    downsample : {"avgpool", "strided"}

    Returns
    -------
    matplotlib.figure.Figure
    """
    layer = octave_layer_shapes(in_channels, out_channels, kernel_size, alpha_in, alpha_out,
                                height, width, stride=stride, groups=groups,
                                downsample=downsample)
    k = kernel_size
    fig = Figure(figsize=(11, 5.6))
    ax = fig.add_axes((0.005, 0.0, 0.99, 0.92))  # fixed: every configuration draws alike
    ax.set_xlim(0, 11)
    ax.set_ylim(-0.3, 6.0)
    ax.axis("off")
    kind = ("depthwise" if layer["depthwise"] else
            f"groups = {groups}" if groups > 1 else "dense")
    fig.suptitle(f"Octave convolution (paper Fig. 2): {in_channels} → {out_channels} channels, "
                 f"{k}×{k}, α_in = {alpha_in:g}, α_out = {alpha_out:g}, input {height}×{width} "
                 f"(H×W), stride {stride}, {kind}"
                 + (", strided H→L" if downsample == "strided" else ""), fontsize=11)

    boxes = {"x_high": (0.15, 3.55), "x_low": (0.15, 0.75), "y_high": (9.35, 3.65),
             "y_low": (9.35, 0.75)}
    symbols = {"x_high": "X^H", "x_low": "X^L", "y_high": "Y^H", "y_low": "Y^L"}
    for name, (x0, y0) in boxes.items():
        shape = layer[name]
        present = shape is not None
        ax.add_patch(Rectangle((x0, y0), 1.5, 1.7, facecolor="#eef3fb" if present else "white",
                               edgecolor="black" if present else "0.6", lw=1.2,
                               ls="-" if present else "--"))
        label = (f"${symbols[name]}$\n{shape[0]} ch\n{_size(shape[1:])}" if present
                 else f"${symbols[name]}$\nno channels")
        ax.text(x0 + 0.75, y0 + 0.85, label, ha="center", va="center", fontsize=11,
                color="black" if present else "0.5", gid=name)

    # Each path runs along its own lane; the two crossing paths bend to the other
    # group's sum at the right, as in the paper's figure.
    lanes = {"hh": (4.95, 4.62), "hl": (3.85, 1.7), "lh": (2.55, 4.38), "ll": (1.35, 1.5)}
    starts = {"h": 4.4, "l": 1.6}
    names = {"hh": "H→H", "hl": "H→L", "lh": "L→H", "ll": "L→L"}
    slots = {"pool": [3.2, 4.3], "conv": 5.6, "upsample": 7.05}
    for path, (lane, end) in lanes.items():
        info = layer["paths"][path]
        colour = _PATH_COLOURS[path] if info else "0.65"
        style = "-" if info else "--"
        ax.plot([1.65, 2.05], [starts[path[0]], lane], color=colour, ls=style, lw=1.5)
        ax.plot([2.05, 8.0], [lane, lane], color=colour, ls=style, lw=1.5)
        ax.add_patch(FancyArrowPatch((8.0, lane), (8.88, end), arrowstyle="-|>",
                                     mutation_scale=14, color=colour, ls=style, lw=1.5))
        ax.text(2.1, lane + 0.12, names[path], fontsize=10, color=colour, fontweight="bold",
                va="bottom")
        if info is None:
            source = "x_" + ("high" if path[0] == "h" else "low")
            if layer[source] is None:
                reason = f"absent: $X^{path[0].upper()}$ has no channels (α_in = {alpha_in:g})"
            elif layer["y_" + ("high" if path[1] == "h" else "low")] is None:
                reason = f"absent: $Y^{path[1].upper()}$ has no channels (α_out = {alpha_out:g})"
            else:
                reason = "absent: a depthwise layer has no crossing paths"
            ax.text(5.0, lane + 0.1, reason, ha="center", va="bottom", fontsize=9, color="0.45",
                    style="italic", gid=path)
            continue
        pool_slots = iter(slots["pool"])
        texts = []
        for op, size in info["steps"]:
            if op == "pool":
                x, text = next(pool_slots), f"pool 2×2\n→ {_size(size)}"
            elif op == "conv":
                conv = ("depthwise" if layer["depthwise"] else
                        f"conv g={groups}" if groups > 1 else "conv")
                conv += ", stride 2" if path == "hl" and downsample == "strided" else ""
                x = slots["conv"]
                text = (f"{conv} {k}×{k}, $W^{{{path.upper()}}}$\n{info['weight']}\n"
                        f"→ {_size(size)}")
            else:
                x, text = slots["upsample"], f"upsample ×2\n→ {_size(size)}"
            texts.append(text)
            ax.text(x, lane, text, ha="center", va="center", fontsize=8.5,
                    bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": colour})
        ax.text(0, 0, "\n".join(texts), visible=False, gid=path)
    for y in (4.5, 1.6):
        ax.add_patch(Circle((9.05, y), 0.17, facecolor="white", edgecolor="black", zorder=3))
        ax.text(9.05, y, "+", ha="center", va="center", fontsize=11, zorder=4)
        ax.add_patch(FancyArrowPatch((9.22, y), (9.35, y), arrowstyle="-|>", mutation_scale=10,
                                     color="black", lw=1.2))
    notes = ["pooling: 2×2 average, ceil mode (a side n becomes ⌈n/2⌉)",
             "weights: (C_out, C_in / groups, k, k)"]
    if stride == 2:
        notes.append("stride 2: every input is pooled first; L→H then needs no upsampling")
    ax.text(5.5, 0.02, "\n".join(notes), ha="center", va="bottom", fontsize=9, color="0.3")
    fig.octave_layer = layer
    return fig

