# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. Frequencies in images and feature maps
#
# Octave convolution rests on one observation (Section 3.1 of the paper): an
# image, and most feature maps computed from it, are mostly **smooth**. The
# smooth part changes slowly from pixel to pixel, so half the resolution can
# hold it; only the fine detail needs every pixel. OctConv therefore keeps a
# fraction $\alpha$ of the channels at half resolution. This chapter
# measures the observation on a photograph, then counts what storing channels
# at half resolution saves.

# %%
# %matplotlib inline
import numpy as np
from _exercises import check

from octref import Octave, frequency, split_channels, viz
from octref.data import load_image
from octref.sampling import pool2x2, upsample2x_nearest

# %% [markdown]
# ## An image, split in two octaves
#
# The photograph bundled with matplotlib (Grace Hopper, $600 \times 512$),
# as grayscale in $[0, 1]$, averaged down to $300 \times 256$ to keep the
# chapter fast. `octref.data.load_image` reads it; nothing is downloaded.

# %%
image = load_image(max_side=300)
assert image.shape == (300, 256) and 0 <= image.min() and image.max() <= 1

# %% [markdown]
# The **octave split** of a map $X$: pool it to half resolution, bring it back
# by nearest upsampling, and call what is left over the high part:
#
# $$
# X = \underbrace{\operatorname{up}(\operatorname{pool}(X))}_{\text{low}}
#   + \underbrace{X - \operatorname{up}(\operatorname{pool}(X))}_{\text{high}} .
# $$
#
# `low` replaces every $2 \times 2$ block by its mean: it is exactly what a
# half-resolution map can store. `high` is the detail inside the blocks; it
# sums to zero over every block.

# %%
low, high = frequency.octave_split(image)
assert np.allclose(low + high, image)
assert np.allclose(low, upsample2x_nearest(pool2x2(image), image.shape))
assert np.allclose(pool2x2(high), 0)  # every 2x2 block of `high` sums to zero

# %% [markdown]
# Because `low` is the orthogonal projection of $X$ onto maps that are
# constant on $2 \times 2$ blocks, the two parts are orthogonal and their
# energies add: $\|X\|^2 = \|\text{low}\|^2 + \|\text{high}\|^2$. So we can
# say exactly what share of the image's variation half resolution loses:
# about 4%.

# %%
assert np.isclose(np.sum(low * high), 0, atol=1e-9)
assert np.isclose(np.sum(image ** 2), np.sum(low ** 2) + np.sum(high ** 2))
lost = frequency.high_energy_fraction(image)
print(f"share of the variance in `high`: {lost:.1%}")
assert 0.03 < lost < 0.06

# %% [markdown]
# Repeating the split on the pooled map gives a ladder of **octaves**, each
# band holding details twice as coarse as the one before, each brought back
# to full resolution, plus a coarse residual. They add up to the image
# again, and the coarser bands carry more of its energy:

# %%
bands = frequency.octave_bands(image, 3)
assert np.allclose(sum(bands), image)
assert np.allclose(bands[0], high)
variance = [np.sum((band - band.mean()) ** 2) for band in bands]
print("energy per band, finest first:", np.round(variance, 1))
assert variance[0] < variance[1] < variance[2] < variance[3]

# %% [markdown]
# ## Spectra
#
# The same statement in frequencies. The 2-D discrete Fourier transform
# writes a map as a sum of waves; its **power spectrum** says how much energy
# each frequency carries. Frequencies are in cycles per pixel: the full grid
# resolves up to $0.5$ (one wave every two pixels), a half-resolution grid
# only up to $0.25$. So the share of energy below $0.25$ is what a
# half-resolution map could represent.

# %%
cutoff = frequency.HALF_RES_NYQUIST
shares = {name: frequency.energy_fraction_below(a, cutoff)
          for name, a in [("image", image), ("low", low), ("high", high)]}
print({name: round(share, 3) for name, share in shares.items()})
assert cutoff == 0.25
assert shares["image"] > 0.95   # the photograph is mostly low frequencies
assert shares["high"] < 0.25    # its high part mostly lies above 0.25

# %% [markdown]
# The figure shows all of this. Top row: the image and its bands (band 0 is
# `high`); middle row: their spectra, zero frequency in the centre, with the
# half-resolution limit $|f| = 0.25$ as a dashed circle; bottom: energy per
# ring of frequency. The image's energy sits near the centre, band 0's
# outside the circle. (`low` is not a perfect low-pass filter: its blocky
# $2 \times 2$ steps leave some energy above $0.25$, so the split into
# octaves is a coarse one.)

# %%
viz.plot_frequency_decomposition(image, levels=3)

# %% [markdown]
# ## Feature maps
#
# A network's first layer does not pass the image on; it computes feature
# maps, one per filter. Six fixed $3 \times 3$ filters stand in for learned
# ones: smoothing filters, edge detectors, a Laplacian and a checkerboard.
# Their maps range from smooth to pure detail:

# %%
names, maps = frequency.filter_responses(image)
lost_per_map = dict(zip(names, frequency.high_energy_fraction(maps)))
for name, share in lost_per_map.items():
    print(f"{name:12s} share of variance lost at half resolution: {share:6.1%}")
assert lost_per_map["3x3 mean"] < 0.05 and lost_per_map["identity"] < 0.05
assert all(0.2 < lost_per_map[name] < 0.35 for name in ("Sobel x", "Sobel y"))
assert lost_per_map["checkerboard"] > 0.9

# %% [markdown]
# Smooth maps lose almost nothing at half resolution; edge maps lose a
# quarter; the checkerboard map is nearly all detail. A layer whose maps are
# a mix of such channels can store the smooth ones at half resolution. That
# is the **low-frequency group** $X^L$; the rest is the high-frequency group
# $X^H$. In the figure each column is one map (top), its low part (middle)
# and its high part (bottom); the last $\lfloor \alpha C \rfloor$ channels,
# low by position, are framed in red. OctConv does not pick channels by
# measuring them: it fixes the *number* of low channels, and training adapts
# the weights to that split ([chapter 8](08_training.py) measures what
# training does to the two groups).

# %%
viz.plot_feature_maps(image, alpha=0.5)

# %% [markdown]
# ## $\alpha$: how many channels are low
#
# With $C$ channels, $\lfloor \alpha C \rfloor$ go to the low group, the rest
# to the high group (`octref.split_channels`):

# %%
for alpha in (0, 0.125, 0.25, 0.5, 0.75, 1):
    print(f"alpha = {alpha:<5}  (high, low) = {split_channels(64, alpha)}")
assert split_channels(64, 0.25) == (48, 16)
assert split_channels(64, 0.5) == (32, 32)
assert split_channels(64, 0) == (64, 0) and split_channels(64, 1) == (0, 64)

# %% [markdown]
# A feature map is then an `Octave`: the high group $(N, C_H, H, W)$ and the
# low group $(N, C_L, \lceil H/2 \rceil, \lceil W/2 \rceil)$.
#
# ## Memory
#
# A low channel holds a quarter of the pixels of a high one, so an octave
# feature map holds
#
# $$
# (1 - \alpha)\, C H W + \alpha\, C \tfrac{H}{2} \tfrac{W}{2}
# = \left(1 - \tfrac{3}{4}\alpha\right) C H W
# $$
#
# numbers: $62.5\%$ of the vanilla map at $\alpha = 0.5$, $81.25\%$ at
# $\alpha = 0.25$. Counted on real arrays:

# %%
C, H, W = 64, 32, 32
ratios = {}
for alpha in (0, 0.125, 0.25, 0.5, 0.75, 1):
    c_high, c_low = split_channels(C, alpha)
    x = Octave(np.zeros((1, c_high, H, W)), np.zeros((1, c_low, H // 2, W // 2)))
    ratios[alpha] = (x.high.size + x.low.size) / (C * H * W)
    print(f"alpha = {alpha:<5}  memory / vanilla = {ratios[alpha]:.4f}")
    assert np.isclose(ratios[alpha], 1 - 0.75 * alpha)
assert ratios[0.5] == 0.625 and ratios[0.25] == 0.8125

# %% [markdown]
# Chapter 6 counts the same saving for computation, where it is larger.
#
# %% [markdown]
# ## Exercises
#
# Predict first, then check. Replace the `...` in each exercise cell with your
# answer and run the cell after it: it checks your answer against octref (an
# answer left as `...` only prints a hint). The solutions are on the
# [solutions page](solutions.md), but try first.
#
# **Exercise 1.1.** A layer has $C = 10$ channels and $\alpha = 0.3$. How
# many channels are high and how many low? Answer with the pair
# `(c_high, c_low)`.

# %% exercise="1.1"
answer = ...  # (c_high, c_low)

# %%
check("1.1", answer, split_channels(10, 0.3))

# %% [markdown]
# **Exercise 1.2.** What fraction of the vanilla map's memory does an octave
# map with $\alpha = 0.75$ hold (64 channels, $32 \times 32$)? A number.

# %% exercise="1.2"
answer = ...  # memory of the octave map / memory of the vanilla map

# %%
c_high, c_low = split_channels(64, 0.75)
check("1.2", answer, (c_high * 32 * 32 + c_low * 16 * 16) / (64 * 32 * 32))

# %% [markdown]
# **Exercise 1.3.** Split the $2 \times 2$ map `tiny` into octaves by hand:
# what is its high part? (Its low part is the mean of the block, everywhere.)

# %%
tiny = np.array([[1.0, 2.0],
                 [3.0, 6.0]])

# %% exercise="1.3"
answer = ...  # the high part, a 2x2 array (a list of lists is fine)

# %%
check("1.3", answer, frequency.octave_split(tiny)[1])

# %% [markdown]
# **Next:** [chapter 2](02_octconv_by_hand.py) computes an octave convolution
# by hand.
