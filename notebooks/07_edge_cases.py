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
# # 7. Edge cases
#
# The paper describes OctConv on even-sized maps with $0 < \alpha < 1$. Real
# networks also have odd sizes, stride 2, a first layer (no low input), a
# last layer (no low output), depthwise layers, and sometimes $\alpha = 1$.
# These are the cases where implementations differ or break. For each one:
# what goes wrong elsewhere, and what octref does, asserted. Every
# configuration is also run through both implementations, pixel loops and
# im2col, which must agree.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
from _exercises import answered, check

from octref import (
    Octave,
    OctaveWeights,
    conv_forward,
    im2col,
    init_octave_weights,
    loops,
    split_channels,
    viz,
)
from octref.octave import octave_weight_shapes
from octref.sampling import pool2x2, upsample2x_nearest, upsample2x_nearest_backward

rng = np.random.default_rng(0)


def random_octave(n, c_high, c_low, size):
    """An Octave with c_high channels of size x size and c_low of ceil(size/2)^2."""
    half = (size + 1) // 2
    return Octave(rng.standard_normal((n, c_high, size, size)) if c_high else None,
                  rng.standard_normal((n, c_low, half, half)) if c_low else None)


def both(x, w, b=None, **options):
    """Run loops and im2col, assert they agree, and return the output."""
    y_loops, _ = loops.octconv_forward(x, w, b, **options)
    y_fast, _ = im2col.octconv_forward(x, w, b, **options)
    for a, c in zip(y_loops, y_fast):
        assert (a is None) == (c is None)
        if a is not None:
            assert a.shape == c.shape and np.allclose(a, c)
    return y_fast


def shapes(octave):
    return tuple(None if a is None else a.shape for a in octave)


# %% [markdown]
# ## Odd sizes: ceil-mode pooling
#
# A $7 \times 7$ high map has a $4 \times 4$ low map in octref,
# $\lceil 7/2 \rceil$. Frameworks pool in **floor mode** by default, which
# gives $3 \times 3$ and drops the last row and column. Upsampled by 2 that is
# $6 \times 6$, which cannot be added to the $7 \times 7$ output of the H→H
# path:

# %%
x7 = rng.standard_normal((7, 7))
floor_pooled = x7[:6, :6].reshape(3, 2, 3, 2).mean(axis=(1, 3))  # floor mode
floor_back = floor_pooled.repeat(2, axis=0).repeat(2, axis=1)
assert floor_back.shape == (6, 6)
try:
    x7 + floor_back
    raise AssertionError("a 7x7 and a 6x6 map should not add")
except ValueError as exc:
    print("floor mode:", exc)

assert pool2x2(x7).shape == (4, 4)
assert upsample2x_nearest(pool2x2(x7), (7, 7)).shape == (7, 7)

# %% [markdown]
# Ceil mode alone is not enough. The last block of an odd row holds 2 pixels
# (the corner block 1), and octref averages only those. The picture shows the
# blocks of a $7 \times 7$ map and how many pixels each one averages:

# %%
counts = upsample2x_nearest_backward(np.ones((7, 7)), (4, 4))  # pixels per block
fig, ax = plt.subplots(figsize=(4.2, 4.2), layout="constrained")
ax.imshow(upsample2x_nearest(counts, (7, 7)), cmap="Blues", vmin=0, vmax=9)
for r in range(4):
    for c in range(4):
        ax.add_patch(plt.Rectangle((2 * c - 0.5, 2 * r - 0.5), 2, 2, fill=False, lw=2))
        ax.text(min(2 * c + 0.5, 6), min(2 * r + 0.5, 6), f"{counts[r, c]:.0f} px",
                ha="center", va="center", fontsize=10)
ax.set_xlim(-0.5, 6.5)
ax.set_ylim(6.5, -0.5)
ax.set_xticks(range(7))
ax.set_yticks(range(7))
ax.set_title("ceil-mode 2×2 blocks of a 7×7 map")
plt.show()
assert counts[0, 0] == 4 and counts[0, 3] == 2 and counts[3, 3] == 1

# %% [markdown]
# Zero-padding to an even size and averaging 4 pixels ("count_include_pad")
# darkens the border: a constant map no longer pools to a constant.

# %%
ones = np.ones((7, 7))
assert np.all(pool2x2(ones) == 1.0)
zero_padded = np.pad(ones, ((0, 1), (0, 1))).reshape(4, 2, 4, 2).mean(axis=(1, 3))
assert zero_padded[0, 3] == 0.5 and zero_padded[3, 3] == 0.25
print("count_include_pad, last row:", zero_padded[3])

# %% [markdown]
# A whole layer on odd sizes, $5 \times 5$ and $7 \times 7$: the outputs
# keep the input sizes, and the two implementations agree. octref also
# refuses a low map of the floor-mode size, naming the argument:

# %%
w = init_octave_weights(6, 6, 3, 0.5, 0.5, rng=rng)
for size in (5, 7):
    x = random_octave(2, 3, 3, size)
    y = both(x, w)
    half = (size + 1) // 2
    assert shapes(y) == ((2, 3, size, size), (2, 3, half, half))

try:
    im2col.octconv_forward(Octave(rng.standard_normal((1, 3, 7, 7)),
                                  rng.standard_normal((1, 3, 3, 3))), w)
    raise AssertionError("a floor-mode low map should be refused")
except ValueError as exc:
    print(exc)
    assert "x.low" in str(exc) and "ceil(H/2)" in str(exc)

# %% [markdown]
# ## Stride 2
#
# A stride-2 OctConv halves both groups. As in the official code, every
# path's input is pooled first and then convolved at stride 1: H→H reads
# $\operatorname{pool}(X^H)$, H→L reads $\operatorname{pool}(\operatorname{pool}(X^H))$,
# L→L reads $\operatorname{pool}(X^L)$, and L→H reads $X^L$ as it is. Its
# output already has the size of the new high map, so it is **not**
# upsampled. On an odd $7 \times 7$ map the new sizes are
# $\lceil 7/2 \rceil = 4$ and $\lceil 4/2 \rceil = 2$:

# %%
viz.plot_octave_layer(6, 6, 3, 0.5, 0.5, 7, 7, stride=2)

# %%
x = random_octave(1, 3, 3, 7)
y = both(x, w, stride=2)
assert shapes(y) == ((1, 3, 4, 4), (1, 3, 2, 2))

# L->H at stride 2 is a plain convolution of X^L, no upsampling:
lh_only = OctaveWeights(None, None, w.lh, None)
y_lh, _ = im2col.octconv_forward(Octave(None, x.low), lh_only, stride=2)
assert np.allclose(y_lh.high, conv_forward(x.low, w.lh, padding=1)[0])

# %% [markdown]
# ## First and last layers: $\alpha_\text{in} = 0$, $\alpha_\text{out} = 0$
#
# A network's input image has no low group, and its classifier wants one
# ordinary map. So the first OctConv has $\alpha_\text{in} = 0$ and only the
# paths H→H and H→L, and the last has $\alpha_\text{out} = 0$ and only H→H
# and L→H. Paths that do not exist have weight `None`, and a missing group is
# `None` in the `Octave`:

# %%
viz.plot_octave_layer(3, 8, 3, 0.0, 0.5, 9, 9)

# %%
def paths(w):
    """The names of the paths a layer has."""
    return [p for p, a in zip(OctaveWeights._fields, w) if a is not None]


w_first = init_octave_weights(3, 8, 3, alpha_in=0.0, alpha_out=0.5, rng=rng)
w_last = init_octave_weights(8, 5, 3, alpha_in=0.5, alpha_out=0.0, rng=rng)
image = Octave(rng.standard_normal((2, 3, 9, 9)), None)  # an RGB image, odd size
hidden = both(image, w_first)
out = both(hidden, w_last)
print(f"first layer {paths(w_first)}: image {shapes(image)} -> {shapes(hidden)}")
print(f"last layer  {paths(w_last)}: {shapes(hidden)} -> {shapes(out)}")
assert (paths(w_first), paths(w_last)) == (["hh", "hl"], ["hh", "lh"])
assert shapes(out) == ((2, 5, 9, 9), None)

# %% [markdown]
# With $\alpha_\text{in} = \alpha_\text{out} = 0$ there is only H→H: an
# ordinary convolution.

# %%
w_plain = init_octave_weights(3, 4, 3, 0.0, 0.0, rng=rng)
y = both(image, w_plain)
assert np.allclose(y.high, conv_forward(image.high, w_plain.hh, padding=1)[0])

# %% [markdown]
# ## $\alpha = 1$: everything low
#
# Code that always builds four convolutions creates layers with **zero**
# channels when $\alpha = 1$ (the high group is empty), and many frameworks
# refuse a convolution with 0 input channels. In octref the high group is
# simply absent: only L→L exists, and the layer is an ordinary convolution
# at half resolution.

# %%
w_all_low = init_octave_weights(8, 8, 3, 1.0, 1.0, rng=rng)
x_all_low = random_octave(2, 0, 8, 8)  # split_channels(8, 1.0) == (0, 8): no high group
y = both(x_all_low, w_all_low)
print(f"alpha = 1: paths {paths(w_all_low)}, {shapes(x_all_low)} -> {shapes(y)}")
assert paths(w_all_low) == ["ll"]
assert np.allclose(y.low, conv_forward(x_all_low.low, w_all_low.ll, padding=1)[0])

# Going back from all-low to half-and-half: L->H and L->L.
w_up = init_octave_weights(8, 8, 3, 1.0, 0.5, rng=rng)
print(f"alpha 1 -> 0.5: paths {paths(w_up)}, {shapes(x_all_low)} -> {shapes(both(x_all_low, w_up))}")

# %% [markdown]
# ## Depthwise
#
# A depthwise layer ($\text{groups} = C_\text{in}$) convolves every channel
# with its own filter and never mixes channels, so it cannot mix frequencies
# either: only H→H and L→L exist, each depthwise within its group.

# %%
viz.plot_octave_layer(8, 8, 3, 0.5, 0.5, 7, 7, groups=8)

# %%
w_dw = init_octave_weights(8, 8, 3, 0.5, 0.5, groups=8, rng=rng)
print({path: None if a is None else a.shape for path, a in zip(OctaveWeights._fields, w_dw)})
x = random_octave(2, 4, 4, 7)
y = both(x, w_dw, groups=8)
assert np.allclose(y.high, conv_forward(x.high, w_dw.hh, padding=1, groups=4)[0])
assert np.allclose(y.low, conv_forward(x.low, w_dw.ll, padding=1, groups=4)[0])

# A crossing weight in a depthwise layer is an error, with the reason:
try:
    im2col.octconv_forward(x, w_dw._replace(hl=rng.standard_normal((4, 1, 3, 3))), groups=8)
    raise AssertionError("a depthwise layer has no H->L path")
except ValueError as exc:
    print(exc)
    assert "w.hl" in str(exc) and "depthwise" in str(exc)

# %% [markdown]
# ## Upsample before the convolution
#
# Eq. 4 convolves $X^L$ at low resolution and upsamples the **result**,
# $\operatorname{up}(f(X^L; W^{LH}))$. Some implementations upsample first,
# $f(\operatorname{up}(X^L); W^{LH})$. That costs 4 times the multiply-adds
# (the convolution runs on the high grid), which throws away the point of the
# low group, and for $k > 1$ it is a different operator: a $3 \times 3$
# kernel on the upsampled map spans 3 high pixels, so it sees only 2 low
# pixels per axis instead of 3. For $k = 1$ the two are the same.

# %%
x_low = rng.standard_normal((1, 4, 4, 4))
after_pixels = conv_forward(x_low, np.ones((1, 4, 3, 3)), padding=1)[0][0, 0].size
before_pixels = conv_forward(upsample2x_nearest(x_low, (8, 8)), np.ones((1, 4, 3, 3)),
                             padding=1)[0][0, 0].size
assert before_pixels == 4 * after_pixels  # same work per output pixel, 4x the pixels
for k, same in ((1, True), (3, False)):
    w_lh = rng.standard_normal((4, 4, k, k))
    pad = (k - 1) // 2
    after = upsample2x_nearest(conv_forward(x_low, w_lh, padding=pad)[0], (8, 8))
    before = conv_forward(upsample2x_nearest(x_low, (8, 8)), w_lh, padding=pad)[0]
    octref_lh = im2col.octconv_forward(Octave(None, x_low),
                                       OctaveWeights(None, None, w_lh, None))[0].high
    assert np.allclose(octref_lh, after)
    assert np.allclose(before, after) == same
    print(f"k={k}: upsample-first {'equals' if same else 'differs from'} Eq. 4")


def low_pixels_seen(lh_map, p=4):
    """Rows, cols of the low pixels that high pixel (p, p) of lh_map(X^L) depends on."""
    seen = np.zeros((4, 4), dtype=bool)
    for r in range(4):
        for c in range(4):
            probe = np.zeros((1, 1, 4, 4))
            probe[0, 0, r, c] = 1.0
            seen[r, c] = lh_map(probe)[0, 0, p, p] != 0
    return np.nonzero(seen.any(axis=1))[0], np.nonzero(seen.any(axis=0))[0]


ones33 = np.ones((1, 1, 3, 3))
rows, cols = low_pixels_seen(
    lambda a: upsample2x_nearest(conv_forward(a, ones33, padding=1)[0], (8, 8)))
assert len(rows) == len(cols) == 3
rows, cols = low_pixels_seen(
    lambda a: conv_forward(upsample2x_nearest(a, (8, 8)), ones33, padding=1)[0])
assert len(rows) == len(cols) == 2

# %% [markdown]
# ## Rounding the channel split
#
# With $C$ channels, octref puts $c_\text{low} = \lfloor \alpha C \rfloor$
# channels in the low group, `int(alpha * C)` as in the official code, and
# the rest in the high group. Rounding the other group instead,
# $c_\text{high} = \lfloor (1 - \alpha) C \rfloor$, or using `round`, gives
# different layers whenever $\alpha C$ is not a whole number, so weights do
# not transfer between such implementations:

# %%
C, alpha = 3, 0.5
octref_split = split_channels(C, alpha)
high_first = (int((1 - alpha) * C), C - int((1 - alpha) * C))
rounded = (C - round(alpha * C), round(alpha * C))
print("octref", octref_split, " high rounded down", high_first, " round()", rounded)
assert octref_split == (2, 1) and high_first == (1, 2) and rounded == (1, 2)

# %% [markdown]
# They can differ even when $\alpha C$ is a whole number, through floating
# point: with $C = 10$, $\alpha = 0.8$, `(1 - 0.8) * 10` is
# `1.9999999999999996`, so rounding the high group down gives (1, 9)
# instead of (2, 8).

# %%
assert (1 - 0.8) * 10 < 2
assert split_channels(10, 0.8) == (2, 8)
assert (int((1 - 0.8) * 10), 10 - int((1 - 0.8) * 10)) == (1, 9)

# %% [markdown]
# octref's own rule is not immune: `int(alpha * C)` inherits floating-point
# rounding too. $0.29 \times 100$ is `28.999999999999996` in binary floating
# point, so 29% of 100 channels is 28 low channels. octref keeps this, to match the official code's layer
# shapes; pick $\alpha$ values that are exact in binary (0.25, 0.5, 0.75,
# 0.125) to avoid surprises.

# %%
assert 0.29 * 100 < 29
assert split_channels(100, 0.29) == (72, 28)
assert split_channels(100, 0.25) == (75, 25)

# %% [markdown]
# ## Errors name the argument
#
# A wrong call fails at once with a `ValueError` (or `TypeError`) that
# names the argument and says what was expected, instead of a shape error
# deep inside a matmul:

# %%
x = random_octave(1, 3, 3, 8)
w = init_octave_weights(6, 6, 3, 0.5, 0.5, rng=rng)
bad_calls = {
    "stride": lambda: im2col.octconv_forward(x, w, stride=3),
    "padding": lambda: im2col.octconv_forward(x, w, padding=0),
    "groups": lambda: im2col.octconv_forward(x, w, groups=2),
    "downsample": lambda: im2col.octconv_forward(x, w, stride=2, downsample="strided"),
    "w.lh": lambda: im2col.octconv_forward(x, w._replace(lh=None)),
    "alpha": lambda: split_channels(8, 1.5),
}
for argument, call in bad_calls.items():
    try:
        call()
        raise AssertionError(f"{argument}: the call should have failed")
    except ValueError as exc:
        print(f"{argument:10s} {exc}")
        assert argument in str(exc)

# %% [markdown]
# ## Exercises
#
# Predict first, then check. Replace the `...` in each exercise cell with your
# answer and run the cell after it: it checks your answer against octref (an
# answer left as `...` only prints a hint). The solutions are on the
# [solutions page](solutions.md), but try first.
#
# **Exercise 7.1.** A stride-2 octave layer gets a $7 \times 9$ high map.
# Predict the spatial size of its low output $Y^L$, `(rows, cols)`.

# %% exercise="7.1"
answer = ...  # (rows, cols) of Y^L

# %%
y = both(Octave(rng.standard_normal((1, 3, 7, 9)), rng.standard_normal((1, 3, 4, 5))), w,
         stride=2)
check("7.1", answer, y.low.shape[2:])

# %% [markdown]
# **Exercise 7.2.** Which paths does a depthwise layer with 6 channels,
# $\alpha_\text{in} = \alpha_\text{out} = 1/3$, have, and what is the shape of its
# $W^{LL}$? Answer `(paths, shape)`, the paths as a tuple of names such as
# `("hh", "hl")`.

# %% exercise="7.2"
answer = ...  # (tuple of path names, shape of W^LL)

# %%
layer = octave_weight_shapes(6, 6, 3, 1 / 3, 1 / 3, groups=6)
present = tuple(p for p, shape in zip(OctaveWeights._fields, layer) if shape is not None)
if answered("7.2", answer):
    assert tuple(answer[0]) == present and tuple(answer[1]) == layer.ll, \
        f"Exercise 7.2: {answer!r} is not it; draw it with viz.plot_octave_layer"
    print("Exercise 7.2: right.")

# %% [markdown]
# **Exercise 7.3 (find the bug).** Here is an OctConv as a blog post might
# write it: Eq. 4, one line per path, in octref's calling convention for
# `octref.testing.check_octconv`. One line is wrong. Read it, decide which
# known bug it has, and answer with its key in `octref.testing.KNOWN_BUGS`
# (printed below). The check cell then runs `check_octconv` on it and prints
# octref's diagnosis.

# %%
from octref.testing import KNOWN_BUGS, OctConvConfig, check_octconv


def blog_octconv(x_high, x_low, w_hh, w_hl, w_lh, w_ll, b_high, b_low, stride, padding, groups):
    def f(x, weight):
        return conv_forward(x, weight, padding=padding)[0]
    size = x_high.shape[2:]
    y_high = f(x_high, w_hh) + f(upsample2x_nearest(x_low, size), w_lh)
    y_low = f(x_low, w_ll) + f(pool2x2(x_high), w_hl)
    return y_high, y_low


for key, bug in KNOWN_BUGS.items():
    print(f"{key:18s} {bug.name}")

# %% exercise="7.3"
answer = ...  # a key of KNOWN_BUGS, e.g. "floor_pool"

# %%
if answered("7.3", answer):
    layers = [OctConvConfig(4, 4, 3, 0.5, 0.5, height=size, width=size) for size in (4, 5)]
    try:
        check_octconv(blog_octconv, configs=layers)
    except AssertionError as failure:
        diagnosis = str(failure)
    else:
        raise AssertionError("octref.testing should have found the bug")
    print(diagnosis.split("diagnosis:")[-1].strip())
    assert answer in KNOWN_BUGS, f"Exercise 7.3: {answer!r} is not a key of KNOWN_BUGS"
    assert KNOWN_BUGS[answer].name in diagnosis, f"Exercise 7.3: not {answer!r}; read the diagnosis"
    print("Exercise 7.3: right.")

# %% [markdown]
# The package's docstrings state every shape and equation in the same
# notation, and `octref.loops` stays the place to read what any
# configuration computes, one pixel at a time.
#
# **Next:** [chapter 8](08_training.py) trains a whole octave network on real
# digits. **Previous:** [chapter 6](06_cost.py).
