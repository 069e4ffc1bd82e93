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
# # 6. Cost
#
# The paper's Table 1 says what OctConv saves: at $\alpha = 0.5$, 44% of the
# multiply-adds of the vanilla convolution and 63% of its activation memory.
# This chapter derives those numbers from the shapes, counts them on real
# layers with `octref.cost`, and then measures time, which follows the
# count only roughly.
#
# The timings at the end compare matrix products of different sizes. A BLAS
# library may run a large product on several threads and a small one on one,
# and on a shared machine threads compete with other work. To compare
# arithmetic rather than thread scheduling, this notebook asks for **one
# BLAS thread**. That only works before NumPy is first imported, so it is the
# first thing the notebook does (restart the kernel to re-run it).

# %%
import os

for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

# %%
# %matplotlib inline
import time

import numpy as np
from _exercises import answered, check

from octref import (
    Octave,
    conv_forward,
    cost,
    im2col,
    init_octave_weights,
    loops,
    octconv_forward,
    split_channels,
    viz,
)

rng = np.random.default_rng(0)

# %% [markdown]
# ## Counting a convolution
#
# A vanilla convolution with $C_\text{in}$ input and $C_\text{out}$ output
# channels and a $k \times k$ kernel computes each of its
# $N\, C_\text{out}\, H' W'$ outputs as a sum of $C_\text{in} k^2$ products:
#
# $$
# \text{MACs} = N\, C_\text{out}\, H' W'\, C_\text{in}\, k^2
# $$
#
# multiply-accumulates (the paper's "FLOPs" are these). For a batch of 2,
# 2 channels in, 3 out, $5 \times 5$ pixels, $k = 3$:
# $2 \cdot 3 \cdot 25 \cdot 2 \cdot 9 = 2700$.

# %%
assert cost.conv_cost(2, 3, 3, 5, 5, batch=2).total_macs == 2 * 3 * 25 * 2 * 9 == 2700

# %% [markdown]
# That counts every tap, including the taps that fall on the zero padding,
# as the paper does. The pixel loops of `octref.loops` multiply those taps by
# an explicit zero (so an infinite weight gives NaN there, as in the
# frameworks), and they can count their own work: with every input and every
# weight equal to 1, each output is the number of products that landed inside
# the image.

# %%
ones_out, _ = loops.conv_forward(np.ones((2, 2, 5, 5)), np.ones((3, 2, 3, 3)), padding=1)
in_bounds = cost.conv_cost(2, 3, 3, 5, 5, batch=2, count_padding=False).total_macs
print(f"all taps: 2700, taps inside the image: {in_bounds}")
assert ones_out.sum() == in_bounds == 2028

# %% [markdown]
# ## The four paths
#
# With $\alpha_\text{in} = \alpha_\text{out} = \alpha$, $C$ channels in and
# out, and an $H \times W$ high map, each path is a convolution at the
# resolution it runs at. H→H has $(1-\alpha)C$ channels on both sides at
# $H W$ pixels; the other three touch the low group and run at $\tfrac{H
# W}{4}$ pixels (L→H before its upsampling):
#
# $$
# \frac{\text{MACs}_\text{oct}}{\text{MACs}_\text{vanilla}}
# = \underbrace{(1-\alpha)^2}_{\text{H}\to\text{H}}
# + \underbrace{\tfrac{\alpha(1-\alpha)}{4}}_{\text{H}\to\text{L}}
# + \underbrace{\tfrac{\alpha(1-\alpha)}{4}}_{\text{L}\to\text{H}}
# + \underbrace{\tfrac{\alpha^2}{4}}_{\text{L}\to\text{L}}
# = 1 - \tfrac34 \alpha (2 - \alpha).
# $$
#
# The memory of the output map, as in chapter 1, is
# $(1 - \alpha) + \tfrac{\alpha}{4} = 1 - \tfrac34 \alpha$ of the vanilla one.
# `octconv_cost` counts each path of a real layer; on a 64-channel
# $56 \times 56$ layer it matches the formula path by path:

# %%
C, H, W, k, alpha = 64, 56, 56, 3, 0.5
vanilla = cost.conv_cost(C, C, k, H, W)
octave = cost.octconv_cost(C, C, k, alpha, alpha, H, W)
per_path = {"hh": (1 - alpha) ** 2, "hl": alpha * (1 - alpha) / 4,
            "lh": alpha * (1 - alpha) / 4, "ll": alpha ** 2 / 4}
for path, share in per_path.items():
    print(f"{path}: {octave.macs[path]:>10,} MACs = {octave.macs[path] / vanilla.total_macs:.4f}"
          f" of vanilla")
    assert octave.macs[path] == share * vanilla.total_macs
assert octave.total_macs / vanilla.total_macs == cost.flops_ratio(alpha) == 0.4375
assert octave.output_memory / vanilla.output_memory == cost.memory_ratio(alpha) == 0.625

# %% [markdown]
# H→H alone is a quarter of the vanilla cost at $\alpha = 0.5$; the three
# low-resolution paths together add less than another quarter. As
# $\alpha \to 1$ everything runs at low resolution and the cost falls to
# $\tfrac14$.
#
# ## Table 1
#
# `cost.table1` counts a layer for each $\alpha$ of the paper's table. With
# 64 channels and even sizes every count equals the formula exactly, and
# rounded to whole percents they reproduce the printed table, except one
# entry: the memory at $\alpha = 0.875$, where $1 - \tfrac34 \cdot 0.875 =
# 34.375\%$ but the paper prints 35%.

# %%
print(" alpha  FLOPs counted  printed   memory counted  printed")
for row in cost.table1():
    flops_printed, memory_printed = cost.TABLE1_PRINTED[row.alpha]
    print(f"{row.alpha:6.3f}  {row.flops_counted:13.4f}  {flops_printed:6d}%"
          f"  {row.memory_counted:15.4f}  {memory_printed:6d}%")
    assert row.flops_counted == row.flops_theory
    assert row.memory_counted == row.memory_theory
    assert int(100 * row.flops_counted + 0.5) == flops_printed
    if row.alpha != 0.875:
        assert int(100 * row.memory_counted + 0.5) == memory_printed
assert cost.memory_ratio(0.875) == 0.34375 and cost.TABLE1_PRINTED[0.875][1] == 35

# %% [markdown]
# The figure: the two formulas as curves with the counted values on them,
# the cost split by path, and the table.

# %%
viz.plot_cost(alpha=0.5)

# %% [markdown]
# ## What the formula leaves out
#
# **Pooling and upsampling.** Table 1 counts only the convolutions. The
# pooling of H→L and the upsampling of L→H cost a handful of operations per
# pixel against $C k^2$ multiply-adds per output, well under 1% here:

# %%
share = octave.resampling_ops / octave.total_macs
print(f"pooling + upsampling work: {share:.2%} of the multiply-adds")
assert share < 0.01

# %% [markdown]
# **Rounding.** The formula assumes $\alpha C$ channels and exactly a quarter
# of the pixels. octref's layers have $\lfloor \alpha C \rfloor$ low channels
# and $\lceil H/2 \rceil \times \lceil W/2 \rceil$ low maps, so an uneven split
# or an odd size costs more than the formula says. At $7 \times 7$ (the last
# stage of a ResNet) the low maps are $4 \times 4$, $16/49$ of the pixels
# rather than $1/4$:

# %%
for channels, a, size in [(64, 0.5, 56), (60, 0.125, 56), (64, 0.5, 7)]:
    counted = (cost.octconv_cost(channels, channels, 3, a, a, size, size).total_macs
               / cost.conv_cost(channels, channels, 3, size, size).total_macs)
    print(f"C={channels:3d} alpha={a:<5} {size}x{size}: counted {counted:.4f}, "
          f"formula {cost.flops_ratio(a):.4f}")
    assert counted >= cost.flops_ratio(a)
seven = cost.octconv_cost(64, 64, 3, 0.5, 0.5, 7, 7)
assert seven.output_shapes["low"] == (1, 32, 4, 4)
assert seven.total_macs / cost.conv_cost(64, 64, 3, 7, 7).total_macs > 0.49


# %% [markdown]
# ## Measured time
#
# Finally, the clock: octref's im2col OctConv at several $\alpha$ against
# the vanilla im2col convolution (`octref.conv_forward`), on a batch of 8
# maps with 128 channels of $32 \times 32$. Each timing is the best of 5
# runs, the runs of all layers interleaved so that a busy moment on the
# machine hits them all alike.

# %%
def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


N, C, H = 8, 128, 32
x = rng.standard_normal((N, C, H, H))
w = rng.standard_normal((C, C, 3, 3))
layers = {"vanilla": lambda: conv_forward(x, w, padding=1)}
for a in (0.25, 0.5, 0.75):
    c_high, c_low = split_channels(C, a)
    x_oct = Octave(rng.standard_normal((N, c_high, H, H)),
                   rng.standard_normal((N, c_low, H // 2, H // 2)))
    w_oct = init_octave_weights(C, C, 3, a, a, rng=rng)
    layers[a] = lambda x_oct=x_oct, w_oct=w_oct: octconv_forward(x_oct, w_oct)
# The column copy of the vanilla layer alone, for the discussion below.
layers["im2col copy"] = lambda: im2col.im2col(x, (3, 3), padding=(1, 1))

times = {name: [] for name in layers}
for _ in range(5):
    for name, layer in layers.items():
        times[name].append(timed(layer))
best = {name: min(t) for name, t in times.items()}

print(f"vanilla: {best['vanilla'] * 1e3:.1f} ms")
for a in (0.25, 0.5, 0.75):
    print(f"alpha = {a:<4}: {best[a] * 1e3:5.1f} ms = {best[a] / best['vanilla']:.2f} of "
          f"vanilla (multiply-adds: {cost.flops_ratio(a):.2f})")

# %% [markdown]
# OctConv is faster, but usually by less than the count says: about 0.5 to
# 0.75 of the vanilla time at $\alpha = 0.5$, against 0.44 of the
# multiply-adds. The count leaves out work that takes real time in NumPy.
# The biggest item is im2col itself, which copies every input pixel $k^2$
# times before the matmul; timed with the layers above, it takes a large
# share of the vanilla layer's time (a quarter to two thirds, depending on
# the machine and its load):

# %%
copy_share = best["im2col copy"] / best["vanilla"]
print(f"im2col copy alone: {copy_share:.0%} of the vanilla layer's time")
assert copy_share > 0.1

# %% [markdown]
# The octave layer also does four smaller copies and products instead of
# one large one (small matrix products run less efficiently), plus the
# pooling, the upsampling and the additions of the paths. Timing depends on
# the machine, so we assert only what holds with a wide margin: at
# $\alpha = 0.5$ the octave layer is faster than the vanilla one.

# %%
assert best[0.5] < best["vanilla"], best

# %% [markdown]
# ## Exercises
#
# Predict first, then check. Replace the `...` in each exercise cell with your
# answer and run the cell after it: it checks your answer against octref (an
# answer left as `...` only prints a hint). The solutions are on the
# [solutions page](solutions.md), but try first.
#
# **Exercise 6.1.** Table 1 assumes $\alpha_\text{in} = \alpha_\text{out}$.
# Derive the FLOPs ratio for $\alpha_\text{in} = 0.5$, $\alpha_\text{out} = 0.25$
# (64 channels in and out, $3 \times 3$, $56 \times 56$): add the four paths,
# each $C_\text{out,path} \cdot C_\text{in,path}$ times the pixels it
# computes, and divide by the vanilla layer's $64 \cdot 64 \cdot 56^2$.

# %% exercise="6.1"
answer = ...  # OctConv multiply-adds / vanilla multiply-adds

# %%
counted = (cost.octconv_cost(64, 64, 3, 0.5, 0.25, 56, 56).total_macs
           / cost.conv_cost(64, 64, 3, 56, 56).total_macs)
check("6.1", answer, counted)

# %% [markdown]
# **Exercise 6.2.** How many multiply-adds does the H→L path alone cost in a
# 32 → 32 channel $3 \times 3$ layer with $\alpha = 0.5$ on a $16 \times 16$
# map (batch 1)?

# %% exercise="6.2"
answer = ...  # an integer

# %%
check("6.2", answer, cost.octconv_cost(32, 32, 3, 0.5, 0.5, 16, 16).macs["hl"])

# %% [markdown]
# **Exercise 6.3.** For which $\alpha$ does an octave layer do exactly half
# the multiply-adds of a vanilla one? Solve $1 - \tfrac34 \alpha (2 - \alpha) = \tfrac12$
# (the check accepts three decimals).

# %% exercise="6.3"
answer = ...  # alpha in [0, 1]

# %%
if answered("6.3", answer):
    assert 0 <= answer <= 1 and abs(cost.flops_ratio(answer) - 0.5) < 1e-3, \
        f"Exercise 6.3: at alpha = {answer} the ratio is {cost.flops_ratio(answer):.4f}, not 0.5"
    print("Exercise 6.3: right.")

# %% [markdown]
# **Next:** [chapter 7](07_edge_cases.py), the edge cases.
# **Previous:** [chapter 5](05_misalignment.py).
