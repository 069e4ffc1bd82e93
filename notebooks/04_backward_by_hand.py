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
# # 4. Backward by hand
#
# Training needs the gradient of a loss $L$ with respect to the layer's
# input and weights. This chapter derives the backward pass of an octave
# convolution from one idea, the **adjoint** (transpose) of a linear map,
# then checks it the way every hand-written backward should be checked:
# against finite differences.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
from _exercises import answered, check

from octref import Octave, OctaveWeights, gradcheck, im2col, init_octave_weights, loops
from octref.sampling import (
    pool2x2,
    pool2x2_backward,
    upsample2x_nearest,
    upsample2x_nearest_backward,
)

rng = np.random.default_rng(0)

# %% [markdown]
# ## Backward of a linear map is its transpose
#
# A backward pass gets the upstream gradient $c = \partial L / \partial y$
# and returns $\partial L / \partial x$. If $y = A x$ is linear, then
# $L$ depends on $x$ through $\langle y, c \rangle$ to first order, and
#
# $$
# \frac{\partial L}{\partial x} = A^\top c .
# $$
#
# Every piece of an octave convolution is linear in its input (and, for the
# convolutions, in its weights): pooling, upsampling, convolution. So the
# whole backward pass is a chain of transposes. Let us build the matrices
# of the two resampling steps and look at them.
#
# ## Pooling
#
# `pool2x2` maps a $3 \times 3$ map to a $2 \times 2$ one. Its matrix
# (4 rows, 9 columns) has, as column $k$, the pooling of the $k$-th unit
# image:

# %%
def matrix_of(linear_map, in_shape):
    """The matrix of a linear map on arrays of in_shape, column k = map(e_k)."""
    size = int(np.prod(in_shape))
    columns = [linear_map(np.eye(size)[k].reshape(in_shape)).ravel() for k in range(size)]
    return np.stack(columns, axis=1)


A_pool = matrix_of(pool2x2, (3, 3))
assert A_pool.shape == (4, 9)
# Row 0 averages 4 pixels, rows 1 and 2 the 2 pixels of an edge block, row 3 the corner pixel.
assert np.allclose(A_pool.max(axis=1), [1 / 4, 1 / 2, 1 / 2, 1])

fig, ax = plt.subplots(figsize=(7.5, 3.6), layout="constrained")
ax.imshow(A_pool, cmap="Blues", vmin=0, vmax=1.4)
for (row, col), value in np.ndenumerate(A_pool):
    if value:
        ax.text(col, row, {0.25: "1/4", 0.5: "1/2", 1.0: "1"}[value], ha="center", va="center")
ax.set_xticks(range(9), [f"x[{r},{c}]" for r in range(3) for c in range(3)], fontsize=9)
ax.set_yticks(range(4), [f"y[{r},{c}]" for r in range(2) for c in range(2)])
ax.set_xlabel("input pixel (column k = the pooling of the k-th unit image)")
ax.set_title("pool2x2 on a 3×3 map as a 4×9 matrix: each row averages one block")
plt.show()

# %% [markdown]
# Ceil-mode pooling of an odd side averages only the in-bounds pixels of the
# last block: $1/4$ inside, $1/2$ on an edge, $1$ in the corner. The
# transpose sends each output gradient back to the pixels of its block,
# each with that same share, $\partial x_{r,s} = \partial y_{\lfloor r/2
# \rfloor, \lfloor s/2 \rfloor} / \text{count}$. That is
# `pool2x2_backward`:

# %%
dy = rng.standard_normal((2, 2))
assert np.allclose((A_pool.T @ dy.ravel()).reshape(3, 3), pool2x2_backward(dy, (3, 3)))

# %% [markdown]
# ## Nearest upsampling
#
# `upsample2x_nearest` copies each low pixel into its $2 \times 2$ block
# (cropped to the output size). Its matrix holds zeros and ones, and its
# transpose **sums** each block of the gradient: a low pixel that fed four
# high pixels collects the gradient of all four.

# %%
A_up = matrix_of(lambda a: upsample2x_nearest(a, (3, 3)), (2, 2))
assert A_up.shape == (9, 4) and set(np.unique(A_up)) == {0.0, 1.0}

fig, ax = plt.subplots(figsize=(7.5, 3.6), layout="constrained")
ax.imshow(A_up.T, cmap="Blues", vmin=0, vmax=1.4)
for (row, col), value in np.ndenumerate(A_up.T):
    if value:
        ax.text(col, row, "1", ha="center", va="center")
ax.set_xticks(range(9), [f"high[{r},{c}]" for r in range(3) for c in range(3)], fontsize=8)
ax.set_yticks(range(4), [f"low[{r},{c}]" for r in range(2) for c in range(2)])
ax.set_xlabel("gradient of the high (upsampled) pixel")
ax.set_title("A_up transposed (4×9): the backward of upsampling sums each block;\n"
             "compare A_pool above, which divides by the block's size")
plt.show()
dy_high = rng.standard_normal((3, 3))
assert np.allclose((A_up.T @ dy_high.ravel()).reshape(2, 2),
                   upsample2x_nearest_backward(dy_high, (2, 2)))

# %% [markdown]
# For even sizes the two are tied: pooling is the transpose of upsampling,
# divided by 4 (a mean is a sum over 4). For odd sizes the counts break the
# tie, which is why octref keeps two separate adjoints.

# %%
assert np.allclose(matrix_of(pool2x2, (4, 4)),
                   matrix_of(lambda a: upsample2x_nearest(a, (4, 4)), (2, 2)).T / 4)
assert not np.allclose(A_pool, A_up.T / 4)

# %% [markdown]
# ## The adjoint identity
#
# For large maps we do not build the matrix. The defining property of the
# transpose is enough, and it is easy to test: for **every** $x$ and $y$
#
# $$
# \langle A x, y \rangle = \langle x, A^\top y \rangle .
# $$
#
# It holds for pooling, upsampling, im2col/col2im and convolution (whose
# transpose is the input gradient that `conv_backward` returns), at odd sizes
# too:

# %%
def inner(a, b):
    return float(np.sum(a * b))


x = rng.standard_normal((2, 3, 7, 9))
y_low = rng.standard_normal((2, 3, 4, 5))
assert np.isclose(inner(pool2x2(x), y_low), inner(x, pool2x2_backward(y_low, (7, 9))))
assert np.isclose(inner(upsample2x_nearest(y_low, (7, 9)), x),
                  inner(y_low, upsample2x_nearest_backward(x, (4, 5))))

cols = rng.standard_normal((2, 3, 3, 3, 7, 9))
assert np.isclose(inner(im2col.im2col(x, (3, 3), padding=(1, 1)), cols),
                  inner(x, im2col.col2im(cols, x.shape, padding=(1, 1))))

w = rng.standard_normal((4, 3, 3, 3))
y, cache = im2col.conv_forward(x, w, padding=1)
dout = rng.standard_normal(y.shape)
dx, dw, _ = im2col.conv_backward(dout, cache)
assert np.isclose(inner(y, dout), inner(x, dx))   # linear in x
assert np.isclose(inner(y, dout), inner(w, dw))   # and linear in w
print("<Ax, y> == <x, A^T y> for pool, upsample, im2col and conv")

# %% [markdown]
# ## The four paths, backwards
#
# Eq. 4 is
# $Y^H = f(X^H; W^{HH}) + \operatorname{up}(f(X^L; W^{LH}))$ and
# $Y^L = f(X^L; W^{LL}) + f(\operatorname{pool}(X^H); W^{HL})$.
# Write $f^\top(\cdot\,; W)$ for the input gradient of a convolution. Each
# input collects a gradient from every path that reads it, and each path
# transposes its steps in reverse order:
#
# $$
# \begin{aligned}
# \partial X^H &= f^\top(\partial Y^H; W^{HH})
#   + \operatorname{pool}^\top\big(f^\top(\partial Y^L; W^{HL})\big) \\
# \partial X^L &= f^\top(\partial Y^L; W^{LL})
#   + f^\top\big(\operatorname{up}^\top(\partial Y^H); W^{LH}\big)
# \end{aligned}
# $$
#
# Each weight gradient is that of a plain convolution, taken with the input
# the path actually convolved and the gradient that reached its output:
# $\partial W^{HL}$ pairs $\operatorname{pool}(X^H)$ with $\partial Y^L$, and
# $\partial W^{LH}$ pairs $X^L$ with $\operatorname{up}^\top(\partial Y^H)$.
# The bias gradients are the sums of $\partial Y^H$ and $\partial Y^L$ over
# batch and pixels.
#
# Written with octref's plain convolution and sampling adjoints, on an odd
# $5 \times 5$ map so that the partial blocks matter:

# %%
def octconv_backward_by_hand(x, w, dy, k=3):
    pad = (k - 1) // 2
    high_size, low_size = x.high.shape[2:], x.low.shape[2:]
    # Forward caches of the four plain convolutions (Eq. 4).
    _, cache_hh = im2col.conv_forward(x.high, w.hh, padding=pad)
    _, cache_hl = im2col.conv_forward(pool2x2(x.high), w.hl, padding=pad)
    _, cache_lh = im2col.conv_forward(x.low, w.lh, padding=pad)
    _, cache_ll = im2col.conv_forward(x.low, w.ll, padding=pad)
    # Backwards, each path in reverse order.
    dx_hh, dw_hh, _ = im2col.conv_backward(dy.high, cache_hh)
    dx_hl, dw_hl, _ = im2col.conv_backward(dy.low, cache_hl)
    dx_lh, dw_lh, _ = im2col.conv_backward(upsample2x_nearest_backward(dy.high, low_size),
                                           cache_lh)
    dx_ll, dw_ll, _ = im2col.conv_backward(dy.low, cache_ll)
    dx = Octave(dx_hh + pool2x2_backward(dx_hl, high_size), dx_ll + dx_lh)
    db = Octave(dy.high.sum(axis=(0, 2, 3)), dy.low.sum(axis=(0, 2, 3)))
    return dx, OctaveWeights(dw_hh, dw_hl, dw_lh, dw_ll), db


x = Octave(rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((2, 2, 3, 3)))
w = init_octave_weights(5, 6, 3, 0.4, 0.5, rng=rng)  # 3 + 2 channels in, 3 + 3 out
b = Octave(rng.standard_normal(3), rng.standard_normal(3))
dy = Octave(rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((2, 3, 3, 3)))
by_hand = octconv_backward_by_hand(x, w, dy)
for impl in (im2col, loops):
    _, cache = impl.octconv_forward(x, w, b)
    grads = impl.octconv_backward(dy, cache)
    for mine, theirs in zip(by_hand, grads):
        for a, c in zip(mine, theirs):
            assert np.allclose(a, c)
print("hand-written backward == octref.im2col == octref.loops")

# %% [markdown]
# ## Checking a gradient without calculus
#
# Agreement between two hand-written backwards proves little if both share a
# mistake. Finite differences need no calculus at all: for the scalar
# $L(x) = \langle f(x), c \rangle$,
#
# $$
# \frac{\partial L}{\partial x_k} \approx
# \frac{\langle f(x + h e_k), c\rangle - \langle f(x - h e_k), c\rangle}{2h},
# $$
#
# one pair of forward calls per input element.
# `gradcheck.eval_numerical_gradient_array(f, x, c)` computes this, and
# `gradcheck.rel_error` compares it with the analytic gradient:
#
# $$
# \text{rel\_error}(a, n) = \max_k \frac{|a_k - n_k|}{|a_k| + |n_k|} .
# $$

# %%
x5 = rng.standard_normal((1, 2, 5, 5))
c = rng.standard_normal((1, 2, 3, 3))
numeric = gradcheck.eval_numerical_gradient_array(pool2x2, x5, c)
analytic = pool2x2_backward(c, (5, 5))
error = gradcheck.rel_error(analytic, numeric)
print(f"pool2x2: rel_error = {error:.1e}")
assert error < 1e-8

# %% [markdown]
# ### What a relative error means
#
# In float64 ($\varepsilon \approx 2 \times 10^{-16}$), the error of the
# difference quotient is round-off, about $\varepsilon |L| / h \approx
# 10^{-11}|L|$ for $h = 10^{-5}$ (there is no truncation error: every map
# here is linear). A correct gradient therefore shows errors of
# $10^{-11}$ to $10^{-8}$ (more on entries that are nearly zero, where any
# absolute error is a large relative one). A bug shows up as $10^{-2}$ or
# worse. `check_vjp` applies the rule
# $|a - n| \le \text{ATOL} + \text{RTOL}\,|n|$ element by element:

# %%
print(f"step h = gradcheck.STEP = {gradcheck.STEP}, RTOL = {gradcheck.RTOL}, ATOL = {gradcheck.ATOL}")
good = gradcheck.check_vjp(pool2x2, x5, c, analytic, name="pool")
print(good)
assert good.passed

# %% [markdown]
# **A deliberately wrong gradient fails.** A common bug treats every pooling
# window as holding 4 pixels, dividing by 4 instead of by the in-bounds
# count (the "missing 1/count"). Only the last row and column of an odd map
# are affected, but the check is element by element, so it catches them:

# %%
wrong = pool2x2_backward(c, (6, 6))[..., :5, :5]  # the even-size rule: always 1/4
bad = gradcheck.check_vjp(pool2x2, x5, c, wrong, name="pool/4")
print(bad)
assert not bad.passed and bad.rel_error > 0.1
assert np.allclose(wrong[..., :4, :4], analytic[..., :4, :4])  # right away from the edge

# %% [markdown]
# **float32 is refused.** In float32 the step itself is inexact: $x + h$ is
# rounded to the float32 grid, whose spacing near 1 is
# $1.2 \times 10^{-7}$, already about 1% of $h = 10^{-5}$. The difference
# quotient then has errors of about 1%: the size of a real bug. The checks
# raise instead of printing a meaningless number:

# %%
assert np.spacing(np.float32(1)) / gradcheck.STEP > 0.01
try:
    gradcheck.eval_numerical_gradient_array(pool2x2, x5.astype(np.float32),
                                            c.astype(np.float32))
    raise AssertionError("float32 should have been refused")
except TypeError as exc:
    print("TypeError:", exc)
    assert "float64" in str(exc)

# The same difference quotient computed by hand in float32:
x32, c32, h32 = x5.astype(np.float32), c.astype(np.float32), np.float32(gradcheck.STEP)
numeric32 = np.zeros_like(x32)
for k in range(x32.size):
    step = np.zeros(x32.size, np.float32)
    step[k] = h32
    step = step.reshape(x32.shape)
    numeric32.flat[k] = (np.sum(pool2x2(x32 + step) * c32)
                         - np.sum(pool2x2(x32 - step) * c32)) / (2 * h32)
error32 = gradcheck.rel_error(analytic, numeric32)
print(f"float32 finite differences: rel_error = {error32:.1e}")
assert error32 > 1e-3

# %% [markdown]
# ### Large inputs: one random direction
#
# A full check costs two forward calls per element. For a large input,
# `check_directional` tests the same identity along one random direction
# $t$: $\langle t, J^\top c\rangle = \langle J t, c \rangle$ with
# $J t \approx (f(x + h t) - f(x - h t)) / 2h$. Two forward calls, whatever
# the size; a wrong gradient passes only if its error happens to be
# orthogonal to $t$.

# %%
x_big = rng.standard_normal((4, 8, 32, 32))
c_big = rng.standard_normal((4, 8, 16, 16))
ok = gradcheck.check_directional(pool2x2, x_big, c_big, pool2x2_backward(c_big, (32, 32)),
                                 rng=rng, name="pool")
wrong_big = upsample2x_nearest(c_big, (32, 32))  # forgot the 1/4 entirely
not_ok = gradcheck.check_directional(pool2x2, x_big, c_big, wrong_big, rng=rng, name="pool*4")
print(ok, not_ok, sep="\n")
assert ok.passed and not not_ok.passed

# %% [markdown]
# ### The whole layer
#
# `check_octconv_gradients` does all of this for an octave convolution:
# every input, weight and bias, each checked in full when small and along
# a random direction when large, for either implementation.

# %%
for impl in ("im2col", "loops"):
    results = gradcheck.check_octconv_gradients(x, w, b, impl=impl, rng=rng)
    print(impl)
    for result in results:
        print("  ", result)
    assert len(results) == 8 and all(r.passed for r in results)

# %% [markdown]
# %% [markdown]
# ## Exercises
#
# Predict first, then check. Replace the `...` in each exercise cell with your
# answer and run the cell after it: it checks your answer against octref (an
# answer left as `...` only prints a hint). The solutions are on the
# [solutions page](solutions.md), but try first.
#
# **Exercise 4.1.** Write `pool2x2_backward` yourself, for a 2-D gradient
# `dy` of shape $(\lceil h/2 \rceil, \lceil w/2 \rceil)$ and the input size
# `(h, w)`: pixel $(r, s)$ gets $dy_{\lfloor r/2 \rfloor, \lfloor s/2 \rfloor}$
# divided by the number of in-bounds pixels of its block. Set `answer` to your
# function; the check compares it with octref's on even and odd sizes.

# %% exercise="4.1"
def my_pool2x2_backward(dy, in_size):
    ...


answer = ...  # answer = my_pool2x2_backward

# %%
if answered("4.1", answer):
    for in_size in [(4, 4), (3, 3), (5, 6), (1, 7)]:
        dy = rng.standard_normal(((in_size[0] + 1) // 2, (in_size[1] + 1) // 2))
        mine = np.asarray(answer(dy, in_size))
        assert mine.shape == in_size and np.allclose(mine, pool2x2_backward(dy, in_size)), \
            f"Exercise 4.1: wrong gradient for in_size {in_size}"
    print("Exercise 4.1: right.")

# %% [markdown]
# **Exercise 4.2.** Look at the picture of `A_pool` again. Predict its
# column sums, `A_pool.sum(axis=0)`, laid out as the $3 \times 3$ input they
# belong to. (Which backward pass computes exactly this?)

# %% exercise="4.2"
answer = ...  # a 3x3 array

# %%
check("4.2", answer, A_pool.sum(axis=0).reshape(3, 3))

# %% [markdown]
# **Exercise 4.3.** Upsampling a $2 \times 2$ map to $3 \times 3$ copies
# each low pixel into the in-bounds part of its block. Predict
# `upsample2x_nearest_backward(np.ones((3, 3)), (2, 2))`.

# %% exercise="4.3"
answer = ...  # a 2x2 array

# %%
check("4.3", answer, upsample2x_nearest_backward(np.ones((3, 3)), (2, 2)))

# %% [markdown]
# **Next:** [chapter 5](05_misalignment.py) looks at *where* pooling puts its
# samples, and what goes wrong when H→L uses a strided convolution instead.
# **Previous:** [chapter 3](03_loops_to_im2col.py).
