"""The forward contract: loops (Eq. 3) == im2col (Eq. 4) == rowshift == a scipy oracle."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import octref
from octref import Octave, OctaveWeights, im2col, init_octave_weights, loops, split_channels
from octref.layer import IMPLEMENTATIONS
from tests import oracle
from tests.implementations import FAST, IMPLS, ids
from tests.strategies import conv_problems, octconv_problems

# Float64 sums of at most a few hundred products: differences are round-off only.
TIGHT = {"rtol": 1e-12, "atol": 1e-12}


def assert_octaves_close(a, b, **tol):
    for name, u, v in zip(Octave._fields, a, b):
        assert (u is None) == (v is None), f"{name}: one is None"
        if u is not None:
            assert u.shape == v.shape, f"{name}: {u.shape} != {v.shape}"
            np.testing.assert_allclose(u, v, err_msg=name, **(tol or TIGHT))


# --------------------------------------------------------------------------- agreement

@pytest.mark.parametrize("impl", FAST, ids=ids(FAST))
@given(problem=octconv_problems())
def test_loops_equal_the_others(impl, problem):
    y_loops, _ = loops.octconv_forward(problem.x, problem.w, problem.b, **problem.options)
    y_fast, _ = impl.octconv_forward(problem.x, problem.w, problem.b, **problem.options)
    assert_octaves_close(y_loops, y_fast)


@pytest.mark.parametrize("impl", IMPLS, ids=ids(IMPLS))
@given(problem=octconv_problems())
def test_every_implementation_equals_scipy_oracle(impl, problem):
    y, _ = impl.octconv_forward(problem.x, problem.w, problem.b, **problem.options)
    weights = {name: a for name, a in zip(OctaveWeights._fields, problem.w) if a is not None}
    b_high, b_low = problem.b if problem.b is not None else (None, None)
    expected = oracle.octconv(problem.x.high, problem.x.low, weights, b_high, b_low,
                              **problem.options)
    assert_octaves_close(y, Octave(*expected))


@given(conv_problems())
@settings(max_examples=60)
def test_conv_loops_im2col_scipy_agree(problem):
    x, w, b, options = problem
    expected = oracle.conv(x, w, b, **options)
    for impl in IMPLS:
        out, _ = impl.conv_forward(x, w, b, **options)
        np.testing.assert_allclose(out, expected, err_msg=impl.__name__, **TIGHT)


def test_top_level_names_are_the_default_implementation():
    default = IMPLS[0]
    assert default.__name__ == f"octref.{IMPLEMENTATIONS[0]}"
    assert octref.octconv_forward is default.octconv_forward
    assert octref.conv_forward is default.conv_forward
    assert octref.octconv_backward is default.octconv_backward
    assert octref.conv_backward is default.conv_backward


# --------------------------------------------------------------------------- special cases

@pytest.mark.parametrize("impl", IMPLS, ids=ids(IMPLS))
@pytest.mark.parametrize("stride", [1, 2])
def test_alpha_zero_is_plain_convolution(impl, stride):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 6))
    w = init_octave_weights(3, 4, 3, 0.0, 0.0, rng=rng)
    assert w.hl is None and w.lh is None and w.ll is None
    b = rng.standard_normal(4)
    y, _ = impl.octconv_forward(Octave(x, None), w, Octave(b, None), stride=stride)
    assert y.low is None
    # Stride 2 pools first (official code), so compare with conv of the pooled map.
    source = x if stride == 1 else oracle.pool(x)
    expected, _ = im2col.conv_forward(source, w.hh, b, padding=1)
    np.testing.assert_allclose(y.high, expected, **TIGHT)


@pytest.mark.parametrize("impl", IMPLS, ids=ids(IMPLS))
@pytest.mark.parametrize("size, stride, out_high, out_low", [
    ((8, 8), 1, (8, 8), (4, 4)),
    ((7, 5), 1, (7, 5), (4, 3)),
    ((8, 8), 2, (4, 4), (2, 2)),
    ((7, 9), 2, (4, 5), (2, 3)),
    ((1, 1), 1, (1, 1), (1, 1)),
    ((3, 2), 2, (2, 1), (1, 1)),
])
def test_output_shapes(impl, size, stride, out_high, out_low):
    rng = np.random.default_rng(1)
    w = init_octave_weights(6, 4, 3, 0.5, 0.5, rng=rng)
    x = Octave(rng.standard_normal((2, 3) + size),
               rng.standard_normal((2, 3, (size[0] + 1) // 2, (size[1] + 1) // 2)))
    y, _ = impl.octconv_forward(x, w, stride=stride)
    assert y.high.shape == (2, 2) + out_high
    assert y.low.shape == (2, 2) + out_low


@pytest.mark.parametrize("channels, alpha, expected", [
    (64, 0.5, (32, 32)), (64, 0.0, (64, 0)), (64, 1.0, (0, 64)), (64, 0.125, (56, 8)),
    (3, 0.5, (2, 1)), (10, 0.25, (8, 2)), (10, 0.75, (3, 7)), (7, 0.3, (5, 2)),
    (1, 0.5, (1, 0)), (0, 0.5, (0, 0)), (5, 0.99, (1, 4)),
])
def test_split_channels_table(channels, alpha, expected):
    assert split_channels(channels, alpha) == expected


@given(st.integers(0, 512), st.floats(0.0, 1.0))
def test_split_channels_rounds_the_low_group_down(channels, alpha):
    c_high, c_low = split_channels(channels, alpha)
    assert c_high + c_low == channels
    assert c_low == int(alpha * channels) and c_low <= alpha * channels


def test_eq3_by_hand_one_by_one_kernels():
    """With 1x1 unit kernels Eq. 3 is pure index arithmetic a reader can check."""
    x_high = np.arange(1, 26).reshape(1, 1, 5, 5)          # 5x5: odd, ceil-mode edge
    x_low = np.array([[[[10, 20, 30], [40, 50, 60], [70, 80, 90]]]])
    one = np.ones((1, 1, 1, 1))
    for impl in IMPLS:
        # L->H: Y^H[p, q] = X^L[p // 2, q // 2].
        y, _ = impl.octconv_forward(Octave(None, x_low),
                                    OctaveWeights(None, None, one, None))
        assert y.high.shape == (1, 1, 6, 6)
        assert y.high[0, 0, 4, 5] == 90 and y.high[0, 0, 3, 1] == 40 and y.high[0, 0, 1, 1] == 10
        # H->L: the mean of the in-bounds 2x2 block centred at (2p + 0.5, 2q + 0.5).
        y, _ = impl.octconv_forward(Octave(x_high, None),
                                    OctaveWeights(None, one, None, None))
        assert y.low.dtype == np.float64
        assert y.low[0, 0, 0, 0] == (1 + 2 + 6 + 7) / 4
        assert y.low[0, 0, 2, 0] == (21 + 22) / 2        # odd edge: 2 pixels
        assert y.low[0, 0, 2, 2] == 25                    # odd corner: 1 pixel


@pytest.mark.parametrize("impl", IMPLS, ids=ids(IMPLS))
def test_eq3_by_hand_three_by_three(impl):
    """H->L with k=3 reads the blocks of the neighbouring low pixels (2(p+i) + 0.5)."""
    x_high = np.arange(16.0).reshape(1, 1, 4, 4)
    w_hl = np.zeros((1, 1, 3, 3))
    w_hl[0, 0, 2, 2] = 1.0                                 # tap (i, j) = (+1, +1)
    y, _ = impl.octconv_forward(Octave(x_high, None), OctaveWeights(None, w_hl, None, None))
    # Y^L[0, 0] reads the block of low pixel (1, 1): rows 2-3, cols 2-3.
    assert y.low[0, 0, 0, 0] == (10 + 11 + 14 + 15) / 4
    assert y.low[0, 0, 1, 1] == 0                          # that block is outside: padding


# --------------------------------------------------------------------------- the pitfall

@given(st.integers(1, 9), st.integers(1, 9), st.sampled_from([1, 2]),
       st.integers(0, 2**32 - 1))
def test_literal_reading_equals_eq4_for_1x1(height, width, groups, seed):
    rng = np.random.default_rng(seed)
    x_high = rng.standard_normal((2, 2 * groups, height, width))
    w_hl = rng.standard_normal((3 * groups, 2, 1, 1))
    eq4, _ = loops.octconv_forward(Octave(x_high, None), OctaveWeights(None, w_hl, None, None),
                                   groups=groups)
    literal = loops.high_to_low_literal(x_high, w_hl, groups=groups)
    np.testing.assert_allclose(literal, eq4.low, **TIGHT)


@given(st.sampled_from([3, 5]), st.integers(4, 9), st.integers(0, 2**32 - 1))
def test_literal_reading_differs_from_eq4_for_larger_kernels(k, size, seed):
    rng = np.random.default_rng(seed)
    x_high = rng.standard_normal((1, 2, size, size))
    w_hl = rng.standard_normal((3, 2, k, k))
    eq4, _ = loops.octconv_forward(Octave(x_high, None), OctaveWeights(None, w_hl, None, None))
    literal = loops.high_to_low_literal(x_high, w_hl)
    assert literal.shape == eq4.low.shape
    assert np.abs(literal - eq4.low).max() > 1e-3
    # ...and every other implementation of octref computes Eq. 4, not the literal reading.
    for impl in FAST:
        fast, _ = impl.octconv_forward(Octave(x_high, None),
                                       OctaveWeights(None, w_hl, None, None))
        np.testing.assert_allclose(fast.low, eq4.low, **TIGHT)


# --------------------------------------------------------------------------- dtypes, purity

@pytest.mark.parametrize("impl", IMPLS, ids=ids(IMPLS))
def test_float32_in_float32_out(impl):
    rng = np.random.default_rng(2)
    w = init_octave_weights(4, 4, 3, 0.5, 0.5, rng=rng)            # float64 weights
    x = Octave(rng.standard_normal((1, 2, 5, 5)).astype(np.float32),
               rng.standard_normal((1, 2, 3, 3)).astype(np.float32))
    y, cache = impl.octconv_forward(x, w, Octave(np.ones(2), np.ones(2)))
    assert y.high.dtype == np.float32 and y.low.dtype == np.float32
    dx, dw, db = impl.octconv_backward(Octave(np.ones_like(y.high), np.ones_like(y.low)), cache)
    assert dx.high.dtype == np.float32 and dw.hl.dtype == np.float32
    out, _ = impl.conv_forward(x.high, w.hh)
    assert out.dtype == np.float32


@pytest.mark.parametrize("impl", IMPLS, ids=ids(IMPLS))
def test_integer_input_computes_in_float64(impl):
    x = Octave(np.arange(2 * 4 * 4).reshape(1, 2, 4, 4), np.ones((1, 2, 2, 2), dtype=np.int32))
    w = OctaveWeights(*(np.ones((2, 2, 3, 3), dtype=np.int64) for _ in range(4)))
    y, _ = impl.octconv_forward(x, w)
    assert y.high.dtype == np.float64 and y.low.dtype == np.float64
    expected, _ = impl.octconv_forward(Octave(x.high.astype(float), x.low.astype(float)),
                                       OctaveWeights(*(a.astype(float) for a in w)))
    assert_octaves_close(y, expected)
    out, _ = impl.conv_forward(np.ones((1, 1, 3, 3), dtype=bool), np.ones((1, 1, 2, 2), int))
    assert out.dtype == np.float64 and np.all(out == 4)


@given(octconv_problems(max_size=6, max_channels=4))
@settings(max_examples=15)
def test_inputs_are_never_modified(problem):
    def snapshot():
        arrays = list(problem.x) + list(problem.w) + list(problem.b or ())
        return [None if a is None else a.copy() for a in arrays]

    before = snapshot()
    for impl in IMPLS:
        y, cache = impl.octconv_forward(problem.x, problem.w, problem.b, **problem.options)
        dy = Octave(*(None if a is None else np.ones_like(a) for a in y))
        dy_before = [None if a is None else a.copy() for a in dy]
        impl.octconv_backward(dy, cache)
        for a, b in zip(dy, dy_before):
            assert a is None or np.array_equal(a, b)
    for a, b in zip(snapshot(), before):
        assert (a is None and b is None) or np.array_equal(a, b)
