"""octref.loops on its own: Eq. 3 worked by hand, its own sizes, padding zeros, dtypes, caches.

The agreement of the loops with im2col, the scipy oracle and finite differences
on random layers is in test_forward.py and test_backward.py; here each path of
Eq. 3 is checked against numbers a reader can work out, and the loops' shape
decisions against the contract's.
"""

import numpy as np
import pytest
from hypothesis import given, settings

from octref import Octave, OctaveWeights, loops
from octref.contract import Cache, check_octconv_args
from octref.octave import octave_layout, octave_output_sizes
from tests import oracle
from tests.strategies import octconv_problems

# X^H: 5 x 5 (odd, so the H->L blocks at the bottom and right edges are partial),
# X^H[r, c] = 5 r + c + 1.
X_HIGH = np.arange(1.0, 26.0).reshape(1, 1, 5, 5)
# X^L: 3 x 3, X^L[r, c] = 3 r + c + 1.
X_LOW = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)


def one_tap(i, j, k=3):
    """A (1, 1, k, k) kernel that is 1 at offset (i, j) of N_k and 0 elsewhere."""
    w = np.zeros((1, 1, k, k))
    w[0, 0, i + (k - 1) // 2, j + (k - 1) // 2] = 1.0
    return w


def only(path, w_path):
    """OctaveWeights with only ``path`` present."""
    return OctaveWeights(**{p: (w_path if p == path else None) for p in OctaveWeights._fields})


# --------------------------------------------------------------------------- Eq. 3 by hand

def test_high_to_high_by_hand():
    # Tap (i, j) = (-1, +1): Y^H[p, q] = X^H[p - 1, q + 1], zero outside X^H.
    y, _ = loops.octconv_forward(Octave(X_HIGH, None), only("hh", one_tap(-1, +1)))
    assert y.low is None
    np.testing.assert_array_equal(y.high[0, 0], [[0, 0, 0, 0, 0],
                                                 [2, 3, 4, 5, 0],
                                                 [7, 8, 9, 10, 0],
                                                 [12, 13, 14, 15, 0],
                                                 [17, 18, 19, 20, 0]])


def test_low_to_high_by_hand():
    # Tap (0, +1): Y^H[p, q] = X^L[p // 2, q // 2 + 1]; every low pixel feeds a
    # 2 x 2 block of high pixels, and X^L has 3 rows, so Y^H has 6.
    y, _ = loops.octconv_forward(Octave(None, X_LOW), only("lh", one_tap(0, +1)))
    np.testing.assert_array_equal(y.high[0, 0], [[2, 2, 3, 3, 0, 0],
                                                 [2, 2, 3, 3, 0, 0],
                                                 [5, 5, 6, 6, 0, 0],
                                                 [5, 5, 6, 6, 0, 0],
                                                 [8, 8, 9, 9, 0, 0],
                                                 [8, 8, 9, 9, 0, 0]])
    # With a 5 x 5 X^H beside it, Y^H has X^H's 5 rows: the same reads, cropped.
    w = OctaveWeights(np.zeros((1, 1, 3, 3)), None, one_tap(0, +1), None)
    y, _ = loops.octconv_forward(Octave(X_HIGH, X_LOW), w)
    np.testing.assert_array_equal(y.high[0, 0], [[2, 2, 3, 3, 0],
                                                 [2, 2, 3, 3, 0],
                                                 [5, 5, 6, 6, 0],
                                                 [5, 5, 6, 6, 0],
                                                 [8, 8, 9, 9, 0]])


def test_low_to_low_by_hand():
    # Tap (+1, 0): Y^L[p, q] = X^L[p + 1, q].
    y, _ = loops.octconv_forward(Octave(None, X_LOW), only("ll", one_tap(+1, 0)))
    assert y.high is None
    np.testing.assert_array_equal(y.low[0, 0], [[4, 5, 6], [7, 8, 9], [0, 0, 0]])


def test_high_to_low_by_hand():
    # Tap (-1, +1): Y^L[p, q] is the mean of the 2 x 2 block of X^H centred at
    # (2(p - 1) + 0.5, 2(q + 1) + 0.5): rows 2p - 2, 2p - 1 and cols 2q + 2, 2q + 3.
    # p = 0: rows -2, -1, outside (zero). q = 1: cols 4, 5, only col 4 inside.
    # q = 2: cols 6, 7, outside (zero).
    y, _ = loops.octconv_forward(Octave(X_HIGH, None), only("hl", one_tap(-1, +1)))
    np.testing.assert_array_equal(y.low[0, 0], [[0, 0, 0],
                                                [(3 + 4 + 8 + 9) / 4, (5 + 10) / 2, 0],
                                                [(13 + 14 + 18 + 19) / 4, (15 + 20) / 2, 0]])


def test_high_to_low_strided_by_hand():
    # downsample="strided", tap (-1, +1): Y^L[p, q] = X^H[2p - 1, 2q + 1].
    y, _ = loops.octconv_forward(Octave(X_HIGH, None), only("hl", one_tap(-1, +1)),
                                 downsample="strided")
    np.testing.assert_array_equal(y.low[0, 0], [[0, 0, 0], [7, 9, 0], [17, 19, 0]])


def test_high_to_low_literal_by_hand():
    # The printed reading, tap (-1, +1): the block centred at (2p + 0.5 - 1, 2q + 0.5 + 1),
    # rows 2p - 1, 2p and cols 2q + 1, 2q + 2: a different block from Eq. 4's above.
    literal = loops.high_to_low_literal(X_HIGH, one_tap(-1, +1))
    np.testing.assert_array_equal(literal[0, 0], [
        [(2 + 3) / 2, (4 + 5) / 2, 0],
        [(7 + 8 + 12 + 13) / 4, (9 + 10 + 14 + 15) / 4, 0],
        [(17 + 18 + 22 + 23) / 4, (19 + 20 + 24 + 25) / 4, 0]])
    eq4, _ = loops.octconv_forward(Octave(X_HIGH, None), only("hl", one_tap(-1, +1)))
    assert not np.array_equal(literal, eq4.low)
    # For k = 1 there is no offset to step, and the two readings are the same.
    rng = np.random.default_rng(0)
    x_high, w_hl = rng.standard_normal((2, 4, 5, 6)), rng.standard_normal((4, 2, 1, 1))
    eq4, _ = loops.octconv_forward(Octave(x_high, None), only("hl", w_hl), groups=2)
    np.testing.assert_allclose(loops.high_to_low_literal(x_high, w_hl, groups=2), eq4.low,
                               rtol=1e-14, atol=1e-14)


def test_stride_two_reads_one_octave_down_by_hand():
    one = np.ones((1, 1, 1, 1))
    # H->H: the 2 x 2 block means of X^H (partial at the odd edge).
    y, _ = loops.octconv_forward(Octave(X_HIGH, None), only("hh", one), stride=2)
    np.testing.assert_array_equal(y.high[0, 0], [[4, 6, 7.5], [14, 16, 17.5], [21.5, 23.5, 25]])
    # L->L: the block means of X^L.
    y, _ = loops.octconv_forward(Octave(None, X_LOW), only("ll", one), stride=2)
    np.testing.assert_array_equal(y.low[0, 0], [[3, 4.5], [7.5, 9]])
    # L->H: X^L itself, neither pooled nor upsampled (tap (0, +1) shifts it).
    y, _ = loops.octconv_forward(Octave(None, X_LOW), only("lh", one_tap(0, +1)), stride=2)
    np.testing.assert_array_equal(y.high[0, 0], [[2, 3, 0], [5, 6, 0], [8, 9, 0]])
    # H->L: block means of block means. On X^L (3 x 3) as a high map, the block
    # means are 3, 4.5, 7.5, 9 and their mean is 6, not the 3 x 3 mean 5.
    y, _ = loops.octconv_forward(Octave(X_LOW, None), only("hl", one), stride=2)
    assert y.low[0, 0, 0, 0] == (3 + 4.5 + 7.5 + 9) / 4 == 6
    np.testing.assert_array_equal(y.low, oracle.pool(oracle.pool(X_LOW)))


def test_the_read_generators_name_the_pixels_of_eq3():
    """The reads themselves: p_low = p // 2 for L->H, a 2x2 block for H->L."""
    _, _, _, spec = check_octconv_args(Octave(X_HIGH, X_LOW),
                                       OctaveWeights(*(np.ones((1, 1, 3, 3)),) * 4), None,
                                       1, None, 1, "avgpool")
    reads = {(p, q, i, j): read for p, q, i, j, read in loops.low_to_high((3, 3), (5, 5), spec)}
    assert reads[3, 4, -1, 0] == [(0, 2, 1.0)]                   # X^L[3 // 2 - 1, 4 // 2]
    assert reads[0, 0, -1, -1] == []                             # padding
    reads = {(p, q, i, j): read for p, q, i, j, read in loops.high_to_low((5, 5), (3, 3), spec)}
    assert reads[0, 1, 0, 0] == [(0, 2, 0.25), (0, 3, 0.25), (1, 2, 0.25), (1, 3, 0.25)]
    assert reads[2, 1, 0, 1] == [(4, 4, 1.0)]                    # the odd corner: one pixel
    assert reads[2, 2, 1, 0] == []                               # a block wholly outside
    reads = {(p, q, i, j): read for p, q, i, j, read in loops.high_to_high((5, 5), (5, 5), spec)}
    assert reads[4, 0, 0, 1] == [(4, 1, 1.0)]


# --------------------------------------------------------------------------- sizes and paths

@given(octconv_problems(max_size=12))
@settings(max_examples=200)
def test_loops_derive_the_contracts_sizes_and_paths(problem):
    """The loops decide sizes, paths and groups from the arrays alone; octref.octave agrees."""
    x, w, _, spec = check_octconv_args(problem.x, problem.w, None, **problem.options)
    c_in = tuple(0 if a is None else a.shape[1] for a in x)
    c_out = (next((a.shape[0] for a in (w.hh, w.lh) if a is not None), 0),
             next((a.shape[0] for a in (w.hl, w.ll) if a is not None), 0))
    layout = octave_layout(c_in, c_out, problem.groups)
    # The loops run the term of every path whose weight is given.
    assert [p for p in OctaveWeights._fields if getattr(w, p) is not None] == list(layout.paths)
    in_sizes = {name: a.shape[2:] for name, a in zip(Octave._fields, x) if a is not None}
    expected = octave_output_sizes(layout.paths, in_sizes, spec.kernel, spec.stride,
                                   spec.padding)
    y_sizes = dict(zip(Octave._fields, loops._output_sizes(x, w, spec)))
    assert {name: size for name, size in y_sizes.items() if size is not None} == expected
    for path in layout.paths:
        x_map = x.high if path[0] == "h" else x.low
        groups = len(loops._conv_groups(x_map.shape[1], getattr(w, path)))
        assert groups == layout.path_groups[path]


@given(octconv_problems(max_size=5, max_channels=3, kernels=(1, 3)))
@settings(max_examples=15)
def test_forward_shapes_are_the_derived_sizes(problem):
    x, w, _, spec = check_octconv_args(problem.x, problem.w, None, **problem.options)
    y, _ = loops.octconv_forward(problem.x, problem.w, problem.b, **problem.options)
    for y_map, size in zip(y, loops._output_sizes(x, w, spec)):
        assert (y_map is None) == (size is None)
        assert y_map is None or y_map.shape[2:] == size


# --------------------------------------------------------------------------- padding zeros

# 0 * inf in a matrix product warns "invalid value"; here it is the point.
nan_expected = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")


def inf_tap(i, j, k=3):
    w = np.zeros((1, 1, k, k))
    w[0, 0, i + (k - 1) // 2, j + (k - 1) // 2] = np.inf
    return w


@nan_expected
@pytest.mark.parametrize("path, stride, downsample", [
    ("hh", 1, "avgpool"), ("lh", 1, "avgpool"), ("ll", 1, "avgpool"), ("hl", 1, "avgpool"),
    ("hl", 1, "strided"), ("hh", 2, "avgpool"), ("lh", 2, "avgpool"), ("ll", 2, "avgpool"),
    ("hl", 2, "avgpool"),
])
@pytest.mark.parametrize("tap", [(-1, -1), (0, 0), (1, 1), (1, -1)])
def test_padding_is_a_zero_times_the_weight(path, stride, downsample, tap):
    """An inf weight on a tap that reads the padding gives 0 * inf = NaN, as frameworks do."""
    x_high = X_HIGH if path[0] == "h" else None
    x_low = X_LOW if path[0] == "l" else None
    y, _ = loops.octconv_forward(Octave(x_high, x_low), only(path, inf_tap(*tap)),
                                 stride=stride, downsample=downsample)
    expected = oracle.octconv(x_high, x_low, {path: inf_tap(*tap)}, stride=stride,
                              downsample=downsample)
    # X is positive, so every output is +inf (the tap read pixels) or NaN (it read padding).
    for got, want in zip(y, expected):
        if got is not None:
            assert np.all(np.isinf(got) | np.isnan(got))
            np.testing.assert_array_equal(got, want)


@nan_expected
def test_padding_nan_where_worked_out_by_hand():
    # H->H, tap (-1, -1): row 0 and column 0 read padding.
    y, _ = loops.octconv_forward(Octave(X_HIGH, None), only("hh", inf_tap(-1, -1)))
    nan = np.zeros((5, 5), bool)
    nan[0, :] = nan[:, 0] = True
    np.testing.assert_array_equal(np.isnan(y.high[0, 0]), nan)
    # L->H, tap (-1, -1): p // 2 - 1 < 0 for p = 0 and 1.
    y, _ = loops.octconv_forward(Octave(None, X_LOW), only("lh", inf_tap(-1, -1)))
    nan = np.zeros((6, 6), bool)
    nan[:2, :] = nan[:, :2] = True
    np.testing.assert_array_equal(np.isnan(y.high[0, 0]), nan)
    # H->L, tap (+1, +1) on the odd 5 x 5 X^H: p = 1 reads rows 4, 5, a partial
    # block and a real read (inf); p = 2 reads rows 6, 7, wholly outside (NaN).
    y, _ = loops.octconv_forward(Octave(X_HIGH, None), only("hl", inf_tap(1, 1)))
    nan = np.zeros((3, 3), bool)
    nan[2, :] = nan[:, 2] = True
    np.testing.assert_array_equal(np.isnan(y.low[0, 0]), nan)
    # H->L, tap (0, 0): every block has a pixel inside, so no NaN at all.
    y, _ = loops.octconv_forward(Octave(X_HIGH, None), only("hl", inf_tap(0, 0)))
    assert np.all(np.isposinf(y.low))


@nan_expected
def test_plain_conv_padding_is_a_zero_times_the_weight():
    w = inf_tap(1, 1)
    out, _ = loops.conv_forward(X_HIGH, w, padding=1)
    nan = np.zeros((5, 5), bool)
    nan[4, :] = nan[:, 4] = True
    np.testing.assert_array_equal(np.isnan(out[0, 0]), nan)
    np.testing.assert_array_equal(out, oracle.conv(X_HIGH, w, padding=(1, 1)))


# --------------------------------------------------------------------------- dtypes

def test_float16_sums_in_float32_and_returns_float16():
    # 250 * 250 + 250 * 250 - 250 * 250 = 62500 fits in float16 (max 65504), but the
    # partial sum 125000 does not: summed in float16 it would be inf.
    with np.errstate(over="ignore"):
        assert np.isinf(np.float16(62500) + np.float16(62500))
    x = Octave(np.full((1, 2, 2, 2), 250, np.float16), np.full((1, 1, 1, 1), 250, np.float16))
    w = OctaveWeights(np.full((1, 2, 1, 1), 250.0), None, np.full((1, 1, 1, 1), -250.0), None)
    y, cache = loops.octconv_forward(x, w)
    assert y.high.dtype == np.float16
    np.testing.assert_array_equal(y.high, np.float16(62500))
    assert cache.spec.dtype == np.float32
    dx, dw, _ = loops.octconv_backward(Octave(np.ones_like(y.high), None), cache)
    assert dx.high.dtype == dx.low.dtype == dw.hh.dtype == np.float16
    # dX^L collects the four high pixels that read it: 4 * -250.
    np.testing.assert_array_equal(dx.low, np.float16(-1000))

    out, cache = loops.conv_forward(np.full((1, 3, 1, 1), 250, np.float16),
                                    np.array([250.0, 250.0, -250.0]).reshape(1, 3, 1, 1))
    assert out.dtype == np.float16 and out[0, 0, 0, 0] == np.float16(62500)
    dout = np.array([250, 250, -250], np.float16).reshape(1, 3, 1, 1)
    dx, _, _ = loops.conv_backward(dout, loops.conv_forward(
        np.ones((1, 1, 1, 1), np.float16), np.full((3, 1, 1, 1), 250.0))[1])
    assert dx.dtype == np.float16 and dx[0, 0, 0, 0] == np.float16(62500)


# --------------------------------------------------------------------------- caches

def test_cache_names_its_maker_and_backwards_refuse_others():
    y, cache = loops.octconv_forward(Octave(X_HIGH, X_LOW),
                                     OctaveWeights(*(np.ones((1, 1, 3, 3)),) * 4))
    assert isinstance(cache, Cache) and cache.made_by == "octref.loops.octconv_forward"
    _, conv_cache = loops.conv_forward(X_HIGH, np.ones((1, 1, 3, 3)))
    assert conv_cache.made_by == "octref.loops.conv_forward"
    with pytest.raises(TypeError, match="octref.loops.conv_forward"):
        loops.octconv_backward(y, conv_cache)
    with pytest.raises(TypeError, match="octref.loops.octconv_forward"):
        loops.conv_backward(np.ones((1, 1, 5, 5)), cache)


def test_backward_ignores_changes_to_the_callers_arrays():
    rng = np.random.default_rng(1)
    x = Octave(rng.standard_normal((1, 2, 3, 3)), rng.standard_normal((1, 2, 2, 2)))
    w = OctaveWeights(*(rng.standard_normal((2, 2, 3, 3)) for _ in range(4)))
    y, cache = loops.octconv_forward(x, w)
    dy = Octave(*(rng.standard_normal(a.shape) for a in y))
    expected = loops.octconv_backward(dy, loops.octconv_forward(x, w)[1])
    for a in list(x) + list(w):
        a *= -3.0                     # the caller reuses its buffers in place
    got = loops.octconv_backward(dy, cache)
    for tree_got, tree_want in zip(got[:2], expected[:2]):
        for u, v in zip(tree_got, tree_want):
            np.testing.assert_array_equal(u, v)

    x_plain, w_plain = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((3, 2, 3, 3))
    out, cache = loops.conv_forward(x_plain, w_plain, padding=1)
    dout = rng.standard_normal(out.shape)
    expected = loops.conv_backward(dout, loops.conv_forward(x_plain, w_plain, padding=1)[1])
    x_plain[...] = 0.0
    w_plain[...] = 0.0
    for u, v in zip(loops.conv_backward(dout, cache)[:2], expected[:2]):
        np.testing.assert_array_equal(u, v)
