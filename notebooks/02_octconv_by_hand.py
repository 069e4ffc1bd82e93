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
# # 2. Octave convolution by hand
#
# An octave convolution (OctConv) takes a feature map split in two groups,
# a **high-frequency** group $X^H$ at full resolution and a **low-frequency**
# group $X^L$ at half resolution, and returns a map split the same way. In
# this chapter we compute one on numbers small enough to check with a pencil:
# first each of its four paths pixel by pixel (the paper's Eq. 3), then the
# same thing as whole-map operations (Eq. 4), and finally a pitfall in the
# way Eq. 3 is printed.
#
# Everything is checked against octref: `octref.loops` is the pixel-by-pixel
# implementation, `octref.im2col` the fast one.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
from _exercises import check

from octref import Octave, OctaveWeights, im2col, loops, receptive_field, viz
from octref.octave import octave_weight_shapes
from octref.sampling import pool2x2, upsample2x_nearest

# %% [markdown]
# ## The layer in one picture
#
# The paper's Fig. 2 draws the layer; `viz.plot_octave_layer` draws it for any
# configuration with the shapes octref computes. Here a ResNet-sized layer, 64
# channels in and out, half of them low, on a $56 \times 56$ map: the four
# paths, the pooling on H→L, the upsampling after L→H, and the size of every
# map and weight.

# %%
viz.plot_octave_layer(64, 64, 3, 0.5, 0.5, 56, 56)

# %% [markdown]
# ## The example
#
# One image, one high channel of $4 \times 4$ pixels and one low channel of
# $2 \times 2$ (the low map is always $\lceil H/2 \rceil \times \lceil W/2 \rceil$).
# Integers keep the arithmetic readable; octref computes integer input in
# float64, so every result below is exact.

# %%
X_high = np.arange(16).reshape(4, 4)
X_low = np.array([[1, 2],
                  [3, 4]])
print("X^H =\n", X_high)
print("X^L =\n", X_low)


# %% [markdown]
# A layer with a single path is still a valid octave convolution in octref
# (its other weights are `None`), so we can run each path on its own. This
# helper builds that one-path layer and returns its single output map.

# %%
def run_path(path, weight, x_high=X_high, x_low=X_low):
    """Output map (2-D) of the one-path layer `path` ("hh", "hl", "lh" or "ll")."""
    src, dst = path
    x = Octave(high=x_high[None, None] if src == "h" else None,
               low=x_low[None, None] if src == "l" else None)
    w = OctaveWeights(**{p: (np.asarray(weight)[None, None] if p == path else None)
                         for p in OctaveWeights._fields})
    y, _ = loops.octconv_forward(x, w)
    out = y.high if dst == "h" else y.low
    assert out.dtype == np.float64  # integer input computes in float64
    return out[0, 0]


# %% [markdown]
# ## Eq. 3 with a $1 \times 1$ kernel: where each path reads
#
# With $k = 1$ a convolution only multiplies each pixel by the weight, so all
# that is left of Eq. 3 is *where* each path reads its input. Take the weight
# to be 1:
#
# $$
# \begin{aligned}
# \text{H}\to\text{H}:\; & Y^H_{p,q} = X^H_{p,q} &
# \text{L}\to\text{H}:\; & Y^H_{p,q} = X^L_{\lfloor p/2 \rfloor,\, \lfloor q/2 \rfloor} \\
# \text{L}\to\text{L}:\; & Y^L_{p,q} = X^L_{p,q} &
# \text{H}\to\text{L}:\; & Y^L_{p,q} = X^H_{2p+0.5,\; 2q+0.5}
# \end{aligned}
# $$
#
# **L→H** reads the low pixel $\lfloor p/2 \rfloor$: every low pixel feeds a
# $2 \times 2$ block of high pixels (nearest-neighbour upsampling).
# **H→L** reads $X^H$ at a half-integer position, $2p + 0.5$: the centre of
# the $2 \times 2$ block of rows $2p, 2p+1$. The value there is the block's
# mean (average pooling).

# %%
one = np.ones((1, 1), dtype=int)

assert np.array_equal(run_path("hh", one), X_high)
assert np.array_equal(run_path("ll", one), X_low)

# L->H by hand: row p of the output reads row p // 2 of X^L.
lh_by_hand = np.array([[1, 1, 2, 2],
                       [1, 1, 2, 2],
                       [3, 3, 4, 4],
                       [3, 3, 4, 4]])
assert np.array_equal(run_path("lh", one), lh_by_hand)

# H->L by hand: the mean of each 2x2 block, e.g. (0 + 1 + 4 + 5) / 4 = 2.5.
hl_by_hand = np.array([[(0 + 1 + 4 + 5) / 4, (2 + 3 + 6 + 7) / 4],
                       [(8 + 9 + 12 + 13) / 4, (10 + 11 + 14 + 15) / 4]])
assert np.array_equal(hl_by_hand, [[2.5, 4.5], [10.5, 12.5]])
assert np.array_equal(run_path("hl", one), hl_by_hand)

# %% [markdown]
# Drawn on the high grid (a low pixel covers a $2 \times 2$ block of high
# pixels), the four 1×1 paths are four ways of moving numbers between the
# grids: H→L averages each block, L→H copies each low pixel into its block.

# %%
def show_on_high_grid(maps, titles):
    """Draw 2-D maps side by side at the scale of the 4x4 high grid, values written in."""
    fig, axes = plt.subplots(1, len(maps), figsize=(2.2 * len(maps), 2.7), layout="constrained")
    for ax, values, title in zip(axes, maps, titles):
        scale = 4 // values.shape[0]  # 1 for a high map, 2 for a low one
        ax.imshow(values, cmap="Blues", vmin=0, vmax=24, extent=(-0.5, 3.5, 3.5, -0.5))
        for (r, c), v in np.ndenumerate(values):
            ax.text(scale * c + (scale - 1) / 2, scale * r + (scale - 1) / 2, f"{v:g}",
                    ha="center", va="center", fontsize=10)
        ax.set_xticks(np.arange(-0.5, 4, 2), minor=False, labels=[])
        ax.set_yticks(np.arange(-0.5, 4, 2), minor=False, labels=[])
        ax.grid(color="0.4", lw=1)
        ax.set_title(title, fontsize=10)
    plt.show()


show_on_high_grid([X_high, X_low] + [run_path(p, one) for p in ("hh", "hl", "lh", "ll")],
                  ["$X^H$", "$X^L$", "H→H", "H→L: block means", "L→H: copies", "L→L"])

# %% [markdown]
# ## Eq. 3 with a $3 \times 3$ kernel
#
# A $k \times k$ kernel adds the offsets
# $(i, j) \in \mathcal{N}_k = \{-\tfrac{k-1}{2}, \dots, \tfrac{k-1}{2}\}^2$,
# each with its own weight $W_{i,j}$, and a read outside the map is zero
# (zero padding). Unrolling Eq. 4 (below) gives these per-pixel sums, the
# form of Eq. 3 and what octref's loops evaluate:
#
# $$
# \begin{aligned}
# Y^H_{p,q} &= \sum_{(i,j) \in \mathcal{N}_k} W^{HH}_{i,j}\, X^H_{p+i,\,q+j}
#            + \sum_{(i,j) \in \mathcal{N}_k} W^{LH}_{i,j}\,
#              X^L_{\lfloor p/2 \rfloor + i,\; \lfloor q/2 \rfloor + j} \\
# Y^L_{p,q} &= \sum_{(i,j) \in \mathcal{N}_k} W^{LL}_{i,j}\, X^L_{p+i,\,q+j}
#            + \sum_{(i,j) \in \mathcal{N}_k} W^{HL}_{i,j}\,
#              X^H_{2(p+i)+0.5,\; 2(q+j)+0.5}
# \end{aligned}
# $$
#
# (With channels, $W_{i,j}$ is a $C_\text{in} \times C_\text{out}$ matrix and
# the products are $W_{i,j}^\top X_{\cdot,\cdot}$.) Note where the offset goes
# in the two cross-frequency paths: L→H adds $i$ *after* halving $p$, and
# H→L steps from block to block, two high pixels per step of $i$.
#
# Take a "plus" kernel: weight 1 at the centre and its four neighbours.

# %%
plus = np.array([[0, 1, 0],
                 [1, 1, 1],
                 [0, 1, 0]])

# %% [markdown]
# **L→H.** High pixel $(0, 0)$ reads around low pixel $(0, 0)$: the centre
# $1$, the right neighbour $2$, the one below $3$ (the other two taps fall
# outside): $1 + 2 + 3 = 6$. All four high pixels of a block read the same
# low pixel, so the output is constant on $2 \times 2$ blocks:
# $(0,1)$ gives $2 + 1 + 4 = 7$, $(1,0)$ gives $3 + 1 + 4 = 8$, $(1,1)$ gives
# $4 + 2 + 3 = 9$.

# %%
lh_plus_by_hand = np.array([[6, 6, 7, 7],
                            [6, 6, 7, 7],
                            [8, 8, 9, 9],
                            [8, 8, 9, 9]])
assert np.array_equal(run_path("lh", plus), lh_plus_by_hand)

# %% [markdown]
# **H→L.** Low pixel $(p, q)$ sums the block means at
# $(2(p+i)+0.5,\, 2(q+j)+0.5)$, i.e. the plus-shaped neighbourhood on the grid
# of block means $\begin{bmatrix} 2.5 & 4.5 \\ 10.5 & 12.5 \end{bmatrix}$
# found above. Pixel $(0, 0)$: $2.5 + 4.5 + 10.5 = 17.5$.

# %%
hl_plus_by_hand = np.array([[2.5 + 4.5 + 10.5, 4.5 + 2.5 + 12.5],
                            [10.5 + 2.5 + 12.5, 12.5 + 4.5 + 10.5]])
assert hl_plus_by_hand[0, 0] == 17.5
assert np.array_equal(run_path("hl", plus), hl_plus_by_hand)


# %% [markdown]
# ## Eq. 3 written out
#
# Here is Eq. 3 for one channel, as plain Python loops. `read` is zero
# padding; `block_mean` is $X^H$ at a block centre, averaging the pixels of
# the block that lie inside the map (at an odd border a block has only 2 or
# 1 of them).

# %%
def read(X, r, c):
    """X[r, c], or 0 outside the map (zero padding)."""
    return X[r, c] if 0 <= r < X.shape[0] and 0 <= c < X.shape[1] else 0.0


def block_mean(X_high, r, c):
    """X^H at the block centre (2r + 0.5, 2c + 0.5); 0 outside the grid of blocks."""
    if not (0 <= 2 * r < X_high.shape[0] and 0 <= 2 * c < X_high.shape[1]):
        return 0.0
    return X_high[2 * r:2 * r + 2, 2 * c:2 * c + 2].mean()


def octconv_eq3(X_high, X_low, W_hh, W_hl, W_lh, W_ll):
    """Eq. 3 for one channel: 2-D maps in, 2-D k x k kernels, (Y^H, Y^L) out."""
    k = W_hh.shape[0]
    offsets = range(-(k // 2), k // 2 + 1)
    Y_high = np.zeros(X_high.shape)
    Y_low = np.zeros(X_low.shape)
    for p in range(Y_high.shape[0]):
        for q in range(Y_high.shape[1]):
            for i in offsets:
                for j in offsets:
                    Y_high[p, q] += W_hh[i + k // 2, j + k // 2] * read(X_high, p + i, q + j)
                    Y_high[p, q] += W_lh[i + k // 2, j + k // 2] * read(X_low, p // 2 + i,
                                                                        q // 2 + j)
    for p in range(Y_low.shape[0]):
        for q in range(Y_low.shape[1]):
            for i in offsets:
                for j in offsets:
                    Y_low[p, q] += W_ll[i + k // 2, j + k // 2] * read(X_low, p + i, q + j)
                    Y_low[p, q] += W_hl[i + k // 2, j + k // 2] * block_mean(X_high, p + i,
                                                                             q + j)
    return Y_high, Y_low


# %% [markdown]
# It agrees with octref's loops, and with the fast im2col implementation, for
# random integer kernels, on the $4 \times 4$ example and on an odd
# $5 \times 5$ map (whose low map is $3 \times 3$ and whose last blocks are
# partial).

# %%
rng = np.random.default_rng(0)
odd_high = rng.integers(-5, 6, size=(5, 5))
odd_low = rng.integers(-5, 6, size=(3, 3))
for x_high, x_low in [(X_high, X_low), (odd_high, odd_low)]:
    W = OctaveWeights(*rng.integers(-3, 4, size=(4, 3, 3)))
    by_hand = octconv_eq3(x_high, x_low, *W)
    x = Octave(x_high[None, None], x_low[None, None])
    w = OctaveWeights(*(a[None, None] for a in W))
    for impl in (loops, im2col):
        y, _ = impl.octconv_forward(x, w)
        assert np.allclose(y.high[0, 0], by_hand[0]) and np.allclose(y.low[0, 0], by_hand[1])
print("Eq. 3 by hand == octref.loops == octref.im2col")

# %% [markdown]
# ## Eq. 4: the same thing with whole maps
#
# Look again at the two cross-frequency sums. The L→H sum is an ordinary
# convolution $f$ of $X^L$, evaluated at $\lfloor p/2 \rfloor$, which is
# nearest-neighbour upsampling of that convolution. The H→L sum is an
# ordinary convolution of the map of block means, which is $2 \times 2$
# average pooling. So Eq. 3 is Eq. 4:
#
# $$
# \begin{aligned}
# Y^H &= f(X^H; W^{HH}) + \operatorname{up}\big(f(X^L; W^{LH})\big) \\
# Y^L &= f(X^L; W^{LL}) + f\big(\operatorname{pool}(X^H); W^{HL}\big)
# \end{aligned}
# $$
#
# where $f$ is a size-preserving convolution. This form is the fast one: each
# path is a plain convolution at the resolution of its *smaller* map. We
# build it from octref's pieces (`im2col.conv_forward` is a plain
# convolution) and compare with the per-pixel loops, now with several
# channels and a batch of 2.

# %%
def octconv_eq4(x, w, k):
    pad = (k - 1) // 2
    def f(a, weight):
        return im2col.conv_forward(a, weight, padding=pad)[0]
    y_high = f(x.high, w.hh) + upsample2x_nearest(f(x.low, w.lh), x.high.shape[2:])
    y_low = f(x.low, w.ll) + f(pool2x2(x.high), w.hl)
    return Octave(y_high, y_low)


c_high, c_low = 3, 2  # input channels; the output has 2 high and 4 low
x = Octave(rng.standard_normal((2, c_high, 6, 6)), rng.standard_normal((2, c_low, 3, 3)))
w = OctaveWeights(hh=rng.standard_normal((2, c_high, 3, 3)),
                  hl=rng.standard_normal((4, c_high, 3, 3)),
                  lh=rng.standard_normal((2, c_low, 3, 3)),
                  ll=rng.standard_normal((4, c_low, 3, 3)))
y4 = octconv_eq4(x, w, 3)
y3, _ = loops.octconv_forward(x, w)
assert y4.high.shape == (2, 2, 6, 6) and y4.low.shape == (2, 4, 3, 3)
assert np.allclose(y4.high, y3.high) and np.allclose(y4.low, y3.low)
print("Eq. 4 (pool, conv, upsample) == Eq. 3 (pixel by pixel)")

# %% [markdown]
# ## The bias is added once per output map
#
# $Y^H$ is the sum of two paths, but it gets *one* bias vector, `b.high`, not
# one per path (the same for $Y^L$). With all weights zero the output is
# exactly the bias:

# %%
zero_w = OctaveWeights(*(np.zeros_like(a) for a in w))
b = Octave(high=np.array([1.0, -1.0]), low=np.array([0.5, 2.0, 3.0, 4.0]))
y, _ = loops.octconv_forward(x, zero_w, b)
assert np.all(y.high == b.high[None, :, None, None])
assert np.all(y.low == b.low[None, :, None, None])

# %% [markdown]
# ## A pitfall: the H→L formula as printed
#
# The paper prints $X^H$ at $(2p + 0.5 + i,\; 2q + 0.5 + j)$; unrolling Eq. 4
# gives the $2 \times 2$ block centred at $(2(p + i) + 0.5,\; 2(q + j) + 0.5)$;
# the two differ for $k > 1$, and every implementation, octref's included,
# computes Eq. 4.
#
# In the printed form the offset $i$ sits *outside* the doubling, so taken as
# printed it moves one **high** pixel and the kernel slides over overlapping
# blocks. Eq. 4, the official code and octref all step one **low** pixel, two
# high pixels. `octref.loops.high_to_low_literal` computes the printed form so
# the difference can be seen.
#
# For $k = 1$ there is no offset, and the two agree:

# %%
x1 = X_high[None, None]
for w1 in (one, np.array([[7]])):
    literal = loops.high_to_low_literal(x1, w1[None, None])[0, 0]
    assert np.array_equal(literal, run_path("hl", w1))

# %% [markdown]
# For $k = 3$ they differ. Pixel $(0, 0)$ with the plus kernel, literally:
# the blocks whose top-left corners are $(0,0)$, $(-1,0)$, $(1,0)$,
# $(0,-1)$, $(0,1)$, each averaging its in-bounds pixels:
#
# $$
# \underbrace{\tfrac{0+1+4+5}{4}}_{(0,0)}
# + \underbrace{\tfrac{0+1}{2}}_{(-1,0)}
# + \underbrace{\tfrac{4+5+8+9}{4}}_{(1,0)}
# + \underbrace{\tfrac{0+4}{2}}_{(0,-1)}
# + \underbrace{\tfrac{1+2+5+6}{4}}_{(0,1)}
# = 2.5 + 0.5 + 6.5 + 2 + 3.5 = 15,
# $$
#
# against $17.5$ for Eq. 4.

# %%
literal = loops.high_to_low_literal(x1, plus[None, None])[0, 0]
assert literal[0, 0] == 2.5 + 0.5 + 6.5 + 2 + 3.5 == 15
assert run_path("hl", plus)[0, 0] == 17.5
assert not np.allclose(literal, run_path("hl", plus))
print("literal reading:\n", literal, "\nEq. 4:\n", run_path("hl", plus))

# %% [markdown]
# The difference is the receptive field. Probe each reading with one-hot
# inputs (both are linear, so the coefficient of high pixel $r$ in
# $Y^L_{p,q}$ is the output when $X^H$ is 1 at $r$ and 0 elsewhere). With a
# $3 \times 3$ kernel of ones on a $10 \times 10$ map, low pixel $(2, 2)$ sees a
# $2k \times 2k = 6 \times 6$ window under Eq. 4 but only a
# $(k+1) \times (k+1) = 4 \times 4$ window under the literal reading.

# %%
ones3 = np.ones((1, 1, 3, 3))


def footprint(forward, size=10, p=2, q=2):
    """Coefficient of every high pixel in Y^L[p, q] of a linear H->L map."""
    coeff = np.zeros((size, size))
    for r in range(size):
        for c in range(size):
            probe = np.zeros((1, 1, size, size))
            probe[0, 0, r, c] = 1.0
            coeff[r, c] = forward(probe)[0, 0, p, q]
    return coeff


eq4_field = footprint(lambda xh: loops.octconv_forward(
    Octave(xh, None), OctaveWeights(None, ones3, None, None))[0].low)
literal_field = footprint(lambda xh: loops.high_to_low_literal(xh, ones3))


def extent(field):
    rows, cols = np.nonzero(field)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


assert extent(eq4_field) == (6, 6) and extent(literal_field) == (4, 4)
assert np.isclose(eq4_field.sum(), 9) and np.isclose(literal_field.sum(), 9)

fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.6), layout="constrained")
for ax, field, title in [(axes[0], eq4_field, "Eq. 4: $2(p+i)+0.5$"),
                         (axes[1], literal_field, "literal: $2p+0.5+i$")]:
    im = ax.imshow(field, cmap="viridis", vmin=0, vmax=1)
    ax.set_title(title)
    ax.set_xticks(range(0, 10, 2))
    ax.set_yticks(range(0, 10, 2))
fig.colorbar(im, ax=axes, shrink=0.8)
fig.suptitle("Weight of each high pixel in $Y^L_{2,2}$ (3x3 kernel of ones)")
plt.show()

# %% [markdown]
# Both weights sum to 9 (nine taps, each a mean), but Eq. 4 spreads them
# evenly over a $6 \times 6$ window while the literal reading piles them up
# in the middle of a $4 \times 4$ one. They are different operators; octref,
# like every implementation, computes Eq. 4.
#
# ## What the low group buys: a wider view
#
# The $6 \times 6$ window above is a feature, not an accident (Section 3.2 of
# the paper): a $k \times k$ kernel on the half-resolution map covers
# $2k \times 2k$ pixels of the full-resolution one. Information that passes
# through the low group sees twice as far for the same number of weights.
# `octref.receptive_field` measures this with octref's own backward pass
# (chapter 4): the gradient of one output pixel with respect to the input
# image is nonzero exactly on the pixels that output can see.

# %%
k = 3
widths = {}
for scenario in receptive_field.SCENARIOS:
    field = receptive_field.receptive_field(scenario, kernel_size=k)
    widths[scenario] = receptive_field.support_size(field)
    assert widths[scenario][0] == receptive_field.expected_support(scenario, k)
print(widths)
assert widths["H->H"] == (k, k) and widths["L->H"] == (2 * k, 2 * k)
assert widths["H->H->H"] == (2 * k - 1,) * 2 and widths["H->L->H"] == (2 * (2 * k - 1),) * 2

# %% [markdown]
# One layer: $k$ pixels through H→H, $2k$ through L→H. Two layers:
# $2k - 1$ through the high group alone, $2(2k - 1)$ through H→L→H.

# %%
viz.plot_receptive_fields(kernel_size=k)

# %% [markdown]
# %% [markdown]
# ## Exercises
#
# Predict first, then check. Replace the `...` in each exercise cell with your
# answer and run the cell after it: it checks your answer against octref (an
# answer left as `...` only prints a hint). The solutions are on the
# [solutions page](solutions.md), but try first.
#
# **Exercise 2.1.** Take the kernel `pair` below (the centre and its right
# neighbour). Predict the whole H→L output for the $4 \times 4$ example, a
# $2 \times 2$ array. (Use the block means found above.)

# %%
pair = np.array([[0, 0, 0],
                 [0, 1, 1],
                 [0, 0, 0]])

# %% exercise="2.1"
answer = ...  # Y^L, a 2x2 array

# %%
check("2.1", answer, run_path("hl", pair))

# %% [markdown]
# **Exercise 2.2.** Now the printed form with the same kernel: what is
# `loops.high_to_low_literal` at pixel $(0, 0)$? (Its right tap is the block
# one *high* pixel to the right.)

# %% exercise="2.2"
answer = ...  # a number

# %%
check("2.2", answer, loops.high_to_low_literal(X_high[None, None], pair[None, None])[0, 0, 0, 0])

# %% [markdown]
# **Exercise 2.3.** Predict the receptive field for $k = 5$: its width through
# L→H (one layer) and through H→L→H (two layers). Answer `(lh, hlh)`.

# %% exercise="2.3"
answer = ...  # (width through L->H, width through H->L->H)

# %%
measured = tuple(receptive_field.support_size(receptive_field.receptive_field(s, kernel_size=5))[0]
                 for s in ("L->H", "H->L->H"))
check("2.3", answer, measured)

# %% [markdown]
# **Exercise 2.4.** A layer from 16 to 32 channels, $3 \times 3$, with
# $\alpha_\text{in} = 0.25$ and $\alpha_\text{out} = 0.5$: what is the shape of
# its H→L weight $W^{HL}$? (Weights are `(C_out, C_in / groups, k, k)`; draw
# the layer with `viz.plot_octave_layer` to check your reasoning.)

# %% exercise="2.4"
answer = ...  # a 4-tuple

# %%
check("2.4", answer, octave_weight_shapes(16, 32, 3, 0.25, 0.5).hl)

# %% [markdown]
# **Next:** [chapter 3](03_loops_to_im2col.py) turns each path's convolution
# into one matrix product. **Previous:** [chapter 1](01_frequencies.py).
