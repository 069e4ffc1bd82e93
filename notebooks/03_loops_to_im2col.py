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
# # 3. From loops to im2col, and on to the fast engine
#
# Chapter 2 computed an octave convolution pixel by pixel. That is the
# clearest form and the slowest: Python runs one small product per output
# pixel and kernel tap. This chapter turns each convolution into **one
# matrix product** by laying out every receptive field as a column of a
# matrix ("im2col", image to columns), checks that nothing changed, and
# measures what it buys. The textbook version is `octref.im2col`; the last
# section shows the one idea that makes octref's default engine
# (`octref.rowshift`) faster still.

# %%
# %matplotlib inline
import inspect
import time

import matplotlib.pyplot as plt
import numpy as np
from _exercises import check
from matplotlib.patches import Rectangle

import octref
from octref import Octave, im2col, init_octave_weights, loops, split_channels
from octref.sampling import pool2x2, upsample2x_nearest

# %% [markdown]
# ## A convolution is many dot products
#
# A plain convolution (cross-correlation, as in PyTorch) of a zero-padded
# input $x_\text{pad}$ with weights $w$ of shape $(C_\text{out}, C, k, k)$ is
#
# $$
# y_{f,p,q} = \sum_{c,i,j} w_{f,c,i,j}\; x_{\text{pad}\,c,\; p+i,\; q+j}.
# $$
#
# For a fixed output pixel $(p, q)$ the sum runs over a $C \times k \times k$
# patch of the input: it is the dot product of the filter $w_f$, flattened,
# with the patch, flattened. Stack every patch as a column and all the dot
# products become one matrix product.
#
# A small example: one image with 2 channels of $4 \times 4$ pixels (values
# 1 to 32, so the zero padding stands out), a $3 \times 3$ kernel, padding 1.

# %%
x = np.arange(1, 33).reshape(1, 2, 4, 4)
k, pad = 3, 1
cols = im2col.im2col(x, (k, k), stride=1, padding=pad)
print("cols:", cols.shape, "= (N, C, k, k, H', W')")
col_matrix = cols.reshape(2 * k * k, 4 * 4)  # rows (c, i, j), columns (p, q)
assert col_matrix.shape == (18, 16)

# %% [markdown]
# Row $(c, i, j)$ of the column matrix holds $x_{\text{pad}\,c,\,p+i,\,q+j}$
# for every output pixel $(p, q)$; column $(p, q)$ is the receptive field of
# that output pixel. Column 0 is pixel $(0, 0)$ in the corner: 5 of the 9
# taps of each channel fall in the padding and read 0.

# %%
fig, ax = plt.subplots(figsize=(8, 8.5))
ax.imshow(col_matrix, cmap="Blues")
for r in range(col_matrix.shape[0]):
    for c in range(col_matrix.shape[1]):
        ax.text(c, r, col_matrix[r, c], ha="center", va="center", fontsize=7)
ax.set_xticks(range(16), [f"{p},{q}" for p in range(4) for q in range(4)], rotation=90)
ax.set_yticks(range(18), [f"c{c} {i},{j}" for c in range(2) for i in range(3) for j in range(3)])
ax.set_xlabel("output pixel (p, q)")
ax.set_ylabel("channel c, kernel tap (i, j)")
ax.set_title("im2col: one column per output pixel")
plt.show()

# %%
x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
p, q = 1, 2
assert np.array_equal(col_matrix[:, p * 4 + q], x_pad[0, :, p:p + k, q:q + k].ravel())
assert np.sum(col_matrix[:, 0] == 0) == 2 * 5  # corner: 5 of 9 taps per channel are padding


# %% [markdown]
# ## Writing im2col
#
# Filling the matrix one output pixel at a time would bring the Python loop
# back. Instead, loop over the $k^2$ kernel offsets: for a fixed offset
# $(i, j)$, the entries for all output pixels form one strided slice of the
# padded input, $x_\text{pad}[:, :, i : i + H',\, j : j + W']$, copied in one
# go. That is $k^2 = 9$ Python iterations whatever the image size, and it is
# how `octref.im2col.im2col` works (with stride and dilation the slice
# steps by $s$ and starts at $d\,i$):

# %%
def my_im2col(x, k, pad):
    """(N, C, k, k, H', W') for stride 1: one strided slice per kernel offset."""
    n, c, h, w = x.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out_h, out_w = h + 2 * pad - k + 1, w + 2 * pad - k + 1
    cols = np.empty((n, c, k, k, out_h, out_w), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            cols[:, :, i, j] = x_pad[:, :, i:i + out_h, j:j + out_w]
    return cols


assert np.array_equal(my_im2col(x, k, pad), cols)

# %% [markdown]
# ## The matmul
#
# Reshape the weights to a $C_\text{out} \times (C k^2)$ matrix, one filter
# per row, in the same $(c, i, j)$ order as the rows of the column matrix.
# Then
#
# $$
# (W_\text{mat}\, \text{cols})_{f,(p,q)} = \sum_{c,i,j} w_{f,c,i,j}\,
# x_{\text{pad}\,c,\,p+i,\,q+j} = y_{f,p,q}.
# $$
#
# The sum is the one in the definition, term by term, so this is the same
# operator, not an approximation of it: it agrees with the pixel loops
# of `octref.loops.conv_forward` and with `octref.im2col.conv_forward`.

# %%
rng = np.random.default_rng(0)
w = rng.integers(-2, 3, size=(3, 2, k, k))  # C_out = 3
y_mat = (w.reshape(3, -1) @ col_matrix).reshape(1, 3, 4, 4)
y_loops, _ = loops.conv_forward(x, w, padding=pad)
y_im2col, _ = im2col.conv_forward(x, w, padding=pad)
assert np.array_equal(y_mat, y_loops) and np.array_equal(y_im2col, y_loops)

# %% [markdown]
# Stride, dilation and groups only change which pixels a column holds (and,
# for groups, that each group of filters multiplies its own block of rows).
# The two implementations agree on all of them:

# %%
x_rand = rng.standard_normal((2, 4, 7, 6))
configs = [dict(stride=2, padding=1), dict(dilation=2, padding=2),
           dict(groups=2, padding=1), dict(stride=(2, 1), padding=0)]
for config in configs:
    w_rand = rng.standard_normal((4, 4 // config.get("groups", 1), 3, 3))
    a, _ = loops.conv_forward(x_rand, w_rand, **config)
    b, _ = im2col.conv_forward(x_rand, w_rand, **config)
    assert a.shape == b.shape and np.allclose(a, b), config
print("loops == im2col for", len(configs), "configurations")

# %% [markdown]
# ## col2im: the same loop, backwards
#
# The backward pass needs the transpose of im2col: every column entry goes
# back to the input pixel it was copied from, and entries of the same pixel
# add up. That is the loop of im2col with the assignment turned into `+=`,
# `octref.im2col.col2im`. Feeding it columns of ones counts how often each
# pixel was copied: 9 times inside, 4 in a corner (its other taps read the
# padding).

# %%
counts = im2col.col2im(np.ones(cols.shape), x.shape, padding=pad)
print(counts[0, 0])
assert counts[0, 0, 1, 1] == 9 and counts[0, 0, 0, 0] == 4

# %% [markdown]
# "Transpose" has a precise meaning, the one chapter 4 builds on: for every
# input $x$ and every column array $c$,
# $\langle \text{im2col}(x), c\rangle = \langle x, \text{col2im}(c) \rangle$.

# %%
c_rand = rng.standard_normal(cols.shape)
lhs = np.sum(im2col.im2col(x.astype(float), (3, 3), padding=1) * c_rand)
rhs = np.sum(x * im2col.col2im(c_rand, x.shape, padding=1))
assert np.isclose(lhs, rhs)

# %% [markdown]
# **The price is memory.** Every input pixel is copied once per kernel tap
# that reads it, so at stride 1 with size-preserving padding the column
# matrix has $k^2$ times as many entries as the input (octref checks the
# size against its memory limit before allocating it):

# %%
big = rng.standard_normal((2, 8, 16, 16))
assert im2col.im2col(big, (3, 3), padding=1).size == 9 * big.size

# %% [markdown]
# ## Octave convolution: Eq. 4, one line per path
#
# By Eq. 4 each path is a plain convolution $f$, so each is one im2col and
# one matmul, with a pooling before H→L and an upsampling after L→H:
#
# $$
# Y^H = f(X^H; W^{HH}) + \text{upsample}\big(f(X^L; W^{LH})\big), \qquad
# Y^L = f(X^L; W^{LL}) + f\big(\text{pool}(X^H); W^{HL}\big).
# $$
#
# `octref.im2col.octconv_forward` says exactly this, one line per path, the
# way the official Gluon code does (`down` is the pooling of every input at
# stride 2, and does nothing here):

# %%
source = inspect.getsource(im2col.octconv_forward)
eq4_lines = [line.strip() for line in source.splitlines() if line.strip().startswith("y_")]
print("\n".join(eq4_lines))
assert [line.split(" =")[0] for line in eq4_lines] == \
    ["y_hh", "y_hl", "y_lh", "y_ll", "y_high", "y_low"]

# %% [markdown]
# The same four lines with the public pieces give the same maps. The three
# paths that touch the low group run at low resolution (H→L after pooling,
# L→H *before* upsampling, L→L): only H→H has a column per high pixel.

# %%
C, alpha, H = 8, 0.5, 16
c_high, c_low = split_channels(C, alpha)
x_oct = Octave(rng.standard_normal((2, c_high, H, H)),
               rng.standard_normal((2, c_low, H // 2, H // 2)))
w_oct = init_octave_weights(C, C, 3, alpha, alpha, rng=rng)


def f(a, weight):
    return im2col.conv_forward(a, weight, padding=1)[0]


y_high = f(x_oct.high, w_oct.hh) + upsample2x_nearest(f(x_oct.low, w_oct.lh), (H, H))
y_low = f(x_oct.low, w_oct.ll) + f(pool2x2(x_oct.high), w_oct.hl)
y_oct, _ = im2col.octconv_forward(x_oct, w_oct)
y_oct_loops, _ = loops.octconv_forward(x_oct, w_oct)
assert np.allclose(y_oct.high, y_high) and np.allclose(y_oct.low, y_low)
assert np.allclose(y_oct_loops.high, y_high) and np.allclose(y_oct_loops.low, y_low)
path_inputs = {"hh": x_oct.high, "hl": pool2x2(x_oct.high), "lh": x_oct.low, "ll": x_oct.low}
columns = {path: im2col.im2col(a, (3, 3), padding=1).shape[-2:]
           for path, a in path_inputs.items()}
print("output pixels (columns) per image:", {p: s[0] * s[1] for p, s in columns.items()})
assert columns["hh"] == (H, H)
assert all(columns[p] == (H // 2, H // 2) for p in ("hl", "lh", "ll"))

# %% [markdown]
# ## Exercises
#
# Predict first, then check. Replace the `...` in each exercise cell with your
# answer and run the cell after it: it checks your answer against octref (an
# answer left as `...` only prints a hint). The solutions are on the
# [solutions page](solutions.md), but try first.
#
# **Exercise 3.1.** What shape does `im2col.im2col` give for a batch of 2
# images with 3 channels of $8 \times 8$ pixels, a $3 \times 3$ kernel,
# padding 1 and stride 2? Give the tuple $(N, C, k, k, H', W')$, with
# $H' = \lfloor (H + 2\,\text{pad} - k) / s \rfloor + 1$.

# %% exercise="3.1"
answer = ...  # a tuple of six ints

# %%
check("3.1", answer, im2col.im2col(np.zeros((2, 3, 8, 8)), (3, 3), stride=2, padding=1).shape)

# %% [markdown]
# **Exercise 3.2.** A $5 \times 5$ map, a $3 \times 3$ kernel, padding 1,
# stride 1. How many columns is each pixel copied into? Give the counts of
# the corner pixel $(0, 0)$, the edge pixel $(0, 2)$ and the centre $(2, 2)$
# (the check uses `col2im` of ones, as above).

# %% exercise="3.2"
answer = ...  # (corner, edge, centre)

# %%
counts_5 = im2col.col2im(np.ones((1, 1, 3, 3, 5, 5)), (1, 1, 5, 5), padding=1)[0, 0]
check("3.2", answer, (counts_5[0, 0], counts_5[0, 2], counts_5[2, 2]))


# %% [markdown]
# ## How much faster?
#
# Time the loops and im2col on the octave convolution above (batch 2, 8
# channels, $16 \times 16$) and on a plain convolution of the same size. The
# calls alternate, and each timing is the best of several runs, the usual way
# to measure a short computation on a shared machine: the minimum is the run
# least disturbed by other work.

# %%
def best_times(cases, repeats):
    """{name: smallest wall-clock seconds of `repeats` calls}, the cases called in turn."""
    times = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(ts) for name, ts in times.items()}


x_plain = rng.standard_normal((2, C, H, H))
w_plain = rng.standard_normal((C, C, 3, 3))
timings = best_times({
    "conv loops": lambda: loops.conv_forward(x_plain, w_plain, padding=1),
    "conv im2col": lambda: im2col.conv_forward(x_plain, w_plain, padding=1),
    "octconv loops": lambda: loops.octconv_forward(x_oct, w_oct),
    "octconv im2col": lambda: im2col.octconv_forward(x_oct, w_oct),
}, repeats=3)
for name in ("conv", "octconv"):
    t_loops, t_im2col = timings[f"{name} loops"], timings[f"{name} im2col"]
    print(f"{name:8s} loops {t_loops * 1e3:7.2f} ms   im2col {t_im2col * 1e3:6.3f} ms   "
          f"speed-up {t_loops / t_im2col:5.0f}x")

# %% [markdown]
# The speed-up depends on the machine (tens to a hundredfold), so we assert
# only a safe margin of 5x. The reason for it is in the code: the loops take
# Python steps for every output pixel and kernel tap, im2col takes a fixed
# $k^2$ Python steps and leaves the rest to one matmul in compiled code.

# %%
for name in ("conv", "octconv"):
    assert timings[f"{name} loops"] > 5 * timings[f"{name} im2col"], timings

# %% [markdown]
# ## From im2col to the fast engine
#
# im2col copies the input $k^2$ times. On NumPy that copy runs on one core,
# limited by memory bandwidth, and the matrix product then reads all of it
# again. octref's default engine, `octref.rowshift` (what
# `octref.octconv_forward` runs), copies only the $k_w$ **horizontal** taps,
# for every *padded* row $r$:
#
# $$
# \text{cols}_{(c, j),\,(r, q)} = x_{\text{pad}\,c,\; r,\; q + j}
# \qquad (C k_w \text{ rows},\; H_p W' \text{ columns}).
# $$
#
# One matrix product with the $k_h$ row taps' weights stacked on top of each
# other, $W_{\text{stack}\,(i, f),\,(c, j)} = w_{f,c,i,j}$, gives
# $Z = W_\text{stack}\,\text{cols}$ with $k_h C_\text{out}$ rows, and the row
# taps become **row shifts** of $Z$:
#
# $$
# y_{f,p,q} = \sum_i Z_{(i, f),\,(p + i,\, q)},
# $$
#
# because $Z_{(i, f),(r, q)} = \sum_{c,j} w_{f,c,i,j}\, x_{\text{pad}\,c,\,r,\,q+j}$
# is the contribution of row tap $i$ read from padded row $r$. Here it is
# written out for stride 1 and one group:

# %%
def row_shift_conv(x, w, pad):
    """Stride-1 cross-correlation by row-shifted columns: kw copies, one product, kh shifts."""
    n, c, h, width = x.shape
    f_out, _, kh, kw = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    h_pad = h + 2 * pad
    out_h, out_w = h_pad - kh + 1, width + 2 * pad - kw + 1
    # Only the kw horizontal taps: cols[c, j, n, r, q] = x_pad[n, c, r, q + j].
    cols = np.empty((c, kw, n, h_pad, out_w))
    for j in range(kw):
        cols[:, j] = x_pad[:, :, :, j:j + out_w].transpose(1, 0, 2, 3)
    # The kh row taps' weights stacked: W_stack[(i, f), (c, j)] = w[f, c, i, j].
    w_stack = w.transpose(2, 0, 1, 3).reshape(kh * f_out, c * kw)
    z = (w_stack @ cols.reshape(c * kw, -1)).reshape(kh, f_out, n, h_pad, out_w)
    # Row tap i is a shift by i rows: y[n, f, p, q] = sum_i z[i, f, n, p + i, q].
    y = sum(z[i, :, :, i:i + out_h] for i in range(kh))
    return y.transpose(1, 0, 2, 3)


assert np.array_equal(row_shift_conv(x, w, pad), y_loops)
a, _ = im2col.conv_forward(x_plain, w_plain, padding=1)
b, _ = octref.conv_forward(x_plain, w_plain, padding=1)
assert np.allclose(row_shift_conv(x_plain, w_plain, 1), a) and np.allclose(b, a)

# %% [markdown]
# The picture, for channel 0 of the $4 \times 4$ example above and the first
# filter $w_{0,0}$ (values shown). Top: im2col copies each pixel up to 9
# times (a $9 \times 16$ matrix); the row-shifted buffer copies it 3 times,
# once per horizontal tap $j$, for each of the 6 padded rows (a
# $3 \times 24$ matrix). Bottom: the product gives one map $Z_i$ per row
# tap, on the padded rows; output row $p$ adds row $p + i$ of $Z_i$, so the
# output is the sum of the three framed windows, each shifted down by one
# more row.

# %%
x0, w0 = x[:, :1], w[:1, :1]                      # one channel, one filter
cols_im2col = im2col.im2col(x0, (3, 3), padding=1).reshape(9, 16)
x0_pad = np.pad(x0[0, 0], 1)
cols_rows = np.stack([x0_pad[:, j:j + 4].ravel() for j in range(3)])   # (kw, Hp * W')
w_stack0 = w0[0, 0]                                                     # (kh, kw): row i, tap j
z0 = (w_stack0 @ cols_rows).reshape(3, 6, 4)                            # Z_i on padded rows
y0 = sum(z0[i, i:i + 4] for i in range(3))
assert np.array_equal(y0, loops.conv_forward(x0, w0, padding=1)[0][0, 0])

fig = plt.figure(figsize=(12, 7.6), layout="constrained")
top, bottom = fig.subfigures(2, 1, height_ratios=[1.0, 1.1])
ax_a, ax_b = top.subplots(1, 2, gridspec_kw={"width_ratios": [16, 24]})


def show_matrix(ax, matrix, title, xlabels, ylabels):
    ax.imshow(matrix, cmap="Blues", vmin=0, vmax=40, aspect="equal")
    for r in range(matrix.shape[0]):
        for c in range(matrix.shape[1]):
            ax.text(c, r, int(matrix[r, c]), ha="center", va="center", fontsize=6.5)
    ax.set_xticks(range(matrix.shape[1]), xlabels, rotation=90, fontsize=6.5)
    ax.set_yticks(range(matrix.shape[0]), ylabels, fontsize=7)
    ax.set_title(title, fontsize=10)


show_matrix(ax_a, cols_im2col, "im2col: 9 taps x 16 output pixels (144 copies)",
            [f"{p},{q}" for p in range(4) for q in range(4)],
            [f"i={i} j={j}" for i in range(3) for j in range(3)])
ax_a.set_xlabel("output pixel (p, q)")
show_matrix(ax_b, cols_rows, "row-shifted: 3 taps x 6 padded rows x 4 columns (72 copies)",
            [f"r{r},{q}" for r in range(6) for q in range(4)], [f"j={j}" for j in range(3)])
for r in range(1, 6):
    ax_b.axvline(4 * r - 0.5, color="black", lw=0.8)
ax_b.set_xlabel("padded row r, output column q")

axes = bottom.subplots(1, 4)
colors = ["tab:red", "tab:green", "tab:orange"]
scale = max(np.abs(z0).max(), np.abs(y0).max())
for i, ax in enumerate(axes[:3]):
    ax.imshow(z0[i], cmap="coolwarm", vmin=-scale, vmax=scale)
    for r in range(6):
        for c in range(4):
            ax.text(c, r, int(z0[i, r, c]), ha="center", va="center", fontsize=7)
    ax.add_patch(Rectangle((-0.45, i - 0.45), 3.9, 3.9, fill=False, lw=3, color=colors[i]))
    ax.set_title(f"$Z_{i}$: row tap i={i}\nrows {i}..{i + 3} used", fontsize=9)
    ax.set_yticks(range(6), [f"r{r}" for r in range(6)], fontsize=7)
    ax.set_xticks(range(4))
axes[3].imshow(y0, cmap="coolwarm", vmin=-scale, vmax=scale)
for r in range(4):
    for c in range(4):
        axes[3].text(c, r, int(y0[r, c]), ha="center", va="center", fontsize=7)
axes[3].set_title("y = sum of the three\nframed windows", fontsize=9)
axes[3].set_yticks(range(4), [f"p{p}" for p in range(4)], fontsize=7)
axes[3].set_xticks(range(4))
bottom.suptitle(r"$Z = W_\mathrm{stack}\,\mathrm{cols}$ (one product, $W_\mathrm{stack}$ = "
                f"{w_stack0.tolist()}, rows i, columns j), then row shifts", fontsize=10)
plt.show()

# %% [markdown]
# The copy shrinks from $k_h k_w H' W'$ to $k_w H_p W'$ entries per channel:
# here 72 instead of 144, and for a large map with $k = 3$ about a third.
# The product does the same multiply-adds on $H_p$ rows instead of $H'$ (two
# extra rows per image here), and the $k_h$ shifted adds cost one pass over
# the output each. The engine also merges paths that read the same map into
# one product and reuses its buffers; the notebook's version is the idea
# only.

# %%
assert cols_im2col.size == 144 and cols_rows.size == 72

# %% [markdown]
# **Exercise 3.3.** For one channel of a $32 \times 32$ map, a $3 \times 3$
# kernel and padding 1 (stride 1), how many entries do the two column buffers
# hold? Give (im2col, row-shifted).

# %% exercise="3.3"
answer = ...  # (im2col entries, row-shifted entries)

# %%
x32 = np.zeros((1, 1, 32, 32))
row_shifted_entries = 3 * (32 + 2) * 32           # kw * H_pad * W'
check("3.3", answer, (im2col.im2col(x32, (3, 3), padding=1).size, row_shifted_entries))

# %% [markdown]
# ## Loops → im2col → fast, measured
#
# All three compute the same layer (checked first), forward and forward plus
# backward, on the octave layer above. For more layers, with interleaved
# medians, run `python benchmarks/implementations.py` from the repository root.

# %%
engines = {"loops": loops, "im2col": im2col, "fast": octref}
results = {}
for name, module in engines.items():
    y, cache = module.octconv_forward(x_oct, w_oct)
    results[name] = [*y, *module.octconv_backward(y, cache)[0]]
for name in ("im2col", "fast"):
    for a, b in zip(results["loops"], results[name]):
        assert np.allclose(a, b, rtol=1e-10, atol=1e-10), name


def forward_backward(module):
    y, cache = module.octconv_forward(x_oct, w_oct)
    module.octconv_backward(y, cache)


cases = {}
for name, module in engines.items():
    cases[f"{name} forward"] = lambda module=module: module.octconv_forward(x_oct, w_oct)
    cases[f"{name} forward+backward"] = lambda module=module: forward_backward(module)
slow = best_times({k: v for k, v in cases.items() if k.startswith("loops")}, repeats=2)
fast = best_times({k: v for k, v in cases.items() if not k.startswith("loops")}, repeats=25)
times = {**slow, **fast}
for kind in ("forward", "forward+backward"):
    t = [times[f"{name} {kind}"] for name in engines]
    print(f"{kind:17s} loops {t[0] * 1e3:7.1f} ms  im2col {t[1] * 1e3:6.2f} ms  "
          f"fast {t[2] * 1e3:6.2f} ms   loops/im2col {t[0] / t[1]:4.0f}x  "
          f"im2col/fast {t[1] / t[2]:4.1f}x")

# %% [markdown]
# Each step is a large constant factor: the loops spend Python steps per
# pixel, im2col spends them per kernel tap, and the fast engine copies about
# a third as many entries as im2col. Machines differ, so the asserts keep
# wide margins: the loops at least 5 times slower than im2col both ways, and
# the fast engine faster than im2col forward and backward together (on a
# layer this small a forward alone is a millisecond, where the two engines
# can come within noise of each other; `benchmarks/implementations.py`
# measures larger layers).

# %%
for kind in ("forward", "forward+backward"):
    assert times[f"loops {kind}"] > 5 * times[f"im2col {kind}"], times
assert times["im2col forward+backward"] > times["fast forward+backward"], times

# %% [markdown]
# **Next:** [chapter 4](04_backward_by_hand.py) runs all of this backwards:
# the backward of each path is two matrix products and a col2im, and the
# backward of the layer is the chain rule of the four lines of Eq. 4.
# **Previous:** [chapter 2](02_octconv_by_hand.py).
