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
# # 5. Misalignment: pooling versus strided convolution
#
# The H→L path has to bring $X^H$ down to half resolution. Eq. 4 does it with
# $2 \times 2$ average pooling, $f(\operatorname{pool}(X^H); W^{HL})$. An
# obvious alternative is a stride-2 convolution, $f(X^H; W^{HL})$ evaluated
# at every other pixel: no pooling, and a kernel that can learn its own
# downsampling. The paper tried it (Section 3.3, Table 3) and lost a full
# point of ImageNet top-1 accuracy, 76.3% against 77.3% with pooling. Its
# explanation is **misalignment**: the strided samples sit half a pixel away
# from where the rest of the layer assumes the low pixels are. This chapter
# locates the samples, then measures the half-pixel shift on impulses, edges
# and a photograph.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
from _exercises import check

from octref import Octave, OctaveWeights, conv_forward, im2col, loops, misalignment, viz
from octref.data import load_image
from octref.sampling import pool2x2

rng = np.random.default_rng(0)

# %% [markdown]
# ## The two H→L paths in octref
#
# `octconv_forward(..., downsample="strided")` replaces the pooling of the
# H→L path by a stride-2 convolution; everything else stays. With a
# $1 \times 1$ identity kernel the two paths are just the two downsamplings:
# the block mean, or the top-left pixel of each block, `X[::2, ::2]`.

# %%
x_high = rng.standard_normal((1, 2, 8, 8))
identity = np.eye(2)[:, :, None, None]                     # (2, 2, 1, 1)
hl_only = OctaveWeights(hh=None, hl=identity, lh=None, ll=None)
for impl in (loops, im2col):
    pooled = impl.octconv_forward(Octave(x_high, None), hl_only)[0].low
    strided = impl.octconv_forward(Octave(x_high, None), hl_only, downsample="strided")[0].low
    assert np.allclose(pooled, pool2x2(x_high))
    assert np.allclose(strided, x_high[:, :, ::2, ::2])

# With a 3x3 kernel, strided H->L is exactly a stride-2 convolution of X^H.
w_hl = rng.standard_normal((3, 2, 3, 3))
y = im2col.octconv_forward(Octave(x_high, None), OctaveWeights(None, w_hl, None, None),
                           downsample="strided")[0]
assert np.allclose(y.low, conv_forward(x_high, w_hl, stride=2, padding=1)[0])

# %% [markdown]
# ## Where the samples sit
#
# Put the centres of the high pixels at integer positions. Low pixel $p$
# stands for the $2 \times 2$ block of high pixels $2p$ and $2p + 1$ (per
# axis): that is how nearest upsampling, the L→H path, uses it, filling high
# pixels $2p$ and $2p+1$ with it. So the rest of the layer treats low pixel
# $p$ as sitting at the block centre, $2p + 0.5$.
#
# * Pooling averages the block: its sample **is** at $2p + 0.5$.
# * A stride-2 convolution reads high pixel $2p$: its sample is at $2p$, half
#   a pixel up and to the left of the centre.

# %%
p = np.arange(4)
assert np.array_equal(misalignment.low_sample_position(p, "avgpool"), 2 * p + 0.5)
assert np.array_equal(misalignment.low_sample_position(p, "strided"), 2 * p)
assert np.array_equal(misalignment.upsample_source(np.arange(8)), [0, 0, 1, 1, 2, 2, 3, 3])


# %% [markdown]
# The figure draws both on a $6 \times 6$ high grid, with the third piece of
# the picture: nearest upsampling fills each block from the low pixel at its
# centre. Pooled samples sit where upsampling expects them; strided samples
# do not.

# %%
viz.plot_sampling_grids()

# %% [markdown]
# ## The round trip
#
# To see what half a pixel does, send a map down and back up, H→L then L→H,
# with identity weights: $R(X) = \operatorname{up}(D(X))$.
# `misalignment.round_trip` does it with two octave convolutions of octref.
# In one axis:
#
# * pooling: $R(X)_{2m} = R(X)_{2m+1} = \tfrac12 (X_{2m} + X_{2m+1})$.
#   Content at an even pixel moves $+\tfrac12$, at an odd pixel
#   $-\tfrac12$: no shift on average;
# * strided: $R(X)_{2m} = R(X)_{2m+1} = X_{2m}$. Output pixel $p$ shows input
#   pixel $2\lfloor p/2 \rfloor$, which is $p$ or $p - 1$: content moves
#   $+\tfrac12$ pixel on average, down and to the right, and whatever sat on
#   an odd row or column is lost.

# %%
row = np.arange(6.0)[None, :] * np.ones((6, 1))  # each column holds its index
assert np.allclose(misalignment.round_trip(row, "avgpool")[0], [0.5, 0.5, 2.5, 2.5, 4.5, 4.5])
assert np.allclose(misalignment.round_trip(row, "strided")[0], [0, 0, 2, 2, 4, 4])

# %% [markdown]
# ### Impulses
#
# A single bright pixel can fall on any of four phases (even or odd row, even
# or odd column). Its shift is the centroid of the round trip's response
# minus its position:

# %%
fig, axes = plt.subplots(2, 4, figsize=(9, 4.6))
for r, mode in enumerate(("avgpool", "strided")):
    for c, (a, b) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        impulse = np.zeros((8, 8))
        impulse[4 + a, 4 + b] = 1.0
        axes[r, c].imshow(misalignment.round_trip(impulse, mode), cmap="viridis", vmin=0, vmax=1)
        axes[r, c].plot(4 + b, 4 + a, "r+", ms=12, mew=2)
        axes[r, c].set_title(f"{mode}, phase ({a},{b})", fontsize=9)
        axes[r, c].axis("off")
fig.suptitle("round trip of an impulse (red +: where it was)")
plt.tight_layout()
plt.show()

impulse_pool = misalignment.impulse_shifts("avgpool")
impulse_strided = misalignment.impulse_shifts("strided")
print("avgpool shifts per phase:\n", impulse_pool.shifts, "\nmean:", impulse_pool.mean)
print("strided masses per phase:", impulse_strided.weights, " mean:", impulse_strided.mean)

# %% [markdown]
# Pooling spreads each impulse over its block: a quarter-strength $2 \times 2$
# square, centred half a pixel off in a direction that depends on the
# phase, and the four directions cancel. Strided sampling keeps only the
# impulses on even rows *and* columns, copied into a full $2 \times 2$ block
# that is centred $(+0.5, +0.5)$ away; the other three phases vanish.

# %%
assert np.allclose(np.abs(impulse_pool.shifts), 0.5) and np.allclose(impulse_pool.mean, 0)
for phase, mass in zip(impulse_strided.phases, impulse_strided.weights):
    assert mass == (4 if tuple(phase) == (0, 0) else 0)  # only even-even impulses survive
assert np.allclose(impulse_strided.mean, [0.5, 0.5])

# %% [markdown]
# ### Edges
#
# A step edge between two columns stays put under pooling (it is blurred
# symmetrically, or not at all). Under strided sampling an edge inside a
# $2 \times 2$ block (after an even pixel) moves by a whole pixel, since both
# pixels of the block now show the first one, and an edge on a block
# boundary (after an odd pixel) stays: $+0.5$ on average, again.

# %%
edge_pool = misalignment.edge_shifts("avgpool")
edge_strided = misalignment.edge_shifts("strided")
print("avgpool:", edge_pool.shifts.tolist(), " strided:", edge_strided.shifts.tolist())
assert np.allclose(edge_pool.shifts, 0)
for (parity, _), shift in zip(edge_strided.phases, edge_strided.shifts):
    # An edge after an even pixel lies inside a 2x2 block; one after an odd pixel on a boundary.
    assert np.allclose(shift, 1.0 if parity == 0 else 0.0)
assert np.allclose(edge_strided.mean, [0.5, 0.5])

# %% [markdown]
# ## A photograph
#
# On a real image the shift is estimated from the cross-power spectrum of the
# image and its round trip (a shift by $s$ multiplies the spectrum by
# $e^{-2\pi i f \cdot s}$, so the phase slope gives $s$, to a fraction of a
# pixel). `misalignment.image_shifts` measures it with the image placed at
# each of the four phases and averages them.

# %%
photo = load_image(max_side=300)
shifts = {mode: misalignment.image_shifts(photo, mode) for mode in ("avgpool", "strided")}
for mode, result in shifts.items():
    print(f"{mode:8s} per phase {np.round(result.shifts, 3).tolist()}  mean {result.mean}")

# %% [markdown]
# Pooling: no shift, to a fraction of a percent of a pixel. Strided: half a
# pixel down and to the right. Single phases scatter by a few hundredths of
# a pixel around these values (aliasing depends on the image); the average
# over phases removes that scatter.

# %%
assert np.all(np.abs(shifts["avgpool"].mean) < 0.01)
assert np.all(np.abs(shifts["strided"].mean - 0.5) < 0.01)
assert np.all(np.abs(shifts["avgpool"].shifts) < 0.1)
assert np.all(np.abs(shifts["strided"].shifts - 0.5) < 0.1)

# %% [markdown]
# One figure gathers every measurement: left, the shift of each test input
# at each phase on the (column, row) plane, with the phase averages as
# stars; middle, a step edge through both round trips; right, a crop of
# the photograph and its two round trips, and the table of averages.

# %%
viz.plot_misalignment(photo)

# %% [markdown]
# The difference of the two round trips shows where the strided one has
# moved the content: along the edges (here the stars of the flag), light on
# one side and dark on the other.

# %%
trips = {mode: misalignment.round_trip(photo, mode) for mode in ("avgpool", "strided")}
difference = trips["strided"] - trips["avgpool"]
crop = (slice(20, 84), slice(0, 64))
limit = np.abs(difference[crop]).max()
fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
axes[0].imshow(photo[crop], cmap="gray", vmin=0, vmax=1)
axes[0].set_title("original (crop)")
axes[1].imshow(difference[crop], cmap="RdBu", vmin=-limit, vmax=limit)
axes[1].set_title("round trip: strided - avgpool")
for ax in axes:
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# Measured over the whole photograph, the size of the difference follows the
# size of the image gradient closely: the two round trips differ where the
# image changes fastest.

# %%
gradient_rows, gradient_cols = np.gradient(photo)
correlation = np.corrcoef(np.abs(difference).ravel(),
                          np.hypot(gradient_rows, gradient_cols).ravel())[0, 1]
print(f"correlation of |strided - avgpool| with |gradient|: {correlation:.2f}")
assert correlation > 0.5

# %% [markdown]
# Pooling also loses less: `up(pool(X))` is the closest block-constant map to
# $X$ (an orthogonal projection, see chapter 1), so its error can never
# exceed that of `up(X[::2, ::2])`:

# %%
errors = {mode: np.sqrt(np.mean((trip - photo) ** 2)) for mode, trip in trips.items()}
print({mode: round(float(e), 4) for mode, e in errors.items()})
assert errors["avgpool"] < errors["strided"]

# %% [markdown]
# In a network the H→L output is later brought back to high resolution by
# L→H and added to the H→H path, which has not moved. With strided
# downsampling the two contributions disagree by half a pixel at every
# layer; the paper's Table 3 is the price of that disagreement.
#
# %% [markdown]
# ## Exercises
#
# Predict first, then check. Replace the `...` in each exercise cell with your
# answer and run the cell after it: it checks your answer against octref (an
# answer left as `...` only prints a hint). The solutions are on the
# [solutions page](solutions.md), but try first.
#
# **Exercise 5.1.** Low pixel $p = 3$: where on the high grid does its
# sample sit with average pooling, and where with a stride-2 convolution?
# Answer `(avgpool, strided)`.

# %% exercise="5.1"
answer = ...  # (position with avgpool, position with strided)

# %%
check("5.1", answer, tuple(float(misalignment.low_sample_position(3, mode))
                           for mode in ("avgpool", "strided")))

# %% [markdown]
# **Exercise 5.2.** A $5 \times 5$ map whose every row is the ramp
# $0, 1, 2, 3, 4$ goes through the H→L→H round trip with average pooling.
# Predict the first row of the result. (The last block of a row of 5 holds
# one pixel.)

# %%
ramp = np.arange(5.0)[None, :] * np.ones((5, 1))

# %% exercise="5.2"
answer = ...  # 5 numbers

# %%
check("5.2", answer, misalignment.round_trip(ramp, "avgpool")[0])

# %% [markdown]
# **Exercise 5.3.** The same round trip with a stride-2 convolution: predict
# the first row. How far, on average, has the ramp moved?

# %% exercise="5.3"
answer = ...  # 5 numbers

# %%
check("5.3", answer, misalignment.round_trip(ramp, "strided")[0])

# %% [markdown]
# **Next:** [chapter 6](06_cost.py) counts what OctConv costs and saves.
# **Previous:** [chapter 4](04_backward_by_hand.py).
